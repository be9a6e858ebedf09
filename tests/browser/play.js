#!/usr/bin/env node
// Opens vw's preview page in Debian's chromium (headless, through puppeteer-core) and reports, as
// one JSON line on stdout, what the page's JSMpeg player for one stream did:
//
//   node play.js --url URL --stream NAME [--seconds 3] [--chromium /usr/bin/chromium]
//                [--timeout-ms 20000] [--expect-error] [--screenshot FILE.png]
//
//   {"ok":true,"opened_ms":..,"first_frame_ms":..,"frames":..,"console_errors":[..],
//    "page_errors":[..],"failed_requests":[..]}          or  {"ok":false,"error":"..."}
//
// opened_ms: when the stream's socket delivered its first data (performance.now() of the page);
// first_frame_ms: first decoded picture minus that; frames: pictures decoded within --seconds of it.
// --expect-error: the page is expected to show an error instead (e.g. no token): waits until it
// does, waits --seconds more, and reports "error_text" and "players_opened" (streams whose socket
// delivered data) instead of the frame figures.
//
// Exit status 0 whatever the page did; non-zero only when this script itself breaks. Every wait is
// bounded by --timeout-ms, and chromium (its whole process group) is killed on every way out.
'use strict';

const puppeteer = require('puppeteer-core');

function parseArgs(argv) {
  const o = { seconds: 3, chromium: '/usr/bin/chromium', timeoutMs: 20000, expectError: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length)
        throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--url': o.url = val(); break;
      case '--stream': o.stream = val(); break;
      case '--seconds': o.seconds = Number(val()); break;
      case '--chromium': o.chromium = val(); break;
      case '--timeout-ms': o.timeoutMs = Number(val()); break;
      case '--expect-error': o.expectError = true; break;
      case '--screenshot': o.screenshot = val(); break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  if (!o.url || (!o.stream && !o.expectError))
    throw new Error('--url and --stream are required');
  if (!(o.seconds >= 0 && o.seconds <= 600) || !(o.timeoutMs > 0 && o.timeoutMs <= 600000))
    throw new Error('--seconds must be 0..600 and --timeout-ms 1..600000');
  return o;
}

let browser = null;
let printed = false;

function print(result) {
  if (printed)
    return;
  printed = true;
  process.stdout.write(JSON.stringify(result) + '\n');
}

// puppeteer starts chromium detached, in a process group of its own: killing the group takes the
// renderer, GPU and zygote processes with it even if the browser process is wedged.
function killChromium() {
  const proc = browser && browser.process();
  if (!proc || proc.exitCode !== null || proc.signalCode !== null)
    return;
  try {
    process.kill(-proc.pid, 'SIGKILL');
  } catch (e) {
    try { proc.kill('SIGKILL'); } catch (e2) { /* already gone */ }
  }
}

process.on('exit', killChromium);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    print({ ok: false, error: `interrupted by ${sig}` });
    killChromium();
    process.exit(1);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

async function run(o, deadline) {
  const left = () => deadline - Date.now();
  const consoleErrors = [], pageErrors = [], failedRequests = [];

  browser = await puppeteer.launch({
    executablePath: o.chromium,
    // The flags are given as such (not through puppeteer's headless option) so the browser runs
    // exactly as the architecture note describes. --disable-gpu: there is no GPU here, and WebGL
    // then falls back to software in the renderer (first picture 15-80 ms after the socket's first
    // data, measured); forcing --use-angle=swiftshader instead measured 110-590 ms.
    headless: false,
    args: ['--headless', '--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--mute-audio',
           '--disable-background-networking', '--disable-gpu'],
    pipe: true,
    timeout: Math.min(left(), 15000),
    protocolTimeout: Math.max(1000, Math.min(left(), 15000)),
    // Our own handlers kill the whole process group.
    handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false,
  });
  const page = await browser.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') {
      const loc = m.location();
      consoleErrors.push(m.text() + (loc && loc.url ? ` (${loc.url})` : ''));
    }
  });
  page.on('pageerror', (e) => pageErrors.push(String(e && e.message ? e.message : e)));
  page.on('requestfailed', (r) => {
    const f = r.failure();
    failedRequests.push(`${r.url()}: ${f ? f.errorText : 'failed'}`);
  });

  await page.goto(o.url, { waitUntil: 'domcontentloaded', timeout: Math.max(1, left()) });

  const lists = () => ({ console_errors: consoleErrors, page_errors: pageErrors, failed_requests: failedRequests });
  const shot = async () => {
    if (o.screenshot)
      await page.screenshot({ path: o.screenshot });
  };

  if (o.expectError) {
    let text = '';
    while (left() > 0) {
      text = await page.evaluate(() => (document.getElementById('error') || {}).textContent || '');
      if (text)
        break;
      await sleep(Math.min(50, left()));
    }
    if (!text)
      return { ok: false, error: 'the page showed no error', ...lists() };
    await sleep(Math.min(o.seconds * 1000, left()));
    const opened = await page.evaluate(() =>
      Object.values(window.vwPlayers || {}).filter((p) => typeof p.opened === 'number').length);
    await shot();
    return { ok: true, error_text: text, players_opened: opened, ...lists() };
  }

  const stats = (name) => page.evaluate((n) => {
    const p = (window.vwPlayers || {})[n];
    return p ? { opened: p.opened, first: p.first, frames: p.frames, now: performance.now() } : null;
  }, name);

  let s = null;
  while (left() > 0) {
    s = await stats(o.stream);
    if (s && typeof s.opened === 'number')
      break;
    await sleep(Math.min(20, left()));
  }
  if (!s || typeof s.opened !== 'number') {
    const error = await page.evaluate(() => (document.getElementById('error') || {}).textContent || '');
    await shot();
    return { ok: false, error: `no data on the socket of stream "${o.stream}" within ${o.timeoutMs} ms` +
             (error ? `; the page says: ${error}` : ''), ...lists() };
  }
  // Counted over --seconds of the page's own clock from the moment the socket delivered data.
  const wait = s.opened + o.seconds * 1000 - s.now;
  if (wait > left())
    return { ok: false, error: `--seconds ${o.seconds} does not fit in --timeout-ms`, ...lists() };
  await sleep(wait);
  s = await stats(o.stream);
  await shot();
  return {
    ok: true,
    opened_ms: Math.round(s.opened * 10) / 10,
    first_frame_ms: typeof s.first === 'number' ? Math.round((s.first - s.opened) * 10) / 10 : null,
    frames: s.frames,
    ...lists(),
  };
}

async function main() {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`play.js: ${e.message}\n`);
    process.exit(2);
  }
  const deadline = Date.now() + o.timeoutMs;
  // The last resort: whatever hangs (a launch, a protocol call), the answer comes at the deadline.
  const guard = setTimeout(() => {
    print({ ok: false, error: `timed out after ${o.timeoutMs} ms` });
    killChromium();
    process.exit(0);
  }, o.timeoutMs + 2000);

  let result;
  try {
    result = await run(o, deadline);
  } catch (e) {
    result = { ok: false, error: String(e && e.message ? e.message : e) };
  }
  print(result);
  if (browser) {
    // A clean close when it is quick; otherwise the group is killed on exit.
    await Promise.race([browser.close().catch(() => {}), sleep(3000)]);
  }
  clearTimeout(guard);
  killChromium();
  process.exit(0);
}

main();

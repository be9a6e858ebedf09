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
// --setup: the setup page's parts, after the frame figures (each step bounded, each reported):
//   --shots DIR          screenshots of the page in each state: live.png, control.png, locked.png,
//                        manual.png, muted.png, large.png, retrying.png, absent.png, readonly.png; readme.png
//                        is live.png at 60 % scale
//   --camlog FILE        the fake camera's log: each decoded picture's barcode (frame number) gives
//                        its capture time, and the real capture -> page delay is compared with the
//                        one the page shows ("delay")
//   --control F:N=V      set control N of feed F to V with its widget; wait until the page says it
//                        was applied ("control")
//   --locked F:N=V       the same for a control locked by an auto mode: wait for the refusal
//   --then F:N=V         after that, set more controls in order (repeatable; "then")
//   --dest ID            wait until destination ID shows connected, then...
//   --relay-pid PID      ...SIGTERM that relay and time how long until the page shows "retrying"
//   --unplug FILE        create FILE (the fake camera's unplug switch), time until the feed shows
//                        absent, then remove it and time until it is live again
//   --feed F             the camera feed for --unplug (default: the feed of --control)
//   --readonly           the page has a view token: report what can be changed (nothing, expected)
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
      case '--setup': o.setup = true; break;
      case '--shots': o.shots = val(); break;
      case '--camlog': o.camlog = val(); break;
      case '--control': o.control = val(); break;
      case '--locked': o.locked = val(); break;
      case '--then': (o.then = o.then || []).push(val()); break;
      case '--dest': o.dest = val(); break;
      case '--relay-pid': o.relayPid = Number(val()); break;
      case '--unplug': o.unplug = val(); break;
      case '--feed': o.feed = val(); break;
      case '--readonly': o.readonly = true; break;
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

  if (o.setup)
    await page.setViewport({ width: 1000, height: 900 });
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
  const result = {
    ok: true,
    opened_ms: Math.round(s.opened * 10) / 10,
    first_frame_ms: typeof s.first === 'number' ? Math.round((s.first - s.opened) * 10) / 10 : null,
    frames: s.frames,
  };
  if (o.setup)
    await setup(o, page, left, result);
  return { ...result, ...lists() };
}

// ---- the setup page ----

// Runs in the page: on every decoded picture, the fake camera's barcode (rows 0..15, 32 bits of
// 16 px, most significant first; tests/fake/vw_fakecam.h) read from the decoder's own luma plane,
// with the page's clock and the delay the page worked out for that picture.
function installBarcodeReader(name) {
  const st = window.vwPlayers[name];
  st.seen = [];
  st.onFrame = (d, at, est) => {
    let y = null, w = 0;
    if (d.functions && d.instance) {  // the WebAssembly decoder
      const p = d.functions._mpeg1_decoder_get_y_ptr(d.decoder);
      w = d.functions._mpeg1_decoder_get_width(d.decoder);
      w = (w + 15) & ~15;  // the coded width: macroblocks of 16
      y = d.instance.heapU8.subarray(p, p + w * 16);
    } else if (d.currentY) {  // the JavaScript decoder keeps the decoded picture as forward
      y = d.forwardY || d.currentY;
      w = d.codedWidth;
    }
    if (!y || w < 512)
      return;
    let v = 0;
    for (let k = 0; k < 32; k++) {
      let sum = 0, n = 0;
      for (let r = 4; r < 12; r++)
        for (let x = k * 16 + 4; x < k * 16 + 12; x++, n++)
          sum += y[r * w + x];
      const m = sum / n;
      if (m > 170)
        v = v * 2 + 1;
      else if (m < 80)
        v = v * 2;
      else
        return;
    }
    if (st.seen.length < 2000)
      st.seen.push({ seq: v, at, est });
  };
}

// performance.now() of the page against this process's CLOCK_MONOTONIC (process.hrtime: libuv's
// monotonic clock, the one vw and the fake camera stamp with; chromium's performance.now() runs
// on the same clock): the sample with the shortest round trip wins.
async function pageClock(page) {
  let best = null;
  for (let i = 0; i < 15; i++) {
    const t0 = process.hrtime.bigint();
    const p = await page.evaluate(() => performance.now());
    const t1 = process.hrtime.bigint();
    const rtt = Number(t1 - t0) / 1e6;
    const offset = Number((t0 + t1) / 2n) / 1e6 - p;  // monotonic ms = page ms + offset
    if (!best || rtt < best.rtt)
      best = { rtt, offset };
  }
  return best;
}

// streamon lines of the fake camera: frame s was captured at t0 + floor((s - seq0) * 1e9 * N / D)
function captureTimes(file) {
  const fs = require('fs');
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('streamon '));
  const ons = lines.map((l) => {
    const kv = Object.fromEntries(l.split(' ').slice(1).map((x) => x.split('=')));
    const [n, d] = kv.tpf.split('/').map(BigInt);
    return { seq0: BigInt(kv.seq0), t0: BigInt(kv.t0_ns), n, d, paced: kv.paced === '1' };
  });
  return (seq) => {
    let on = null;
    for (const x of ons)
      if (x.seq0 <= BigInt(seq))
        on = x;
    if (!on || !on.paced)
      return null;
    return Number(on.t0 + ((BigInt(seq) - on.seq0) * 1000000000n * on.n) / on.d) / 1e6;  // ms
  };
}

function median(a) {
  const s = a.slice().sort((x, y) => x - y);
  return s.length ? s[s.length >> 1] : null;
}
const r1 = (x) => (typeof x === 'number' ? Math.round(x * 10) / 10 : x);

async function waitFor(page, left, ms, fn, arg) {
  const end = Date.now() + Math.min(ms, left());
  let v;
  while (Date.now() < end) {
    v = await page.evaluate(fn, arg);
    if (v)
      return v;
    await sleep(25);
  }
  return v;
}

function parseSetting(spec) {
  const m = /^([^:]+):([^=]+)=(.*)$/.exec(spec || '');
  return m ? { feed: m[1], name: m[2], value: m[3] } : null;
}

// Sets a control with its own widget, as a person would (a slider is moved and let go, a box
// ticked, a menu item chosen), then waits for the page's verdict: "ok" or "refused".
async function setControl(page, left, c) {
  const t0 = Date.now();
  const found = await page.evaluate((c) => {
    const row = document.querySelector(`[data-feed="${c.feed}"] [data-control="${c.name}"]`);
    const input = row && row.querySelector('input, select');
    if (!input)
      return false;
    row.dataset.state = '';
    if (input.type === 'checkbox')
      input.checked = c.value === '1' || c.value === 'true';
    else
      input.value = c.value;
    input.dispatchEvent(new Event('input', { bubbles: true }));
    input.dispatchEvent(new Event('change', { bubbles: true }));
    return true;
  }, c);
  if (!found)
    return { found: false };
  const state = await waitFor(page, left, 5000, (c) => {
    const row = document.querySelector(`[data-feed="${c.feed}"] [data-control="${c.name}"]`);
    const st = row && row.dataset.state;
    return st === 'ok' || st === 'refused' ? st : null;
  }, c);
  const shown = await page.evaluate((c) => {
    const row = document.querySelector(`[data-feed="${c.feed}"] [data-control="${c.name}"]`);
    return { value: row.querySelector('.val').textContent, message: row.querySelector('.msg').textContent };
  }, c);
  return { found: true, state: state || 'timeout', ms: Date.now() - t0, ...shown };
}

async function setup(o, page, left, out) {
  const shot = async (name) => {
    if (o.shots)
      await page.screenshot({ path: `${o.shots}/${name}.png`, fullPage: true });
  };
  const q = (sel) => page.evaluate((sel) => {
    const e = document.querySelector(sel);
    return e ? e.textContent : null;
  }, sel);

  // the capture -> screen delay: measured (barcode + camera log + this process's clock) and shown,
  // over --seconds once the first ones have passed (a new viewer starts with the hub's backlog,
  // which the player works off within a second or two)
  if (o.camlog) {
    await page.evaluate(installBarcodeReader, o.stream);
    await sleep(Math.min(o.seconds * 1000, left()));
    const seen = await page.evaluate((n) => window.vwPlayers[n].seen.splice(0), o.stream);
    const clock = await pageClock(page);
    const cap = captureTimes(o.camlog);
    const real = [], diff = [];
    for (const f of seen) {
      const c = cap(f.seq);
      if (c === null)
        continue;
      const r = f.at + clock.offset - c;
      real.push(r);
      if (typeof f.est === 'number')
        diff.push(f.est - r);
    }
    if (process.env.PLAY_DEBUG)
      process.stderr.write(JSON.stringify(real.map(Math.round)) + '\n' + JSON.stringify(seen.map((f) => Math.round(f.at))) + '\n');
    out.delay = {
      pictures: seen.length, matched: real.length, clock_rtt_ms: r1(clock.rtt),
      real_median_ms: r1(median(real)), real_min_ms: r1(real.length ? Math.min(...real) : null),
      real_max_ms: r1(real.length ? Math.max(...real) : null),
      page_minus_real_median_ms: r1(median(diff)), page_minus_real_max_abs_ms: r1(diff.length ? Math.max(...diff.map(Math.abs)) : null),
      page_shows: await q(`.tile[data-stream="${o.stream}"] .delay`),
    };
  }

  out.ui = await page.evaluate(() => ({
    access: document.getElementById('access').textContent,
    control_widgets: document.querySelectorAll('#feeds input, #feeds select').length,
    mute_buttons: Array.from(document.querySelectorAll('button.mute')).filter((b) => !b.hidden).length,
    sound_buttons: document.querySelectorAll('button.sound').length,
  }));
  if (o.readonly) {
    await waitFor(page, left, 3000, () => /read-only/.test(document.getElementById('access').textContent));
    out.ui.access = await q('#access');
    out.ui.note = await q('#feeds .note');
    await shot('readonly');
    return;
  }

  if (o.dest) {
    const t0 = Date.now();
    const st = await waitFor(page, left, 10000,
      (id) => (document.querySelector(`#dests tr[data-key="${id}"]`) || { dataset: {} }).dataset.state === 'connected', o.dest);
    out.dest_connected = !!st;
    out.dest_connected_ms = Date.now() - t0;
  }
  // controls are listed once the page knows it may change things
  const ctl = parseSetting(o.control);
  if (ctl)
    await waitFor(page, left, 5000, (c) => !!document.querySelector(`[data-feed="${c.feed}"] [data-control="${c.name}"]`), ctl);
  await shot('live');
  if (o.shots) {
    // the README's picture: the same page at 60 % of its pixels, small enough to commit
    await page.setViewport({ width: 1000, height: 900, deviceScaleFactor: 0.6 });
    await sleep(300);
    await shot('readme');
    await page.setViewport({ width: 1000, height: 900 });
  }

  if (ctl) {
    out.control = await setControl(page, left, ctl);
    await shot('control');
  }
  const locked = parseSetting(o.locked);
  if (locked) {
    out.locked = await setControl(page, left, locked);
    await shot('locked');
  }
  if (o.then) {
    out.then = [];
    for (const spec of o.then)
      out.then.push({ spec, ...(await setControl(page, left, parseSetting(spec))) });
    await shot('manual');
  }

  // the stream's mute, through the API; then back
  const muteSel = `.tile[data-stream="${o.stream}"] button.mute`;
  const audioSel = `.tile[data-stream="${o.stream}"] .stream-audio`;
  if (await page.evaluate((s) => { const b = document.querySelector(s); return b && !b.hidden; }, muteSel)) {
    const t0 = Date.now();
    await page.click(muteSel);
    const muted = await waitFor(page, left, 5000, (s) => /^muted/.test(document.querySelector(s).textContent), audioSel);
    out.mute = { muted: !!muted, ms: Date.now() - t0, shown: await q(audioSel),
                 page_sound: await q(`.tile[data-stream="${o.stream}"] button.sound`) };
    await shot('muted');
    // the button stays disabled until the page has the API's answer (a poll may show the change first)
    await waitFor(page, left, 5000, (s) => {
      const b = document.querySelector(s);
      return !b.disabled && /unmute/.test(b.textContent);
    }, muteSel);
    await page.click(muteSel);
    out.mute.unmuted = !!(await waitFor(page, left, 5000, (s) => document.querySelector(s).textContent === 'on', audioSel));
    out.mute.why = await q(`.tile[data-stream="${o.stream}"] .why`);
  }

  // the picture large
  await page.click(`.tile[data-stream="${o.stream}"] .screen`);
  out.large = await page.evaluate((n) => {
    const t = document.querySelector(`.tile[data-stream="${n}"]`);
    return { large: t.classList.contains('large'), width: t.querySelector('.screen').getBoundingClientRect().width };
  }, o.stream);
  await sleep(300);
  await shot('large');
  await page.click(`.tile[data-stream="${o.stream}"] .screen`);

  if (o.dest && o.relayPid) {
    const t0 = Date.now();
    process.kill(o.relayPid, 'SIGTERM');
    const text = await waitFor(page, left, 10000, (id) => {
      const tr = document.querySelector(`#dests tr[data-key="${id}"]`);
      return tr && /retrying/.test(tr.textContent) ? tr.textContent : null;
    }, o.dest);
    out.retrying = { shown: !!text, ms: Date.now() - t0, text: text || null };
    await shot('retrying');
  }

  const feed = o.feed || (ctl && ctl.feed);
  if (o.unplug && feed) {
    const fs = require('fs');
    const t0 = Date.now();
    fs.writeFileSync(o.unplug, '');
    const absent = await waitFor(page, left, 5000,
      (f) => document.querySelector(`[data-feed="${f}"]`).dataset.state === 'absent', feed);
    out.unplug = { absent: !!absent, ms: Date.now() - t0, why: await q(`[data-feed="${feed}"] .why`) };
    await shot('absent');
    fs.unlinkSync(o.unplug);
    const t1 = Date.now();
    const live = await waitFor(page, left, 10000,
      (f) => document.querySelector(`[data-feed="${f}"]`).dataset.state === 'live', feed);
    out.unplug.live_again = !!live;
    out.unplug.live_again_ms = Date.now() - t1;
  }
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

#!/usr/bin/env node
// The fault campaign and the soak (issue 9), run by tests/faults/run: the real vw binary with the
// fake camera and microphone, node relays (tests/relay/relay.js) as separate processes so they can
// be killed and stopped, ffmpeg/ffprobe to decode recordings, all on 127.0.0.1. Prints progress on
// stderr and a markdown table on stdout; exits 1 when a check fails.
//   node campaign.js --build DIR --work DIR [--disk DIR] [--quick] [--only a,b,...]
//                    [--rule-cycles N] [--dest-cycles N]
//   node campaign.js --build DIR --work DIR --soak SECONDS [--interval S]
// Scenarios (each its own vw, run alongside the 10-minute relay-restart stream, which dominates):
//   relay    the relay killed and restarted N times during one stream (50 in 10 min)
//   camera   the camera unplugged/replugged 20 times, the microphone failed and restored
//   disk     the recorder's filesystem (a small tmpfs, --disk) filled, then freed
//   sigstop  one of two relays SIGSTOPped for 30 s, then SIGCONT
//   churn    4 API clients: 10,000 add/replace/delete rule cycles, 100,000 destination add/remove
//            cycles; descriptors, threads and RSS after warm-up vs at the end; then SIGTERM mid-churn
'use strict';
const { spawn, execFile, execFileSync } = require('child_process');
const fs = require('fs');
const http = require('http');
const net = require('net');
const path = require('path');
const { analyzeFile } = require('./tsinfo');

const args = { only: 'relay,camera,disk,sigstop,churn', interval: '60' };
for (let i = 2; i < process.argv.length; i++) {
  const k = process.argv[i].replace(/^--/, '');
  if (k === 'quick') args.quick = true;
  else args[k] = process.argv[++i];
}
const BUILD = path.resolve(args.build || 'build');
const WORK = path.resolve(args.work);
const SRC = path.resolve(__dirname, '..', '..');
const VW = `${BUILD}/src/vw`;
const RELAY = `${SRC}/tests/relay/relay.js`;
const QUICK = !!args.quick;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => Date.now();
const log = (...a) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${a.join(' ')}\n`);
const results = []; // { scenario, what, value, expect, ok }
// Whatever this run started goes with it, however it ends (vw and relays are separate processes).
const children = new Set();
const adopt = (p) => {
  children.add(p);
  p.on('exit', () => children.delete(p));
  return p;
};
process.on('exit', () => {
  for (const p of children) try { p.kill('SIGKILL'); } catch (e) { /* gone */ }
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => process.exit(130));
const check = (scenario, what, value, expect, ok) => {
  results.push({ scenario, what, value: String(value), expect, ok: !!ok });
  log(`${ok ? 'ok  ' : 'FAIL'} ${scenario}: ${what} = ${value} (${expect})`);
};
const pct = (v, p) => {
  if (!v.length) return NaN;
  const s = [...v].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(p * s.length) - 1)];
};
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(x < 10 ? 3 : 1) : String(x));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

// One HTTP request on its own connection (as scripts use the API); resolves { status, body }.
function request(port, method, p, body, timeoutMs = 10000) {
  return new Promise((resolve) => {
    const data = body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body);
    const req = http.request({ host: '127.0.0.1', port, method, path: p, agent: false, timeout: timeoutMs,
      headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {} },
    (res) => {
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(parts).toString() }));
      res.on('error', (e) => resolve({ status: 0, body: e.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, body: e.message }));
    req.end(data || undefined);
  });
}

function procSample(pid) {
  const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => parseInt((st.match(new RegExp(`^${k}:\\s+(\\d+)`, 'm')) || [0, 0])[1], 10);
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), fds: fs.readdirSync(`/proc/${pid}/fd`).length,
    threads: fs.readdirSync(`/proc/${pid}/task`).length };
}

// TCP sockets of a process by inode: "tcp 127.0.0.1:8888 <- 127.0.0.1:40000 ESTABLISHED".
const TCP_STATES = ['', 'ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT', 'CLOSE',
  'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'CLOSING'];
function tcpSockets(pid) {
  const map = new Map();
  const addr = (hex) => {
    const [h, p] = hex.split(':');
    const ip = h.length === 8 ? h.match(/../g).reverse().map((x) => parseInt(x, 16)).join('.') : `[${h}]`;
    return `${ip}:${parseInt(p, 16)}`;
  };
  for (const f of ['tcp', 'tcp6']) {
    let text = '';
    try { text = fs.readFileSync(`/proc/${pid}/net/${f}`, 'utf8'); } catch (e) { continue; }
    for (const line of text.split('\n').slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c.length > 9) map.set(c[9], `tcp ${addr(c[1])} - ${addr(c[2])} ${TCP_STATES[parseInt(c[3], 16)] || c[3]}`);
    }
  }
  return map;
}

// What each descriptor is (a TCP socket's addresses and state, a path, anon_inode:...), to name
// what a growth is.
function fdTargets(pid) {
  const out = [], tcp = tcpSockets(pid);
  for (const f of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const t = fs.readlinkSync(`/proc/${pid}/fd/${f}`), m = t.match(/^socket:\[(\d+)\]$/);
      out.push(m && tcp.has(m[1]) ? tcp.get(m[1]) : t.replace(/\[\d+\]$/, '').replace(/\/[^/]+\.ts(\.part)?$/, '/SEGMENT'));
    } catch (e) { /* closed meanwhile */ }
  }
  return out.sort();
}

function fdGrowth(before, after) {
  const left = [...before], added = [];
  for (const t of after) {
    const i = left.indexOf(t);
    if (i >= 0) left.splice(i, 1);
    else added.push(t);
  }
  return added;
}

function makeNode(p) { // as udev does: written elsewhere, renamed into place
  fs.writeFileSync(`${p}.tmp`, '');
  fs.renameSync(`${p}.tmp`, p);
}
const rm = (p) => fs.rmSync(p, { force: true });

// ---- processes ----

class Relay {
  constructor(dir, name, opts = {}) {
    this.dir = dir;
    this.name = name;
    this.opts = opts;
    this.events = [];
    this.instances = 0;
  }

  async start(port) {
    this.port = port || this.port || await freePort();
    const out = this.opts.out || `${this.dir}/${this.name}-${++this.instances}.ts`;
    const a = [RELAY, '--port', String(this.port), '--out', out];
    if (this.opts.split) a.push('--split', '1');
    if (this.opts.quiet) a.push('--quiet', '1');
    this.proc = adopt(spawn('node', a, { stdio: ['ignore', 'pipe', 'inherit'] }));
    const inst = this.instances, evs = this.events;
    let rest = '', listening = null;
    const ready = new Promise((resolve) => { listening = resolve; });
    this.proc.stdout.on('data', (d) => {
      const lines = (rest + d.toString()).split('\n');
      rest = lines.pop();
      for (const l of lines) {
        try {
          const e = JSON.parse(l);
          e.inst = inst;
          if (e.event === 'listening') listening(e.t);
          if (e.event !== 'ping') evs.push(e);
        } catch (err) { /* not an event */ }
      }
    });
    const exited = new Promise((r) => this.proc.on('exit', r));
    this.exited = exited;
    const t = await Promise.race([ready, sleep(10000).then(() => null)]);
    if (t === null) throw new Error(`relay ${this.name} did not start`);
    return t;
  }

  async kill(sig = 'SIGTERM') {
    if (!this.proc || this.proc.exitCode !== null) return;
    this.proc.kill(sig);
    await Promise.race([this.exited, sleep(5000)]);
  }

  messages(from = 0, to = Infinity) {
    return this.events.filter((e) => e.event === 'message' && e.t >= from && e.t < to);
  }

  connections() {
    return this.events.filter((e) => e.event === 'connection');
  }

  files() {
    return fs.readdirSync(this.dir).filter((f) => f.startsWith(`${this.name}-`) && /\.ts\.\d+$/.test(f))
      .map((f) => `${this.dir}/${f}`);
  }
}

class Vw {
  constructor(name, dir) {
    this.name = name;
    this.dir = dir;
    this.dev = `${dir}/video0`;
    this.unplug = `${dir}/unplugged`;
    this.micfail = `${dir}/mic-failed`;
    this.camlog = `${dir}/camera.log`;
    this.logPath = `${dir}/vw.log`;
    this.state = `${dir}/state.json`;
    this.rec = `${dir}/rec`;
  }

  config(o) {
    let c = `[http]\nlisten = 127.0.0.1:${this.port}\n` +
      `[feed cam]\ntype = v4l2\ndevice = ${this.dev}\n[feed mic]\ntype = alsa\ndevice = vwfake\n` +
      '[stream live]\nfeeds = cam, mic\n';
    if (o.rec) c += `[recorder rec]\nstream = live\ndir = ${o.rec}\nsegment = ${o.segment || '60s'}\nkeep = ${o.keep || '1G'}\n`;
    for (const d of o.dests || []) c += `[destination ${d.id}]\nstream = live\nurl = ${d.url}\n`;
    return c;
  }

  async start(o = {}) {
    fs.mkdirSync(this.dir, { recursive: true });
    this.port = await freePort();
    makeNode(this.dev);
    fs.writeFileSync(`${this.dir}/vw.conf`, this.config(o));
    const env = Object.assign({}, process.env, {
      ALSA_CONFIG_PATH: `${BUILD}/tests/asound.conf`, LD_PRELOAD: `${BUILD}/tests/libvwfakecam.so`,
      VWFAKECAM_DEVICE: this.dev, VWFAKECAM_UNPLUG: this.unplug, VWFAKECAM_LOG: this.camlog,
      VWFAKEMIC_FAIL: this.micfail });
    delete env.VW_PORT;
    const logfd = fs.openSync(this.logPath, 'a');
    this.proc = adopt(spawn(VW, ['-c', `${this.dir}/vw.conf`, '--state', this.state, '--log-level', 'info'],
      { env, stdio: ['ignore', logfd, logfd] }));
    fs.closeSync(logfd);
    this.pid = this.proc.pid;
    this.exited = new Promise((r) => this.proc.on('exit', (code, sig) => r({ code, sig, t: now() })));
    for (let i = 0; i < 200; i++) {
      if ((await request(this.port, 'GET', '/healthcheck', undefined, 1000)).status === 200) return;
      if (this.proc.exitCode !== null) break;
      await sleep(50);
    }
    throw new Error(`vw ${this.name} did not start (see ${this.logPath})`);
  }

  async status() {
    const r = await request(this.port, 'GET', '/api/status');
    return r.status === 200 ? JSON.parse(r.body) : null;
  }

  async feed(name) {
    const s = await this.status();
    return s && s.feeds.find((f) => f.name === name);
  }

  // Seconds until pred(status) holds (polled every 10 ms), or -1 after limit seconds.
  async until(pred, limit) {
    const t0 = now();
    while (now() - t0 < limit * 1000) {
      const s = await this.status();
      if (s && pred(s)) return (now() - t0) / 1000;
      await sleep(10);
    }
    return -1;
  }

  // SIGTERM; resolves { ms, code, sig } (ms: until the process was gone).
  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return { ms: 0, code: this.proc && this.proc.exitCode };
    const t0 = now();
    this.proc.kill('SIGTERM');
    let r = await Promise.race([this.exited, sleep(10000).then(() => null)]);
    if (!r) {
      this.proc.kill('SIGKILL');
      r = await this.exited;
      r.killed = true;
    }
    return Object.assign(r, { ms: r.t - t0 });
  }

  logText() {
    return fs.readFileSync(this.logPath, 'utf8');
  }

  // The stream's own count of pictures encoded, from its last words.
  encodedAtStop() {
    const m = [...this.logText().matchAll(/stream live: stopped after (\d+) pictures \((\d+) placeholders\)/g)].pop();
    return m ? { frames: +m[1], placeholders: +m[2] } : null;
  }
}

// ---- recordings ----

function segments(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((f) => /\.ts$/.test(f)).sort().map((f) => `${dir}/${f}`);
}

// Never synchronously: scenarios share this event loop, and a blocked loop would stall the API
// clients of another scenario and show up as vw's latency.
const runCmd = (cmd, a) => new Promise((resolve) => {
  execFile(cmd, a, { encoding: 'utf8', maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
    resolve({ status: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
});

// Decodes every stream of a file: { frames (video packets), errors (ffmpeg's error lines) }.
async function decode(file) {
  const d = await runCmd('ffmpeg', ['-nostdin', '-v', 'error', '-i', file, '-f', 'null', '-']);
  const p = await runCmd('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-count_packets', '-show_entries',
    'stream=nb_read_packets', '-of', 'csv=p=0', file]);
  const errors = (d.stderr || '').split('\n').filter((l) => l.trim()).length + (d.status ? 1 : 0);
  return { frames: parseInt(p.stdout, 10) || 0, errors, text: (d.stderr || '').slice(0, 300) };
}

async function decodeAll(dir) {
  const r = { files: 0, frames: 0, errors: 0, bad: [] };
  for (const f of segments(dir)) {
    const d = await decode(f);
    r.files++;
    r.frames += d.frames;
    r.errors += d.errors;
    if (d.errors || !d.frames) r.bad.push(`${path.basename(f)}: ${d.frames} frames ${d.text}`);
  }
  return r;
}

// Every connection a relay recorded starts at a keyframe, and every gap resumes at one.
async function keyframeReport(files) {
  const r = { connections: 0, empty: 0, notKey: 0, gaps: 0, badResumes: 0, midFrame: 0, pictures: 0 };
  for (const f of files) {
    await sleep(0); // one file at a time, letting the other scenarios' I/O through
    const a = analyzeFile(f);
    r.connections++;
    if (!a.pictures) { r.empty++; continue; }
    r.pictures += a.pictures;
    r.notKey += !a.firstKey;
    r.gaps += a.gaps;
    r.badResumes += a.badResumes;
    r.midFrame += a.midFrameResumes;
  }
  return r;
}

// ---- scenarios ----

async function scenarioRelay() {
  const S = 'relay restarts';
  const restarts = QUICK ? 8 : 50, period = QUICK ? 9000 : 12000;
  const downs = [300, 1000, 2000, 3000]; // the relay is away for this long, in turn
  const dir = `${WORK}/relay`;
  fs.mkdirSync(dir, { recursive: true });
  const relay = new Relay(dir, 'relay', { split: true });
  await relay.start();
  const vw = new Vw('relay', dir);
  await vw.start({ rec: vw.rec, segment: QUICK ? '20s' : '60s', dests: [{ id: 'relay', url: `ws://127.0.0.1:${relay.port}/in/live` }] });
  await vw.until((s) => s.destinations[0].state === 'connected', 10);
  const reconnect = [], missing = [];
  const t0 = now();
  for (let i = 0; i < restarts; i++) {
    const down = downs[i % downs.length];
    await sleep(Math.max(0, t0 + (i + 1) * period - down - now()));
    await relay.kill(i % 2 ? 'SIGKILL' : 'SIGTERM');
    await sleep(down);
    const from = relay.events.length, back = await relay.start();
    const inst = relay.instances;
    let first = null;
    for (let k = 0; k < 1500 && !first; k++) {
      first = relay.events.slice(from).find((e) => e.inst === inst && e.event === 'message');
      if (!first) await sleep(10);
    }
    if (first) reconnect.push((first.t - back) / 1000);
    else missing.push(i);
    log(`relay: restart ${i + 1}/${restarts}, away ${down} ms, stream back after ${first ? f1((first.t - back) / 1000) : 'never'} s`);
  }
  await sleep(3000);
  const st = await vw.status();
  const cam = st.feeds.find((f) => f.name === 'cam');
  const stop = await vw.stop();
  await relay.kill();
  const enc = vw.encodedAtStop();
  const rec = await decodeAll(vw.rec);
  const kf = await keyframeReport(relay.files());
  const minutes = (now() - t0) / 60000;
  check(S, `reconnected after each of ${restarts} restarts in ${f1(minutes)} min`, `${reconnect.length}/${restarts}`,
    'all', reconnect.length === restarts);
  check(S, 'stream back after the relay is back, p50 / p99 / max (s)',
    `${f1(pct(reconnect, 0.5))} / ${f1(pct(reconnect, 0.99))} / ${f1(Math.max(...reconnect))}`,
    // each outage (≤ 3 s) follows ≥ 9 s of connection, which resets the backoff: the retry after
    // the relay is back comes within its 4 s step (+20 %)
    'max < 6 s', reconnect.length && Math.max(...reconnect) < 6);
  check(S, 'frames captured (camera feed, just before SIGTERM) / encoded (at stop) / recorded',
    `${cam.frames} / ${enc ? enc.frames : '?'} (${enc ? enc.placeholders : '?'} placeholders) / ${rec.frames}`,
    'recorded = encoded', enc && rec.frames === enc.frames);
  check(S, `segments decoded (${rec.files} files)`, `${rec.errors} errors${rec.bad.length ? ': ' + rec.bad.join('; ') : ''}`,
    '0 errors', rec.files > 0 && rec.errors === 0 && !rec.bad.length);
  check(S, 'relay connections starting at a keyframe',
    `${kf.connections - kf.notKey - kf.empty}/${kf.connections} (gaps ${kf.gaps}, bad resumes ${kf.badResumes + kf.midFrame})`,
    `all ${restarts + 1}`, kf.connections === restarts + 1 && !kf.notKey && !kf.empty && !kf.badResumes && !kf.midFrame);
  check(S, 'SIGTERM at the end: exit', `${stop.ms} ms, code ${stop.code}`, '< 2000 ms, 0', stop.ms < 2000 && stop.code === 0);
}

async function scenarioCamera() {
  const S = 'camera/mic faults';
  const cycles = QUICK ? 5 : 20, micCycles = QUICK ? 1 : 3;
  const dir = `${WORK}/camera`;
  fs.mkdirSync(dir, { recursive: true });
  const relay = new Relay(dir, 'relay', { quiet: true });
  await relay.start();
  const vw = new Vw('camera', dir);
  await vw.start({ dests: [{ id: 'relay', url: `ws://127.0.0.1:${relay.port}/in/live` }] });
  const feedIs = (name, state) => (s) => s.feeds.find((f) => f.name === name).state === state;
  await vw.until((s) => feedIs('cam', 'live')(s) && feedIs('mic', 'live')(s) && s.destinations[0].state === 'connected', 10);
  const s0 = await vw.status(), p0 = procSample(vw.pid);
  const noticed = [], back = [];
  for (let i = 0; i < cycles; i++) {
    await sleep(700);
    fs.writeFileSync(vw.unplug, ''); // ioctls on the open descriptor fail, then the node goes
    rm(vw.dev);
    noticed.push(await vw.until(feedIs('cam', 'absent'), 3));
    await sleep(500);
    rm(vw.unplug); // the device answers again, then udev makes the node
    makeNode(vw.dev);
    back.push(await vw.until(feedIs('cam', 'live'), 5));
  }
  const s1 = await vw.status(), p1 = procSample(vw.pid);
  const micNoticed = [], micBack = [];
  for (let i = 0; i < micCycles; i++) {
    await sleep(1000);
    fs.writeFileSync(vw.micfail, '');
    micNoticed.push(await vw.until(feedIs('mic', 'absent'), 3));
    await sleep(2000);
    rm(vw.micfail);
    micBack.push(await vw.until(feedIs('mic', 'live'), 5));
  }
  await sleep(500);
  const s2 = await vw.status();
  const stop = await vw.stop();
  await relay.kill();
  const ok = (v) => v.every((x) => x >= 0);
  check(S, `camera unplugged ${cycles}×: noticed p50 / max (s)`, `${f1(pct(noticed, 0.5))} / ${f1(Math.max(...noticed))}`,
    'every unplug, < 3 s', ok(noticed));
  check(S, 'camera live again after replug, p50 / p99 / max (s)',
    `${f1(pct(back, 0.5))} / ${f1(pct(back, 0.99))} / ${f1(Math.max(...back))}`, 'every replug, < 2 s',
    ok(back) && Math.max(...back) < 2);
  check(S, `microphone failed ${micCycles}×: noticed / live again after restore, max (s)`,
    `${f1(Math.max(...micNoticed))} / ${f1(Math.max(...micBack))}`, '< 3 s / < 2 s', ok(micNoticed) && ok(micBack) &&
    Math.max(...micBack) < 2);
  const st0 = s0.streams[0], st2 = s2.streams[0], secs = (s2.uptime_s - s0.uptime_s);
  const fps = (st2.frames - st0.frames) / secs;
  check(S, 'stream through the faults: pictures/s (placeholders) ', `${fps.toFixed(2)} (${st2.placeholder_frames - st0.placeholder_frames})`,
    '≥ 24 fps', fps >= 24);
  check(S, 'relay connections / destination reconnects', `${relay.connections().length} / ${s2.destinations[0].reconnects}`,
    '1 / 0', relay.connections().length === 1 && s2.destinations[0].reconnects === 0);
  check(S, 'descriptors, threads after first → last unplug cycle', `${p0.fds} → ${p1.fds}, ${p0.threads} → ${p1.threads}`,
    'no growth', p1.fds <= p0.fds && p1.threads <= p0.threads);
  check(S, 'exit', `${stop.ms} ms, code ${stop.code}`, '< 2000 ms, 0', stop.ms < 2000 && stop.code === 0);
}

async function scenarioDisk() {
  const S = 'disk full';
  if (!args.disk) {
    check(S, 'small filesystem', 'none (run as root, or give --disk)', 'a tmpfs', false);
    return;
  }
  const dir = `${WORK}/disk`;
  fs.mkdirSync(dir, { recursive: true });
  const relay = new Relay(dir, 'relay');
  await relay.start();
  const vw = new Vw('disk', dir);
  const rec = `${args.disk}/rec`;
  await vw.start({ rec, segment: '4s', keep: '2M', dests: [{ id: 'relay', url: `ws://127.0.0.1:${relay.port}/in/live` }] });
  const recIs = (state) => (s) => s.recorders[0].state === state;
  await vw.until(recIs('recording'), 10);
  await sleep(6000);
  const filler = `${args.disk}/filler`, fd = fs.openSync(filler, 'w'), block = Buffer.alloc(16384, 1);
  const tFill = now();
  try {
    for (let i = 0; i < 4096; i++) fs.writeSync(fd, block);
  } catch (e) { /* ENOSPC: full */ }
  fs.closeSync(fd);
  const toError = await vw.until(recIs('error'), 15);
  const sErr = await vw.status();
  await sleep(4000);
  const tFree = now();
  rm(filler);
  const resumed = await vw.until(recIs('recording'), 15);
  await sleep(9000);
  const sEnd = await vw.status();
  const stop = await vw.stop();
  await relay.kill();
  const during = relay.messages(tFill, tFree), tl = [tFill, ...during.map((e) => e.t), tFree];
  const gap = Math.max(...tl.slice(1).map((t, i) => t - tl[i]));
  const bytes = during.reduce((a, e) => a + e.bytes, 0);
  const dec = await decodeAll(rec), parts = fs.readdirSync(rec).filter((f) => f.endsWith('.part'));
  check(S, 'recorder in error after the disk filled (s)', `${f1(toError)}: ${sErr.recorders[0].error}`, 'error state',
    toError >= 0);
  check(S, 'relay while the disk was full: bytes, longest gap', `${(bytes / 1024).toFixed(0)} KiB in ${((tFree - tFill) / 1000).toFixed(1)} s, ${gap} ms`,
    'flowing, gap < 500 ms', bytes > 0 && gap < 500);
  check(S, 'recording again after space was freed (s)', f1(resumed), '< 10 s', resumed >= 0);
  check(S, `closed segments decoded (${dec.files} files, ${dec.frames} frames)`,
    `${dec.errors} errors${dec.bad.length ? ': ' + dec.bad.join('; ') : ''}; .part left ${parts.length}`, '0, 0',
    dec.files > 0 && !dec.errors && !dec.bad.length && !parts.length);
  const text = vw.logText(), paused = (text.match(/recording paused/g) || []).length;
  const again = (text.match(/recording resumed/g) || []).length;
  check(S, 'log: "recording paused" / "recording resumed" lines', `${paused} / ${again}`, '1 / 1 (no line per retry)',
    paused === 1 && again === 1);
  check(S, 'segments / lost chunks / state at the end', `${sEnd.recorders[0].segments} / ${sEnd.recorders[0].lost_chunks} / ${sEnd.recorders[0].state}`,
    'recording', sEnd.recorders[0].state === 'recording');
  check(S, 'exit', `${stop.ms} ms, code ${stop.code}`, '< 2000 ms, 0', stop.ms < 2000 && stop.code === 0);
}

async function scenarioSigstop() {
  const S = 'relay SIGSTOP';
  const stopMs = QUICK ? 10000 : 30000;
  const dir = `${WORK}/sigstop`;
  fs.mkdirSync(dir, { recursive: true });
  const good = new Relay(dir, 'good', { split: true }), stopped = new Relay(dir, 'stopped', { split: true });
  await good.start();
  await stopped.start();
  const vw = new Vw('sigstop', dir);
  await vw.start({ dests: [{ id: 'good', url: `ws://127.0.0.1:${good.port}/in/live` },
    { id: 'stopped', url: `ws://127.0.0.1:${stopped.port}/in/live` }] });
  await vw.until((s) => s.destinations.every((d) => d.state === 'connected'), 10);
  await sleep(3000);
  const tStop = now();
  stopped.proc.kill('SIGSTOP');
  await sleep(stopMs);
  const sMid = await vw.status();
  const tCont = now();
  stopped.proc.kill('SIGCONT');
  await sleep(12000);
  const sEnd = await vw.status();
  const stop = await vw.stop();
  await good.kill();
  await stopped.kill();
  const before = good.messages(tStop - 3000, tStop), during = good.messages(tStop, tCont);
  const tl = [tStop, ...during.map((e) => e.t), tCont];
  const gap = Math.max(...tl.slice(1).map((t, i) => t - tl[i]));
  const rate = (m, ms) => m.reduce((a, e) => a + e.bytes, 0) / ms * 1000 / 1024;
  const after = stopped.events.find((e) => e.event === 'message' && e.t >= tCont);
  const lastConn = stopped.connections().pop();
  const fresh = lastConn && stopped.events.find((e) => e.event === 'message' && e.n === lastConn.n && e.t >= tCont);
  const kf = await keyframeReport(stopped.files()), kg = await keyframeReport(good.files());
  const dStop = sEnd.destinations.find((d) => d.id === 'stopped'), dMid = sMid.destinations.find((d) => d.id === 'stopped');
  check(S, `other relay during the ${stopMs / 1000} s stop: KiB/s before → during, longest gap`,
    `${rate(before, 3000).toFixed(0)} → ${rate(during, tCont - tStop).toFixed(0)}, ${gap} ms`, 'unchanged, gap < 500 ms',
    gap < 500 && rate(during, tCont - tStop) > 0.8 * rate(before, 3000));
  check(S, 'other relay: connections, bad resumes', `${good.connections().length}, ${kg.badResumes + kg.midFrame + kg.notKey}`, '1, 0',
    good.connections().length === 1 && !(kg.badResumes + kg.midFrame + kg.notKey));
  check(S, 'stopped relay after SIGCONT: first bytes / stream on its last connection (s)',
    `${after ? f1((after.t - tCont) / 1000) : 'never'} / ${fresh ? f1((fresh.t - tCont) / 1000) : 'never'}`, '< 12 s',
    !!after && !!fresh && fresh.t - tCont < 12000);
  // A stopped process's kernel still completes TCP handshakes: vw's retries while it was stopped
  // reach it after SIGCONT as connections vw already gave up on, which carry nothing.
  check(S, 'stopped relay: connections (without data) / gaps / all resumed at a keyframe',
    `${kf.connections} (${kf.empty}) / ${kf.gaps} / ${kf.notKey + kf.badResumes + kf.midFrame === 0 ? 'yes' : `no (${kf.notKey} starts, ${kf.badResumes + kf.midFrame} resumes)`}`,
    'yes', kf.connections > kf.empty && !(kf.notKey + kf.badResumes + kf.midFrame));
  check(S, 'stopped destination: state while stopped → end, chunks dropped, reconnects',
    `${dMid.state} → ${dStop.state}, ${dStop.drops}, ${dStop.reconnects}`, 'connected at the end', dStop.state === 'connected');
  check(S, 'exit', `${stop.ms} ms, code ${stop.code}`, '< 2000 ms, 0', stop.ms < 2000 && stop.code === 0);
}

async function scenarioChurn() {
  const S = 'API churn + SIGTERM';
  const clients = 4, ruleCycles = +args['rule-cycles'] || (QUICK ? 400 : 10000);
  const destCycles = +args['dest-cycles'] || (QUICK ? 4000 : 100000);
  const dir = `${WORK}/churn`;
  fs.mkdirSync(dir, { recursive: true });
  const relay = new Relay(dir, 'relay', { quiet: true, out: '/dev/null' });
  await relay.start();
  const closed = await freePort(); // nothing listens there: connections are refused
  const vw = new Vw('churn', dir);
  await vw.start({ rec: vw.rec, segment: '10s', dests: [{ id: 'relay', url: `ws://127.0.0.1:${relay.port}/in/live` }] });
  await vw.until((s) => s.destinations[0].state === 'connected' && s.recorders[0].state === 'recording', 10);
  const port = vw.port, bad = [];
  let requests = 0, stopAll = false;
  const lat = [];
  const call = async (method, p, body) => {
    const t = process.hrtime.bigint();
    const r = await request(port, method, p, body);
    lat.push(Number(process.hrtime.bigint() - t) / 1e6);
    requests++;
    if (r.status < 200 || r.status > 299) bad.push(`${method} ${p} → ${r.status} ${r.body.slice(0, 100)}`);
    return r;
  };
  const urls = [`ws://127.0.0.1:${relay.port}/in/churn`, `ws://127.0.0.1:${closed}/in/churn`];
  // add, replace, delete: a stream (its encoder starts, restarts, stops) and a destination on it
  const ruleCycle = async (k, n) => {
    const stream = `churn/${k}`, id = `rule-${k}`;
    await call('POST', '/api/streams', { stream, feeds: ['cam'], size: '320x240', video_bitrate: '300k' });
    await call('POST', '/api/streams', { stream, feeds: ['cam', 'mic'], size: '320x240', video_bitrate: '400k' });
    await call('POST', '/api/destinations', { id, stream, destination: urls[n % 2] });
    await call('POST', '/api/destinations', { id, stream, destination: urls[(n + 1) % 2] });
    await call('DELETE', `/api/destinations/${id}`);
    await call('DELETE', `/api/streams/${stream}`);
    ruleDone++;
  };
  const destCycle = async (k, n) => {
    const id = `dest-${k}`;
    await call('POST', '/api/destinations', { id, stream: 'live', destination: urls[n % 2] });
    await call('DELETE', `/api/destinations/${id}`);
    destDone++;
  };
  // Client k runs its share of both workloads interleaved (one rule cycle per ten destination cycles).
  const ratio = Math.max(1, Math.round(destCycles / ruleCycles));
  let ruleDone = 0, destDone = 0;
  const work = async (k, from, to) => {
    for (let n = from; n < to && !stopAll; n++) {
      await ruleCycle(k, n);
      for (let j = 0; j < ratio && !stopAll; j++) await destCycle(k, n * ratio + j);
    }
  };
  const perClient = Math.ceil(ruleCycles / clients), warm = Math.ceil(perClient / 10);
  const quiet = async () => {
    await vw.until((s) => s.streams.length === 1 && s.destinations.length === 1, 10);
    await sleep(3000);
    return Object.assign(procSample(vw.pid), { targets: fdTargets(vw.pid) });
  };
  const t0 = now();
  await Promise.all([...Array(clients).keys()].map((k) => work(k, 0, warm)));
  const p0 = await quiet();
  const t1 = now();
  await Promise.all([...Array(clients).keys()].map((k) => work(k, warm, perClient)));
  const t2 = now();
  let p1 = await quiet();
  // A descriptor still closing (an HTTP connection just answered, a socket lws is tearing down) is
  // not a leak: give the count 15 s more to come back, and report how long it took.
  let settle = 0;
  for (; settle < 15 && p1.fds > p0.fds; settle++) {
    await sleep(1000);
    p1 = Object.assign(procSample(vw.pid), { targets: fdTargets(vw.pid) });
  }
  const sEnd = await vw.status();
  log(`churn: ${requests} requests, ${bad.length} failed, ${((t2 - t0) / 1000).toFixed(0)} s; ` +
    `fds ${p0.fds} → ${p1.fds}, threads ${p0.threads} → ${p1.threads}, RSS ${p0.rss} → ${p1.rss} kB`);
  check(S, `${clients} clients: ${ruleDone} rule cycles (stream + destination add/replace/delete) + ${destDone} destination add/remove cycles`,
    `${requests} requests in ${((t2 - t0) / 1000).toFixed(0)} s, ${bad.length} failed${bad.length ? ': ' + bad.slice(0, 3).join('; ') : ''}`,
    'all 2xx', !bad.length);
  const latMax = lat.reduce((a, b) => (b > a ? b : a), 0);
  check(S, 'request latency p50 / p99 / max (ms)', `${f1(pct(lat, 0.5))} / ${f1(pct(lat, 0.99))} / ${f1(latMax)}`,
    'max < 10 s (the client timeout)', latMax < 10000);
  const added = fdGrowth(p0.targets, p1.targets);
  check(S, 'descriptors after warm-up → end', `${p0.fds} → ${p1.fds}${added.length ? ` (new: ${added.join(', ')})` : ''}` +
    `${settle ? `, after ${settle} s more` : ''}`,
    'no growth', p1.fds <= p0.fds);
  check(S, 'threads after warm-up → end', `${p0.threads} → ${p1.threads}`, 'no growth', p1.threads <= p0.threads);
  const tol = 2048;
  check(S, `RSS after warm-up → end (kB; ${((t2 - t1) / 1000).toFixed(0)} s of churn between)`, `${p0.rss} → ${p1.rss} (${p1.rss - p0.rss >= 0 ? '+' : ''}${p1.rss - p0.rss})`,
    `growth ≤ ${tol} kB`, p1.rss - p0.rss <= tol);
  const main = sEnd.destinations.find((d) => d.id === 'relay');
  check(S, 'the configured destination through the churn: reconnects, state', `${main.reconnects}, ${main.state}`,
    '0, connected', main.reconnects === 0 && main.state === 'connected');

  // SIGTERM in the middle of all of it: churning clients, a connected relay, a recording.
  bad.length = 0;
  stopAll = false;
  const running = Promise.all([...Array(clients).keys()].map((k) => work(k, perClient, perClient * 1000)));
  await sleep(2500);
  const stop = await vw.stop();
  stopAll = true;
  await running;
  await relay.kill();
  let state = null, stateErr = '';
  try {
    state = JSON.parse(fs.readFileSync(vw.state, 'utf8'));
  } catch (e) {
    stateErr = e.message;
  }
  const segs = segments(vw.rec), last = segs[segs.length - 1];
  const d = last ? await decode(last) : { frames: 0, errors: 1, text: 'no segment' };
  const parts = fs.readdirSync(vw.rec).filter((f) => f.endsWith('.part'));
  check(S, 'SIGTERM mid-churn: exit', `${stop.ms} ms, code ${stop.code}${stop.sig ? ' ' + stop.sig : ''}`, '< 2000 ms, 0',
    stop.ms < 2000 && stop.code === 0);
  check(S, 'state file after SIGTERM', state ? `valid JSON (${Object.keys(state).join(', ')})` : `invalid: ${stateErr}`, 'valid JSON',
    !!state);
  check(S, 'last segment after SIGTERM', last ? `${path.basename(last)}: ${d.frames} frames, ${d.errors} decode errors; .part left ${parts.length}` : 'none',
    'decodes, no .part', last && d.frames > 0 && !d.errors && !parts.length);
}

// ---- soak ----

async function soak(seconds) {
  const S = 'soak';
  const interval = parseFloat(args.interval) * 1000, warmup = Math.min(300, seconds / 6) * 1000;
  const dir = `${WORK}/soak`;
  fs.mkdirSync(dir, { recursive: true });
  const relay = new Relay(dir, 'relay', { quiet: true, out: '/dev/null' });
  await relay.start();
  const vw = new Vw('soak', dir);
  const dests = [...Array(10).keys()].map((i) => ({ id: `d${i}`, url: `ws://127.0.0.1:${relay.port}/in/live${i}` }));
  await vw.start({ rec: vw.rec, segment: '60s', keep: '64M', dests });
  await vw.until((s) => s.destinations.every((d) => d.state === 'connected'), 10);
  const t0 = now(), samples = [];
  log(`soak: ${seconds} s, 10 destinations, recording; a sample every ${interval / 1000} s, warm-up ${warmup / 1000} s`);
  process.stdout.write('| t (s) | RSS (kB) | anon (kB) | fds | threads | log lines | fps | frames | dest reconnects |\n|---|---|---|---|---|---|---|---|---|\n');
  for (let i = 0; ; i++) {
    const due = t0 + i * interval;
    if (due - t0 > seconds * 1000) break;
    await sleep(Math.max(0, due - now()));
    const p = procSample(vw.pid), st = await vw.status();
    const lines = vw.logText().split('\n').length - 1;
    const s = { t: (now() - t0) / 1000, ...p, lines, fps: st.feeds.find((f) => f.name === 'cam').fps,
      frames: st.streams[0].frames, reconnects: st.destinations.reduce((a, d) => a + d.reconnects, 0) };
    samples.push(s);
    process.stdout.write(`| ${s.t.toFixed(0)} | ${s.rss} | ${s.anon} | ${s.fds} | ${s.threads} | ${s.lines} | ${s.fps.toFixed(1)} | ${s.frames} | ${s.reconnects} |\n`);
  }
  const stop = await vw.stop();
  await relay.kill();
  const w = samples.find((s) => s.t * 1000 >= warmup) || samples[0], e = samples[samples.length - 1];
  const after = samples.filter((s) => s.t >= w.t), hours = (e.t - w.t) / 3600;
  const rss = after.map((s) => s.rss);
  const perHour = hours > 0 ? (e.lines - w.lines) / hours : 0;
  const fps = (e.frames - samples[0].frames) / (e.t - samples[0].t);
  process.stdout.write('\n');
  check(S, `RSS after warm-up (${w.t.toFixed(0)} s) → end (${e.t.toFixed(0)} s), range (kB)`,
    `${w.rss} → ${e.rss} (${e.rss - w.rss >= 0 ? '+' : ''}${e.rss - w.rss}), ${Math.min(...rss)}..${Math.max(...rss)}`,
    'drift ≤ 1024 kB', e.rss - w.rss <= 1024);
  check(S, 'descriptors, threads after warm-up → end', `${w.fds} → ${e.fds}, ${w.threads} → ${e.threads}`, 'no growth',
    e.fds <= w.fds && e.threads <= w.threads);
  check(S, 'log lines after warm-up', `${e.lines - w.lines} (${perHour.toFixed(0)}/h)`, '≤ 120/h (a segment a minute)',
    perHour <= 120);
  check(S, 'encoded pictures/s, destination reconnects', `${fps.toFixed(2)}, ${e.reconnects}`, '≥ 24.9, 0',
    fps >= 24.9 && e.reconnects === 0);
  check(S, 'exit', `${stop.ms} ms, code ${stop.code}`, '< 2000 ms, 0', stop.ms < 2000 && stop.code === 0);
}

// ---- main ----

function table() {
  const esc = (s) => s.replace(/\|/g, '\\|');
  let out = '| scenario | check | measured | expected | |\n|---|---|---|---|---|\n';
  for (const r of results) out += `| ${r.scenario} | ${esc(r.what)} | ${esc(r.value)} | ${esc(r.expect)} | ${r.ok ? 'ok' : '**FAIL**'} |\n`;
  return out;
}

async function main() {
  for (const f of [VW, `${BUILD}/tests/libvwfakecam.so`, `${BUILD}/tests/asound.conf`])
    if (!fs.existsSync(f)) throw new Error(`${f} is missing: build vw, vwfakecam and asound_module_pcm_vwfake in ${BUILD}`);
  execFileSync('ffprobe', ['-version'], { stdio: 'ignore' });
  const t0 = now();
  if (args.soak !== undefined) {
    await soak(parseFloat(args.soak) || 3600);
  } else {
    const only = new Set(args.only.split(','));
    const run = async (name, fn) => {
      if (!only.has(name)) return;
      log(`${name}: start`);
      try {
        await fn();
      } catch (e) {
        check(name, 'ran to the end', e.stack.split('\n').slice(0, 2).join(' '), 'no exception', false);
      }
      log(`${name}: done`);
    };
    // The relay-restart stream runs for its whole length; the others run one after the other beside it.
    const others = (async () => {
      await sleep(2000);
      for (const [n, fn] of [['camera', scenarioCamera], ['disk', scenarioDisk], ['sigstop', scenarioSigstop], ['churn', scenarioChurn]])
        await run(n, fn);
    })();
    await Promise.all([run('relay', scenarioRelay), others]);
  }
  process.stdout.write(`\n## ${args.soak !== undefined ? 'Soak' : `Fault campaign${QUICK ? ' (--quick)' : ''}`}\n\n` +
    `${table()}\n${results.filter((r) => !r.ok).length} failed of ${results.length} checks; ${((now() - t0) / 60000).toFixed(1)} min.\n`);
  return results.every((r) => r.ok) ? 0 : 1;
}

main().then((code) => process.exit(code), (e) => {
  log(e.stack);
  process.exit(2);
});

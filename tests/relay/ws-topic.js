#!/usr/bin/env node
// Peers of vw's /ws/ websockets for the tests, on the ws package (not vw's code on both ends).
// Prints one JSON line per finding on stdout; the C suite asserts on them.
//   node ws-topic.js --mode exchange --vw PORT --topic T --relay-port P [--token TOK]
//     A relay (a ws server vw's destination of T dials) and two local clients A and B on /ws/T.
//     Once each can hear the others (probes, retried), each sends a burst of text and binary
//     messages back to back (one of A's in three frames); every message received is printed as
//     {"at":RECEIVER,"from":SENDER,"seq":N,"kind":"text"|"binary","len":L,"intact":BOOL}
//     and then {"summary":...} with whether each sender's messages came in order and how many
//     came back to their own sender ("echo"); then the topic as /api/status shows it, and
//     {"topic_sent":N,"local_received":M}: what vw says its clients got, what they did get.
//   node ws-topic.js --mode stream --vw PORT --path /ws/stream/NAME
//     Reads 2 s of a stream: {"messages":N,"bytes":B,"ts":BOOL} (every message whole TS packets).
//   node ws-topic.js --mode open --vw PORT --path P [--origin O]
//     {"opened":true} or {"refused":STATUS}.
//   node ws-topic.js --mode slow --vw PORT --topic T
//     A sends 60 binary messages of 512 KiB (one every 20 ms) to B, which reads, and C, which stops
//     reading until A is done: {"fast":N,"fast_in_order":BOOL,"slow":N,"slow_intact":BOOL,"sent_ms":MS}.
//   node ws-topic.js --mode keepalive --vw PORT --path P [--ms MS]
//     Three clients on P for MS (8000) ms: one answers pings, one does not (autoPong off), one
//     stops reading: {"alive_pings":N,"alive_closed":null|{...},"mute_pings":N,
//     "mute_closed":{"code":C,"why":W,"after_ms":T},"gone_closed":{...}}.
//   node ws-topic.js --mode oversize --vw PORT --topic T
//     A sends a message of exactly 1 MiB (B must get it whole), then one byte more:
//     {"max_delivered":BOOL,"close":CODE}.
'use strict';
const WebSocket = require('ws');
const { WebSocketServer } = WebSocket;

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const base = `ws://127.0.0.1:${args.vw}`;
const withToken = (p) => (args.token ? `${p}?token=${encodeURIComponent(args.token)}` : p);
setTimeout(() => { say({ error: 'timeout' }); process.exit(1); }, 60000).unref();

// A binary message: byte 0 the sender's letter, 1..2 its sequence number, then a pattern.
const SENDERS = ['A', 'B', 'R'];
function binary(sender, seq, len) {
  const b = Buffer.alloc(len);
  b[0] = sender.charCodeAt(0);
  b[1] = seq >> 8; b[2] = seq & 255;
  for (let i = 3; i < len; i++) b[i] = (i * 7 + seq * 31) & 255;
  return b;
}
function decode(at, data, isBinary) {
  if (!isBinary) {
    const t = data.toString();
    const m = /^([ABR]):(\d+):/.exec(t);
    return { at, from: m ? m[1] : '?', seq: m ? +m[2] : -1, kind: 'text', len: Buffer.byteLength(t), intact: !!m, probe: t.startsWith('probe') ? t : null };
  }
  const seq = (data[1] << 8) | data[2];
  let intact = data.length >= 3 && SENDERS.includes(String.fromCharCode(data[0]));
  for (let i = 3; intact && i < data.length; i++) if (data[i] !== ((i * 7 + seq * 31) & 255)) intact = false;
  return { at, from: String.fromCharCode(data[0]), seq, kind: 'binary', len: data.length, intact };
}

function open(path, opts) {
  return new Promise((resolve) => {
    const ws = new WebSocket(base + path, Object.assign({ perMessageDeflate: false }, opts || {}));
    ws.on('open', () => resolve({ ws }));
    ws.on('unexpected-response', (req, res) => { resolve({ status: res.statusCode }); req.destroy(); });
    ws.on('error', (e) => resolve({ error: String(e) }));
  });
}

async function exchange() {
  const got = { A: [], B: [], R: [] };
  const probes = { A: new Set(), B: new Set(), R: new Set() };
  let local = 0; // every message A and B received, probes included: what vw's `sent` must say
  const listen = (who, ws) => ws.on('message', (data, isBinary) => {
    if (who !== 'R') local++;
    const m = decode(who, data, isBinary);
    if (m.probe) { probes[who].add(m.probe.split('-')[1]); return; }
    got[who].push(m);
  });
  let relay = null;
  const wss = new WebSocketServer({ port: +args['relay-port'], host: '127.0.0.1', perMessageDeflate: false, maxPayload: 64 << 20 });
  wss.on('connection', (ws) => { relay = ws; listen('R', ws); say({ event: 'relay-connected' }); });
  await new Promise((r) => wss.on('listening', r));
  say({ event: 'listening' });
  for (let t = 0; !relay && t < 300; t++) await sleep(100);
  if (!relay) { say({ error: 'vw never dialled the relay' }); process.exit(1); }
  const a = await open(withToken(`/ws/${args.topic}`)), b = await open(withToken(`/ws/${args.topic}`));
  if (!a.ws || !b.ws) { say({ error: 'a client could not open', a: a.status || a.error, b: b.status || b.error }); process.exit(1); }
  const peers = { A: a.ws, B: b.ws, R: relay };
  listen('A', a.ws); listen('B', b.ws);
  // vw attaches a client a moment after it opens: probe until everyone hears everyone
  for (const s of SENDERS) {
    const others = SENDERS.filter((x) => x !== s);
    let n = 0;
    while (!others.every((o) => probes[o].has(s)) && n < 150) { peers[s].send(`probe-${s}-${n++}`); await sleep(100); }
    if (n >= 150) { say({ error: `probes of ${s} never arrived`, heard: others.map((o) => [o, [...probes[o]]]) }); process.exit(1); }
  }
  await sleep(300); // stragglers of the probes
  const echoProbes = SENDERS.filter((s) => probes[s].has(s)).length;
  for (const k of SENDERS) got[k] = [];
  const plan = {
    // A's second message goes as three websocket frames (fragments) of one message
    A: [['text', 'A:1:first words of A'], ['fragments', 100000], ['binary', 3], ['text', 'A:4:'], ['binary', 4]],
    B: [['binary', 70000], ['text', 'B:2:from B']],
    R: [['text', 'R:1:from the relay'], ['binary', 200000], ['binary', 5]],
  };
  for (const s of SENDERS) plan[s].forEach(([kind, x], i) => {
    if (kind === 'fragments') {
      const b = binary(s, i + 1, x), cut = [0, 30000, 70000, x];
      for (let k = 0; k < 3; k++) peers[s].send(b.subarray(cut[k], cut[k + 1]), { binary: true, fin: k === 2 });
    } else peers[s].send(kind === 'text' ? x : binary(s, i + 1, x), { binary: kind !== 'text' });
  });
  const want = (who) => SENDERS.filter((s) => s !== who).reduce((n, s) => n + plan[s].length, 0);
  for (let t = 0; t < 150 && !SENDERS.every((w) => got[w].length >= want(w)); t++) await sleep(100);
  await sleep(500); // anything extra (an echo, a duplicate) has time to arrive
  for (const w of SENDERS) for (const m of got[w]) say(m);
  const inOrder = {};
  for (const w of SENDERS) for (const s of SENDERS) {
    const seqs = got[w].filter((m) => m.from === s).map((m) => m.seq);
    inOrder[`${s}->${w}`] = seqs.every((q, i) => i === 0 || q > seqs[i - 1]);
  }
  const echo = SENDERS.reduce((n, w) => n + got[w].filter((m) => m.from === w).length, 0) + echoProbes;
  say({ summary: true, counts: { A: got.A.length, B: got.B.length, R: got.R.length }, want: { A: want('A'), B: want('B'), R: want('R') },
        in_order: Object.values(inOrder).every(Boolean), echo });
  // what /api/status says of the topic while both clients are on it
  const status = await new Promise((resolve) => {
    const headers = args.token ? { authorization: `Bearer ${args.token}` } : {};
    require('http').get({ host: '127.0.0.1', port: +args.vw, path: '/api/status', headers }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => { try { resolve(JSON.parse(body)); } catch (e) { resolve({}); } });
    }).on('error', () => resolve({}));
  });
  for (const t of status.topics || []) say({ topic: t });
  for (const t of status.topics || []) say({ topic_sent: t.sent, local_received: local });
  a.ws.close(); b.ws.close(); wss.close();
  process.exit(0);
}

async function stream() {
  const c = await open(withToken(args.path));
  if (!c.ws) { say({ refused: c.status || c.error }); process.exit(0); }
  let messages = 0, bytes = 0, ts = true, text = 0;
  c.ws.on('message', (data, isBinary) => {
    if (!isBinary) { text++; return; }
    messages++; bytes += data.length;
    if (data.length % 188 || data[0] !== 0x47) ts = false;
  });
  await sleep(+(args.ms || 2000));
  say({ messages, bytes, ts: ts && messages > 0, text });
  c.ws.close();
  process.exit(0);
}

async function openOnly() {
  const c = await open(withToken(args.path), args.origin ? { origin: args.origin } : {});
  say(c.ws ? { opened: true } : { refused: c.status || c.error });
  if (c.ws) c.ws.close();
  process.exit(0);
}

async function oversize() {
  const a = await open(withToken(`/ws/${args.topic}`)), b = await open(withToken(`/ws/${args.topic}`));
  if (!a.ws || !b.ws) { say({ error: 'a client could not open' }); process.exit(1); }
  let heard = false, max = null, code = null;
  b.ws.on('message', (data, isBinary) => { if (!isBinary && data.toString() === 'probe') heard = true; else if (isBinary) max = decode('B', data, true); });
  for (let n = 0; !heard && n < 150; n++) { a.ws.send('probe'); await sleep(100); }
  a.ws.on('close', (c) => { code = c; });
  a.ws.send(binary('A', 1, 1 << 20));
  for (let t = 0; !max && t < 100; t++) await sleep(100);
  a.ws.send(binary('A', 2, (1 << 20) + 1));
  for (let t = 0; code === null && t < 100; t++) await sleep(100);
  say({ max_delivered: !!max && max.len === 1 << 20 && max.intact, close: code });
  b.ws.close();
  process.exit(0);
}

async function slow() {
  const path = withToken(`/ws/${args.topic}`);
  const a = await open(path), b = await open(path), c = await open(path);
  if (!a.ws || !b.ws || !c.ws) { say({ error: 'a client could not open' }); process.exit(1); }
  const heard = { B: false, C: false };
  const fast = [], slowGot = [];
  b.ws.on('message', (d, isBinary) => { if (!isBinary) heard.B = true; else fast.push(decode('B', d, true)); });
  c.ws.on('message', (d, isBinary) => { if (!isBinary) heard.C = true; else slowGot.push(decode('C', d, true)); });
  for (let n = 0; !(heard.B && heard.C) && n < 150; n++) { a.ws.send('probe'); await sleep(100); }
  c.ws._socket.pause(); // C stops reading: vw's queue for it fills while B is served
  const t0 = Date.now();
  for (let i = 1; i <= 60; i++) { a.ws.send(binary('A', i, 512 * 1024)); await sleep(20); }
  const sentMs = Date.now() - t0;
  for (let t = 0; fast.length < 60 && t < 100; t++) await sleep(100);
  c.ws._socket.resume();
  await sleep(1500);
  say({ fast: fast.length, fast_in_order: fast.every((m, i) => m.seq === i + 1 && m.intact && m.len === 512 * 1024),
        slow: slowGot.length, slow_intact: slowGot.every((m) => m.intact && m.len === 512 * 1024), sent_ms: sentMs });
  process.exit(0);
}

async function keepalive() {
  // three clients on one path: one answers pings (as every websocket library does), one never
  // does (autoPong off), one stops reading altogether (a peer gone without a word)
  const path = withToken(args.path), t0 = Date.now();
  const alive = await open(path), mute = await open(path, { autoPong: false }), gone = await open(path);
  if (!alive.ws || !mute.ws || !gone.ws) { say({ error: 'a client could not open' }); process.exit(1); }
  const r = { alive_pings: 0, alive_closed: null, mute_pings: 0, mute_closed: null, gone_closed: null };
  alive.ws.on('ping', () => { r.alive_pings++; });
  mute.ws.on('ping', () => { r.mute_pings++; });
  const closed = (k) => (code, why) => { r[k] = { code, why: why.toString(), after_ms: Date.now() - t0 }; };
  alive.ws.on('close', closed('alive_closed'));
  mute.ws.on('close', closed('mute_closed'));
  gone.ws.on('close', closed('gone_closed'));
  gone.ws.on('error', () => {});
  gone.ws._socket.pause();
  await sleep(+(args.ms || 8000));
  gone.ws._socket.resume(); // what it has missed, then how it ended
  for (let t = 0; !r.gone_closed && t < 30; t++) await sleep(100);
  say(r);
  alive.ws.close();
  process.exit(0);
}

({ exchange, stream, open: openOnly, oversize, slow, keepalive })[args.mode]().catch((e) => { say({ error: String(e) }); process.exit(1); });

#!/usr/bin/env node
// The operator's end of vw's WS/JSON control channel, for the tests: connects to a bidirectional
// relay path, waits until vw's end is there (a healthcheck answered), sends each command in
// turn and prints one JSON line per command: {"sent": CMD, "reply": REPLY-or-null}. Also vw's own
// /ws/api, which takes the same commands; --first TOKEN sends the API token as the first message
// (printed as {"first": REPLY}) when the handshake carries none.
//   node ws-command.js --url ws://127.0.0.1:P/bi/x [--timeout-ms 5000] [--first TOKEN] CMD...
'use strict';
const WebSocket = require('ws');

const argv = process.argv.slice(2);
let url = null, timeout = 5000, first = null;
const cmds = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--url') url = argv[++i];
  else if (argv[i] === '--timeout-ms') timeout = parseInt(argv[++i], 10);
  else if (argv[i] === '--first') first = argv[++i];
  else cmds.push(argv[i]);
}
const deadline = Date.now() + 30000; // the whole run, whatever happens
const ws = new WebSocket(url);
let waiting = null;
ws.on('message', (data) => { if (waiting) { const w = waiting; waiting = null; w(data.toString()); } });
const ask = (cmd, ms) => new Promise((resolve) => {
  const t = setTimeout(() => { waiting = null; resolve(null); }, ms);
  waiting = (r) => { clearTimeout(t); resolve(r); };
  ws.send(cmd);
});
ws.on('open', async () => {
  if (first !== null) {
    const r = await ask(first, timeout);
    process.stdout.write(JSON.stringify({ first: r === null ? null : JSON.parse(r) }) + '\n');
  }
  // vw may still be dialling the relay: ask until it answers
  while (Date.now() < deadline && (await ask('{"verb":"healthcheck"}', 500)) === null);
  for (const c of cmds) {
    const reply = await ask(c, timeout);
    process.stdout.write(JSON.stringify({ sent: c, reply: reply === null ? null : JSON.parse(reply) }) + '\n');
  }
  ws.close();
  process.exit(0);
});
ws.on('close', (code) => { process.stdout.write(JSON.stringify({ closed: code }) + '\n'); process.exit(0); });
ws.on('unexpected-response', (req, res) => {
  process.stdout.write(JSON.stringify({ refused: res.statusCode }) + '\n');
  process.exit(1);
});
ws.on('error', (e) => { process.stdout.write(JSON.stringify({ error: String(e) }) + '\n'); process.exit(1); });
setTimeout(() => { process.stdout.write(JSON.stringify({ error: 'timeout' }) + '\n'); process.exit(1); }, 60000).unref();

#!/usr/bin/env node
// A websocket relay for vw's tests, on 127.0.0.1 only. It records every binary message it gets
// to OUT (raw bytes, in order) and prints one JSON line per event on stdout.
//   node relay.js --port P --out FILE [--mode plain|first-message|no-pong|access]
//                 [--token T] [--access-port P2] [--split 1] [--quiet 1]
// --split 1: each connection's bytes go to FILE.N instead (N = 1, 2, ... in connection order,
//            named in its "connection" event), so a test can check where every connection began.
// --quiet 1: no "message" events (a relay that takes many streams for a long time).
// first-message: the first text message must be T; replies {"authorised": true|false}.
// no-pong: never answers pings (a relay that silently stopped working).
// access: POST / with "Authorization: T" answers {"uri": "ws://127.0.0.1:P/in/stream?code=..."};
//         the websocket path must carry that one-time code.
// bi: a bidirectional relay (practable's /bi/): every text message is passed to the other
//     connections on the same path, as vw's WS/JSON control channel expects.
'use strict';
const http = require('http');
const fs = require('fs');
const { WebSocketServer } = require('ws');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const port = parseInt(args.port, 10);
const mode = args.mode || 'plain';
const token = args.token || '';
const out = fs.openSync(args.out, 'a');
const codes = new Set();
let connections = 0;
const say = (o) => process.stdout.write(JSON.stringify(Object.assign({ t: Date.now() }, o)) + '\n');

const server = http.createServer((req, res) => {
  if (mode === 'access' && req.method === 'POST') {
    if (req.headers.authorization !== token) {
      say({ event: 'access-refused' });
      res.writeHead(401).end('{"error":"unauthorised"}');
      return;
    }
    const code = Math.random().toString(36).slice(2);
    codes.add(code);
    say({ event: 'access-granted' });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ uri: `ws://127.0.0.1:${port}/in/stream?code=${code}` }));
    return;
  }
  res.writeHead(404).end();
});

const wss = new WebSocketServer({ server, perMessageDeflate: false, autoPong: mode !== 'no-pong', maxPayload: 64 << 20 });
wss.on('connection', (ws, req) => {
  if (mode === 'access') {
    const code = new URL(req.url, 'http://x').searchParams.get('code');
    if (!codes.delete(code)) {
      say({ event: 'bad-code', path: req.url });
      ws.close(4001, 'bad code');
      return;
    }
  }
  let authed = mode !== 'first-message';
  if (mode === 'bi') {
    ws.path = req.url;
    ws.on('message', (data, binary) => {
      if (binary) return;
      say({ event: 'text', path: req.url, text: data.toString() });
      for (const c of wss.clients) if (c !== ws && c.path === ws.path && c.readyState === 1) c.send(data.toString());
    });
  }
  const n = ++connections;
  const fd = args.split ? fs.openSync(`${args.out}.${n}`, 'a') : out;
  say({ event: 'connection', path: req.url.replace(/code=.*/, 'code=*'), n });
  ws.on('message', (data, binary) => {
    if (!binary) {
      if (!authed) {
        authed = data.toString() === token;
        ws.send(JSON.stringify({ authorised: authed }));
        say({ event: authed ? 'authorised' : 'refused' });
        if (!authed) ws.close(4003, 'bad token');
      }
      return;
    }
    if (!authed) return;
    fs.writeSync(fd, data);
    if (!args.quiet) say({ event: 'message', bytes: data.length, n });
  });
  ws.on('ping', () => say({ event: 'ping' }));
  ws.on('close', () => {
    if (fd !== out) fs.closeSync(fd);
    say({ event: 'close', n });
  });
});
server.listen(port, '127.0.0.1', () => say({ event: 'listening', port }));
const stop = () => { wss.close(); server.close(); fs.closeSync(out); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

#!/usr/bin/env node
// The design vw replaces, for the benchmark: an encoder process POSTs MPEG-TS to this relay
// process, which pushes every piece it reads to a websocket destination as one binary message,
// as vw's Go predecessor and JSMpeg's websocket-relay.js do. 127.0.0.1 only.
//   node push-relay.js --port P --to ws://127.0.0.1:Q
// A POST to /PATH is pushed to ws://127.0.0.1:Q/PATH. Prints "listening" once it accepts.
'use strict';
const http = require('http');
const { WebSocket } = require('ws');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];

const server = http.createServer((req, res) => {
  if (req.method !== 'POST' && req.method !== 'PUT') {
    res.writeHead(405).end();
    return;
  }
  const ws = new WebSocket(args.to + req.url, { perMessageDeflate: false });
  const early = [];
  ws.on('open', () => {
    for (const piece of early) ws.send(piece, { binary: true });
    early.length = 0;
  });
  ws.on('error', (e) => process.stderr.write(`push-relay: ${e.message}\n`));
  req.on('data', (piece) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(piece, { binary: true });
    else early.push(piece);
  });
  req.on('end', () => {
    res.end();
    ws.close();
  });
});
server.listen(parseInt(args.port, 10), '127.0.0.1', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => process.exit(0));

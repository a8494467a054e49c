// Baseline HTTP servers measured in the same run as Tether: a raw node:http hello server and an
// express hello-world app. Usage: tsx bench/baseline-servers.ts raw|express PORT
import http from 'node:http';
import express from 'express';

const [kind, portArg] = process.argv.slice(2);
const port = Number(portArg);
const body = JSON.stringify({ hello: 'world' });

// Keep-alive as long as Tether's (src/server.ts): behind nginx (bench/callers.ts) an upstream that closes idle
// connections after node's default 5 s races nginx reusing them, and nginx logs "Connection reset by peer".
const keepAlive = (server: http.Server) => {
  server.keepAliveTimeout = 65_000;
  return server;
};

if (kind === 'raw') {
  keepAlive(
    http.createServer((req, res) => {
      // Drain the body so POST benchmarks compare like with like.
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
    }),
  ).listen(port, '127.0.0.1');
} else if (kind === 'express') {
  const app = express();
  app.use(express.json());
  app.all('/{*any}', (_req, res) => {
    res.json({ hello: 'world' });
  });
  keepAlive(http.createServer(app)).listen(port, '127.0.0.1');
} else {
  console.error('usage: baseline-servers.ts raw|express PORT');
  process.exit(2);
}

// Reference reverse proxy: "what bare Node can do at best", the ceiling proxykit is compared with.
//
//   node:http server -> undici Pool (keep-alive) -> upstream, response streamed with pool.stream()
//
// Hop-by-hop headers are dropped both ways and Host is preserved; no logging, no retries, no
// other header work. Same idea as the `node-ref` anchor of the shared benchmark harness.
//
// Environment: PORT, UPSTREAM_URL.
import http from 'node:http';
import { Pool } from 'undici';

const port = Number(process.env.PORT);
const upstream = process.env.UPSTREAM_URL;
if (!port || !upstream) {
  console.error('PORT and UPSTREAM_URL must be set');
  process.exit(2);
}

const pool = new Pool(upstream, {
  connections: 256, // >= client concurrency, so requests never queue for a socket
  pipelining: 1,
  keepAliveTimeout: 60_000,
  keepAliveMaxTimeout: 600_000,
});

const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding',
  'te', 'trailer', 'upgrade', 'http2-settings', 'host',
]);

function copyHeaders(src) {
  const out = {};
  for (const name in src) {
    if (HOP_BY_HOP.has(name)) continue;
    out[name] = src[name];
  }
  return out;
}

function responseFactory({ statusCode, headers, opaque: res }) {
  res.writeHead(statusCode, copyHeaders(headers));
  return res;
}

function onRequest(req, res) {
  const headers = copyHeaders(req.headers);
  if (req.headers.host) headers.host = req.headers.host;
  const method = req.method;
  const noBody = method === 'GET' || method === 'HEAD';
  pool.stream(
    { path: req.url, method, headers, body: noBody ? null : req, opaque: res },
    responseFactory,
    (err) => {
      if (!err) return;
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end('bad gateway\n');
      } else {
        res.destroy(err);
      }
    },
  );
}

const server = http.createServer(onRequest);
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => {
  console.log(`ref-proxy listening on http://127.0.0.1:${port} -> ${upstream}`);
});

for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));

// Benchmark backend ("origin"): node:http, keep-alive, run in its own process.
//   GET /     -> 200 "hello world\n" (12 bytes)
//   GET /16k  -> 200, 16384 bytes
//   anything else -> 404
// PORT from the environment (default 18080). Prints "backend listening on <url>" when ready.
import http from 'node:http';

const port = Number(process.env.PORT ?? 18080);
const small = Buffer.from('hello world\n');
const big = Buffer.alloc(16384, 'x');
const smallHeaders = { 'content-type': 'text/plain', 'content-length': String(small.length) };
const bigHeaders = { 'content-type': 'text/plain', 'content-length': String(big.length) };

const server = http.createServer((req, res) => {
  if (req.url === '/') {
    res.writeHead(200, smallHeaders);
    res.end(small);
  } else if (req.url === '/16k') {
    res.writeHead(200, bigHeaders);
    res.end(big);
  } else {
    res.writeHead(404, { 'content-length': '0' });
    res.end();
  }
});
server.keepAliveTimeout = 300_000;
server.headersTimeout = 301_000;
server.listen(port, '127.0.0.1', () => {
  console.log(`backend listening on http://127.0.0.1:${port}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));

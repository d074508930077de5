// Backends for the load-balancing case of `npm run bench` ("4 upstreams, one 10× slower").
// One process, N node:http servers on consecutive ports from BASE_PORT (default 18390):
// every one answers `GET /` with "hello world\n" after FAST_MS (default 1), except the one at
// index SLOW_INDEX (default 3, the last), which waits SLOW_MS (default 10).
// `GET /__count` answers the number of requests that server has served (for the per-upstream split).
// Prints "lb backends listening on <urls>" when ready.
import http from 'node:http';

const base = Number(process.env.BASE_PORT ?? 18390);
const count = Number(process.env.COUNT ?? 4);
const fastMs = Number(process.env.FAST_MS ?? 1);
const slowMs = Number(process.env.SLOW_MS ?? 10);
const slowIndex = Number(process.env.SLOW_INDEX ?? count - 1);
const body = Buffer.from('hello world\n');
const headers = { 'content-type': 'text/plain', 'content-length': String(body.length) };

const urls = [];
await Promise.all(
  Array.from({ length: count }, (_, i) => {
    let served = 0;
    const delay = i === slowIndex ? slowMs : fastMs;
    const server = http.createServer((req, res) => {
      if (req.url === '/__count') {
        const b = String(served);
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(b.length) });
        res.end(b);
        return;
      }
      served++;
      setTimeout(() => {
        res.writeHead(200, headers);
        res.end(body);
      }, delay);
    });
    server.keepAliveTimeout = 300_000;
    server.headersTimeout = 301_000;
    urls.push(`http://127.0.0.1:${base + i}`);
    return new Promise((resolve) => server.listen(base + i, '127.0.0.1', resolve));
  }),
);
console.log(`lb backends listening on ${urls.sort().join(' ')} (fast ${fastMs} ms, #${slowIndex} slow ${slowMs} ms)`);
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));

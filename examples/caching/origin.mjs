// A demo origin for examples/caching (plain Node, no dependencies), on 127.0.0.1:3201.
// Each path sets a different mix of cache headers, and every response says how many requests the
// origin has served so far, so you can see when the cache answered instead.
//
//   node examples/caching/origin.mjs
import http from 'node:http';

let served = 0;
const log = (msg) => console.log(`${new Date().toISOString().slice(11, 23)} ${msg}`);
const startedAt = new Date().toUTCString();
let newsVersion = 1;
let failing = false;

const server = http.createServer((req, res) => {
  served++;
  const url = new URL(req.url ?? '/', 'http://origin');
  log(`${req.method} ${url.pathname}${url.search}${req.headers['if-none-match'] ? ` (If-None-Match ${req.headers['if-none-match']})` : ''}`);
  const send = (status, headers, body = '') => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
    res.end(req.method === 'HEAD' || status === 304 ? undefined : body);
  };
  const line = (what) => `${what} (origin request #${served})\n`;

  switch (url.pathname) {
    case '/static/app.js':
      // Fingerprinted asset: fresh for a year, never changes.
      return send(200, { 'cache-control': 'public, max-age=31536000, immutable', etag: '"app-v1"' }, line('console.log("app v1");'));
    case '/news':
      // Fresh 10 s, then served stale for up to 30 s while one background request refreshes it.
      // (Not s-maxage: RFC 9111 §5.2.2.10 forbids a shared cache to serve it stale.)
      return send(200, { 'cache-control': 'max-age=10, stale-while-revalidate=30' }, line(`news edition ${newsVersion++}`));
    case '/products': {
      // Always revalidated (no-cache) but cheap: a matching ETag gets a 304 without a body.
      const etag = '"products-3"';
      // A 304 updates the stored headers (RFC 9111 §3.2), so it repeats the surrogate keys.
      if (req.headers['if-none-match'] === etag) return send(304, { etag, 'cache-control': 'no-cache', 'surrogate-key': 'products catalog' });
      return send(200, { etag, 'cache-control': 'no-cache', 'surrogate-key': 'products catalog' }, line('3 products'));
    }
    case '/product/42':
      // Tagged for purging: POST /cache/purge {"tag": "product-42"} on the admin API drops it.
      return send(200, { 'cache-control': 's-maxage=300', 'surrogate-key': 'product-42 catalog' }, line('product 42: €19.90'));
    case '/greeting':
      // One stored variant per Accept-Language.
      return send(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language' },
        line((req.headers['accept-language'] ?? '').startsWith('de') ? 'Hallo' : 'Hello'));
    case '/me':
      // Per-user: a shared cache must not store it.
      return send(200, { 'cache-control': 'private, max-age=60' }, line('your account'));
    case '/fragile':
      // Fresh 5 s; if the origin then fails, the stale copy may be served for a day.
      if (failing) return send(503, { 'retry-after': '5' }, 'origin is down\n');
      return send(200, { 'cache-control': 'max-age=5, stale-if-error=86400' }, line('fragile but cached'));
    case '/toggle-failure':
      failing = !failing;
      return send(200, { 'cache-control': 'no-store' }, `origin failing: ${failing}\n`);
    case '/legacy':
      // No Cache-Control: only Last-Modified, so caches may use heuristic freshness (10% of its age).
      return send(200, { 'last-modified': 'Mon, 01 Jan 2024 00:00:00 GMT', date: new Date().toUTCString() }, line('legacy page'));
    default:
      return send(404, { 'cache-control': 'max-age=10' }, `not found; origin up since ${startedAt}\n`);
  }
});

server.listen(3201, '127.0.0.1', () => log('origin on http://127.0.0.1:3201'));

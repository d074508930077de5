// proxykit config for running the http-tests "cache-tests" suite (github.com/http-tests/cache-tests)
// against proxykit's HTTP cache; bench/cache-tests/run.sh starts it. Everything goes to the suite's
// origin server with `.cache()` on the route, so the cache under test sits between the suite's
// client and its origin, like the suite's own squid/nginx/varnish/... setups.
//
// PORT: where proxykit listens (127.0.0.1). ORIGIN_URL: the suite's test server.
// NO_CACHE=1: the same route without `.cache()` (a pass-through baseline).
// CACHE_NAME: the name in `Cache-Status` (default 'proxykit').
//
// Nothing here tunes the cache for the suite: no `maxAge`, no `heuristic` override, default store.
// The suite judges the origin's own Cache-Control / Expires / Last-Modified handling.
import { defineConfig, route, pool } from 'proxykit';

const port = Number(process.env.PORT ?? 18450);
const origin = process.env.ORIGIN_URL ?? 'http://127.0.0.1:18440';
const noCache = process.env.NO_CACHE === '1';

const forward = route('/*').to(pool('cache-tests-origin', [origin]));

export default defineConfig({
  listen: [`http://127.0.0.1:${port}`],
  // The suite checks that every origin response header arrives unchanged; the access log goes to
  // a file next to the results (run.sh sets LOG_FILE) so failures can be traced per request.
  log: process.env.LOG_FILE ? { access: true, file: process.env.LOG_FILE } : { access: false },
  ...(noCache ? {} : { cache: { name: process.env.CACHE_NAME ?? 'proxykit' } }),
  routes: [noCache ? forward : forward.cache()],
});

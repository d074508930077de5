// proxykit as a CACHE for the shared harness (../shared/bench, target `proxykit-cache` in
// bench/proxykit.targets, `kind=cache`): the counterpart of its `varnish-hit` target.
// PORT: where proxykit listens (127.0.0.1); UPSTREAM_URL: the backend. Access log and metrics off
// unless OBSERVE=1 (target proxykit-cache-obs).
//
// The harness's backend (nginx, `return 200 "hello world\n"`) sends no Cache-Control, no Expires
// and no Last-Modified, so nothing would be cacheable on the origin's say-so (and there is no
// Last-Modified for heuristic freshness). Varnish caches it anyway because its built-in VCL gives
// every cacheable GET `default_ttl` (120 s) when the origin gives no lifetime; `maxAge` is
// proxykit's equivalent ("freshness when the origin gives none"), with the same 120 s by default,
// so after the warm-up every measured request is a cache hit (one refresh per 2 minutes, as Varnish).
// CACHE_MAX_AGE overrides it (e.g. '1h').
import { defineConfig, route, pool } from 'proxykit';

type Duration = `${number}s` | `${number}m` | `${number}h`;

const port = Number(process.env.PORT ?? 18302);
const upstream = process.env.UPSTREAM_URL ?? 'http://127.0.0.1:18080';
const maxAge = (process.env.CACHE_MAX_AGE ?? '120s') as Duration;

// OBSERVE=1 turns on the access log (to /dev/null) and metrics, as in proxykit.bench.config.ts.
const observe = process.env.OBSERVE === '1';

export default defineConfig({
  listen: [`http://127.0.0.1:${port}`],
  log: observe ? { access: true, file: '/dev/null' } : { access: false },
  metrics: observe,
  cache: { maxSize: '64mb' },
  routes: [route('/*').to(pool('backend', [upstream])).cache({ maxAge })],
});

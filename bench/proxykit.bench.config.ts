// proxykit config used by `npm run bench` and by the shared harness (bench/proxykit.targets).
// PORT: where proxykit listens (127.0.0.1); UPSTREAM_URL: the backend. Access log off, one plain
// route: the "plain route" figure of the benchmark.
import { defineConfig, route, pool } from 'proxykit';

const port = Number(process.env.PORT ?? 18300);
const upstream = process.env.UPSTREAM_URL ?? 'http://127.0.0.1:18080';

// OBSERVE=1: the same proxy with the JSON access log (to /dev/null, so the cost measured is
// proxykit's, not a terminal's) and Prometheus metrics + live stats on — the "observability cost" row.
const observe = process.env.OBSERVE === '1';

export default defineConfig({
  listen: [`http://127.0.0.1:${port}`],
  log: observe ? { access: true, file: '/dev/null' } : { access: false },
  metrics: observe,
  routes: [route('/*').to(pool('backend', [upstream]))],
});

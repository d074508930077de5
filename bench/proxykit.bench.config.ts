// proxykit config used by `npm run bench` and by the shared harness (bench/proxykit.targets).
// PORT: where proxykit listens (127.0.0.1); UPSTREAM_URL: the backend. Access log off, one plain
// route: the "plain route" figure of the benchmark.
import { defineConfig, route, pool } from 'proxykit';

const port = Number(process.env.PORT ?? 18300);
const upstream = process.env.UPSTREAM_URL ?? 'http://127.0.0.1:18080';

export default defineConfig({
  listen: [`http://127.0.0.1:${port}`],
  log: { access: false },
  routes: [route('/*').to(pool('backend', [upstream]))],
});

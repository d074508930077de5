// proxykit terminating TLS for the shared harness's `tls` and `h2` suites (bench/proxykit.targets):
// PORT, UPSTREAM_URL, and the run's certificate files TLS_CERT / TLS_KEY. Access log off.
import { defineConfig, route, pool } from 'proxykit';

const port = Number(process.env.PORT ?? 18301);
const upstream = process.env.UPSTREAM_URL ?? 'http://127.0.0.1:18080';

export default defineConfig({
  listen: [`https://127.0.0.1:${port}`],
  tls: { certs: [{ cert: process.env.TLS_CERT ?? 'cert.pem', key: process.env.TLS_KEY ?? 'key.pem' }], redirectHttp: false },
  log: { access: false },
  metrics: false,
  routes: [route('/*').to(pool('backend', [upstream]))],
});

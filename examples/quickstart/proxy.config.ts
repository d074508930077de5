// The quickstart: `proxykit demo` runs this with two demo backends on :3001 and :3002.
// Edit and save while it runs: the change serves within a few tens of milliseconds.
import { defineConfig, pool, route } from 'proxykit';

const api = pool('api', ['http://127.0.0.1:3001', 'http://127.0.0.1:3002']).balance('round-robin');

export default defineConfig({
  listen: ['http://127.0.0.1:8080'],
  // The admin API and live dashboard: open http://127.0.0.1:2019/ in a browser,
  // or run `npx proxykit status`. Loopback only, so no token is needed.
  admin: { listen: 'http://127.0.0.1:2019' },
  routes: [
    route('/health').respond(200, 'ok'),
    route('/old').redirect('http://127.0.0.1:8080/api/hello', 301),
    // The demo backends mark /cached/* as cacheable for 10 s; the cache follows their headers.
    route('/api/cached/*').to(api).stripPrefix('/api').cache(),
    route('/api/*').to(api).stripPrefix('/api'),
  ],
});

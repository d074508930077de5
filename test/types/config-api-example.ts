/**
 * The example of docs/config-api.md, exactly as written there (plus the `euPool` it refers to).
 * Checked by `tsc --noEmit -p tsconfig.json`.
 */
import { defineConfig, route, pool } from 'proxykit';

const euPool = pool('eu', ['http://10.1.0.1:3000', { url: 'http://10.1.0.2:3000', region: 'eu-west' }]);

// Pools: a name (stable identity across reloads) and upstreams (URL strings or objects).
const api = pool('api', [
  'http://127.0.0.1:3001',
  { url: 'http://127.0.0.1:3002', weight: 2, region: 'eu-west' },
])
  .balance('round-robin')          // | 'weighted' | 'least-conn' | 'random' | 'p2c-ewma'
                                   // | { hash: 'ip' | 'header:x-user' | 'cookie:sid' | 'path' }
  .sticky({ cookie: 'pk_srv' })    // optional session affinity
  .health({ path: '/healthz', interval: '2s', timeout: '1s', healthy: 2, unhealthy: 3 })
  .passive({ failures: 5, ejectFor: '30s' })
  .retry({ attempts: 2 })          // only when safe: idempotent method or request not yet sent
  .timeouts({ connect: '2s', response: '30s' });

export default defineConfig({
  listen: ['http://127.0.0.1:8080'],        // 'https://0.0.0.0:443' for TLS listeners
  tls: { acme: { email: 'ops@example.com' } },// or { certs: [{ cert: 'a.pem', key: 'a.key' }] } or 'internal'
                                            // acme also takes: directory (ACME directory URL, default
                                            // Let's Encrypt), challenges: ['http-01', 'tls-alpn-01', 'dns-01'],
                                            // onDemand: { ask: (name) => boolean | Promise<boolean> }
  trustProxies: ['10.0.0.0/8'],             // whose X-Forwarded-For / Forwarded we believe
  admin: { listen: 'http://127.0.0.1:2019' },
  redis: process.env.REDIS_URL,             // optional: shared state across instances
  routes: [
    route('api.example.com/v1/*')           // [host][path]; host may be '*.example.com'; path '/x', '/x/*', '/users/:id'
      .methods('GET', 'POST')
      .to(api)                              // a pool, or a URL string for a single upstream
      .stripPrefix('/v1')
      .headers({ request: { set: { 'x-env': 'prod' }, remove: ['x-debug'] }, response: { set: {} } })
      .waf({ mode: 'block', paranoia: 1 })  // mode 'detect' logs only
      .rateLimit({ perIp: '100/s', burst: 200 })
      .cache({ maxAge: '60s', staleWhileRevalidate: '30s' }), // defaults follow the origin's headers
    route('example.com/*').to(api).geo({ pools: { EU: euPool }, deny: ['KP'] }),
    route('old.example.com/*').redirect('https://example.com/', 301),
    route('/health').respond(200, 'ok'),
  ],
});

// proxykit config: one pool of app servers behind a load balancer with health checks.
import { defineConfig, pool, route } from 'proxykit';

const app = pool('app', [
  'http://127.0.0.1:3001',
  'http://127.0.0.1:3002',
  { url: 'http://127.0.0.1:3003', weight: 2 },
])
  .balance('least-conn')
  .health({ path: '/healthz', interval: '2s', timeout: '1s', healthy: 2, unhealthy: 3 })
  .passive({ failures: 5, ejectFor: '30s' })
  .retry({ attempts: 2 })
  .timeouts({ connect: '2s', response: '30s' });

export default defineConfig({
  listen: ['http://127.0.0.1:8080'],
  routes: [
    route('/health').respond(200, 'ok'),
    route('/*').to(app),
  ],
});

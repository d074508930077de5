// proxykit config: an API gateway, one pool per service, versioned paths, protection on public routes.
import { defineConfig, pool, route } from 'proxykit';

const users = pool('users', ['http://127.0.0.1:3001', 'http://127.0.0.1:3002'])
  .balance('round-robin')
  .health({ path: '/healthz', interval: '5s' })
  .retry({ attempts: 2 });

const orders = pool('orders', ['http://127.0.0.1:3101'])
  .timeouts({ connect: '2s', response: '30s' });

export default defineConfig({
  listen: ['http://127.0.0.1:8080'],
  routes: [
    route('/v1/users/*')
      .methods('GET', 'POST', 'PUT', 'DELETE')
      .to(users)
      .stripPrefix('/v1')
      .headers({ request: { set: { 'x-gateway': 'proxykit' }, remove: ['x-debug'] } })
      .rateLimit({ perIp: '100/s', burst: 200 })
      .waf({ mode: 'block', paranoia: 1 }),
    route('/v1/orders/*')
      .to(orders)
      .stripPrefix('/v1')
      .rateLimit({ perIp: '20/s' })
      .waf({ mode: 'detect' }),
    route('/health').respond(200, 'ok'),
  ],
});

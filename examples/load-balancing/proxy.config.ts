// Load balancing and upstream resilience, in one pool. Run the three demo backends first
// (`node examples/load-balancing/backends.mjs`): 3101 and 3102 are steady, 3103 flaps every 10 s
// between healthy and failing (500s, then refused connections).
import { defineConfig, pool, route } from 'proxykit';

const app = pool('app', ['http://127.0.0.1:3101', 'http://127.0.0.1:3102', 'http://127.0.0.1:3103'])
  // Power of two choices over a latency EWMA: slow or overloaded upstreams get less traffic.
  .balance('p2c-ewma')
  // Active checks: GET /healthz every second; 2 failures take an upstream out, 2 passes bring it back.
  .health({ path: '/healthz', interval: '1s', timeout: '500ms', healthy: 2, unhealthy: 2 })
  // Passive checks: 3 consecutive failures (connect errors, resets, 502/503/504, 500 here too)
  // eject an upstream for 5 s, doubling on each repeated ejection up to 40 s.
  .passive({ failures: 3, ejectFor: '5s', maxEjectFor: '40s', statuses: [500, 502, 503, 504] })
  // Retry idempotent requests (and requests not yet sent) on another upstream, within a 20% budget.
  .retry({ attempts: 2, statuses: [500, 502, 503], budget: 0.2 })
  // A recovered upstream's weight ramps up over 10 s instead of taking a full share at once.
  .slowStart('10s')
  .timeouts({ connect: '1s', response: '10s' });

export default defineConfig({
  listen: ['http://127.0.0.1:8080'],
  routes: [route('/health').respond(200, 'ok'), route('/*').to(app)],
});

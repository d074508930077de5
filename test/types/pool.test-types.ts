/**
 * Type tests for the pool builder's load-balancing and resilience options (issue 3), checked by
 * `tsc --noEmit -p tsconfig.json`. Negative cases must fail to compile (`@ts-expect-error`).
 */
import { pool, route, defineConfig, type Pool } from 'proxykit';
import type { CircuitBreakerOptions, DnsOptions } from '../../src/config/builder.types.js';
import { Expect, type Equal } from './utils.js';

const ups = ['http://127.0.0.1:3001', 'http://api.internal:3002'];

// ---- positive ----------------------------------------------------------------------------------

const full = pool('full', ups)
  .balance('p2c-ewma')
  .sticky({ cookie: 'pk_srv', ttl: '1h', secret: 'a-long-shared-secret-value' })
  .health({ path: '/healthz', interval: '2s', timeout: '1s', healthy: 2, unhealthy: 3, expect: [200, 204], host: 'status.internal' })
  .passive({ failures: 3, ejectFor: '10s', maxEjectFor: '5m', statuses: [500, 502, 503, 504] })
  .retry({ attempts: 2, statuses: [502, 503], budget: 0.2, minPerSecond: 10 })
  .timeouts({ connect: '2s' })
  .circuitBreaker({ maxConnections: 100, maxPending: 50 })
  .slowStart('30s')
  .dns({ refresh: '10s' });
Expect<
  Equal<
    typeof full,
    Pool<'balance' | 'sticky' | 'health' | 'passive' | 'retry' | 'timeouts' | 'circuitBreaker' | 'maxConnections' | 'slowStart' | 'dns'>
  >
>();
route('/x').to(full);

// Every option is optional except the documented required ones.
pool('a', ups).health({ path: '/h' });
pool('a', ups).health({ path: '/h', expect: 204 });
pool('a', ups).passive({});
pool('a', ups).retry({});
pool('a', ups).circuitBreaker({ maxPending: 0 });
pool('a', ups).dns();
pool('a', ups).dns({});
pool('a', ups).slowStart(30_000);
pool('a', ups).slowStart('500ms');
// maxConnections alone still works, and circuitBreaker may add maxPending after it.
pool('a', ups).maxConnections(8).circuitBreaker({ maxPending: 16 });

// Options through variables with only known keys.
const cb = { maxConnections: 10 } as const;
pool('a', ups).circuitBreaker(cb);
const retryOpts = { attempts: 1, budget: 0.5 } as const;
pool('a', ups).retry(retryOpts);

Expect<Equal<CircuitBreakerOptions, { maxConnections?: number; maxPending?: number }>>();
Expect<Equal<DnsOptions['refresh'], import('../../src/config/spec.js').Duration | undefined>>();

defineConfig({ routes: [route('/').to(pool('host-names', ['http://api.internal:3001', 'https://api.example.com']))] });

// ---- negative: wrong option names --------------------------------------------------------------

// @ts-expect-error wrong option name: attemps
pool('n', ups).retry({ attemps: 2 });
// @ts-expect-error wrong option name: retryBudget
pool('n', ups).retry({ retryBudget: 0.2 });
// @ts-expect-error wrong option name: ejectfor
pool('n', ups).passive({ ejectfor: '30s' });
// @ts-expect-error wrong option name: maxEject
pool('n', ups).passive({ maxEject: '5m' });
// @ts-expect-error wrong option name: expected
pool('n', ups).health({ path: '/h', expected: 200 });
// @ts-expect-error wrong option name: name (sticky takes cookie)
pool('n', ups).sticky({ name: 'pk' });
// @ts-expect-error wrong option name: maxConns
pool('n', ups).circuitBreaker({ maxConns: 10 });
// @ts-expect-error wrong option name: interval (dns takes refresh)
pool('n', ups).dns({ interval: '10s' });
const cbTypo = { maxConnections: 1, maxPendng: 2 };
// @ts-expect-error extra key through a variable
pool('n', ups).circuitBreaker(cbTypo);

// ---- negative: wrong option types --------------------------------------------------------------

// @ts-expect-error bad duration string
pool('n', ups).health({ path: 'x', interval: '5 seconds' });
// @ts-expect-error healthy is a number
pool('n', ups).health({ path: '/h', healthy: '2' });
// @ts-expect-error expect is a number or numbers
pool('n', ups).health({ path: '/h', expect: '2xx' });
// @ts-expect-error statuses is an array
pool('n', ups).passive({ statuses: 503 });
// @ts-expect-error budget is a number
pool('n', ups).retry({ budget: '20%' });
// @ts-expect-error sticky needs a cookie name
pool('n', ups).sticky({ ttl: '1h' });
// @ts-expect-error ttl is a duration
pool('n', ups).sticky({ cookie: 'pk', ttl: 'forever' });
// @ts-expect-error slowStart takes a duration
pool('n', ups).slowStart('slowly');
// @ts-expect-error slowStart needs an argument
pool('n', ups).slowStart();
// @ts-expect-error maxPending is a number
pool('n', ups).circuitBreaker({ maxPending: 'many' });
// @ts-expect-error bad hash key
pool('n', ups).balance({ hash: 'query' });

// ---- negative: one-shot methods ----------------------------------------------------------------

// @ts-expect-error .slowStart() twice
pool('n', ups).slowStart('1s').slowStart('2s');
// @ts-expect-error .circuitBreaker() twice
pool('n', ups).circuitBreaker({ maxPending: 1 }).circuitBreaker({ maxPending: 2 });
// @ts-expect-error .maxConnections() after .circuitBreaker() (it sets maxConnections)
pool('n', ups).circuitBreaker({ maxConnections: 1 }).maxConnections(2);
// @ts-expect-error .dns() twice
pool('n', ups).dns().dns();
// @ts-expect-error .sticky() twice
pool('n', ups).sticky({ cookie: 'a' }).sticky({ cookie: 'b' });

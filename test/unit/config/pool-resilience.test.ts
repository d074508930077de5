/**
 * Builder and validation of the pool's load-balancing and resilience options (issue 3):
 * health, passive, retry, sticky, slowStart, circuitBreaker, dns, host-name upstreams.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defineConfig, pool, route, ConfigError } from 'proxykit';
import { poolSpecOf } from '../../../src/config/builder.js';
import type { ConfigProblem } from '../../../src/config/errors.js';
import type { ConfigSpec, PoolSpec } from '../../../src/config/spec.js';
import { validateConfig } from '../../../src/config/validate.js';
import { resolveHealth } from '../../../src/balance/health.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- these tests play a plain-JS user */
type Loose = any;
const p = pool as (n: string, u: unknown[]) => Loose;

const ups = ['http://127.0.0.1:3001', 'http://127.0.0.1:3002'];

/** Strip locations, to compare plain content. */
function content(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (k, v: unknown) => (k === 'at' || k === 'calls' ? undefined : v)));
}

function specWith(pl: Loose): ConfigSpec {
  return defineConfig({ routes: [route('/a').to(pl)] });
}

function problems(pl: Loose): ConfigProblem[] {
  const list = validateConfig(specWith(pl));
  for (const pr of list) {
    assert.ok(pr.at, `problem has a location: ${pr.message}`);
    assert.ok(pr.hint && pr.hint.length > 0, `problem has a hint: ${pr.message}`);
  }
  return list;
}

function expectOne(pl: Loose, message: RegExp, hint?: RegExp): ConfigProblem {
  const list = problems(pl);
  const hits = list.filter((x) => message.test(x.message));
  assert.equal(hits.length, 1, `expected one problem matching ${message}, got:\n${list.map((x) => x.message).join('\n')}`);
  if (hint) assert.match(hits[0]!.hint!, hint, hits[0]!.message);
  return hits[0]!;
}

function poolOf(spec: ConfigSpec): PoolSpec {
  return (spec.routes[0]!.target as { pool: PoolSpec }).pool;
}

// ---- builder -----------------------------------------------------------------------------------

test('builder: every resilience option is recorded as plain data', () => {
  const pl = pool('api', ['http://api.internal:3001', { url: 'http://10.0.0.2:3002', weight: 2 }])
    .balance('least-conn')
    .sticky({ cookie: 'pk_srv', ttl: '1h', secret: 'sixteen-chars-or-more' })
    .health({ path: '/healthz', interval: '2s', timeout: '1s', healthy: 2, unhealthy: 3, expect: [200, 204], host: 'status.internal' })
    .passive({ failures: 3, ejectFor: '10s', maxEjectFor: '5m', statuses: [500, 503] })
    .retry({ attempts: 2, statuses: [502], budget: 0.1, minPerSecond: 5 })
    .circuitBreaker({ maxConnections: 100, maxPending: 50 })
    .slowStart('30s')
    .dns({ refresh: '10s' });
  assert.deepEqual(content(poolSpecOf(pl)), {
    kind: 'pool',
    name: 'api',
    upstreams: [{ url: 'http://api.internal:3001' }, { url: 'http://10.0.0.2:3002', weight: 2 }],
    balance: 'least-conn',
    sticky: { cookie: 'pk_srv', ttl: '1h', secret: 'sixteen-chars-or-more' },
    health: { path: '/healthz', interval: '2s', timeout: '1s', healthy: 2, unhealthy: 3, expect: [200, 204], host: 'status.internal' },
    passive: { failures: 3, ejectFor: '10s', maxEjectFor: '5m', statuses: [500, 503] },
    retry: { attempts: 2, statuses: [502], budget: 0.1, minPerSecond: 5 },
    maxConnections: 100,
    maxPending: 50,
    slowStart: '30s',
    dns: { refresh: '10s' },
  });
  const calls = poolSpecOf(pl).calls!;
  for (const m of ['sticky', 'health', 'passive', 'retry', 'circuitBreaker', 'slowStart', 'dns']) {
    assert.ok(calls[m]?.at?.file.endsWith('pool-resilience.test.ts'), `${m} call located in this file`);
  }
  assert.deepEqual(validateConfig(specWith(pl)), []);
});

test('builder: immutable, option objects copied', () => {
  const base = pool('api', ups);
  const opts = { statuses: [502] };
  const a = base.passive(opts).slowStart('5s');
  opts.statuses.push(503);
  assert.deepEqual(poolSpecOf(a).passive, { statuses: [502] });
  assert.equal(poolSpecOf(base).passive, undefined);
  assert.equal(poolSpecOf(base).slowStart, undefined);
  const b = base.dns();
  assert.deepEqual(poolSpecOf(b).dns, {});
  assert.equal(poolSpecOf(a).dns, undefined);
});

test('builder: circuitBreaker and maxConnections write the same field, once', () => {
  assert.equal(poolSpecOf(pool('a', ups).maxConnections(8)).maxConnections, 8);
  const both = pool('a', ups).maxConnections(8).circuitBreaker({ maxPending: 16 });
  assert.equal(poolSpecOf(both).maxConnections, 8);
  assert.equal(poolSpecOf(both).maxPending, 16);
  const onlyPending = poolSpecOf(pool('a', ups).circuitBreaker({ maxPending: 0 }));
  assert.equal(onlyPending.maxPending, 0);
  assert.ok(!('maxConnections' in onlyPending));

  assert.throws(
    () => pool('a', ups).maxConnections(8).circuitBreaker({ maxConnections: 9 }),
    (err: unknown) => err instanceof ConfigError && /maxConnections is set twice/.test(err.message),
  );
  assert.throws(
    () => (pool('a', ups).circuitBreaker({ maxConnections: 9 }) as Loose).maxConnections(8),
    (err: unknown) => err instanceof ConfigError && /maxConnections is set twice/.test(err.message),
  );
  assert.throws(
    () => p('a', ups).circuitBreaker({ maxConns: 9 }),
    (err: unknown) => err instanceof ConfigError && /unknown option "maxConns"/.test(err.message) && /maxConnections, maxPending/.test(err.message),
  );
  assert.throws(() => p('a', ups).slowStart('1s').slowStart('2s'), /\.slowStart\(\) is used twice/);
});

test('builder: the config-api example with every new option still makes one valid spec', () => {
  const api = pool('api', ['http://127.0.0.1:3001', { url: 'http://127.0.0.1:3002', weight: 2, region: 'eu-west' }])
    .balance('round-robin')
    .sticky({ cookie: 'pk_srv' })
    .health({ path: '/healthz', interval: '2s', timeout: '1s', healthy: 2, unhealthy: 3 })
    .passive({ failures: 5, ejectFor: '30s' })
    .retry({ attempts: 2 })
    .timeouts({ connect: '2s', response: '30s' });
  const spec = defineConfig({ routes: [route('/a').to(api), route('/b').to(api)] });
  assert.equal(poolOf(spec), (spec.routes[1]!.target as { pool: PoolSpec }).pool, 'one PoolSpec for both routes');
  assert.deepEqual(validateConfig(spec), []);
});

// ---- validation --------------------------------------------------------------------------------

test('validate: host-name upstreams are fine', () => {
  assert.deepEqual(problems(pool('n', ['http://api.internal:3001', 'https://api.example.com', 'http://localhost:8080'])), []);
});

test('validate: health', () => {
  const base = () => p('api', ups);
  expectOne(base().health({ path: 'healthz' }), /health path "healthz" is not a path/, /starting with '\/'/);
  expectOne(base().health({ path: '/h', interval: '5 seconds' }), /health.interval: invalid duration "5 seconds"/, /'30s'/);
  expectOne(base().health({ path: '/h', interval: 0 }), /health.interval must be longer than zero/);
  expectOne(base().health({ path: '/h', unhealthy: 1.5 }), /health.unhealthy must be a positive whole number/);
  expectOne(base().health({ path: '/h', expect: 99 }), /health.expect: status 99 is not an HTTP status code/, /100 to 599/);
  expectOne(base().health({ path: '/h', expect: [] }), /health.expect lists no status/);
  expectOne(base().health({ path: '/h', host: 'a b' }), /health host "a b" is not a host/);
  expectOne(base().health({ path: '/h', hostname: 'x' }), /health: unknown option "hostname"/, /did you mean "host"/);
  // interval must exceed timeout, counting defaults (interval 5s, timeout 2s).
  expectOne(base().health({ path: '/h', interval: '1s', timeout: '1s' }), /health.timeout \(1s\) is not shorter than health.interval \(1s\)/, /shorter than interval/);
  // Without an explicit timeout, the default follows the interval (half of it below 4s): valid.
  assert.deepEqual(problems(base().health({ path: '/h', interval: '1s' })), []);
  assert.equal(resolveHealth({ path: '/h', interval: '1s' }).timeoutMs, 500);
  expectOne(base().health({ path: '/h', timeout: '10s' }), /health.timeout \(10s\) is not shorter than health.interval \(5s, the default\)/);
  assert.deepEqual(problems(base().health({ path: '/h', interval: 100, timeout: 50, expect: 204, host: 'status.internal:8080' })), []);
});

test('validate: passive', () => {
  const base = () => p('api', ups);
  expectOne(base().passive({ failures: 0 }), /passive.failures must be a positive whole number/);
  expectOne(base().passive({ ejectFor: 'soon' }), /passive.ejectFor: invalid duration "soon"/);
  expectOne(base().passive({ ejectFor: 0 }), /passive.ejectFor must be longer than zero/);
  expectOne(base().passive({ ejectFor: '10s', maxEjectFor: '5s' }), /passive.maxEjectFor \(5s\) is shorter than passive.ejectFor \(10s\)/, /at least ejectFor/);
  expectOne(base().passive({ maxEjectFor: '10s' }), /passive.maxEjectFor \(10s\) is shorter than passive.ejectFor \(30s, the default\)/);
  expectOne(base().passive({ statuses: 503 }), /passive.statuses must be an array of status codes/, /\[502, 503, 504\]/);
  expectOne(base().passive({ statuses: [503, 600] }), /passive.statuses: status 600/);
  expectOne(base().passive({ failure: 3 }), /passive: unknown option "failure"/, /did you mean "failures"/);
  assert.deepEqual(problems(base().passive({ failures: 1, ejectFor: '1s', maxEjectFor: '1s', statuses: [500] })), []);
});

test('validate: retry', () => {
  const base = () => p('api', ups);
  expectOne(base().retry({ attempts: -1 }), /retry.attempts must be a non-negative whole number/);
  expectOne(base().retry({ attempts: 1.5 }), /retry.attempts/);
  expectOne(base().retry({ budget: 0 }), /retry.budget 0 is not a share in \(0, 1\]/, /20% extra load/);
  expectOne(base().retry({ budget: 1.5 }), /retry.budget 1.5/);
  expectOne(base().retry({ budget: '20%' }), /retry.budget "20%"/);
  expectOne(base().retry({ minPerSecond: -1 }), /retry.minPerSecond must be a non-negative whole number/);
  expectOne(base().retry({ statuses: '502' }), /retry.statuses must be an array/);
  expectOne(base().retry({ attemps: 2 }), /retry: unknown option "attemps"/, /did you mean "attempts"/);
  assert.deepEqual(problems(base().retry({ attempts: 0, budget: 1, minPerSecond: 0, statuses: [503] })), []);
});

test('validate: sticky', () => {
  const base = () => p('api', ups);
  expectOne(base().sticky({ cookie: 'a;b' }), /sticky cookie name "a;b" is not valid/, /token/);
  expectOne(base().sticky({}), /sticky cookie name undefined is not valid/);
  expectOne(base().sticky({ cookie: 'pk', ttl: 'a while' }), /sticky.ttl: invalid duration/);
  expectOne(base().sticky({ cookie: 'pk', secret: 'short' }), /sticky secret must be a string of at least 16 characters/, /openssl rand/);
  expectOne(base().sticky({ cookie: 'pk', secret: 42 }), /sticky secret/);
  expectOne(base().sticky({ cookie: 'pk', name: 'x' }), /sticky: unknown option "name"/);
  const pinned = base().balance({ hash: 'ip' }).sticky({ cookie: 'pk' });
  const both = expectOne(pinned, /sticky and hash balancing both pin clients; use one/, /remove \.sticky\(\)/);
  assert.deepEqual(both.at, poolOf(specWith(pinned)).calls!.sticky!.at, 'points at the .sticky() call');
  assert.deepEqual(problems(base().balance('least-conn').sticky({ cookie: 'pk', ttl: '1h', secret: '0123456789abcdef' })), []);
});

test('validate: circuit breaker, slowStart, dns', () => {
  const base = () => p('api', ups);
  const zero = base().circuitBreaker({ maxConnections: 0 });
  const pr = expectOne(zero, /maxConnections must be a positive whole number/);
  assert.deepEqual(pr.at, poolOf(specWith(zero)).calls!.circuitBreaker!.at, 'points at the .circuitBreaker() call');
  expectOne(base().circuitBreaker({ maxPending: -1 }), /maxPending must be a non-negative whole number/);
  expectOne(base().circuitBreaker({ maxPending: 'lots' }), /maxPending/);
  expectOne(base().slowStart('gradually'), /slowStart: invalid duration "gradually"/);
  expectOne(base().dns({ refresh: 0 }), /dns.refresh must be longer than zero/);
  expectOne(base().dns({ refresh: 'often' }), /dns.refresh: invalid duration/);
  expectOne(base().dns({ interval: '1s' }), /dns: unknown option "interval"/, /refresh/);
  assert.deepEqual(problems(base().circuitBreaker({ maxConnections: 1, maxPending: 0 }).slowStart(0).dns({ refresh: '100ms' })), []);
});

test('validate: several problems in one pool are all reported', () => {
  const list = problems(p('api', ups).health({ path: 'x', healthy: 0 }).retry({ budget: 2 }).passive({ statuses: [1] }));
  assert.equal(list.length, 4, list.map((x) => x.message).join('\n'));
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createBalancer,
  HashBalancer,
  LeastConnBalancer,
  P2cEwmaBalancer,
  RandomBalancer,
  RoundRobinBalancer,
} from '../../../src/balance/algorithms/index.js';
import type { BalanceSpec } from '../../../src/config/spec.js';
import { upstream, upstreams } from './fixtures.js';

const opts = { slowStartMs: 0 };

test('each spec maps to its balancer', () => {
  const ups = upstreams(3);
  const cases: [BalanceSpec, Function][] = [
    ['round-robin', RoundRobinBalancer],
    ['weighted', RoundRobinBalancer],
    ['least-conn', LeastConnBalancer],
    ['random', RandomBalancer],
    ['p2c-ewma', P2cEwmaBalancer],
    [{ hash: 'ip' }, HashBalancer],
    [{ hash: 'path' }, HashBalancer],
    [{ hash: 'header:X-User' }, HashBalancer],
    [{ hash: 'cookie:sid' }, HashBalancer],
  ];
  for (const [spec, cls] of cases) assert.ok(createBalancer(spec, ups, opts) instanceof cls, JSON.stringify(spec));
});

test('invalid specs and options are rejected at construction with what was expected and what came', () => {
  const ups = upstreams(2);
  assert.throws(() => createBalancer('fastest' as never, ups, opts), /expected balance to be .* got "fastest"/);
  assert.throws(() => createBalancer({ hash: 'query' } as never, ups, opts), /expected balance.hash to be .* got "query"/);
  assert.throws(() => createBalancer({ hash: 'header:' } as never, ups, opts), /got "header:"/);
  assert.throws(() => createBalancer({ hash: 'cookie:a b' } as never, ups, opts), /got "cookie:a b"/);
  assert.throws(() => createBalancer('random', ups, { slowStartMs: -1 }), /expected opts.slowStartMs .* got -1/);
  assert.throws(() => createBalancer('random', ups, { slowStartMs: NaN }), /got NaN/);
  assert.throws(() => createBalancer('random', [upstream('http://a:1', 0)], opts), /positive finite weight, got 0/);
  assert.throws(() => createBalancer({ hash: 'ip' }, [upstream('http://a:1', 100_000)], opts), /total weight to be at most/);
});

test('an empty pool is allowed and picks nothing', () => {
  for (const spec of ['round-robin', 'least-conn', 'random', 'p2c-ewma', { hash: 'ip' }] as BalanceSpec[]) {
    assert.equal(createBalancer(spec, [], opts).pick({ clientIp: '1.1.1.1', path: '/', header: () => undefined, now: 0 }, () => true), null);
  }
});

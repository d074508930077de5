/**
 * One suite for every balancer (undici's cacheStoreTests, Caddy's selection-policy tests): the
 * contract of `Balancer.pick`, checked for each algorithm and each hash key kind.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Accept, Balancer } from '../../../src/balance/balancer.js';
import { createBalancer } from '../../../src/balance/algorithms/index.js';
import type { BalanceSpec } from '../../../src/config/spec.js';
import type { Upstream } from '../../../src/balance/upstream.js';
import { T0, all, ctx, keyedCtx, prng, simulateConcurrent, tally, upstream, upstreams } from './fixtures.js';

interface Case {
  spec: BalanceSpec;
  /** Picks follow weights without concurrency (least-conn and p2c need in-flight requests to see weights). */
  proportionalIdle: boolean;
}

const CASES: Case[] = [
  { spec: 'round-robin', proportionalIdle: true },
  { spec: 'weighted', proportionalIdle: true },
  { spec: 'least-conn', proportionalIdle: false },
  { spec: 'random', proportionalIdle: true },
  { spec: 'p2c-ewma', proportionalIdle: false },
  { spec: { hash: 'ip' }, proportionalIdle: true },
  { spec: { hash: 'path' }, proportionalIdle: true },
  { spec: { hash: 'header:x-user' }, proportionalIdle: true },
  { spec: { hash: 'cookie:sid' }, proportionalIdle: true },
];

const make = (spec: BalanceSpec, ups: readonly Upstream[], slowStartMs = 0): Balancer => createBalancer(spec, ups, { slowStartMs });

/** Accept exactly the upstreams in `set`, counting calls. */
function only(set: ReadonlySet<Upstream>, counter = { calls: 0 }): Accept {
  return (u) => {
    counter.calls++;
    return set.has(u);
  };
}

for (const { spec, proportionalIdle } of CASES) {
  describe(`balancer ${JSON.stringify(spec)}`, () => {
    test('an empty pool picks nothing', () => {
      assert.equal(make(spec, []).pick(ctx(), all), null);
    });

    test('one upstream: taken when accepted, null when not', () => {
      const [u] = upstreams(1);
      const b = make(spec, [u]);
      for (let i = 0; i < 10; i++) assert.equal(b.pick(keyedCtx(i), all), u);
      assert.equal(b.pick(ctx(), () => false), null);
      assert.equal(b.pick(ctx(), all), u);
    });

    test('never returns a rejected upstream; null only when every one is rejected; bounded accept calls', () => {
      const ups = upstreams(6, [1, 2, 3, 1, 2, 1]);
      const b = make(spec, ups);
      const rnd = prng(42);
      for (let round = 0; round < 400; round++) {
        const set = new Set(ups.filter(() => rnd() < 0.5));
        const counter = { calls: 0 };
        const u = b.pick(keyedCtx(round), only(set, counter));
        if (set.size === 0) assert.equal(u, null);
        else {
          assert.notEqual(u, null, `null with ${set.size} accepted`);
          assert.ok(set.has(u!), `returned a rejected upstream (${u!.url})`);
        }
        assert.ok(counter.calls <= ups.length + 2, `${counter.calls} accept calls for ${ups.length} upstreams`);
      }
    });

    test(`every accepted upstream is reachable${proportionalIdle ? '' : ' (under concurrency)'}`, () => {
      const ups = upstreams(5, [1, 3, 1, 2, 1]);
      const b = make(spec, ups);
      const rnd = prng(7);
      for (let round = 0; round < 20; round++) {
        const set = new Set(ups.filter(() => rnd() < 0.6));
        if (set.size === 0) set.add(ups[round % ups.length]);
        const ctxFor = (i: number) => keyedCtx(round * 10_000 + i);
        // Idle, p2c-ewma always prefers the heavier of two (cost / weight); load makes room for the rest.
        const seen = proportionalIdle ? tally(b, ups, 2000, ctxFor, only(set)) : simulateConcurrent(b, ups, 2000, 30, ctxFor, only(set));
        for (const u of set) assert.ok(seen.get(u)! > 0, `${u.url} never picked among ${set.size} accepted`);
        for (const u of ups) if (!set.has(u)) assert.equal(seen.get(u), 0);
      }
    });

    test('in-flight counts are read, not written', () => {
      const ups = upstreams(3);
      const b = make(spec, ups);
      for (let i = 0; i < 100; i++) b.pick(keyedCtx(i), all);
      for (const u of ups) assert.equal(u.state.inflight, 0);
    });

    test('weights are respected (3:1)', () => {
      const ups = [upstream('http://a.internal:80', 3), upstream('http://b.internal:80', 1)];
      const b = make(spec, ups);
      const counts = proportionalIdle
        ? tally(b, ups, 20_000, (i) => keyedCtx(i))
        : simulateConcurrent(b, ups, 20_000, 40);
      const share = counts.get(ups[0])! / 20_000;
      // Exact for round-robin; sampling / ring-placement error for the others.
      assert.ok(share > 0.68 && share < 0.82, `heavy upstream got ${(share * 100).toFixed(1)}%, expected ~75%`);
    });

    test('slow start: a just-recovered upstream gets far fewer picks than its steady share', () => {
      const ups = upstreams(3);
      ups[2].state.usableSince = T0; // recovered just now; the others long ago
      const b = make(spec, ups, 60_000);
      const counts = simulateConcurrent(b, ups, 12_000, 60);
      const share = counts.get(ups[2])! / 12_000;
      assert.ok(share < 1 / 6, `recovering upstream got ${(share * 100).toFixed(1)}% (steady share 33%)`);
      assert.ok(share > 0, 'recovering upstream got nothing (slow start should ramp, not exclude)');
    });
  });
}

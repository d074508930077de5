import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RandomBalancer } from '../../../src/balance/algorithms/random.js';
import { tally, upstreams } from './fixtures.js';

// 40k picks: one upstream's count has sd ~87 around 10000, so ±5% (500) is ~5.8 sd: not flaky.
test('equal weights: each within ±5% over 40k picks', () => {
  const ups = upstreams(4);
  for (const n of tally(new RandomBalancer(ups), ups, 40_000).values()) assert.ok(Math.abs(n - 10_000) < 500, `${n}`);
});

test('weights 3:1: within ±5% of 75% over 40k picks', () => {
  const ups = upstreams(2, [3, 1]);
  const n = tally(new RandomBalancer(ups), ups, 40_000).get(ups[0])!;
  assert.ok(Math.abs(n - 30_000) < 1500, `${n}`);
});

test('with the heaviest rejected, the rest keep their relative weights', () => {
  const ups = upstreams(3, [6, 1, 3]);
  const t = tally(new RandomBalancer(ups), ups, 40_000, undefined, (u) => u !== ups[0]);
  assert.equal(t.get(ups[0]), 0);
  const share = t.get(ups[2])! / 40_000;
  assert.ok(Math.abs(share - 0.75) < 0.0375, `${share}`);
});

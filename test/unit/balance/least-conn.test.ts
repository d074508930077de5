import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LeastConnBalancer } from '../../../src/balance/algorithms/least-conn.js';
import { all, ctx, simulateConcurrent, tally, upstreams } from './fixtures.js';

test('follows in-flight counts', () => {
  const ups = upstreams(3);
  const b = new LeastConnBalancer(ups);
  ups[0].state.inflight = 3;
  ups[1].state.inflight = 1;
  ups[2].state.inflight = 2;
  assert.equal(b.pick(ctx(), all), ups[1]);
  assert.equal(b.pick(ctx(), all), ups[1]);
  ups[1].state.inflight = 5;
  assert.equal(b.pick(ctx(), all), ups[2]);
});

test('in-flight is weighed by weight', () => {
  const ups = upstreams(2, [4, 1]);
  const b = new LeastConnBalancer(ups);
  ups[0].state.inflight = 3; // 0.75 per unit
  ups[1].state.inflight = 1; // 1 per unit
  assert.equal(b.pick(ctx(), all), ups[0]);
});

test('ties rotate, so an idle pool is served evenly', () => {
  const ups = upstreams(4);
  for (const n of tally(new LeastConnBalancer(ups), ups, 10_000).values()) assert.equal(n, 2500);
});

test('skips a rejected least-loaded upstream', () => {
  const ups = upstreams(3);
  ups[1].state.inflight = 9;
  ups[2].state.inflight = 4;
  const b = new LeastConnBalancer(ups);
  assert.equal(b.pick(ctx(), (u) => u !== ups[0]), ups[2]);
});

test('under concurrency, picks follow weights 3:1', () => {
  const ups = upstreams(2, [3, 1]);
  const t = simulateConcurrent(new LeastConnBalancer(ups), ups, 10_000, 40);
  const share = t.get(ups[0])! / 10_000;
  assert.ok(Math.abs(share - 0.75) < 0.0375, `heavy share ${share}`);
});

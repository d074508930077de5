import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Balancer } from '../../../src/balance/balancer.js';
import { P2cEwmaBalancer } from '../../../src/balance/algorithms/p2c-ewma.js';
import { RoundRobinBalancer } from '../../../src/balance/algorithms/round-robin.js';
import type { Upstream } from '../../../src/balance/upstream.js';
import { all, ctx, tally, upstreams } from './fixtures.js';

/**
 * One request arrives per tick; it completes after its upstream's latency (ticks) and its latency
 * feeds the upstream's EWMA. Returns the share of requests each upstream received.
 */
function simulate(b: Balancer, ups: Upstream[], latency: number[], ticks: number): number[] {
  const counts = ups.map(() => 0);
  const done: Upstream[][] = Array.from({ length: ticks + Math.max(...latency) + 1 }, () => []);
  for (let t = 0; t < ticks; t++) {
    for (const u of done[t]) {
      u.state.inflight--;
      u.state.observeLatency(latency[ups.indexOf(u)], t);
    }
    const u = b.pick(ctx({ now: t }), all)!;
    const i = ups.indexOf(u);
    counts[i]++;
    u.state.inflight++;
    done[t + latency[i]].push(u);
  }
  return counts.map((c) => c / ticks);
}

test('an upstream with 10x latency gets far less than round-robin would send it', () => {
  const latency = [10, 10, 10, 100];
  const ups = upstreams(4);
  const share = simulate(new P2cEwmaBalancer(ups), ups, latency, 20_000);
  const rrUps = upstreams(4);
  const rr = simulate(new RoundRobinBalancer(rrUps), rrUps, latency, 20_000);
  assert.ok(Math.abs(rr[3] - 0.25) < 0.01);
  assert.ok(share[3] < 0.05, `slow upstream got ${(share[3] * 100).toFixed(1)}%`);
});

test('never picks the costliest while another is accepted (idle pool)', () => {
  const ups = upstreams(4);
  [10, 20, 30, 40].forEach((ms, i) => (ups[i].state.ewmaMs = ms));
  const t = tally(new P2cEwmaBalancer(ups), ups, 5000);
  assert.equal(t.get(ups[3]), 0);
  assert.ok(t.get(ups[0])! > t.get(ups[1])! && t.get(ups[1])! > t.get(ups[2])!);
});

test('in-flight requests raise the cost', () => {
  const ups = upstreams(2);
  ups[0].state.ewmaMs = 10;
  ups[1].state.ewmaMs = 10;
  ups[0].state.inflight = 5;
  const b = new P2cEwmaBalancer(ups);
  for (let i = 0; i < 20; i++) assert.equal(b.pick(ctx(), all), ups[1]);
});

test('an unmeasured upstream is tried (costed at the pool mean), not starved', () => {
  const ups = upstreams(4);
  for (let i = 0; i < 3; i++) ups[i].state.ewmaMs = 10;
  const t = tally(new P2cEwmaBalancer(ups), ups, 8000);
  const share = t.get(ups[3])! / 8000;
  assert.ok(share > 0.15 && share < 0.35, `new upstream got ${(share * 100).toFixed(1)}%`);
});

test('only one accepted: it is taken, however slow', () => {
  const ups = upstreams(3);
  ups[2].state.ewmaMs = 10_000;
  const b = new P2cEwmaBalancer(ups);
  for (let i = 0; i < 10; i++) assert.equal(b.pick(ctx(), (u) => u === ups[2]), ups[2]);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RoundRobinBalancer } from '../../../src/balance/algorithms/round-robin.js';
import { RoundRobinBalancer as ReExported } from '../../../src/balance/balancer.js';
import type { Upstream } from '../../../src/balance/upstream.js';
import { T0, all, ctx, tally, upstream } from './fixtures.js';

const named = (...spec: [string, number][]) => spec.map(([name, w]) => upstream(`http://${name}.internal:80`, w));
const label = (u: Upstream | null) => (u === null ? '-' : new URL(u.url).hostname.split('.')[0]);
const seq = (b: RoundRobinBalancer, n: number, accept = all, now = T0) => Array.from({ length: n }, () => label(b.pick(ctx({ now }), accept))).join('');

test('balancer.ts still re-exports the class', () => {
  assert.equal(ReExported, RoundRobinBalancer);
});

test('equal weights rotate in order', () => {
  const b = new RoundRobinBalancer(named(['a', 1], ['b', 1], ['c', 1]));
  assert.equal(seq(b, 7), 'abcabca');
});

test('smooth weighted sequence for 5,1,1 is nginx\'s a a b a c a a, repeating', () => {
  const b = new RoundRobinBalancer(named(['a', 5], ['b', 1], ['c', 1]));
  assert.equal(seq(b, 14), 'aabacaa'.repeat(2));
});

test('every window of sum(weights) picks holds each upstream weight times', () => {
  const b = new RoundRobinBalancer(named(['a', 4], ['b', 3], ['c', 2], ['d', 1]));
  const s = seq(b, 100);
  for (let w = 0; w < 100; w += 10) {
    const win = s.slice(w, w + 10);
    assert.deepEqual([...'abcd'].map((c) => win.split(c).length - 1), [4, 3, 2, 1], `window ${win}`);
  }
  // Smooth: the heaviest never runs more than twice in a row for these weights.
  assert.ok(!s.includes('aaa'), s);
});

test('a rejected upstream is skipped and the rotation stays even among the others', () => {
  const ups = named(['a', 1], ['b', 1], ['c', 1]);
  const b = new RoundRobinBalancer(ups);
  assert.equal(seq(b, 6, (u) => u !== ups[1]), 'acacac');
  assert.equal(seq(b, 6, (u) => u !== ups[0]), 'bcbcbc');
});

test('weighted interleave stays smooth among the accepted ones (5,1,1 with c out → 5:1 per 6)', () => {
  const ups = named(['a', 5], ['b', 1], ['c', 1]);
  const b = new RoundRobinBalancer(ups);
  const s = seq(b, 60, (u) => u !== ups[2]);
  assert.ok(!s.includes('c'));
  for (let w = 0; w < 60; w += 6) assert.equal(s.slice(w, w + 6).split('b').length - 1, 1, s);
});

test('a retry (tried upstream rejected) moves to the next one', () => {
  const ups = named(['a', 1], ['b', 1], ['c', 1]);
  const b = new RoundRobinBalancer(ups);
  const first = b.pick(ctx(), all)!;
  const retry = b.pick(ctx(), (u) => u !== first)!;
  assert.notEqual(retry, first);
});

test('distribution: equal weights exact, 3:1 exact over 10k picks', () => {
  const eq = named(['a', 1], ['b', 1], ['c', 1], ['d', 1]);
  for (const n of tally(new RoundRobinBalancer(eq), eq, 10_000).values()) assert.equal(n, 2500);
  const w = named(['a', 3], ['b', 1]);
  const t = tally(new RoundRobinBalancer(w), w, 10_000);
  assert.deepEqual([t.get(w[0]), t.get(w[1])], [7500, 2500]);
});

test('slow start ramps an upstream from 10% to its full weight', () => {
  const ups = named(['a', 1], ['b', 1]);
  ups[1].state.usableSince = T0;
  const b = new RoundRobinBalancer(ups, { slowStartMs: 10_000 });
  const share = (now: number) => tally(b, ups, 1100, () => ctx({ now })).get(ups[1])! / 1100;
  assert.ok(Math.abs(share(T0) - 0.1 / 1.1) < 0.01, `at 0%: ${share(T0)}`);
  assert.ok(Math.abs(share(T0 + 5000) - 0.5 / 1.5) < 0.01, `at 50%: ${share(T0 + 5000)}`);
  assert.ok(Math.abs(share(T0 + 10_000) - 0.5) < 0.01, `done: ${share(T0 + 10_000)}`);
});

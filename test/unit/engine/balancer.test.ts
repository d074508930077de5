import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LeastConnBalancer, RandomBalancer, RoundRobinBalancer } from '../../../src/balance/balancer.js';
import type { Upstream } from '../../../src/balance/upstream.js';

const fake = (name: string, weight = 1): Upstream => ({ label: name, weight, inflight: 0 }) as unknown as Upstream;

test('round-robin rotates evenly', () => {
  const ups = [fake('a'), fake('b'), fake('c')];
  const b = new RoundRobinBalancer(ups);
  assert.deepEqual(Array.from({ length: 6 }, () => b.pick()!.label), ['a', 'b', 'c', 'a', 'b', 'c']);
});

test('smooth weighted round-robin interleaves by weight (nginx order)', () => {
  const b = new RoundRobinBalancer([fake('a', 5), fake('b', 1), fake('c', 1)]);
  const seq = Array.from({ length: 7 }, () => b.pick()!.label).join('');
  assert.equal(seq, 'aabacaa');
});

test('least-conn prefers the least busy upstream', () => {
  const ups = [fake('a'), fake('b')];
  ups[0].inflight = 3;
  const b = new LeastConnBalancer(ups);
  assert.equal(b.pick()!.label, 'b');
  assert.equal(b.pick()!.label, 'b');
});

test('random respects weights roughly', () => {
  const b = new RandomBalancer([fake('a', 3), fake('b', 1)]);
  let a = 0;
  for (let i = 0; i < 4000; i++) if (b.pick()!.label === 'a') a++;
  assert.ok(a > 2700 && a < 3300, `a picked ${a} of 4000`);
});

test('empty pools pick nothing', () => {
  assert.equal(new RoundRobinBalancer([]).pick(), null);
  assert.equal(new LeastConnBalancer([]).pick(), null);
  assert.equal(new RandomBalancer([]).pick(), null);
});

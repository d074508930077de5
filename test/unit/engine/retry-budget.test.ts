import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RetryBudget } from '../../../src/balance/retry-budget.js';

test('retries are bounded by ratio × requests plus the per-second floor', () => {
  const b = new RetryBudget(0.2, 0);
  const t = 1_000_000;
  for (let i = 0; i < 100; i++) b.onRequest(t);
  let allowed = 0;
  for (let i = 0; i < 100; i++) if (b.tryRetry(t)) allowed++;
  assert.equal(allowed, 20);
});

test('the per-second floor lets a quiet pool retry, but only so much per second', () => {
  const b = new RetryBudget(0.2, 3);
  const t = 5_000_000;
  let allowed = 0;
  for (let i = 0; i < 10; i++) if (b.tryRetry(t)) allowed++;
  assert.equal(allowed, 3);
  assert.ok(b.tryRetry(t + 1000), 'a new second brings a new allowance');
});

test('old traffic leaves the window after ten seconds', () => {
  const b = new RetryBudget(0.5, 0);
  const t = 9_000_000;
  for (let i = 0; i < 10; i++) b.onRequest(t);
  assert.ok(b.tryRetry(t));
  assert.equal(b.tryRetry(t + 11_000), false, 'no requests in the window: no ratio budget');
});

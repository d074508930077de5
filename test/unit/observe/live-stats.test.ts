import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LiveStats, latencyBucket, latencyBucketUpper, LATENCY_BUCKETS, WINDOW_SECONDS } from '../../../src/observe/live-stats.js';
import type { PoolStatus } from '../../../src/observe/contracts.js';

const T0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z, a whole second

/** Nearest-rank percentile of the samples. */
function truth(samples: number[], q: number): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(q * s.length) - 1)];
}

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('latency buckets: monotonic, 0.1 ms … 60 s, ~24% wide', () => {
  assert.equal(latencyBucket(0), 0);
  assert.equal(latencyBucket(-3), 0);
  assert.equal(latencyBucket(NaN), 0);
  assert.equal(latencyBucket(0.1), 0);
  assert.equal(latencyBucket(0.1001), 1);
  assert.equal(latencyBucket(60_000), LATENCY_BUCKETS - 2);
  assert.equal(latencyBucket(60_001), LATENCY_BUCKETS - 1);
  assert.equal(latencyBucket(Infinity), LATENCY_BUCKETS - 1);
  let prev = 0;
  for (let ms = 0.05; ms < 100_000; ms *= 1.01) {
    const b = latencyBucket(ms);
    assert.ok(b >= prev, `monotonic at ${ms}`);
    assert.ok(ms <= latencyBucketUpper(b) * (1 + 1e-12), `${ms} ≤ upper of ${b}`);
    if (b > 0) assert.ok(ms > latencyBucketUpper(b - 1) * (1 - 1e-12), `${ms} > upper of ${b - 1}`);
    prev = b;
  }
  const ratio = latencyBucketUpper(10) / latencyBucketUpper(9);
  assert.ok(ratio > 1.2 && ratio < 1.3, `ratio ${ratio}`);
});

for (const [name, gen] of [
  ['uniform 1..100 ms', (r: () => number) => 1 + 99 * r()],
  ['log-normal around 20 ms', (r: () => number) => 20 * Math.exp(Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()))],
  ['bimodal 2 ms / 800 ms', (r: () => number) => (r() < 0.95 ? 2 + r() : 800 + 200 * r())],
  ['sub-ms', (r: () => number) => 0.05 + 0.5 * r()],
] as const) {
  test(`percentiles within one bucket of the truth: ${name}`, () => {
    const r = rng(42);
    const live = new LiveStats();
    const samples: number[] = [];
    for (let i = 0; i < 5000; i++) {
      const ms = gen(r);
      samples.push(ms);
      live.record(200, ms, T0 + 500);
    }
    const snap = live.snapshot([], T0 + 900);
    const sec = snap.seconds[snap.seconds.length - 1];
    assert.equal(sec.t, T0 / 1000);
    assert.equal(sec.requests, 5000);
    for (const q of [0.5, 0.9, 0.99] as const) {
      const est = sec[q === 0.5 ? 'p50' : q === 0.9 ? 'p90' : 'p99'];
      const tr = truth(samples, q);
      assert.ok(Math.abs(latencyBucket(est) - latencyBucket(tr)) <= 1, `p${q * 100}: est ${est} truth ${tr}`);
      assert.ok(est / tr < 1.3 && tr / est < 1.3, `p${q * 100} relative: est ${est} truth ${tr}`);
    }
  });
}

test('known small distribution: exact buckets', () => {
  const live = new LiveStats();
  // 100 requests: 1..100 ms.
  for (let i = 1; i <= 100; i++) live.record(200, i, T0);
  const s = live.snapshot([], T0).seconds.at(-1)!;
  assert.equal(latencyBucket(s.p50), latencyBucket(50));
  assert.equal(latencyBucket(s.p90), latencyBucket(90));
  assert.equal(latencyBucket(s.p99), latencyBucket(99));
});

test('errors: status >= 500 and 0; totals', () => {
  const live = new LiveStats();
  for (const status of [200, 201, 301, 404, 499, 500, 502, 504, 0]) live.record(status, 1, T0 + 10);
  const snap = live.snapshot([], T0 + 20);
  const s = snap.seconds.at(-1)!;
  assert.equal(s.requests, 9);
  assert.equal(s.errors, 4);
  assert.equal(snap.totals.requests, 9);
  assert.equal(snap.totals.errors, 4);
});

test('60 seconds, oldest first, zero-filled, ending with the current second', () => {
  const live = new LiveStats();
  live.record(200, 5, T0 + 0);
  live.record(200, 5, T0 + 999);
  live.record(500, 7, T0 + 3_000);
  const now = T0 + 10_400;
  const snap = live.snapshot([], now);
  assert.equal(snap.now, now);
  assert.equal(snap.seconds.length, WINDOW_SECONDS);
  const end = Math.floor(now / 1000);
  snap.seconds.forEach((s, i) => assert.equal(s.t, end - 59 + i));
  const byT = new Map(snap.seconds.map((s) => [s.t, s]));
  assert.equal(byT.get(T0 / 1000)!.requests, 2);
  assert.equal(byT.get(T0 / 1000 + 3)!.errors, 1);
  const empty = snap.seconds.filter((s) => s.t !== T0 / 1000 && s.t !== T0 / 1000 + 3);
  assert.equal(empty.length, 58);
  for (const s of empty) assert.deepEqual({ ...s, t: 0 }, { t: 0, requests: 0, errors: 0, p50: 0, p90: 0, p99: 0 });
});

test('rolling window drops old seconds (slot reuse clears the old second)', () => {
  const live = new LiveStats();
  for (let i = 0; i < 10; i++) live.record(500, 1000, T0); // second 0: slow errors
  // Exactly 60 s later the same slot comes round again.
  live.record(200, 1, T0 + 60_000);
  let snap = live.snapshot([], T0 + 60_500);
  const first = snap.seconds[0];
  assert.equal(first.t, T0 / 1000 + 1);
  assert.ok(snap.seconds.every((s) => s.t !== T0 / 1000), 'second 0 is out of the window');
  const last = snap.seconds.at(-1)!;
  assert.deepEqual({ requests: last.requests, errors: last.errors }, { requests: 1, errors: 0 });
  assert.equal(latencyBucket(last.p99), latencyBucket(1), 'old latencies are gone from the reused slot');
  // Nothing recorded for 2 minutes: all zero, but totals remain.
  snap = live.snapshot([], T0 + 200_000);
  assert.ok(snap.seconds.every((s) => s.requests === 0 && s.errors === 0 && s.p50 === 0));
  assert.equal(snap.totals.requests, 11);
  assert.equal(snap.totals.errors, 10);
  // A record for a second whose slot already holds a newer second counts in the totals only.
  live.record(200, 1, T0 + 1_000);
  snap = live.snapshot([], T0 + 60_500);
  assert.equal(snap.seconds.find((s) => s.t === T0 / 1000 + 1)!.requests, 1, 'slot 1 was free: counted');
  live.record(200, 1, T0);
  snap = live.snapshot([], T0 + 60_500);
  assert.equal(snap.seconds.at(-1)!.requests, 1, 'late record did not pollute the newer second');
  assert.equal(snap.totals.requests, 13);
});

test('connections, reloads and pools in the snapshot', () => {
  const live = new LiveStats();
  live.connections(1);
  live.connections(1);
  live.connections(1);
  live.connections(-1);
  live.reload(true);
  live.reload(true);
  live.reload(false);
  const pools: PoolStatus[] = [
    { name: 'api', balance: 'p2c', upstreams: [{ url: 'http://127.0.0.1:3001', label: 'api/127.0.0.1:3001', state: 'healthy', inflight: 0, latencyMs: 3, weight: 1 }] },
  ];
  const snap = live.snapshot(pools, T0);
  assert.deepEqual(snap.totals, { requests: 0, errors: 0, openConnections: 2, reloadsOk: 2, reloadsFailed: 1 });
  assert.equal(snap.pools, pools);
  assert.equal(snap.cache, undefined);
  assert.doesNotThrow(() => JSON.stringify(snap));
});

test('micro-benchmark: record() (sanity, no timing assertion)', () => {
  const live = new LiveStats();
  const N = 1_000_000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) live.record(i % 50 === 0 ? 502 : 200, (i % 1000) / 10, T0 + i / 10);
  const ns = Number(process.hrtime.bigint() - t0) / N;
  console.log(`# live-stats: record() ${ns.toFixed(0)} ns/op`);
  assert.equal(live.snapshot([], T0 + N / 10).totals.requests, N);
});

/** Fake upstreams (real Upstream + UpstreamState, no dispatcher) and pick contexts for balancer tests. */
import { createHash } from 'node:crypto';
import type { Pool as UndiciPool } from 'undici';
import type { Accept, Balancer, PickContext } from '../../../src/balance/balancer.js';
import { UpstreamState } from '../../../src/balance/state.js';
import { Upstream } from '../../../src/balance/upstream.js';
import { NOOP_METRICS } from '../../../src/observe/noop-metrics.js';

export const T0 = 1_700_000_000_000;

export function upstream(url: string, weight = 1, now = T0 - 3_600_000): Upstream {
  const id = createHash('sha256').update(`pool|${url}`).digest('base64url').slice(0, 12);
  return new Upstream('pool', url, weight, null, new UpstreamState(`pool|${url}`, now), {} as unknown as UndiciPool, id, NOOP_METRICS.upstream('pool', url));
}

/** `n` upstreams on 10.0.0.1.. with the given weights (default 1). */
export function upstreams(n: number, weights: number[] = []): Upstream[] {
  return Array.from({ length: n }, (_, i) => upstream(`http://10.0.0.${i + 1}:8080`, weights[i] ?? 1));
}

export interface CtxInit {
  clientIp?: string;
  path?: string;
  headers?: Record<string, string>;
  now?: number;
}

export function ctx(init: CtxInit = {}): PickContext {
  const headers = init.headers ?? {};
  return {
    clientIp: init.clientIp ?? '192.0.2.1',
    path: init.path ?? '/',
    header: (name) => headers[name],
    now: init.now ?? T0,
  };
}

/** A context whose every key (ip, path, x-user header, sid cookie) is derived from `i`. */
export function keyedCtx(i: number, now = T0): PickContext {
  const k = `k${i}`;
  return ctx({
    clientIp: `198.51.${(i >>> 8) & 255}.${i & 255}`,
    path: `/items/${k}`,
    headers: { 'x-user': `user-${k}`, cookie: `theme=dark; sid=${k}; lang=en` },
    now,
  });
}

export const all: Accept = () => true;

/** Picks per label over `count` picks; `ctxFor(i)` gives each pick's context. */
export function tally(b: Balancer, ups: readonly Upstream[], count: number, ctxFor: (i: number) => PickContext = () => ctx(), accept: Accept = all): Map<Upstream, number> {
  const m = new Map<Upstream, number>(ups.map((u) => [u, 0]));
  for (let i = 0; i < count; i++) {
    const u = b.pick(ctxFor(i), accept);
    if (u !== null) m.set(u, (m.get(u) ?? 0) + 1);
  }
  return m;
}

/**
 * Keep `concurrency` requests in flight (FIFO completion, equal service times) for `count` picks and
 * count picks per upstream; in-flight counts are left at zero afterwards.
 */
export function simulateConcurrent(
  b: Balancer,
  ups: readonly Upstream[],
  count: number,
  concurrency: number,
  ctxFor: (i: number) => PickContext = (i) => keyedCtx(i),
  accept: Accept = all,
): Map<Upstream, number> {
  const m = new Map<Upstream, number>(ups.map((u) => [u, 0]));
  const queue: Upstream[] = [];
  for (let i = 0; i < count; i++) {
    const u = b.pick(ctxFor(i), accept);
    if (u === null) throw new Error('no pick');
    m.set(u, m.get(u)! + 1);
    u.state.inflight++;
    queue.push(u);
    if (queue.length >= concurrency) queue.shift()!.state.inflight--;
  }
  for (const u of queue) u.state.inflight--;
  return m;
}

/** Deterministic PRNG (mulberry32) for test inputs. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

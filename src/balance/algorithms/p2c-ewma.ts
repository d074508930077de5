/**
 * Power of two choices over peak-EWMA latency (Mitzenmacher's "power of two choices"; the cost
 * function is Finagle's / Linkerd's peak EWMA balancer). Used for `'p2c-ewma'`.
 *
 * Each pick draws two distinct accepted upstreams uniformly at random and takes the cheaper, with
 *   cost = latency × (in-flight + 1) / effective weight
 * where latency is `state.ewmaMs` (peak EWMA of response-head time, kept by UpstreamState).
 *
 * Why: comparing two random candidates is nearly as good as scanning all for the best, yet never
 * herds every proxy onto the same "best" upstream, and costs O(1). The latency term moves load off
 * a slow upstream within a few requests (peak EWMA jumps up on a slow sample at once); the
 * in-flight term stops a fast upstream from being flooded before its latency rises.
 *
 * Guarantees:
 * - the most expensive accepted upstream is never chosen while another is accepted, so an
 *   upstream 10x slower than the rest receives only what in-flight pressure pushes to it;
 * - an upstream without a latency sample (new, or state reset on recovery) is costed at the mean
 *   latency of the measured ones (1 ms when none is), so it is tried and measured rather than
 *   starved or flooded; its in-flight term still limits how much it takes before the first answer;
 * - when only one upstream is accepted it is taken; null only when none is.
 *
 * Cost: usually two `accept` calls and no loop; when a draw is rejected, one pass over the
 * upstreams (n `accept` calls) into a reused scratch array; the mean is computed only when a
 * candidate has no sample. No allocation.
 */
import { effectiveWeight } from '../balancer.js';
import type { Accept, Balancer, BalancerFactory, BalancerOptions, PickContext } from '../balancer.js';
import type { Upstream } from '../upstream.js';

/** Latency assumed when no upstream of the pool has been measured yet. */
const UNMEASURED_MS = 1;
const LATENCY_FLOOR_MS = 1;

export class P2cEwmaBalancer implements Balancer {
  private readonly upstreams: readonly Upstream[];
  private readonly slowStartMs: number;
  /** Scratch: indexes of the accepted upstreams, filled only when a fast draw is rejected. */
  private readonly acceptedIdx: Uint32Array;

  constructor(upstreams: readonly Upstream[], opts: BalancerOptions = {}) {
    this.upstreams = upstreams;
    this.slowStartMs = opts.slowStartMs ?? 0;
    this.acceptedIdx = new Uint32Array(upstreams.length);
  }

  pick(ctx: PickContext, accept: Accept): Upstream | null {
    const ups = this.upstreams;
    const n = ups.length;
    if (n === 0) return null;
    if (n === 1) return accept(ups[0]) ? ups[0] : null;

    // Fast path: two distinct indexes; if both are accepted the pair is uniform over accepted pairs.
    const i = (Math.random() * n) | 0;
    let j = (Math.random() * (n - 1)) | 0;
    if (j >= i) j++;
    const a = ups[i];
    const b = ups[j];
    const okA = accept(a);
    const okB = accept(b);
    if (okA && okB) return this.cheaper(a, b, ctx.now);

    // Slow path: the exact draw among the accepted (a rejection means some may be out).
    const idx = this.acceptedIdx;
    let m = 0;
    for (let k = 0; k < n; k++) {
      // Reuse the two answers already given; accept is asked once per upstream per pick.
      const ok = k === i ? okA : k === j ? okB : accept(ups[k]);
      if (ok) idx[m++] = k;
    }
    if (m === 0) return null;
    if (m === 1) return ups[idx[0]];
    const x = (Math.random() * m) | 0;
    let y = (Math.random() * (m - 1)) | 0;
    if (y >= x) y++;
    return this.cheaper(ups[idx[x]], ups[idx[y]], ctx.now);
  }

  private cheaper(a: Upstream, b: Upstream, now: number): Upstream {
    let la = a.state.ewmaMs;
    let lb = b.state.ewmaMs;
    if (la <= 0 || lb <= 0) {
      const mean = this.meanLatency();
      if (la <= 0) la = mean;
      if (lb <= 0) lb = mean;
    }
    const slow = this.slowStartMs;
    // The floor keeps sub-millisecond noise (loopback jitter, one GC pause) from steering traffic:
    // below it, in-flight counts decide; above it, a 10x slower upstream still costs ~5x more.
    const ca = ((la + LATENCY_FLOOR_MS) * (a.state.inflight + 1)) / effectiveWeight(a, now, slow);
    const cb = ((lb + LATENCY_FLOOR_MS) * (b.state.inflight + 1)) / effectiveWeight(b, now, slow);
    return cb < ca ? b : a;
  }

  /** Mean EWMA latency of the measured upstreams, or UNMEASURED_MS when none has a sample. */
  private meanLatency(): number {
    const ups = this.upstreams;
    let sum = 0;
    let count = 0;
    for (let k = 0; k < ups.length; k++) {
      const l = ups[k].state.ewmaMs;
      if (l > 0) {
        sum += l;
        count++;
      }
    }
    return count === 0 ? UNMEASURED_MS : sum / count;
  }
}

P2cEwmaBalancer satisfies BalancerFactory;

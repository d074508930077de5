/**
 * Weighted random: each accepted upstream is chosen with probability proportional to its
 * effective weight. No shared cursor, so many independent proxies (or workers) using it do not
 * synchronise into the same rotation; over many picks it converges to the weights, though
 * without round-robin's short-window guarantee.
 *
 * Pick: draw by weight over all upstreams; if `accept` takes the draw, done (one `accept` call,
 * the common case). Otherwise redraw exactly among the accepted ones. Drawing from all, then
 * falling back to the exact conditional draw on rejection, yields precisely
 * P(i) = w_i / sum(accepted w), as rejection sampling would, but bounded.
 *
 * Cost: O(n) arithmetic, 1 `accept` call usually, n + 1 at most; no allocation (one scratch
 * array, reused).
 */
import { effectiveWeight } from '../balancer.js';
import type { Accept, Balancer, BalancerFactory, BalancerOptions, PickContext } from '../balancer.js';
import type { Upstream } from '../upstream.js';

export class RandomBalancer implements Balancer {
  private readonly upstreams: readonly Upstream[];
  private readonly slowStartMs: number;
  /** Scratch: effective weight per upstream for the current pick (0 when rejected). */
  private readonly w: Float64Array;

  constructor(upstreams: readonly Upstream[], opts: BalancerOptions = {}) {
    this.upstreams = upstreams;
    this.slowStartMs = opts.slowStartMs ?? 0;
    this.w = new Float64Array(upstreams.length);
  }

  pick(ctx: PickContext, accept: Accept): Upstream | null {
    const ups = this.upstreams;
    const n = ups.length;
    if (n === 0) return null;
    const w = this.w;
    const now = ctx.now;
    const slow = this.slowStartMs;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const ew = effectiveWeight(ups[i], now, slow);
      w[i] = ew;
      total += ew;
    }
    const first = draw(w, n, total);
    if (accept(ups[first])) return ups[first];
    // The draw was rejected: the exact draw among accepted ones.
    total = 0;
    for (let i = 0; i < n; i++) {
      if (i === first || !accept(ups[i])) w[i] = 0;
      else total += w[i];
    }
    if (total <= 0) return null;
    return ups[draw(w, n, total)];
  }
}

/** Index drawn with probability w[i] / total, skipping zero weights. */
function draw(w: Float64Array, n: number, total: number): number {
  let r = Math.random() * total;
  let last = -1;
  for (let i = 0; i < n; i++) {
    if (w[i] <= 0) continue;
    last = i;
    r -= w[i];
    if (r < 0) return i;
  }
  return last; // rounding: r landed on the total
}

RandomBalancer satisfies BalancerFactory;

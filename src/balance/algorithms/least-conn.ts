/**
 * Least connections: the accepted upstream with the fewest requests in flight per unit of
 * (effective) weight, `state.inflight / weight`. In-flight counts live in the long-lived
 * UpstreamState, so they include every Plan's requests and survive reloads.
 *
 * Why: it reacts to slow upstreams without measuring latency (a slow upstream holds its
 * requests longer, so its count rises), and it needs no tuning. Guarantees:
 * - ties are broken by a start offset that rotates every pick, so an idle pool is served
 *   round-robin rather than always by the first upstream;
 * - under concurrency, in-flight counts settle proportional to weights (3:1 weights hold ~3:1
 *   of the in-flight requests); with no concurrency at all weights cannot matter, every count is 0;
 * - slow start lowers the effective weight, so a recovering upstream fills up more slowly.
 *
 * Cost: one pass, up to n `accept` calls, no allocation.
 */
import { effectiveWeight } from '../balancer.js';
import type { Accept, Balancer, BalancerFactory, BalancerOptions, PickContext } from '../balancer.js';
import type { Upstream } from '../upstream.js';

export class LeastConnBalancer implements Balancer {
  private readonly upstreams: readonly Upstream[];
  private readonly slowStartMs: number;
  private offset = 0;

  constructor(upstreams: readonly Upstream[], opts: BalancerOptions = {}) {
    this.upstreams = upstreams;
    this.slowStartMs = opts.slowStartMs ?? 0;
  }

  pick(ctx: PickContext, accept: Accept): Upstream | null {
    const ups = this.upstreams;
    const n = ups.length;
    if (n === 0) return null;
    const now = ctx.now;
    const slow = this.slowStartMs;
    let i = this.offset;
    this.offset = i + 1 === n ? 0 : i + 1;
    let best: Upstream | null = null;
    let bestScore = Infinity;
    for (let k = 0; k < n; k++) {
      const u = ups[i];
      i = i + 1 === n ? 0 : i + 1;
      if (!accept(u)) continue;
      const score = u.state.inflight / effectiveWeight(u, now, slow);
      if (score < bestScore) {
        best = u;
        bestScore = score;
      }
    }
    return best;
  }
}

LeastConnBalancer satisfies BalancerFactory;

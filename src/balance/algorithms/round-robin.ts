/**
 * Smooth weighted round-robin, nginx's algorithm (`ngx_http_upstream_get_peer` in
 * ngx_http_upstream_round_robin.c). Used for `'round-robin'` and `'weighted'`.
 *
 * Each pick, every accepted upstream's `current` grows by its effective weight; the largest wins
 * and gives back the total effective weight of the accepted set. Guarantees:
 * - over any window of `sum(weights)` picks with a stable accepted set, each upstream is chosen
 *   exactly `weight` times, and the picks are interleaved (weights 5,1,1 give a a b a c a a),
 *   not bunched, so a heavy upstream never receives a burst;
 * - rejected upstreams neither gain nor give back, so the interleave stays smooth among the
 *   accepted ones while one is ejected or already tried;
 * - slow start enters through `effectiveWeight`, so a recovering upstream ramps in gradually.
 *
 * With equal configured weights and nobody in slow start, it is a rotating index: one `accept`
 * call per pick in the common case, at most `n` when candidates are rejected.
 *
 * Cost: O(n) arithmetic and up to n `accept` calls per weighted pick; no allocation.
 */
import { effectiveWeight } from '../balancer.js';
import type { Accept, Balancer, BalancerFactory, BalancerOptions, PickContext } from '../balancer.js';
import type { Upstream } from '../upstream.js';

export class RoundRobinBalancer implements Balancer {
  private readonly upstreams: readonly Upstream[];
  private readonly slowStartMs: number;
  /** nginx's `current_weight` per upstream. */
  private readonly current: Float64Array;
  /** All configured weights equal: the rotating-index path applies unless someone is ramping. */
  private readonly uniform: boolean;
  /** The last pick went through the rotating index; `current` is stale and restarts from zero. */
  private rotated = true;
  private next = 0;

  constructor(upstreams: readonly Upstream[], opts: BalancerOptions = {}) {
    this.upstreams = upstreams;
    this.slowStartMs = opts.slowStartMs ?? 0;
    this.current = new Float64Array(upstreams.length);
    const w0 = upstreams.length > 0 ? upstreams[0].weight : 0;
    this.uniform = upstreams.every((u) => u.weight === w0);
  }

  pick(ctx: PickContext, accept: Accept): Upstream | null {
    const ups = this.upstreams;
    const n = ups.length;
    if (n === 0) return null;
    if (this.uniform && !this.anyRamping(ctx.now)) {
      this.rotated = true;
      let i = this.next;
      for (let k = 0; k < n; k++) {
        const u = ups[i];
        i = i + 1 === n ? 0 : i + 1;
        if (accept(u)) {
          this.next = i;
          return u;
        }
      }
      return null;
    }
    return this.pickWeighted(ctx.now, accept);
  }

  private pickWeighted(now: number, accept: Accept): Upstream | null {
    const ups = this.upstreams;
    const n = ups.length;
    const cur = this.current;
    if (this.rotated) {
      cur.fill(0);
      this.rotated = false;
    }
    const slow = this.slowStartMs;
    let best = -1;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const u = ups[i];
      if (!accept(u)) continue;
      const w = effectiveWeight(u, now, slow);
      cur[i] += w;
      total += w;
      if (best === -1 || cur[i] > cur[best]) best = i;
    }
    if (best === -1) return null;
    cur[best] -= total;
    return ups[best];
  }

  private anyRamping(now: number): boolean {
    const slow = this.slowStartMs;
    if (slow <= 0) return false;
    const ups = this.upstreams;
    for (let i = 0; i < ups.length; i++) if (now - ups[i].state.usableSince < slow) return true;
    return false;
  }
}

RoundRobinBalancer satisfies BalancerFactory;

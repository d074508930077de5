/**
 * Choosing an upstream. A Balancer is built once per pool when a Plan compiles and asked once per
 * request; it only chooses among what it was given. Health and ejection (issue 3) will filter the
 * candidates; they never choose.
 */
import type { Upstream } from './upstream.js';

export interface PickContext {
  clientIp: string;
}

export interface Balancer {
  pick(ctx: PickContext): Upstream | null;
}

/**
 * Smooth weighted round-robin, as nginx does it: over any window of `sum(weights)` picks each
 * upstream is chosen `weight` times, and the picks are interleaved rather than bunched.
 * With equal weights it degenerates to a plain rotating index (no per-pick loop).
 */
export class RoundRobinBalancer implements Balancer {
  private readonly upstreams: readonly Upstream[];
  private readonly current: Float64Array;
  private readonly total: number;
  private readonly uniform: boolean;
  private next = 0;

  constructor(upstreams: readonly Upstream[]) {
    this.upstreams = upstreams;
    this.current = new Float64Array(upstreams.length);
    this.total = upstreams.reduce((s, u) => s + u.weight, 0);
    this.uniform = upstreams.every((u) => u.weight === upstreams[0]?.weight);
  }

  pick(): Upstream | null {
    const ups = this.upstreams;
    const n = ups.length;
    if (n === 0) return null;
    if (this.uniform) {
      const u = ups[this.next];
      this.next = this.next + 1 === n ? 0 : this.next + 1;
      return u;
    }
    let best = 0;
    const cur = this.current;
    for (let i = 0; i < n; i++) {
      cur[i] += ups[i].weight;
      if (cur[i] > cur[best]) best = i;
    }
    cur[best] -= this.total;
    return ups[best];
  }
}

/** Fewest requests in flight, weighted; ties broken by rotation so load spreads when idle. */
export class LeastConnBalancer implements Balancer {
  private readonly upstreams: readonly Upstream[];
  private offset = 0;

  constructor(upstreams: readonly Upstream[]) {
    this.upstreams = upstreams;
  }

  pick(): Upstream | null {
    const ups = this.upstreams;
    const n = ups.length;
    if (n === 0) return null;
    const start = this.offset;
    this.offset = start + 1 === n ? 0 : start + 1;
    let best: Upstream = ups[start];
    let bestScore = best.inflight / best.weight;
    for (let k = 1; k < n; k++) {
      const u = ups[(start + k) % n];
      const score = u.inflight / u.weight;
      if (score < bestScore) {
        best = u;
        bestScore = score;
      }
    }
    return best;
  }
}

/** Weighted random choice. */
export class RandomBalancer implements Balancer {
  private readonly upstreams: readonly Upstream[];
  private readonly cumulative: Float64Array;

  constructor(upstreams: readonly Upstream[]) {
    this.upstreams = upstreams;
    this.cumulative = new Float64Array(upstreams.length);
    let sum = 0;
    upstreams.forEach((u, i) => {
      sum += u.weight;
      this.cumulative[i] = sum;
    });
  }

  pick(): Upstream | null {
    const n = this.upstreams.length;
    if (n === 0) return null;
    const r = Math.random() * this.cumulative[n - 1];
    for (let i = 0; i < n; i++) if (r < this.cumulative[i]) return this.upstreams[i];
    return this.upstreams[n - 1];
  }
}

/**
 * A pool as the engine sees it: named upstreams, a balancer, and the per-request timeouts.
 * Built by `compile()` from a PoolSpec; connection pools come from the DispatcherRegistry so
 * that they survive reloads.
 */
import { Pool as UndiciPool } from 'undici';
import type { Balancer, PickContext } from './balancer.js';
import { LeastConnBalancer, RandomBalancer, RoundRobinBalancer } from './balancer.js';
import { Upstream } from './upstream.js';
import type { BalanceSpec } from '../config/spec.js';

export interface PoolTimeouts {
  connectMs: number;
  responseMs: number;
  idleMs: number;
}

export class UpstreamPool {
  readonly name: string;
  readonly upstreams: readonly Upstream[];
  readonly timeouts: PoolTimeouts;
  private readonly balancer: Balancer;

  constructor(name: string, upstreams: Upstream[], balance: BalanceSpec, timeouts: PoolTimeouts) {
    this.name = name;
    this.upstreams = upstreams;
    this.timeouts = timeouts;
    this.balancer = createBalancer(balance, upstreams);
  }

  pick(ctx: PickContext): Upstream | null {
    return this.balancer.pick(ctx);
  }
}

function createBalancer(balance: BalanceSpec, upstreams: Upstream[]): Balancer {
  switch (balance) {
    case 'least-conn':
      return new LeastConnBalancer(upstreams);
    case 'random':
      return new RandomBalancer(upstreams);
    default:
      // 'round-robin' and 'weighted' are the same smooth weighted rotation; the other algorithms
      // (p2c-ewma, consistent hashing) arrive with the load-balancing issue.
      return new RoundRobinBalancer(upstreams);
  }
}

export interface DispatcherOptions {
  connectMs: number;
  maxConnections: number | null;
}

/**
 * Long-lived undici connection pools keyed by origin and connection settings. A reload asks for
 * what the new Plan needs; `retain()` then closes (gracefully: in-flight requests finish) every
 * pool the new Plan no longer uses, and keeps the rest with their warm keep-alive connections.
 */
export class DispatcherRegistry {
  private readonly pools = new Map<string, UndiciPool>();

  get(origin: string, opts: DispatcherOptions): UndiciPool {
    const key = `${origin}|${opts.connectMs}|${opts.maxConnections ?? ''}`;
    let p = this.pools.get(key);
    if (p === undefined) {
      p = new UndiciPool(origin, {
        connections: opts.maxConnections,
        pipelining: 1,
        connect: { timeout: opts.connectMs },
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 600_000,
        // Per-request timeouts are passed with each dispatch (they differ per pool).
        headersTimeout: 0,
        bodyTimeout: 0,
        // The proxy, not undici, decides what a response may look like.
        maxResponseSize: -1,
      });
      this.pools.set(key, p);
    }
    return p;
  }

  /** Close every dispatcher not in `keep`. Returns when they have drained. */
  async retain(keep: ReadonlySet<UndiciPool>): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const [key, p] of this.pools) {
      if (keep.has(p)) continue;
      this.pools.delete(key);
      closing.push(p.close().catch(() => {}));
    }
    await Promise.all(closing);
  }

  async closeAll(): Promise<void> {
    await this.retain(new Set());
  }

  async destroyAll(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((p) => p.destroy().catch(() => {})));
  }
}

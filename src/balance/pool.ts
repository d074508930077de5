/**
 * A pool as the engine sees it: its upstreams, how to choose among them, and the resilience rules
 * around the choice (passive ejection, retries with a budget, circuit breaking, sticky sessions).
 * Built by `compile()` for each Plan; everything that must outlive a reload (upstream state,
 * connection pools, retry budgets) comes from registries and is only referenced here.
 *
 * Selection (`select`) is one predicate over three facts, in this order of preference:
 *   1. usable (healthy by active checks, not ejected) and not full and not already tried;
 *   2. none usable but some full → "full": the circuit breaker answers 503 + Retry-After;
 *   3. none usable at all → panic mode (Envoy): ignore health and serve from every upstream
 *      not full and not tried, rather than fail everything. Logged, at most once a second.
 */
import tls from 'node:tls';
import { Pool as UndiciPool } from 'undici';
import type { Accept, Balancer, PickContext } from './balancer.js';
import { createBalancer } from './algorithms/index.js';
import type { Upstream } from './upstream.js';
import type { BalanceSpec } from '../config/spec.js';
import type { PassivePolicy } from './passive.js';
import type { RetryBudget } from './retry-budget.js';
import type { StickyCookie } from './sticky.js';
import type { Logger } from '../observe/logger.js';

export interface PoolTimeouts {
  connectMs: number;
  responseMs: number;
  idleMs: number;
}

export interface RetryPolicy {
  /** Extra attempts after the first. */
  attempts: number;
  /** Upstream statuses retried for requests that are safe to repeat. */
  statuses: ReadonlySet<number>;
  budget: RetryBudget;
}

export interface PoolOptions {
  name: string;
  upstreams: Upstream[];
  balance: BalanceSpec;
  timeouts: PoolTimeouts;
  passive: PassivePolicy;
  retry: RetryPolicy | null;
  sticky: StickyCookie | null;
  /** In-flight requests per upstream beyond which it counts as full (maxConnections + maxPending). */
  capacity: number;
  slowStartMs: number;
  logger: Logger;
}

export type Selection = Upstream | 'full' | 'none';

export class UpstreamPool {
  readonly name: string;
  /** The algorithm, as written (`'p2c-ewma'`, `'hash:header:x-user'`), for status pages. */
  readonly balance: string;
  readonly upstreams: readonly Upstream[];
  readonly timeouts: PoolTimeouts;
  readonly passive: PassivePolicy;
  readonly retry: RetryPolicy | null;
  readonly sticky: StickyCookie | null;
  private readonly capacity: number;
  private readonly balancer: Balancer;
  private readonly byId: ReadonlyMap<string, Upstream>;
  private readonly logger: Logger;
  private lastPanicLog = 0;

  // Selection context, set just before a synchronous pick (one predicate function for the pool's
  // lifetime instead of a closure per request).
  private now = 0;
  private exclude: readonly Upstream[] | null = null;
  private ignoreHealth = false;
  private readonly accept: Accept = (u) => {
    if (u.state.inflight >= this.capacity || u.state.draining) return false;
    if (this.exclude !== null && this.exclude.includes(u)) return false;
    return this.ignoreHealth || (u.state.healthy && u.state.ejectedUntil <= this.now);
  };

  constructor(o: PoolOptions) {
    this.name = o.name;
    this.balance = typeof o.balance === 'string' ? o.balance : `hash:${o.balance.hash}`;
    this.upstreams = o.upstreams;
    this.timeouts = o.timeouts;
    this.passive = o.passive;
    this.retry = o.retry;
    this.sticky = o.sticky;
    this.capacity = o.capacity;
    this.logger = o.logger;
    this.balancer = createBalancer(o.balance, o.upstreams, { slowStartMs: o.slowStartMs });
    this.byId = new Map(o.upstreams.map((u) => [u.id, u]));
  }

  /** Choose an upstream for `ctx`, skipping `exclude` (upstreams already tried by this request). */
  select(ctx: PickContext, exclude: readonly Upstream[] | null, stickyId: string | null): Selection {
    this.now = ctx.now;
    this.exclude = exclude;
    this.ignoreHealth = false;
    if (stickyId !== null) {
      const pinned = this.byId.get(stickyId);
      if (pinned !== undefined && this.accept(pinned)) return pinned;
    }
    const u = this.balancer.pick(ctx, this.accept);
    if (u !== null) return u;
    return this.fallback(ctx);
  }

  private fallback(ctx: PickContext): Selection {
    let usableButFull = false;
    let untried = false;
    for (const u of this.upstreams) {
      if ((this.exclude !== null && this.exclude.includes(u)) || u.state.draining) continue;
      untried = true;
      if (u.state.healthy && u.state.ejectedUntil <= this.now && u.state.inflight >= this.capacity) usableButFull = true;
    }
    if (!untried) return 'none';
    if (usableButFull) return 'full';
    this.ignoreHealth = true;
    const u = this.balancer.pick(ctx, this.accept);
    this.ignoreHealth = false;
    if (u === null) return 'full';
    if (this.now - this.lastPanicLog >= 1000) {
      this.lastPanicLog = this.now;
      this.logger.warn('pool in panic mode: no healthy upstream, serving from all', { pool: this.name });
    }
    return u;
  }
}

export interface DispatcherOptions {
  connectMs: number;
  maxConnections: number | null;
  /** TLS to an https upstream (verification on unless `rejectUnauthorized` is false). */
  tls?: UpstreamTls;
}

export interface UpstreamTls {
  /** Identity of these settings (file paths + flags), part of the registry key. */
  id: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  servername?: string;
  rejectUnauthorized: boolean;
}

/**
 * Long-lived undici connection pools keyed by origin and connection settings. A reload asks for
 * what the new Plan needs; `retain()` then closes (gracefully: in-flight requests finish) every
 * pool the new Plan no longer uses, and keeps the rest with their warm keep-alive connections.
 */
export class DispatcherRegistry {
  private readonly pools = new Map<string, UndiciPool>();
  private readonly options = new Map<string, DispatcherOptions>();

  private static key(origin: string, opts: DispatcherOptions): string {
    return `${origin}|${opts.connectMs}|${opts.maxConnections ?? ''}|${opts.tls?.id ?? ''}`;
  }

  private static create(origin: string, opts: DispatcherOptions): UndiciPool {
    const t = opts.tls;
    return new UndiciPool(origin, {
      connections: opts.maxConnections,
      pipelining: 1,
      connect: {
        timeout: opts.connectMs,
        ...(t
          ? {
              rejectUnauthorized: t.rejectUnauthorized,
              ...(t.ca ? { ca: [...tls.rootCertificates, t.ca.toString()] } : {}),
              ...(t.cert ? { cert: t.cert } : {}),
              ...(t.key ? { key: t.key } : {}),
              ...(t.servername ? { servername: t.servername } : {}),
            }
          : {}),
      },
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      // Per-request timeouts are passed with each dispatch (they differ per pool).
      headersTimeout: 0,
      bodyTimeout: 0,
      // The proxy, not undici, decides what a response may look like.
      maxResponseSize: -1,
    });
  }

  get(origin: string, opts: DispatcherOptions): UndiciPool {
    const key = DispatcherRegistry.key(origin, opts);
    let p = this.pools.get(key);
    if (p === undefined) {
      p = DispatcherRegistry.create(origin, opts);
      this.pools.set(key, p);
      this.options.set(key, opts);
    }
    return p;
  }

  /**
   * Replace the connection pool for `origin` (all connection settings) with fresh ones, e.g. when
   * DNS says the host moved: new connections resolve again; the old pools drain and close.
   * Returns old → new so callers can repoint upstreams.
   */
  renew(origin: string): Map<UndiciPool, UndiciPool> {
    const swapped = new Map<UndiciPool, UndiciPool>();
    for (const [key, old] of this.pools) {
      if (!key.startsWith(`${origin}|`)) continue;
      const opts = this.options.get(key);
      if (opts === undefined) continue;
      const fresh = DispatcherRegistry.create(origin, opts);
      this.pools.set(key, fresh);
      swapped.set(old, fresh);
      void old.close().catch(() => {});
    }
    return swapped;
  }

  /** Close every dispatcher not in `keep`. Returns when they have drained. */
  async retain(keep: ReadonlySet<UndiciPool>): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const [key, p] of this.pools) {
      if (keep.has(p)) continue;
      this.pools.delete(key);
      this.options.delete(key);
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

/**
 * Choosing an upstream. A Balancer is built once per pool when a Plan compiles and asked once per
 * request (and again per retry). It only chooses among the candidates `accept` lets through:
 * health, ejection, circuit breaking and "already tried" are decided by the caller's predicate,
 * never by the algorithm (Pingora's select_with, Caddy's Available()).
 *
 * One file per algorithm in `algorithms/`, each `satisfies BalancerFactory`; one conformance suite
 * (test/unit/balance/conformance.test.ts) runs them all. `createBalancer()` in
 * `algorithms/index.ts` maps a BalanceSpec to one of them and validates its options once.
 */
import type { Upstream } from './upstream.js';

export interface PickContext {
  /** The client's address (after trustProxies). */
  clientIp: string;
  /** The request path without query (for `{ hash: 'path' }`). */
  path: string;
  /** Header lookup by lower-case name (for `header:NAME` and `cookie:NAME` keys); undefined if absent. */
  header(name: string): string | undefined;
  /** Epoch ms now (one clock read per request). */
  now: number;
}

export type Accept = (u: Upstream) => boolean;

export interface Balancer {
  /**
   * The upstream to use, or null when no candidate is accepted. Must try every upstream `accept`
   * would take before giving up, and must be bounded (no unbounded loops).
   */
  pick(ctx: PickContext, accept: Accept): Upstream | null;
}

/** Effective weight during slow start: ramps from 10% to 100% of `weight` over `slowStartMs`. */
export function effectiveWeight(u: Upstream, now: number, slowStartMs: number): number {
  if (slowStartMs <= 0) return u.weight;
  const age = now - u.state.usableSince;
  if (age >= slowStartMs) return u.weight;
  return u.weight * Math.max(0.1, age / slowStartMs);
}

/** Options every balancer takes. */
export interface BalancerOptions {
  /** Ramp a recovered or new upstream's weight over this many ms (see `effectiveWeight`). 0 = off. */
  slowStartMs?: number;
}

/**
 * What each algorithm class is: built once per pool from its upstreams (the order is the pool's
 * order and never changes for the life of the balancer), then asked per request.
 * Files end with `XBalancer satisfies BalancerFactory` as a compile-time interface guard.
 */
export type BalancerFactory<O extends BalancerOptions = BalancerOptions> = new (upstreams: readonly Upstream[], opts: O) => Balancer;

// The algorithms live one per file in algorithms/; re-exported so existing imports keep working.
export { RoundRobinBalancer } from './algorithms/round-robin.js';
export { LeastConnBalancer } from './algorithms/least-conn.js';
export { RandomBalancer } from './algorithms/random.js';
export { P2cEwmaBalancer } from './algorithms/p2c-ewma.js';
export { HashBalancer } from './algorithms/hash.js';

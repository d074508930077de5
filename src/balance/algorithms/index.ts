/**
 * From a pool's BalanceSpec to a Balancer. Everything about the options is checked here, once,
 * when a Plan compiles (undici's factories, Fastify's registration-time errors); `pick()` on the
 * hot path validates nothing. Messages say what was expected and what came.
 *
 * | spec                          | balancer                                   |
 * |-------------------------------|--------------------------------------------|
 * | 'round-robin', 'weighted'     | RoundRobinBalancer (smooth weighted, nginx) |
 * | 'least-conn'                  | LeastConnBalancer                          |
 * | 'random'                      | RandomBalancer (weighted)                  |
 * | 'p2c-ewma'                    | P2cEwmaBalancer                            |
 * | { hash: 'ip' | 'path' | 'header:NAME' | 'cookie:NAME' } | HashBalancer (consistent, bounded load) |
 */
import type { Balancer } from '../balancer.js';
import type { BalanceSpec } from '../../config/spec.js';
import type { Upstream } from '../upstream.js';
import { HashBalancer, POINTS_PER_WEIGHT, pointsFor } from './hash.js';
import { LeastConnBalancer } from './least-conn.js';
import { P2cEwmaBalancer } from './p2c-ewma.js';
import { RandomBalancer } from './random.js';
import { RoundRobinBalancer } from './round-robin.js';

export { HashBalancer, LOAD_FACTOR, POINTS_PER_WEIGHT } from './hash.js';
export type { HashBalancerOptions } from './hash.js';
export { LeastConnBalancer } from './least-conn.js';
export { P2cEwmaBalancer } from './p2c-ewma.js';
export { RandomBalancer } from './random.js';
export { RoundRobinBalancer } from './round-robin.js';

export interface CreateBalancerOptions {
  /** Slow-start period in ms (0 = off): a recovered or new upstream's weight ramps over it. */
  slowStartMs: number;
}

/** Most ring points a hash balancer may build (12 bytes each): ~26,000 units of total weight. */
const MAX_RING_POINTS = 1 << 22;
/** A header name as RFC 9110 §5.1 allows (a token). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * The balancer for a pool.
 *
 * @example
 * const b = createBalancer({ hash: 'cookie:sid' }, upstreams, { slowStartMs: 30_000 });
 * const u = b.pick(ctx, (u) => !u.state.isEjected(ctx.now));
 * @throws TypeError when the spec, an upstream weight or the options are not valid.
 */
export function createBalancer(balance: BalanceSpec, upstreams: readonly Upstream[], opts: CreateBalancerOptions): Balancer {
  if (!Array.isArray(upstreams)) throw new TypeError(`expected upstreams to be an array, got ${show(upstreams)}`);
  for (const u of upstreams) {
    if (typeof u?.weight !== 'number' || !Number.isFinite(u.weight) || u.weight <= 0) {
      throw new TypeError(`expected upstream ${show(u?.url)} to have a positive finite weight, got ${show(u?.weight)}`);
    }
  }
  const slowStartMs = opts?.slowStartMs;
  if (typeof slowStartMs !== 'number' || !Number.isFinite(slowStartMs) || slowStartMs < 0) {
    throw new TypeError(`expected opts.slowStartMs to be a non-negative number of milliseconds, got ${show(slowStartMs)}`);
  }
  const o = { slowStartMs };
  switch (balance) {
    case 'round-robin':
    case 'weighted':
      return new RoundRobinBalancer(upstreams, o);
    case 'least-conn':
      return new LeastConnBalancer(upstreams, o);
    case 'random':
      return new RandomBalancer(upstreams, o);
    case 'p2c-ewma':
      return new P2cEwmaBalancer(upstreams, o);
  }
  if (typeof balance === 'object' && balance !== null && 'hash' in balance) {
    const key: unknown = balance.hash;
    const valid =
      key === 'ip' ||
      key === 'path' ||
      (typeof key === 'string' && key.startsWith('header:') && TOKEN.test(key.slice(7))) ||
      (typeof key === 'string' && key.startsWith('cookie:') && TOKEN.test(key.slice(7)));
    if (!valid) {
      throw new TypeError(`expected balance.hash to be 'ip', 'path', 'header:<name>' or 'cookie:<name>', got ${show(key)}`);
    }
    let points = 0;
    for (const u of upstreams) points += pointsFor(u);
    if (points > MAX_RING_POINTS) {
      throw new TypeError(`expected the pool's total weight to be at most ${Math.floor(MAX_RING_POINTS / POINTS_PER_WEIGHT)} for consistent hashing, got ${points / POINTS_PER_WEIGHT}`);
    }
    return new HashBalancer(upstreams, { ...o, key: balance.hash });
  }
  throw new TypeError(
    `expected balance to be 'round-robin', 'weighted', 'least-conn', 'random', 'p2c-ewma' or { hash: … }, got ${show(balance)}`,
  );
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'object' && v !== null) {
    try {
      return JSON.stringify(v);
    } catch {
      return String(v);
    }
  }
  return String(v);
}

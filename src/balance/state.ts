/**
 * What proxykit knows about one upstream, kept across reloads: keyed by pool name + upstream URL,
 * so an unchanged upstream keeps its health verdict, ejection, latency estimate and in-flight
 * count when the config is reloaded (Caddy's usage pool, Envoy's host set).
 *
 * Health checks and passive ejection write here; balancers only read (`available`), never decide
 * health themselves.
 */

import { RetryBudget } from './retry-budget.js';

/**
 * Peak-EWMA decay: the estimate forgets a sample with this time constant. Short enough that one
 * slow response (a GC pause) on a fast upstream stops counting against it within a second or two;
 * a consistently slow upstream keeps its estimate anyway, because every sample re-peaks it.
 */
const EWMA_TAU_MS = 1_500;

export class UpstreamState {
  readonly key: string;
  /** Requests in flight to this upstream (all Plans together). */
  inflight = 0;
  /** Active health verdict. Upstreams start healthy (no traffic is held back before a first probe). */
  healthy = true;
  /** Consecutive passing / failing active probes. */
  probeOk = 0;
  probeFail = 0;
  /** Consecutive passive failures (connect errors, timeouts, resets, failure statuses). */
  failures = 0;
  /** Epoch ms until which the upstream is ejected; 0 when not ejected. */
  ejectedUntil = 0;
  /** How many times in a row it has been ejected (the backoff exponent); reset by a success. */
  ejections = 0;
  /** Epoch ms when it last became usable again (recovered, rejoined, or first seen), for slowStart. */
  usableSince: number;
  /** Taken out of rotation by an operator (admin API): in-flight requests finish, nothing new is sent. */
  draining = false;
  /** Latency estimate in ms (peak EWMA of response-head time); 0 until the first sample. */
  ewmaMs = 0;
  private ewmaAt = 0;

  constructor(key: string, now: number) {
    this.key = key;
    this.usableSince = now;
  }

  isEjected(now: number): boolean {
    return this.ejectedUntil > now;
  }

  /**
   * Record a response-head latency. Peak EWMA (Finagle): a sample above the estimate replaces it
   * at once, so a slowing upstream is noticed immediately; below, it decays towards the sample.
   */
  observeLatency(ms: number, now: number): void {
    if (this.ewmaMs === 0 || ms > this.ewmaMs) {
      this.ewmaMs = ms;
    } else {
      // Samples can arrive out of order (stamped by different requests); never weigh above 1.
      const w = Math.exp(-Math.max(0, now - this.ewmaAt) / EWMA_TAU_MS);
      this.ewmaMs = this.ewmaMs * w + ms * (1 - w);
    }
    if (now > this.ewmaAt) this.ewmaAt = now;
  }
}

/** Long-lived UpstreamStates by key, and per-pool retry budgets; `retain` forgets unused ones. */
export class StateRegistry {
  private readonly states = new Map<string, UpstreamState>();
  private readonly budgets = new Map<string, RetryBudget>();

  /** The pool's retry budget, kept across reloads while its settings stay the same. */
  budget(poolName: string, ratio: number, minPerSecond: number): RetryBudget {
    const key = `${poolName}|${ratio}|${minPerSecond}`;
    let b = this.budgets.get(key);
    if (b === undefined) {
      b = new RetryBudget(ratio, minPerSecond);
      this.budgets.set(key, b);
    }
    return b;
  }

  get(poolName: string, url: string, now: number = Date.now()): UpstreamState {
    const key = `${poolName}|${url}`;
    let s = this.states.get(key);
    if (s === undefined) {
      s = new UpstreamState(key, now);
      this.states.set(key, s);
    }
    return s;
  }

  retain(keep: ReadonlySet<UpstreamState>, keepBudgets: ReadonlySet<RetryBudget>): void {
    for (const [k, s] of this.states) if (!keep.has(s) && s.inflight === 0) this.states.delete(k);
    for (const [k, b] of this.budgets) if (!keepBudgets.has(b)) this.budgets.delete(k);
  }

  get size(): number {
    return this.states.size;
  }
}

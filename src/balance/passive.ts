/**
 * Passive health (outlier detection): real traffic decides. Consecutive failures of one upstream
 * (connect errors, resets, timeouts, failure statuses) eject it for a while; each ejection in a row
 * doubles the period, up to a cap (Envoy's outlier detection, Caddy's PassiveHealthChecks).
 *
 * This module only writes `UpstreamState` (`failures`, `ejectedUntil`, `ejections`,
 * `usableSince`) and logs; it never picks an upstream. Selection reads one predicate, `usable()`,
 * and falls back to serving from every upstream when none is usable (panic mode, done by the pool).
 *
 * Lifecycle of one upstream:
 *
 *   usable ──(failures in a row ≥ `failures`)──▶ ejected for ejectFor × 2^ejections (≤ maxEjectFor)
 *     ▲                                              │
 *     └──(first success after the ejection ended)────┘  ejections reset, usableSince = now (slow start)
 *
 * An ejection that ended makes the upstream usable again at once (no event is needed); a new run of
 * `failures` failures before any success ejects it again, for twice as long.
 */
import type { PassiveSpec } from '../config/spec.js';
import { parseDuration } from '../config/units.js';
import type { Logger } from '../observe/logger.js';
import type { Upstream } from './upstream.js';

/** Consecutive failures that eject, when `passive.failures` is not set. */
export const DEFAULT_PASSIVE_FAILURES = 5;
/** First ejection length, when `passive.ejectFor` is not set (Envoy's base_ejection_time is 30s). */
export const DEFAULT_EJECT_FOR_MS = 30_000;
/** Longest ejection as a multiple of `ejectFor`, when `passive.maxEjectFor` is not set. */
export const DEFAULT_MAX_EJECT_FACTOR = 10;
/** Upstream statuses that count as failures, when `passive.statuses` is not set. */
export const DEFAULT_FAILURE_STATUSES: readonly number[] = [502, 503, 504];

/**
 * May traffic go to `u` now, as far as health is concerned: healthy by active checks and not
 * ejected by passive ones. (Circuit breaking, "already tried" and panic mode are the pool's.)
 */
export function usable(u: Upstream, now: number): boolean {
  return u.state.healthy && !u.state.isEjected(now);
}

/** One pool's passive-health rules, resolved once when the Plan compiles. */
export class PassivePolicy {
  /** Consecutive failures that eject. */
  readonly failures: number;
  readonly ejectForMs: number;
  readonly maxEjectForMs: number;
  readonly statuses: ReadonlySet<number>;
  private readonly logger: Logger;
  private readonly poolName: string;

  /**
   * @param spec the pool's `.passive()` options; `undefined` means all defaults (passive health is
   *   always on: 5 failures, 30s, up to 300s, statuses 502/503/504).
   */
  constructor(spec: PassiveSpec | undefined, logger: Logger, poolName: string) {
    this.failures = spec?.failures ?? DEFAULT_PASSIVE_FAILURES;
    this.ejectForMs = spec?.ejectFor !== undefined ? parseDuration(spec.ejectFor) : DEFAULT_EJECT_FOR_MS;
    this.maxEjectForMs = Math.max(
      this.ejectForMs,
      spec?.maxEjectFor !== undefined ? parseDuration(spec.maxEjectFor) : this.ejectForMs * DEFAULT_MAX_EJECT_FACTOR,
    );
    this.statuses = new Set(spec?.statuses ?? DEFAULT_FAILURE_STATUSES);
    this.logger = logger;
    this.poolName = poolName;
  }

  /** True when an upstream response with `status` counts as a failure of that upstream. */
  isFailureStatus(status: number): boolean {
    return this.statuses.has(status);
  }

  /** Same as the module's `usable(u, now)`. */
  isUsable(u: Upstream, now: number): boolean {
    return usable(u, now);
  }

  /** Length of the next ejection of an upstream ejected `ejections` times in a row already. */
  ejectionLength(ejections: number): number {
    // 2^ejections overflows to Infinity past ~1000; the cap makes that harmless.
    return Math.min(this.ejectForMs * 2 ** ejections, this.maxEjectForMs);
  }

  /**
   * A request to `u` succeeded (a response head whose status is not a failure status). Resets the
   * run of failures; the first success after an ejection ended also resets the backoff and
   * restarts slow start.
   */
  onSuccess(u: Upstream, now: number): void {
    const s = u.state;
    s.failures = 0;
    if (s.ejections === 0 || s.isEjected(now)) return; // never ejected, or a late answer from before the ejection
    const ejections = s.ejections;
    s.ejections = 0;
    s.ejectedUntil = 0;
    s.usableSince = now;
    // Measure it afresh: an estimate from before the ejection would keep p2c-ewma away from it.
    s.ewmaMs = 0;
    this.logger.info('upstream rejoined', { pool: this.poolName, upstream: u.label, ejections });
  }

  /**
   * A request to `u` failed (`reason`: e.g. `'connect ECONNREFUSED'`, `'timeout'`, `'status 503'`).
   * Ejects it when this makes `failures` in a row. Failures while already ejected (answers to
   * requests sent before) are not counted. `poolUpstreams` is the whole pool, to notice when the
   * ejection leaves no usable upstream (panic mode, logged here; served by the pool).
   */
  onFailure(u: Upstream, now: number, reason: string, poolUpstreams: readonly Upstream[]): void {
    const s = u.state;
    if (s.isEjected(now)) return;
    s.failures += 1;
    if (s.failures < this.failures) return;

    const forMs = this.ejectionLength(s.ejections);
    const failures = s.failures;
    s.ejections += 1;
    s.ejectedUntil = now + forMs;
    s.failures = 0;
    // Slow start counts from when it may take traffic again (effective weight stays at its floor until then).
    s.usableSince = s.ejectedUntil;

    const panic = !poolUpstreams.some((o) => o !== u && usable(o, now));
    this.logger.warn('upstream ejected', {
      pool: this.poolName,
      upstream: u.label,
      failures,
      forMs,
      ejections: s.ejections,
      reason,
      ...(panic ? { panic: true } : {}),
    });
    if (panic) {
      this.logger.warn('pool in panic mode: every upstream is unhealthy or ejected, serving from all of them', {
        pool: this.poolName,
        upstreams: poolUpstreams.length,
      });
    }
  }
}

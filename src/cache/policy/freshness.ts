/**
 * Freshness (RFC 9111 §4.2): lifetime (§4.2.1), heuristics (§4.2.2), age (§4.2.3), and whether a
 * stored response may be reused for a request (§4.2, §4.2.4, §5.2.1; RFC 5861).
 */
import type { CachePolicyOptions, Directives, EntryMeta, HeaderList } from '../contracts.js';
import { deltaSeconds, first, joined, DELTA_MAX } from './fields.js';
import { parseHttpDate, parseStrictHttpDate } from './http-date.js';

/**
 * RFC 9110 §15.1 / RFC 9111 §4.2.2: status codes that are heuristically cacheable by default.
 */
export const HEURISTIC_STATUSES: ReadonlySet<number> = new Set([200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501]);

export interface Lifetime {
  /** Seconds. */
  lifetime: number;
  /** No explicit expiration: the heuristic (or the route's default max-age) supplied it. */
  heuristic: boolean;
  /** The response carries an explicit expiration time (s-maxage, max-age or Expires). */
  explicit: boolean;
}

/**
 * RFC 9111 §4.2.1, for a shared cache: s-maxage, else max-age, else Expires − Date, else a
 * heuristic where §4.2.2 allows one. A present but invalid s-maxage / max-age / Expires is an
 * explicit expiration in the past (§4.2.1, §5.3: "invalid … as already expired"), so it never falls
 * through to a heuristic.
 *
 * `dateValue` is the response's Date (ms), already defaulted to the receipt time when absent or
 * invalid.
 */
export function freshnessLifetime(status: number, headers: HeaderList, cc: Directives, dateValue: number, opts: CachePolicyOptions): Lifetime {
  // §5.2.2.10: for a shared cache s-maxage overrides max-age and Expires.
  const sMaxAge = cc.get('s-maxage');
  if (sMaxAge !== undefined) return { lifetime: deltaSeconds(sMaxAge) ?? 0, heuristic: false, explicit: true };
  // §5.2.2.1: max-age overrides Expires (§5.3: "MUST ignore the Expires header field").
  const maxAge = cc.get('max-age');
  if (maxAge !== undefined) return { lifetime: deltaSeconds(maxAge) ?? 0, heuristic: false, explicit: true };
  // §5.3: Expires − Date; an invalid Expires (e.g. "0") means already expired. Expires is a single
  // HTTP-date: two lines of it (or a list) are invalid too, and so is a date off the grammar.
  const expires = joined(headers, 'expires');
  if (expires !== undefined) {
    const at = parseStrictHttpDate(expires.trim(), dateValue);
    const secs = at === null ? 0 : Math.max(0, Math.floor((at - dateValue) / 1000));
    return { lifetime: Math.min(secs, DELTA_MAX), heuristic: false, explicit: true };
  }
  // §4.2.2: heuristics only for heuristically cacheable statuses or an explicit `public`.
  if (!heuristicAllowed(status, cc)) return { lifetime: 0, heuristic: false, explicit: false };
  if (opts.defaultMaxAge !== null) return { lifetime: Math.max(0, Math.floor(opts.defaultMaxAge)), heuristic: true, explicit: false };
  // §4.2.2: "a fraction of the interval since" Last-Modified (10% typical), capped.
  const lm = parseHttpDate(first(headers, 'last-modified'), dateValue);
  if (lm === null || lm >= dateValue) return { lifetime: 0, heuristic: true, explicit: false };
  const secs = Math.floor((((dateValue - lm) / 1000) * opts.heuristicFraction));
  return { lifetime: Math.max(0, Math.min(secs, opts.heuristicMax)), heuristic: true, explicit: false };
}

/** RFC 9111 §4.2.2 / §3: the status is heuristically cacheable, or the response is marked `public`. */
export function heuristicAllowed(status: number, cc: Directives): boolean {
  return HEURISTIC_STATUSES.has(status) || cc.has('public');
}

/**
 * RFC 9111 §5.1: the Age value: the first member of the first line; anything but a non-negative
 * integer is ignored (0). Values past 2^31 are 2^31 (§1.2.2).
 */
export function ageValue(headers: HeaderList): number {
  const raw = first(headers, 'age');
  if (raw === undefined) return 0;
  const comma = raw.indexOf(',');
  const member = (comma === -1 ? raw : raw.slice(0, comma)).trim();
  for (let i = 0; i < member.length; i++) {
    const c = member.charCodeAt(i);
    if (c < 48 || c > 57) return 0;
  }
  return deltaSeconds(member) ?? 0;
}

/**
 * RFC 9111 §4.2.3: corrected_initial_age (seconds, may be fractional) at response time.
 *   apparent_age = max(0, response_time − date_value)
 *   corrected_age_value = age_value + (response_time − request_time)
 *   corrected_initial_age = max(apparent_age, corrected_age_value)
 */
export function correctedInitialAge(ageVal: number, dateValue: number, requestTime: number, responseTime: number): number {
  const apparent = Math.max(0, (responseTime - dateValue) / 1000);
  const corrected = ageVal + Math.max(0, responseTime - requestTime) / 1000;
  return Math.max(apparent, corrected);
}

/** Age in seconds (fractional) at `now`: corrected_initial_age + resident_time (RFC 9111 §4.2.3). */
export function exactAge(meta: EntryMeta, now: number): number {
  const resident = now - meta.responseTime;
  return meta.initialAge + (resident > 0 ? resident / 1000 : 0);
}

/** Current age, whole seconds (RFC 9111 §4.2.3; §5.1 Age is delta-seconds). */
export function currentAge(meta: EntryMeta, now: number): number {
  const a = Math.floor(exactAge(meta, now));
  return a > DELTA_MAX ? DELTA_MAX : a;
}

export type Reuse = 'fresh' | 'stale-ok' | 'stale-while-revalidate' | 'revalidate';

/**
 * Whether a stored response can be reused for a request with these directives at `now`.
 *
 * - Response `no-cache` (§5.2.2.4) and request `no-cache` (§5.2.1.4): always validate.
 * - Request `max-age` (§5.2.1.1): the age must not exceed it; `max-age=0` always validates.
 * - Request `min-fresh` (§5.2.1.3): must stay fresh for at least that many more seconds.
 * - Fresh (§4.2: lifetime > age) → 'fresh'.
 * - Stale: `must-revalidate`, `proxy-revalidate` or `s-maxage` forbid any stale use (§4.2.4,
 *   §5.2.2.2, §5.2.2.8, §5.2.2.10). Otherwise within the response's stale-while-revalidate window
 *   (RFC 5861 §3) → 'stale-while-revalidate'; within the request's `max-stale` (§5.2.1.2; without
 *   a value, any staleness) → 'stale-ok'; else 'revalidate'.
 */
export function reuse(meta: EntryMeta, req: Directives, now: number): Reuse {
  if (meta.noCache) return 'revalidate';
  const age = exactAge(meta, now);
  if (req.size !== 0) {
    if (req.has('no-cache')) return 'revalidate';
    const maxAge = req.get('max-age');
    if (maxAge !== undefined) {
      const n = deltaSeconds(maxAge);
      if (n !== null && (n === 0 || age > n)) return 'revalidate';
    }
    const minFresh = req.get('min-fresh');
    if (minFresh !== undefined) {
      const n = deltaSeconds(minFresh);
      if (n !== null && meta.lifetime - age < n) return 'revalidate';
    }
  }
  if (meta.lifetime > age) return 'fresh';
  if (meta.mustRevalidate) return 'revalidate';
  const staleness = age - meta.lifetime;
  if (meta.staleWhileRevalidate > 0 && staleness < meta.staleWhileRevalidate) return 'stale-while-revalidate';
  if (req.size !== 0) {
    const maxStale = req.get('max-stale');
    if (maxStale !== undefined) {
      if (maxStale === true) return 'stale-ok';
      const n = deltaSeconds(maxStale);
      if (n !== null && staleness <= n) return 'stale-ok';
    }
  }
  return 'revalidate';
}

/**
 * After the origin failed (5xx or unreachable): may this entry be served (RFC 5861 §4; RFC 9111
 * §4.2.4)? Never when the response said no-cache, must-revalidate, proxy-revalidate or s-maxage.
 * Allowed: within the request's own `stale-if-error` (RFC 5861 §4 defines it for requests too);
 * otherwise, unless the request itself demanded validation (`no-cache`), a still-fresh entry, or a
 * stale one within the response's stale-if-error window.
 */
export function mayServeOnError(meta: EntryMeta, req: Directives, now: number): boolean {
  if (meta.noCache || meta.mustRevalidate) return false;
  const staleness = exactAge(meta, now) - meta.lifetime;
  if (req.size !== 0) {
    const sie = req.get('stale-if-error');
    if (sie !== undefined) {
      const n = deltaSeconds(sie);
      if (n !== null && staleness <= n) return true;
    }
    if (req.has('no-cache')) return false;
  }
  if (staleness < 0) return true;
  return meta.staleIfError > 0 && staleness <= meta.staleIfError;
}

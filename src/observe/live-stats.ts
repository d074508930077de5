/**
 * Rolling per-second traffic numbers for the live dashboard.
 *
 * A ring of 60 one-second slots in typed arrays: request count, error count and a fixed
 * log-scale latency histogram (64 buckets, 0.1 ms … 60 s, each ~24% wide) per slot, from which
 * p50/p90/p99 are read. `record()` is O(1) and allocates nothing: it works out the slot from the
 * epoch second, clears the slot when it belongs to an older second, and bumps three integers.
 */
import type { LiveSecond, LiveSnapshot, PoolStatus } from './contracts.js';

/** Seconds kept (the snapshot's window). */
export const WINDOW_SECONDS = 60;
/** Latency histogram buckets per second. */
export const LATENCY_BUCKETS = 64;
/** Bucket 0 holds everything ≤ this (ms). */
export const LATENCY_MIN_MS = 0.1;
/** Bucket 62's upper bound (ms); bucket 63 holds everything slower. */
export const LATENCY_MAX_MS = 60_000;

const LOG_STEP = Math.log(LATENCY_MAX_MS / LATENCY_MIN_MS) / (LATENCY_BUCKETS - 2);
const LAST = LATENCY_BUCKETS - 1;

/** Value reported for a percentile falling in each bucket (ms): the bucket's geometric middle. */
const REPRESENTATIVE = new Float64Array(LATENCY_BUCKETS);
for (let i = 1; i < LAST; i++) REPRESENTATIVE[i] = LATENCY_MIN_MS * Math.exp((i - 0.5) * LOG_STEP);
REPRESENTATIVE[0] = LATENCY_MIN_MS;
REPRESENTATIVE[LAST] = LATENCY_MAX_MS;

/** Histogram bucket of a latency in ms: 0 for ≤ 0.1 ms (and NaN/negatives), 63 for > 60 s. */
export function latencyBucket(ms: number): number {
  if (!(ms > LATENCY_MIN_MS)) return 0;
  if (ms > LATENCY_MAX_MS) return LAST;
  const i = Math.ceil(Math.log(ms / LATENCY_MIN_MS) / LOG_STEP);
  return i < 1 ? 1 : i > LAST - 1 ? LAST - 1 : i;
}

/** Upper bound (ms) of bucket `i` (Infinity for the overflow bucket). */
export function latencyBucketUpper(i: number): number {
  return i >= LAST ? Infinity : LATENCY_MIN_MS * Math.exp(i * LOG_STEP);
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

export class LiveStats {
  /** Epoch second each slot currently holds (-1: never used). */
  private readonly slotSecond = new Float64Array(WINDOW_SECONDS).fill(-1);
  private readonly slotRequests = new Uint32Array(WINDOW_SECONDS);
  private readonly slotErrors = new Uint32Array(WINDOW_SECONDS);
  private readonly slotLatency = new Uint32Array(WINDOW_SECONDS * LATENCY_BUCKETS);
  private totalRequests = 0;
  private totalErrors = 0;
  private open = 0;
  private reloadsOk = 0;
  private reloadsFailed = 0;

  /**
   * A finished request (routed or not). Errors are status ≥ 500 and 0 (proxy error / no response).
   * A record older than the window (its slot already holds a newer second) counts in the totals only.
   */
  record(status: number, ms: number, nowMs: number = Date.now()): void {
    const isError = status >= 500 || status <= 0;
    this.totalRequests++;
    if (isError) this.totalErrors++;
    const sec = Math.floor(nowMs / 1000);
    let slot = sec % WINDOW_SECONDS;
    if (slot < 0) slot += WINDOW_SECONDS;
    const held = this.slotSecond[slot];
    if (held !== sec) {
      if (held > sec) return;
      this.slotSecond[slot] = sec;
      this.slotRequests[slot] = 0;
      this.slotErrors[slot] = 0;
      this.slotLatency.fill(0, slot * LATENCY_BUCKETS, slot * LATENCY_BUCKETS + LATENCY_BUCKETS);
    }
    this.slotRequests[slot]++;
    if (isError) this.slotErrors[slot]++;
    this.slotLatency[slot * LATENCY_BUCKETS + latencyBucket(ms)]++;
  }

  /** +1 when a client connection opens, -1 when it closes. */
  connections(delta: number): void {
    this.open += delta;
    if (this.open < 0) this.open = 0;
  }

  reload(ok: boolean): void {
    if (ok) this.reloadsOk++;
    else this.reloadsFailed++;
  }

  /**
   * The last 60 seconds, oldest first, ending with the current (still filling) second; seconds
   * without traffic are zeros.
   */
  snapshot(pools: PoolStatus[], nowMs: number = Date.now()): LiveSnapshot {
    const end = Math.floor(nowMs / 1000);
    const seconds: LiveSecond[] = [];
    for (let t = end - WINDOW_SECONDS + 1; t <= end; t++) {
      const slot = ((t % WINDOW_SECONDS) + WINDOW_SECONDS) % WINDOW_SECONDS;
      if (this.slotSecond[slot] !== t || this.slotRequests[slot] === 0) {
        seconds.push({ t, requests: 0, errors: 0, p50: 0, p90: 0, p99: 0 });
        continue;
      }
      const n = this.slotRequests[slot];
      const base = slot * LATENCY_BUCKETS;
      seconds.push({
        t,
        requests: n,
        errors: this.slotErrors[slot],
        p50: this.percentile(base, n, 0.5),
        p90: this.percentile(base, n, 0.9),
        p99: this.percentile(base, n, 0.99),
      });
    }
    return {
      now: nowMs,
      seconds,
      totals: {
        requests: this.totalRequests,
        errors: this.totalErrors,
        openConnections: this.open,
        reloadsOk: this.reloadsOk,
        reloadsFailed: this.reloadsFailed,
      },
      pools,
    };
  }

  /** Nearest-rank percentile from one slot's histogram, as the bucket's representative value (ms). */
  private percentile(base: number, n: number, q: number): number {
    // The epsilon keeps float noise in q * n (a hair above an integer) from skipping a rank.
    const rank = Math.max(1, Math.ceil(q * n - 1e-9));
    let seen = 0;
    for (let i = 0; i < LATENCY_BUCKETS; i++) {
      seen += this.slotLatency[base + i];
      if (seen >= rank) return round3(REPRESENTATIVE[i]);
    }
    return round3(REPRESENTATIVE[LAST]);
  }
}

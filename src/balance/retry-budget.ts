/**
 * A retry budget (Finagle's RetryBudget, Envoy's retry_budget): retries may add at most `ratio` of
 * the pool's recent request rate, plus a small per-second allowance so a quiet pool can still retry.
 * Under a full outage every first try fails; without a budget each would be retried `attempts`
 * times and the outage would multiply the load on whatever is left. With it, the extra load is
 * bounded by `ratio × requests + minPerSecond` per second.
 *
 * Counting is in ten one-second buckets (a ten-second sliding window); no timers.
 */
const BUCKETS = 10;

export class RetryBudget {
  private readonly ratio: number;
  private readonly minPerSecond: number;
  private readonly requests = new Float64Array(BUCKETS);
  private readonly retries = new Float64Array(BUCKETS);
  private second = 0;

  constructor(ratio: number, minPerSecond: number) {
    this.ratio = ratio;
    this.minPerSecond = minPerSecond;
  }

  /** Count a first attempt (not a retry). */
  onRequest(now: number): void {
    this.rotate(now);
    this.requests[this.second % BUCKETS]++;
  }

  /** Take one retry from the budget; false when the budget is spent. */
  tryRetry(now: number): boolean {
    this.rotate(now);
    const slot = this.second % BUCKETS;
    let req = 0;
    let ret = 0;
    for (let i = 0; i < BUCKETS; i++) {
      req += this.requests[i];
      ret += this.retries[i];
    }
    const withinRatio = ret < this.ratio * req;
    const withinFloor = this.retries[slot] < this.minPerSecond;
    if (!withinRatio && !withinFloor) return false;
    this.retries[slot]++;
    return true;
  }

  private rotate(now: number): void {
    const sec = Math.floor(now / 1000);
    if (sec === this.second) return;
    const steps = Math.min(BUCKETS, sec - this.second);
    for (let i = 1; i <= steps; i++) {
      const slot = (this.second + i) % BUCKETS;
      this.requests[slot] = 0;
      this.retries[slot] = 0;
    }
    this.second = sec;
  }
}

/**
 * The gate in front of on-demand issuance (a certificate ordered during the first TLS handshake
 * for an unknown name). Without it any client could make us order certificates for arbitrary
 * names pointed at us — Caddy's most reported abuse. The rules:
 *
 * 1. The name must look like a DNS name (no IPs, no wildcards, no empty SNI).
 * 2. A name refused by `ask` or whose issuance failed is not tried again for `retryAfterMs`.
 * 3. `ask(name)` must return true (a throw counts as a refusal).
 * 4. At most `perMinute` issuances start in any 60 s window, across all names.
 */
export type GateVerdict = 'ok' | 'invalid' | 'backoff' | 'refused';

export interface OnDemandGateOptions {
  ask: (name: string) => boolean | Promise<boolean>;
  /** Default 10. */
  perMinute?: number;
  /** Default 10 min. */
  retryAfterMs?: number;
  now?: () => number;
}

const NAME_RE = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;
const IPV4_RE = /^\d+\.\d+\.\d+\.\d+$/;

export function isIssuableName(name: string): boolean {
  return NAME_RE.test(name) && !IPV4_RE.test(name) && !name.includes(':');
}

export class OnDemandGate {
  readonly perMinute: number;
  readonly retryAfterMs: number;
  private readonly ask: (name: string) => boolean | Promise<boolean>;
  private readonly now: () => number;
  /** name → epoch ms until which it is not retried. */
  private readonly backoff = new Map<string, number>();
  /** Start times of recent issuances (sliding 60 s window). */
  private readonly starts: number[] = [];

  constructor(opts: OnDemandGateOptions) {
    this.ask = opts.ask;
    this.perMinute = opts.perMinute ?? 10;
    this.retryAfterMs = opts.retryAfterMs ?? 10 * 60_000;
    this.now = opts.now ?? Date.now;
  }

  /**
   * Rules 1-3: whether `name` may be served by an on-demand certificate at all. The caller
   * dedupes concurrent handshakes for one name before calling, loads a stored certificate if any,
   * and only then takes an issuance slot (`takeSlot`, rule 4).
   */
  async admit(name: string): Promise<GateVerdict> {
    if (!isIssuableName(name)) return 'invalid';
    const until = this.backoff.get(name);
    if (until !== undefined) {
      if (this.now() < until) return 'backoff';
      this.backoff.delete(name);
    }
    let approved = false;
    try {
      approved = (await this.ask(name)) === true;
    } catch {
      approved = false;
    }
    if (!approved) {
      this.fail(name);
      return 'refused';
    }
    return 'ok';
  }

  /** Rule 4: takes one issuance slot of the per-minute budget; false when it is used up. */
  takeSlot(): boolean {
    const now = this.now();
    while (this.starts.length > 0 && now - this.starts[0]! >= 60_000) this.starts.shift();
    if (this.starts.length >= this.perMinute) return false;
    this.starts.push(now);
    return true;
  }

  /** Puts `name` in backoff (refused, or its issuance failed). */
  fail(name: string): void {
    this.backoff.set(name, this.now() + this.retryAfterMs);
    if (this.backoff.size > 10_000) {
      // Bound memory under a flood of random SNI names: drop expired entries, then the oldest.
      const now = this.now();
      for (const [n, t] of this.backoff) if (t <= now) this.backoff.delete(n);
      for (const n of this.backoff.keys()) {
        if (this.backoff.size <= 10_000) break;
        this.backoff.delete(n);
      }
    }
  }

  inBackoff(name: string): boolean {
    const until = this.backoff.get(name);
    return until !== undefined && this.now() < until;
  }
}

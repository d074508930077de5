/**
 * When to renew, how long to wait after a failure, and what a failure was (CertMagic's
 * `maintain.go` + `async.go`, as small pure functions plus one ticker).
 */

/**
 * A certificate is due for renewal in the last third of its lifetime (CertMagic's
 * `DefaultRenewalWindowRatio`). For a 90-day Let's Encrypt certificate that is 30 days before
 * expiry: enough for weeks of retries when the CA or DNS is down, and early enough that a
 * CA-side problem (revocation wave, outage) is noticed long before visitors are.
 */
export const RENEWAL_WINDOW_RATIO = 1 / 3;

/** Production check interval (CertMagic scans every 10 min); each tick adds up to 10 % jitter. */
export const DEFAULT_CHECK_INTERVAL_MS = 10 * 60_000;

const s = 1000;
const m = 60 * s;
const h = 60 * m;

/**
 * Waits between failed attempts for one name, by attempt number (CertMagic's `retryIntervals`):
 * quick at first, for a transient DNS or network blip, then backing off so a persistent failure
 * does not burn the CA's failed-validation limit (Let's Encrypt: 5 failures per account, host and
 * hour). The last entry repeats.
 */
export const RETRY_INTERVALS_MS: readonly number[] = [
  1 * m, 2 * m, 2 * m, 5 * m, 10 * m, 10 * m, 10 * m, 20 * m, 20 * m, 20 * m,
  30 * m, 30 * m, 1 * h, 1 * h, 2 * h, 3 * h, 6 * h,
];

/** The instant renewal becomes due: notAfter − lifetime × ratio. */
export function renewalTime(notBefore: Date, notAfter: Date, ratio = RENEWAL_WINDOW_RATIO): number {
  const nb = notBefore.getTime();
  const na = notAfter.getTime();
  const lifetime = Math.max(0, na - nb);
  return na - lifetime * ratio;
}

/** True when the certificate is in its renewal window (or expired). */
export function needsRenewal(notBefore: Date, notAfter: Date, now = Date.now(), ratio = RENEWAL_WINDOW_RATIO): boolean {
  return now >= renewalTime(notBefore, notAfter, ratio);
}

/**
 * Delay before retry number `attempt` (1 = the first retry after the first failure), from the
 * table; never shorter than a CA-given `retryAfterMs` (Retry-After on a rate limit, RFC 8555 §6.6).
 */
export function retryDelay(attempt: number, table: readonly number[] = RETRY_INTERVALS_MS, retryAfterMs?: number): number {
  const i = Math.min(Math.max(1, Math.floor(attempt)), table.length) - 1;
  const base = table[i] ?? 60_000;
  return retryAfterMs !== undefined && retryAfterMs > base ? retryAfterMs : base;
}

/** A ticker delay: `intervalMs` plus up to `jitterRatio` of it, so fleets don't tick in step. */
export function jittered(intervalMs: number, jitterRatio = 0.1, rand = Math.random): number {
  return Math.round(intervalMs + intervalMs * jitterRatio * rand());
}

// ---------------------------------------------------------------------------------------------
// Failures

/**
 * - `dns`: the CA could not resolve the name, or the DNS-01 provider failed
 * - `challenge`: the CA reached us but the answer was wrong/unreachable (firewall, wrong host,
 *   another server answering port 80/443)
 * - `rate-limit`: the CA said `urn:ietf:params:acme:error:rateLimited` / HTTP 429
 * - `ca-unreachable`: no usable answer from the ACME directory (network, TLS, 5xx)
 * - `config`: our side cannot ever succeed as configured (wildcard without DNS-01, a name the CA
 *   refuses by policy); not retried until the config changes
 * - `other`
 */
export type AcmeFailureKind = 'dns' | 'challenge' | 'rate-limit' | 'ca-unreachable' | 'config' | 'other';

export interface AcmeProblem {
  /** RFC 8555 problem type, e.g. `urn:ietf:params:acme:error:rateLimited`. */
  type?: string;
  detail?: string;
  status?: number;
  /** From a Retry-After header, ms. */
  retryAfterMs?: number;
}

export interface ClassifiedFailure {
  kind: AcmeFailureKind;
  /** One line for the log: what failed and why. */
  message: string;
  /** False for `config` failures and NoRetryError. */
  retry: boolean;
  retryAfterMs?: number;
  /** The ACME problem type or Node error code, when known. */
  code?: string;
}

/** Thrown (or wrapped) when retrying cannot help (CertMagic's `ErrNoRetry`). */
export class NoRetryError extends Error {
  readonly kind: AcmeFailureKind;
  constructor(message: string, kind: AcmeFailureKind = 'config') {
    super(message);
    this.name = 'NoRetryError';
    this.kind = kind;
  }
}

/** A challenge that the CA marked invalid, with the CA's problem document. */
export class ChallengeError extends Error {
  readonly problem: AcmeProblem;
  readonly challengeType: string;
  readonly identifier: string;
  constructor(identifier: string, challengeType: string, problem: AcmeProblem) {
    super(`${challengeType} challenge for ${identifier} failed: ${problem.detail ?? problem.type ?? 'invalid'}`);
    this.name = 'ChallengeError';
    this.problem = problem;
    this.challengeType = challengeType;
    this.identifier = identifier;
  }
}

/** The DNS-01 provider (user code) threw. */
export class DnsProviderError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DnsProviderError';
  }
}

const ACME_ERR = 'urn:ietf:params:acme:error:';

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND',
  'EPIPE', 'ECONNABORTED', 'UND_ERR_CONNECT_TIMEOUT', 'ERR_SOCKET_CONNECTION_TIMEOUT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * Classifies an issuance failure. `problem` is the last ACME problem document the CA sent during
 * the attempt and `transport` the last network error (acme-client drops both from its errors; the
 * issuer captures them per attempt).
 */
export function classifyAcmeError(err: unknown, ctx: { problem?: AcmeProblem; transport?: { code?: string; message: string } } = {}): ClassifiedFailure {
  const msg = err instanceof Error ? err.message : String(err);
  if (err instanceof NoRetryError) return { kind: err.kind, message: msg, retry: false };
  if (err instanceof DnsProviderError) return { kind: 'dns', message: msg, retry: true };
  if (err instanceof ChallengeError) {
    const t = err.problem.type ?? '';
    const kind: AcmeFailureKind = t === `${ACME_ERR}dns` ? 'dns' : 'challenge';
    return { kind, message: `${msg}${t ? ` (${t})` : ''}`, retry: true, code: t || undefined };
  }
  const p = ctx.problem;
  if (p?.type === `${ACME_ERR}rateLimited` || p?.status === 429) {
    return {
      kind: 'rate-limit',
      message: `CA rate limit: ${p.detail ?? msg}`,
      retry: true,
      retryAfterMs: p.retryAfterMs,
      code: p.type ?? 'HTTP 429',
    };
  }
  if (p?.type === `${ACME_ERR}dns`) return { kind: 'dns', message: `CA DNS lookup failed: ${p.detail ?? msg}`, retry: true, code: p.type };
  if (p?.type === `${ACME_ERR}rejectedIdentifier` || p?.type === `${ACME_ERR}unsupportedIdentifier` || p?.type === `${ACME_ERR}caa`) {
    // caa: the domain's CAA records forbid this CA; rejectedIdentifier: CA policy. Retrying the
    // same order cannot help, but DNS records can change, so retry on the slow end of the table.
    return { kind: 'config', message: `CA refused the name: ${p.detail ?? msg} (${p.type})`, retry: true, code: p.type };
  }
  if (p?.status !== undefined && p.status >= 500) {
    return { kind: 'ca-unreachable', message: `CA error HTTP ${p.status}: ${p.detail ?? msg}`, retry: true, code: p.type };
  }
  const code = ctx.transport?.code ?? (err as NodeJS.ErrnoException)?.code;
  if ((code && UNREACHABLE_CODES.has(code)) || ctx.transport) {
    return {
      kind: 'ca-unreachable',
      message: `CA unreachable: ${ctx.transport?.message ?? msg}${code ? ` (${code})` : ''}`,
      retry: true,
      code,
    };
  }
  if (p) return { kind: 'other', message: `CA error: ${p.detail ?? msg}${p.type ? ` (${p.type})` : ''}`, retry: true, code: p.type };
  return { kind: 'other', message: msg, retry: true };
}

// ---------------------------------------------------------------------------------------------
// Ticker

/**
 * Calls `check` every `intervalMs` (+ jitter), never overlapping itself. `stop()` waits for a
 * running check. Timers are unref'd: the ticker alone keeps no process alive.
 */
export class RenewalTicker {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly check: () => Promise<void>,
    private readonly intervalMs = DEFAULT_CHECK_INTERVAL_MS,
    private readonly jitterRatio = 0.1,
  ) {}

  start(): void {
    if (this.timer || this.stopped) return;
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.check()
        .catch(() => {})
        .finally(() => {
          this.running = null;
          this.schedule();
        });
    }, jittered(this.intervalMs, this.jitterRatio));
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }
}

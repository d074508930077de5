/**
 * The ACME issuer: obtains, stores, loads and renews certificates for names, one certificate per
 * name (like CertMagic: a failure for one name never holds back another), and answers the
 * challenges while an order is pending.
 *
 * Flow for one name (RFC 8555 §7.4):
 *   lock `issue_cert_<issuer>_<name>` → re-check storage (another process may have just done it)
 *   → newOrder → for each pending authorization: publish the answer of the preferred challenge
 *   type the CA offers, respond, wait for the authorization to be valid (the answer stays
 *   published until then: the CA validates from several vantage points), withdraw
 *   → finalize with a CSR for a fresh ECDSA P-256 key → download → store (atomic, key 0600)
 *   → unlock → install (`onCertificate`).
 *
 * When to renew: in the window the CA suggests through ACME Renewal Information (ari.ts, RFC 9773)
 * when its directory has `renewalInfo`, asked about every new certificate and again after the
 * CA's Retry-After; otherwise, or when that fails, in the last third of the lifetime (renewal.ts).
 *
 * Failures never throw out of `manage`/`onDemand`: they are classified (renewal.ts), logged with
 * the next retry time, and retried on the `RETRY_INTERVALS_MS` schedule while the current
 * certificate keeps being served. Every event also goes through one `emit` (to `onEvent` and
 * the `proxykit:tls:acme` diagnostics channel).
 */
import diagnostics from 'node:diagnostics_channel';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type tls from 'node:tls';
import acme from 'acme-client';
import type { AcmeSpec } from '../../config/spec.js';
import { parseDuration } from '../../config/units.js';
import type { Logger } from '../../observe/logger.js';
import { forgetAccountUrl, loadOrRegisterAccount } from './account.js';
import { AriClient, ariCertId, chooseRenewalTime, type SuggestedWindow } from './ari.js';
import { ChallengeResponders, type ChallengeType } from './challenges.js';
import { attemptTrace, setupAcmeClient, type AttemptTrace } from './client.js';
import { StorageKeys } from './keys.js';
import { OnDemandGate, type GateVerdict } from './on-demand.js';
import {
  ChallengeError,
  DEFAULT_CHECK_INTERVAL_MS,
  NoRetryError,
  RENEWAL_WINDOW_RATIO,
  RETRY_INTERVALS_MS,
  RenewalTicker,
  classifyAcmeError,
  needsRenewal,
  renewalTime,
  retryDelay,
  type ClassifiedFailure,
} from './renewal.js';
import { DEFAULT_LOCK_TTL_MS, type CertStorage } from './storage.js';

export const LETS_ENCRYPT_DIRECTORY = acme.directory.letsencrypt.production;

// A type alias (not an interface) so it is assignable to `Record<string, unknown>`.
export type CertificateMeta = {
  notBefore: Date;
  notAfter: Date;
  /** The issuing CA's common name (e.g. `R11`, `Pebble Intermediate CA 5bd5e4`). */
  issuer: string;
};

export type AcmeEvent =
  | { type: 'account_registered'; directory: string; email: string }
  | { type: 'cert_loaded'; name: string; notAfter: Date }
  | { type: 'cert_obtaining'; name: string; renewal: boolean; attempt: number }
  | { type: 'order_created'; name: string; url: string }
  | { type: 'cert_obtained'; name: string; renewal: boolean; notAfter: Date }
  | { type: 'cert_failed'; name: string; renewal: boolean; failure: ClassifiedFailure; attempt: number; retryAt?: Date }
  | { type: 'on_demand_denied'; name: string; reason: GateVerdict | 'rate-limited' };

export const ACME_DIAGNOSTICS_CHANNEL = 'proxykit:tls:acme';
/** A CA without `renewalInfo` is asked again this long after (it may add ARI). */
const ARI_RECHECK_DIRECTORY_MS = 24 * 3600_000;
/** An ARI window renews a certificate no sooner than this after its notBefore (or a tenth of its lifetime). */
const ARI_MIN_AGE_MS = 10 * 60_000;
const channel = diagnostics.channel(ACME_DIAGNOSTICS_CHANNEL);

export interface AcmeIssuerOptions {
  spec: AcmeSpec;
  storage: CertStorage;
  logger: Logger;
  /** Called with every certificate to serve (loaded from storage, obtained or renewed). */
  onCertificate(names: string[], certPem: string, keyPem: string, meta: CertificateMeta): void;
  /** Every issuer event (also published on the `proxykit:tls:acme` diagnostics channel). */
  onEvent?(event: AcmeEvent): void;
  /** How often to look for certificates due for renewal. Default 10 min (+ up to 10 % jitter). */
  renewCheckIntervalMs?: number;
  /** Renew in the last `ratio` of the lifetime. Default 1/3. */
  renewalWindowRatio?: number;
  /** Waits after consecutive failures of one name. Default `RETRY_INTERVALS_MS` (1m … 6h). */
  retryIntervalsMs?: readonly number[];
  /** Issuance lock lease. Default 20 s. */
  lockTtlMs?: number;
  /** Orders in flight at once (a config with hundreds of new names does not burst the CA). Default 4. */
  maxConcurrentOrders?: number;
  /** acme-client polling of pending authorizations/orders. Default 500 ms doubling to 5 s, 15 polls. */
  poll?: { attempts?: number; minMs?: number; maxMs?: number };
  /**
   * ACME Renewal Information (RFC 9773): when the CA's directory has `renewalInfo`, renew in the
   * window it suggests instead of by `renewalWindowRatio`. Default true.
   */
  ari?: boolean;
}

interface Installed extends CertificateMeta {
  certPem: string;
  keyPem: string;
}

interface Managed {
  name: string;
  /** Added by on-demand issuance (not by config). */
  onDemand: boolean;
  cert?: Installed;
  job?: Promise<boolean>;
  failures: number;
  nextAttemptAt: number;
  retryTimer?: NodeJS.Timeout;
  lastError?: ClassifiedFailure;
  /** A `config` failure: not retried until the name is managed again. */
  stopped?: boolean;
  /** The challenge type that failed last (tried last next time). */
  avoid?: ChallengeType;
  /** ARI state for `cert` (dropped when the certificate changes). */
  ari?: AriState;
  /** The ARI request in flight. */
  ariJob?: Promise<void>;
  /** Fires at an ARI-chosen renewal time that comes before the next ticker check. */
  ariTimer?: NodeJS.Timeout;
}

interface AriState {
  /** The certificate this is about. */
  certPem: string;
  /** Its ARI identifier (null: it has none, e.g. no Authority Key Identifier). */
  certId: string | null;
  /** The CA's window and the time chosen in it; absent until a valid answer. */
  window?: SuggestedWindow;
  renewAt?: number;
  /** Do not ask the CA again before this. */
  nextPollAt: number;
  /** Consecutive failed requests (for backoff). */
  failures: number;
}

export interface ManagedStatus {
  name: string;
  onDemand: boolean;
  notAfter?: Date;
  renewAt?: Date;
  issuer?: string;
  obtaining: boolean;
  lastError?: { kind: string; message: string };
  nextAttemptAt?: Date;
  /** What `renewAt` comes from: the CA's renewal information (ARI) or the lifetime rule. */
  renewalSource?: 'ari' | 'lifetime';
  /** The CA's suggested renewal window (ARI). */
  ariWindow?: { start: Date; end: Date };
}

/** `Example.COM.` → `example.com`. */
export function normalizeName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

function issuerName(x: X509Certificate): string {
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(x.issuer);
  return cn ? cn[1]! : x.issuer.replace(/\n/g, ', ');
}

/** Parses a stored or downloaded certificate; null when unusable for `name`. */
export function inspectCertificate(name: string, certPem: string, keyPem: string): Installed | null {
  try {
    const leaf = new X509Certificate(certPem); // first certificate of the chain
    if (!leaf.checkPrivateKey(createPrivateKey(keyPem))) return null;
    const sans = (leaf.subjectAltName ?? '').split(/,\s*/).map((s) => s.replace(/^DNS:/i, '').toLowerCase());
    if (!sans.includes(name)) return null;
    return {
      certPem,
      keyPem,
      notBefore: new Date(leaf.validFrom),
      notAfter: new Date(leaf.validTo),
      issuer: issuerName(leaf),
    };
  } catch {
    return null;
  }
}

export class AcmeIssuer {
  readonly directory: string;
  private readonly spec: AcmeSpec;
  private readonly storage: CertStorage;
  private readonly logger: Logger;
  private readonly opts: AcmeIssuerOptions;
  private readonly responders: ChallengeResponders;
  private readonly gate: OnDemandGate | null;
  private readonly managed = new Map<string, Managed>();
  /** Concurrent on-demand handshakes for one name share this. */
  private readonly demand = new Map<string, Promise<boolean>>();
  private readonly ticker: RenewalTicker;
  private readonly abort = new AbortController();
  private readonly ratio: number;
  private readonly retryTable: readonly number[];
  private readonly lockTtlMs: number;
  private clientP: Promise<acme.Client> | null = null;
  private closed = false;
  /** Order slots (see `maxConcurrentOrders`): free count and waiters. */
  private orderSlots: number;
  private readonly orderQueue: Array<() => void> = [];
  /** ARI with this issuer's CA; null when turned off. */
  private readonly ari: AriClient | null;
  /** The CA's `renewalInfo` URL as last seen: undefined until the directory was read. */
  private ariUrl: string | null | undefined = undefined;
  private readonly checkIntervalMs: number;

  constructor(opts: AcmeIssuerOptions) {
    setupAcmeClient();
    this.opts = opts;
    this.spec = opts.spec;
    this.directory = opts.spec.directory ?? LETS_ENCRYPT_DIRECTORY;
    this.storage = opts.storage;
    this.logger = opts.logger;
    this.responders = new ChallengeResponders(opts.spec.dns);
    this.ratio = opts.renewalWindowRatio ?? RENEWAL_WINDOW_RATIO;
    this.retryTable = opts.retryIntervalsMs?.length ? opts.retryIntervalsMs : RETRY_INTERVALS_MS;
    this.lockTtlMs = opts.lockTtlMs ?? DEFAULT_LOCK_TTL_MS;
    this.orderSlots = Math.max(1, opts.maxConcurrentOrders ?? 4);
    const od = opts.spec.onDemand;
    this.gate = od
      ? new OnDemandGate({
          ask: od.ask,
          perMinute: od.perMinute,
          retryAfterMs: od.retryAfter === undefined ? undefined : parseDuration(od.retryAfter),
        })
      : null;
    this.checkIntervalMs = opts.renewCheckIntervalMs ?? DEFAULT_CHECK_INTERVAL_MS;
    this.ticker = new RenewalTicker(() => this.maintain(), this.checkIntervalMs);
    this.ari = opts.ari === false ? null : new AriClient(this.directory, this.abort.signal);
  }

  // ------------------------------------------------------------------------------------------
  // Public API

  /**
   * Sets the names to keep certificates for (the whole set: config names managed before and not
   * in `names` stop being renewed; on-demand names are kept). Installs every valid stored
   * certificate (`onCertificate`) before resolving, and starts obtaining missing or due ones in
   * the background. Never rejects for CA or storage-read problems (they are logged and retried).
   */
  async manage(names: string[]): Promise<void> {
    if (this.closed) return;
    const wanted = new Set(names.map(normalizeName).filter((n) => n !== ''));
    this.unmanage([...this.managed.values()].filter((m) => !m.onDemand && !wanted.has(m.name)).map((m) => m.name));
    const fresh: Managed[] = [];
    for (const name of wanted) {
      const cur = this.managed.get(name);
      if (cur) {
        cur.onDemand = false;
        if (cur.stopped) {
          // Managed again (e.g. config reloaded): give a stopped name a new chance.
          cur.stopped = false;
          cur.failures = 0;
          cur.nextAttemptAt = 0;
          fresh.push(cur);
        }
        continue;
      }
      const m: Managed = { name, onDemand: false, failures: 0, nextAttemptAt: 0 };
      this.managed.set(name, m);
      fresh.push(m);
    }
    await Promise.all(fresh.map((m) => this.loadFromStorage(m)));
    for (const m of fresh) {
      if (this.closed) return;
      if (!m.cert) void this.startJob(m);
      else void this.checkRenewal(m);
    }
    this.ticker.start();
  }

  /** Stops maintaining `names` (their stored certificates stay; installed ones are the caller's). */
  unmanage(names: string[]): void {
    for (const raw of names) {
      const name = normalizeName(raw);
      const m = this.managed.get(name);
      if (!m) continue;
      if (m.retryTimer) clearTimeout(m.retryTimer);
      if (m.ariTimer) clearTimeout(m.ariTimer);
      this.managed.delete(name);
    }
  }

  /** True when `name` is managed by this issuer (config or on-demand). */
  has(name: string): boolean {
    return this.managed.has(normalizeName(name));
  }

  /** HTTP-01: the key authorization for `token`, while its challenge is pending. */
  httpChallenge(token: string): string | null {
    return this.responders.httpChallenge(token);
  }

  /**
   * TLS-ALPN-01: the challenge certificate for `servername`, while its challenge is pending. The
   * listener must use it only for handshakes offering ALPN `acme-tls/1` (and negotiate that).
   */
  alpnChallengeContext(servername: string): tls.SecureContext | null {
    return this.responders.alpnChallengeContext(normalizeName(servername));
  }

  /** True while any TLS-ALPN-01 challenge is pending. */
  get alpnChallengePending(): boolean {
    return this.responders.alpnPending;
  }

  /**
   * On-demand TLS: called during a handshake for a name without a certificate. Resolves true
   * once a certificate for it is installed (`onCertificate` has run), false when it may not or
   * could not be issued (no `onDemand` config, invalid name, `ask` refused, name in backoff after
   * a refusal/failure, per-minute budget used up, CA failure). Never rejects. Concurrent calls
   * for one name share one issuance.
   */
  onDemand(servername: string): Promise<boolean> {
    const name = normalizeName(servername);
    if (!this.gate || this.closed || !name) return Promise.resolve(false);
    const m = this.managed.get(name);
    if (m?.cert && Date.now() < m.cert.notAfter.getTime()) return Promise.resolve(true);
    const shared = this.demand.get(name);
    if (shared) return shared;
    const p = this.onDemandOnce(name)
      .catch((err: unknown) => {
        this.logger.error(`on-demand issuance for ${name} failed: ${(err as Error)?.message ?? err}`, { name });
        return false;
      })
      .finally(() => this.demand.delete(name));
    this.demand.set(name, p);
    return p;
  }

  /** What is managed, for the admin API. */
  status(): ManagedStatus[] {
    return [...this.managed.values()].map((m) => {
      const ari = m.cert ? this.ariFor(m, m.cert) : undefined;
      return {
        name: m.name,
        onDemand: m.onDemand,
        notAfter: m.cert?.notAfter,
        renewAt: m.cert ? new Date(this.renewAtOf(m, m.cert)) : undefined,
        issuer: m.cert?.issuer,
        obtaining: m.job !== undefined,
        lastError: m.lastError ? { kind: m.lastError.kind, message: m.lastError.message } : undefined,
        nextAttemptAt: m.nextAttemptAt ? new Date(m.nextAttemptAt) : undefined,
        renewalSource: m.cert ? (ari?.renewAt !== undefined ? 'ari' : 'lifetime') : undefined,
        ariWindow: ari?.window ? { start: new Date(ari.window.start), end: new Date(ari.window.end) } : undefined,
      };
    });
  }

  /**
   * Stops renewals and retries. In-flight orders are abandoned after at most `graceMs` (their
   * locks are released when they settle; nothing is installed after close).
   */
  async close(graceMs = 5000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort(new Error('ACME issuer closed'));
    for (const m of this.managed.values()) {
      if (m.retryTimer) clearTimeout(m.retryTimer);
      if (m.ariTimer) clearTimeout(m.ariTimer);
    }
    this.orderQueue.splice(0).forEach((wake) => wake()); // queued orders see `closed` and give up
    const jobs = [...this.managed.values()].map((m) => m.job).filter((j): j is Promise<boolean> => !!j);
    let t: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([this.ticker.stop(), ...jobs, ...this.demand.values()]),
      new Promise<void>((r) => {
        t = setTimeout(r, graceMs);
        t.unref();
      }),
    ]);
    clearTimeout(t);
  }

  // ------------------------------------------------------------------------------------------
  // Internals

  private emit(event: AcmeEvent): void {
    if (channel.hasSubscribers) channel.publish(event);
    try {
      this.opts.onEvent?.(event);
    } catch {
      // an observer's bug must not break issuance
    }
  }

  /** Due by the lifetime rule alone (for a certificate nothing else is known about). */
  private due(c: CertificateMeta): boolean {
    return needsRenewal(c.notBefore, c.notAfter, Date.now(), this.ratio);
  }

  /** The ARI state of `m` when it is about `c`. */
  private ariFor(m: Managed, c: Installed): AriState | undefined {
    return m.ari !== undefined && m.ari.certPem === c.certPem ? m.ari : undefined;
  }

  /** When `c` (m's certificate) is to be renewed: in the CA's ARI window if known, else by lifetime. */
  private renewAtOf(m: Managed, c: Installed): number {
    return this.ariFor(m, c)?.renewAt ?? renewalTime(c.notBefore, c.notAfter, this.ratio);
  }

  /** True when `c` is due for renewal (ARI first, then the lifetime rule), or expired. */
  private dueFor(m: Managed, c: Installed): boolean {
    const now = Date.now();
    return now >= this.renewAtOf(m, c) || now >= c.notAfter.getTime();
  }

  private install(m: Managed, c: Installed): void {
    if (this.closed || this.managed.get(m.name) !== m) return; // closed, or unmanaged meanwhile
    m.cert = c;
    this.opts.onCertificate([m.name], c.certPem, c.keyPem, { notBefore: c.notBefore, notAfter: c.notAfter, issuer: c.issuer });
    // RFC 9773 §4.3: ask about a new certificate right away (in the background).
    if (this.ari !== null) void this.refreshAri(m);
  }

  /** Renew `m` now if it is due, asking the CA's renewal information first when it is time to. */
  private async checkRenewal(m: Managed): Promise<void> {
    if (m.cert && this.ari !== null) await this.refreshAri(m);
    if (this.closed || this.managed.get(m.name) !== m || m.job || m.stopped || Date.now() < m.nextAttemptAt) return;
    if (!m.cert || this.dueFor(m, m.cert)) void this.startJob(m);
  }

  /**
   * Fetches ARI for m's certificate when it is time to (a new certificate, or Retry-After passed).
   * Never rejects: a CA without `renewalInfo`, a failed request or an invalid answer leaves the
   * lifetime rule (or the last valid window) in force, and is logged.
   */
  private refreshAri(m: Managed): Promise<void> {
    const c = m.cert;
    if (!c || this.ari === null || this.closed) return Promise.resolve();
    let st = this.ariFor(m, c);
    if (st && Date.now() < st.nextPollAt) return Promise.resolve();
    if (m.ariJob) return m.ariJob;
    if (!st) {
      st = { certPem: c.certPem, certId: ariCertId(c.certPem), nextPollAt: 0, failures: 0 };
      m.ari = st;
      if (m.ariTimer) clearTimeout(m.ariTimer);
      m.ariTimer = undefined;
    }
    const state = st;
    // Outside any issuance attempt's trace: these requests are not part of an order.
    const job = attemptTrace.exit(() => this.fetchAri(m, c, state)).finally(() => {
      if (m.ariJob === job) m.ariJob = undefined;
    });
    m.ariJob = job;
    return job;
  }

  private async fetchAri(m: Managed, c: Installed, st: AriState): Promise<void> {
    const ari = this.ari!;
    const fields = { name: m.name, directory: this.directory };
    let base: string | null;
    try {
      base = await ari.renewalInfoUrl();
    } catch (err) {
      st.failures++;
      st.nextPollAt = Date.now() + Math.min(6 * 3600_000, 60_000 * 2 ** Math.min(st.failures - 1, 9));
      this.logger.warn(`could not read the ACME directory for renewal information (${(err as Error)?.message ?? err}); renewing ${m.name} by its lifetime for now`, fields);
      return;
    }
    if (base !== this.ariUrl) {
      if (base === null) this.logger.debug('the ACME CA offers no renewal information (ARI); renewing at 2/3 of each certificate’s lifetime', { directory: this.directory });
      else this.logger.debug(`the ACME CA offers renewal information (ARI) at ${base}`, { directory: this.directory });
      this.ariUrl = base;
    }
    if (base === null || st.certId === null) {
      if (base !== null) this.logger.debug(`certificate for ${m.name} has no Authority Key Identifier: no renewal information, renewing by its lifetime`, fields);
      // Look at the directory again later (a CA may add ARI); nothing to ask for this certificate.
      st.nextPollAt = Date.now() + (base === null ? ARI_RECHECK_DIRECTORY_MS : Number.POSITIVE_INFINITY);
      return;
    }
    try {
      const info = await ari.fetch(base, st.certId);
      if (this.closed || m.ari !== st) return;
      st.failures = 0;
      st.nextPollAt = Date.now() + info.retryAfterMs;
      const w = info.window;
      if (w.start >= c.notAfter.getTime()) {
        // A window after expiry cannot be right: keep the lifetime rule.
        this.logger.warn(`the CA's renewal window for ${m.name} (${new Date(w.start).toISOString()} … ${new Date(w.end).toISOString()}) starts after the certificate expires; renewing by its lifetime`, fields);
        st.window = undefined;
        st.renewAt = undefined;
        return;
      }
      const changed = !st.window || st.window.start !== w.start || st.window.end !== w.end;
      if (changed) {
        // The same window again keeps the time chosen in it; a new one gets a new time.
        st.window = w;
        // Never before the certificate is a little while old: a CA that keeps answering with a
        // past window cannot make us renew in a loop (10 min, or a tenth of a short lifetime).
        const nb = c.notBefore.getTime();
        const earliest = nb + Math.min(ARI_MIN_AGE_MS, (c.notAfter.getTime() - nb) / 10);
        st.renewAt = Math.min(Math.max(chooseRenewalTime(w), earliest), c.notAfter.getTime());
        this.logger.info(`renewal window for ${m.name} from the CA: ${new Date(w.start).toISOString()} … ${new Date(w.end).toISOString()}; renewing at ${new Date(st.renewAt).toISOString()}`, {
          ...fields,
          ...(info.explanationURL ? { explanationURL: info.explanationURL } : {}),
        });
      }
      this.scheduleAriRenewal(m, st);
    } catch (err) {
      if (this.closed || m.ari !== st) return;
      st.failures++;
      st.nextPollAt = Date.now() + Math.min(6 * 3600_000, 60_000 * 2 ** Math.min(st.failures - 1, 9));
      const using = st.renewAt !== undefined ? `the last window (renewing at ${new Date(st.renewAt).toISOString()})` : 'its lifetime';
      this.logger.warn(`could not get renewal information for ${m.name} from the CA: ${(err as Error)?.message ?? err}; renewing by ${using}, asking again at ${new Date(st.nextPollAt).toISOString()}`, fields);
    }
  }

  /** Renew at once when the chosen time has passed, or set a timer when it comes before the next check. */
  private scheduleAriRenewal(m: Managed, st: AriState): void {
    if (m.ariTimer) clearTimeout(m.ariTimer);
    m.ariTimer = undefined;
    if (st.renewAt === undefined || this.closed) return;
    const delay = st.renewAt - Date.now();
    const kick = (): void => {
      m.ariTimer = undefined;
      if (this.closed || this.managed.get(m.name) !== m || m.ari !== st || m.job || m.stopped || Date.now() < m.nextAttemptAt) return;
      if (m.cert && this.dueFor(m, m.cert)) void this.startJob(m);
    };
    if (delay <= 0) kick();
    else if (delay < this.checkIntervalMs) {
      m.ariTimer = setTimeout(kick, delay);
      m.ariTimer.unref();
    }
  }

  /** The stored certificate for `name`, if present and usable (may be due or expired). */
  private async loadStored(name: string): Promise<Installed | null> {
    const [cert, key] = await Promise.all([
      this.storage.load(StorageKeys.siteCert(this.directory, name)),
      this.storage.load(StorageKeys.sitePrivateKey(this.directory, name)),
    ]);
    if (!cert || !key) return null;
    const c = inspectCertificate(name, cert.toString('utf8'), key.toString('utf8'));
    if (!c) this.logger.warn(`stored certificate for ${name} is unusable (corrupt, or key/name mismatch); obtaining a new one`, { name });
    return c;
  }

  private async loadFromStorage(m: Managed): Promise<void> {
    try {
      const c = await this.loadStored(m.name);
      if (!c) return;
      if (Date.now() >= c.notAfter.getTime()) {
        this.logger.warn(`stored certificate for ${m.name} expired at ${c.notAfter.toISOString()}; obtaining a new one`, { name: m.name });
        return;
      }
      this.install(m, c);
      this.emit({ type: 'cert_loaded', name: m.name, notAfter: c.notAfter });
      this.logger.info(`loaded certificate for ${m.name} from storage`, {
        name: m.name,
        notAfter: c.notAfter.toISOString(),
        renewAt: new Date(renewalTime(c.notBefore, c.notAfter, this.ratio)).toISOString(),
      });
    } catch (err) {
      this.logger.error(`could not read stored certificate for ${m.name}: ${(err as Error)?.message ?? err}`, { name: m.name });
    }
  }

  /** Ticker: start renewals that are due and retries whose time has come. */
  private async maintain(): Promise<void> {
    const now = Date.now();
    for (const m of this.managed.values()) {
      if (this.closed) return;
      if (m.job || m.stopped || now < m.nextAttemptAt) continue;
      if (!m.cert) void this.startJob(m);
      else void this.checkRenewal(m);
    }
  }

  private startJob(m: Managed): Promise<boolean> {
    if (m.job) return m.job;
    if (m.retryTimer) clearTimeout(m.retryTimer);
    m.retryTimer = undefined;
    const job = this.obtain(m).finally(() => {
      if (m.job === job) m.job = undefined;
    });
    m.job = job;
    return job;
  }

  private challengeOrder(m: Managed, wildcard: boolean): ChallengeType[] {
    const configured = this.spec.challenges?.length
      ? [...this.spec.challenges]
      : (['http-01', 'tls-alpn-01', ...(this.spec.dns ? ['dns-01' as const] : [])] as ChallengeType[]);
    let types = configured.filter((t) => t !== 'dns-01' || this.spec.dns);
    if (wildcard) types = types.filter((t) => t === 'dns-01'); // RFC 8555 §7.1.3: wildcards only via DNS-01
    if (m.avoid && types.length > 1 && types.includes(m.avoid)) types = [...types.filter((t) => t !== m.avoid), m.avoid];
    return types;
  }

  private account(): Promise<acme.Client> {
    if (!this.clientP) {
      const poll = this.opts.poll ?? {};
      this.clientP = loadOrRegisterAccount({
        directory: this.directory,
        email: this.spec.email,
        storage: this.storage,
        lockTtlMs: this.lockTtlMs,
        signal: this.abort.signal,
        backoff: { backoffAttempts: poll.attempts ?? 15, backoffMin: poll.minMs ?? 500, backoffMax: poll.maxMs ?? 5000 },
      }).then(
        ({ client, registered }) => {
          if (registered) {
            this.emit({ type: 'account_registered', directory: this.directory, email: this.spec.email });
            this.logger.info(`registered ACME account ${this.spec.email} with ${this.directory}`);
          }
          return client;
        },
        (err: unknown) => {
          this.clientP = null;
          throw err;
        },
      );
    }
    return this.clientP;
  }

  /** One attempt to obtain (or renew) the certificate for `m.name`. Resolves true when installed. */
  private async obtain(m: Managed): Promise<boolean> {
    const renewal = m.cert !== undefined;
    const attempt = m.failures + 1;
    const trace: AttemptTrace = { logger: this.logger };
    try {
      await attemptTrace.run(trace, async () => {
        this.challengeTypes(m); // a config problem fails before any lock or CA request
        const unlock = await this.storage.lock(StorageKeys.issueLock(this.directory, m.name), this.lockTtlMs, { signal: this.abort.signal });
        try {
          // Lock, then check again: another process (or an earlier run) may have just stored one.
          const stored = await this.loadStored(m.name);
          // The certificate being renewed is due by ARI or lifetime; another one by its lifetime.
          const storedDue = stored && (m.cert && stored.certPem === m.cert.certPem ? this.dueFor(m, m.cert) : this.due(stored));
          if (stored && !storedDue && Date.now() < stored.notAfter.getTime()) {
            if (!m.cert || stored.certPem !== m.cert.certPem) {
              this.install(m, stored);
              this.emit({ type: 'cert_loaded', name: m.name, notAfter: stored.notAfter });
              this.logger.info(`using certificate for ${m.name} stored by another instance`, { name: m.name, notAfter: stored.notAfter.toISOString() });
            }
            return;
          }
          if (this.closed) throw new Error('ACME issuer closed');
          this.emit({ type: 'cert_obtaining', name: m.name, renewal, attempt });
          this.logger.info(`${renewal ? 'renewing' : 'obtaining'} certificate for ${m.name}`, { name: m.name, directory: this.directory, attempt });
          const t0 = performance.now();
          const c = await this.withOrderSlot(() => this.order(m));
          await this.save(m.name, c);
          this.install(m, c);
          this.emit({ type: 'cert_obtained', name: m.name, renewal, notAfter: c.notAfter });
          this.logger.info(`${renewal ? 'renewed' : 'obtained'} certificate for ${m.name}`, {
            name: m.name,
            issuer: c.issuer,
            notAfter: c.notAfter.toISOString(),
            renewAt: new Date(renewalTime(c.notBefore, c.notAfter, this.ratio)).toISOString(),
            ms: Math.round(performance.now() - t0),
          });
        } finally {
          await unlock();
        }
      });
      m.failures = 0;
      m.nextAttemptAt = 0;
      m.lastError = undefined;
      m.avoid = undefined;
      return true;
    } catch (err) {
      if (this.closed) return false;
      this.fail(m, err, trace, renewal, attempt);
      return false;
    }
  }

  private fail(m: Managed, err: unknown, trace: AttemptTrace, renewal: boolean, attempt: number): void {
    // Only trust the recorded problem when the error is the one it produced.
    const msg = err instanceof Error ? err.message : String(err);
    const problem = trace.problem && (!trace.problem.detail || msg.includes(trace.problem.detail)) ? trace.problem : undefined;
    const transport = trace.transport && (err instanceof TypeError || (err as NodeJS.ErrnoException)?.code) ? trace.transport : undefined;
    const f = classifyAcmeError(err, { problem, transport });
    if (err instanceof ChallengeError) m.avoid = err.challengeType as ChallengeType;
    m.failures++;
    m.lastError = f;
    const what = `could not ${renewal ? 'renew' : 'obtain'} certificate for ${m.name}`;
    const serving = m.cert ? `; still serving the current certificate (expires ${m.cert.notAfter.toISOString()})` : '';
    const fields: Record<string, unknown> = { name: m.name, kind: f.kind, attempt, directory: this.directory };
    if (f.code) fields.code = f.code;
    if (!f.retry || (m.onDemand && !m.cert)) {
      // On-demand names that never got a certificate are retried by the next handshake (after
      // the gate's backoff), not in the background.
      m.stopped = !f.retry;
      m.nextAttemptAt = 0;
      this.logger.error(`${what} [${f.kind}]: ${f.message}${serving}${f.retry ? '' : '; not retrying until the configuration changes'}`, fields);
      this.emit({ type: 'cert_failed', name: m.name, renewal, failure: f, attempt });
      return;
    }
    const delay = retryDelay(m.failures, this.retryTable, f.retryAfterMs);
    m.nextAttemptAt = Date.now() + delay;
    const retryAt = new Date(m.nextAttemptAt);
    fields.retryInMs = delay;
    fields.retryAt = retryAt.toISOString();
    this.logger.error(`${what} [${f.kind}]: ${f.message}${serving}; retrying in ${formatDelay(delay)} (at ${retryAt.toISOString()})`, fields);
    this.emit({ type: 'cert_failed', name: m.name, renewal, failure: f, attempt, retryAt });
    m.retryTimer = setTimeout(() => {
      m.retryTimer = undefined;
      if (!this.closed && this.managed.get(m.name) === m && !m.job) void this.startJob(m);
    }, delay);
    m.retryTimer.unref();
  }

  private async save(name: string, c: Installed): Promise<void> {
    const meta = {
      names: [name],
      issuer: c.issuer,
      notBefore: c.notBefore.toISOString(),
      notAfter: c.notAfter.toISOString(),
      directory: this.directory,
      obtainedAt: new Date().toISOString(),
    };
    // Key first: a reader that sees the new cert.pem must find its key (a half-updated pair is
    // rejected by inspectCertificate and the reader just waits for the next check).
    await this.storage.store(StorageKeys.sitePrivateKey(this.directory, name), c.keyPem, { secret: true });
    await this.storage.store(StorageKeys.siteCert(this.directory, name), c.certPem);
    await this.storage.store(StorageKeys.siteMeta(this.directory, name), JSON.stringify(meta, null, 2));
  }

  private async withOrderSlot<T>(fn: () => Promise<T>): Promise<T> {
    if (this.orderSlots > 0) this.orderSlots--;
    else await new Promise<void>((r) => this.orderQueue.push(r));
    try {
      if (this.closed) throw new Error('ACME issuer closed');
      return await fn();
    } finally {
      const next = this.orderQueue.shift();
      if (next) next();
      else this.orderSlots++;
    }
  }

  /** The challenge types to try for `m`, in order; throws NoRetryError when none can work. */
  private challengeTypes(m: Managed): ChallengeType[] {
    const wildcard = m.name.startsWith('*.');
    const types = this.challengeOrder(m, wildcard);
    if (types.length > 0) return types;
    throw new NoRetryError(
      wildcard
        ? `${m.name} is a wildcard name, which ACME only validates with the DNS-01 challenge: configure a DNS provider (tls.acme.dns)${this.spec.dns ? " and allow 'dns-01' in tls.acme.challenges" : ''}`
        : `no usable challenge type for ${m.name} (tls.acme.challenges: ${JSON.stringify(this.spec.challenges)}; 'dns-01' needs tls.acme.dns)`,
    );
  }

  /** newOrder → authorizations → finalize → download, for one name. */
  private async order(m: Managed): Promise<Installed> {
    const name = m.name;
    const types = this.challengeTypes(m);
    let client = await this.account();
    const identifiers = [{ type: 'dns', value: name }];
    // RFC 9773 §5: a renewal names the certificate it replaces when the CA speaks ARI (the CA may
    // then exempt it from rate limits). A CA that refuses that (e.g. the certificate belongs to
    // another account, or was replaced already) gets the order again without it.
    let replaces = m.cert && typeof this.ariUrl === 'string' ? (this.ariFor(m, m.cert)?.certId ?? ariCertId(m.cert.certPem)) : null;
    const createOrder = async (c: acme.Client): Promise<acme.Order> => {
      if (replaces) {
        try {
          return await c.createOrder({ identifiers, replaces } as Parameters<acme.Client['createOrder']>[0]);
        } catch (err) {
          const p = attemptTrace.getStore()?.problem;
          const t = p?.type ?? '';
          if (!p || p.status === undefined || p.status >= 500 || p.status === 429 || /:(accountDoesNotExist|rateLimited|badNonce)$/.test(t)) throw err;
          this.logger.warn(`the CA refused the renewal order for ${name} naming the certificate it replaces (${p.detail ?? t}); ordering without "replaces"`, {
            name,
            directory: this.directory,
            replaces,
          });
          replaces = null;
        }
      }
      return c.createOrder({ identifiers });
    };
    let order: acme.Order;
    try {
      order = await createOrder(client);
    } catch (err) {
      // The CA forgot our account (a reset staging/test CA, a deactivated account): register the
      // stored key again and retry once, instead of failing every order until a restart.
      if (attemptTrace.getStore()?.problem?.type !== 'urn:ietf:params:acme:error:accountDoesNotExist') throw err;
      this.logger.warn(`the CA does not know the stored ACME account for ${this.spec.email}; registering it again`, { directory: this.directory });
      await forgetAccountUrl(this.storage, this.directory, this.spec.email);
      this.clientP = null;
      client = await this.account();
      order = await createOrder(client);
    }
    this.emit({ type: 'order_created', name, url: order.url });
    const authzs = await client.getAuthorizations(order);
    const pending = authzs.filter((a) => a.status !== 'valid'); // CAs may reuse a valid authorization
    const results = await Promise.allSettled(pending.map((a) => this.authorize(client, order, a, types)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;

    const key = await acme.crypto.createPrivateEcdsaKey('P-256');
    const [, csr] = await acme.crypto.createCsr({ altNames: [name], ...(name.length <= 64 ? { commonName: name } : {}) }, key);
    const finalized = await client.finalizeOrder(order, csr);
    const certPem = await client.getCertificate(finalized);
    const c = inspectCertificate(name, certPem, key.toString('utf8'));
    if (!c) throw new Error(`the CA issued a certificate that does not match ${name} or its key`);
    return c;
  }

  private async authorize(client: acme.Client, order: acme.Order, authz: acme.Authorization, types: ChallengeType[]): Promise<void> {
    const ident = authz.identifier.value;
    const type = types.find((t) => authz.challenges.some((c) => c.type === t));
    const challenge = type && authz.challenges.find((c) => c.type === type);
    if (!type || !challenge) {
      throw new NoRetryError(`the CA offers ${authz.challenges.map((c) => c.type).join(', ') || 'no challenges'} for ${ident}; configured: ${types.join(', ')}`);
    }
    const keyAuth = await client.getChallengeKeyAuthorization(challenge);
    const withdraw = await this.responders.present(type, ident, authz, 'token' in challenge ? String(challenge.token) : '', keyAuth);
    try {
      // acme-client's own pre-check (verifyChallenge) is skipped on purpose: it resolves the name
      // with the system resolver and fetches from this host, which proves nothing about what the
      // CA sees and fails behind NAT/split DNS (acme-testing.md pitfall 4).
      await client.completeChallenge(challenge);
      try {
        await client.waitForValidStatus(authz);
      } catch (err) {
        const problem = await this.challengeProblem(client, order, authz, type);
        if (!problem && err instanceof TypeError) throw err; // lost the CA while polling: not the challenge's fault
        throw new ChallengeError(ident, type, problem ?? { detail: (err as Error)?.message });
      }
    } finally {
      await withdraw().catch((err: unknown) =>
        this.logger.warn(`could not remove ${type} challenge for ${ident}: ${(err as Error)?.message ?? err}`, { name: ident }),
      );
    }
  }

  /** The CA's error for the failed challenge (RFC 8555 §7.1.5 `error`), re-read from the order. */
  private async challengeProblem(client: acme.Client, order: acme.Order, authz: acme.Authorization, type: string) {
    try {
      const fresh = (await client.getAuthorizations(order)).find((a) => a.url === authz.url);
      const ch = fresh?.challenges.find((c) => c.type === type) as { error?: { type?: string; detail?: string; status?: number } } | undefined;
      if (!ch?.error) return null;
      return { type: ch.error.type, detail: ch.error.detail, status: ch.error.status };
    } catch {
      return null;
    }
  }

  private async onDemandOnce(name: string): Promise<boolean> {
    const gate = this.gate!;
    const verdict = await gate.admit(name);
    if (verdict !== 'ok') {
      this.emit({ type: 'on_demand_denied', name, reason: verdict });
      const log = verdict === 'refused' ? 'info' : 'debug';
      this.logger[log](`on-demand certificate for ${name} not issued: ${verdictText(verdict, gate.retryAfterMs)}`, { name, reason: verdict });
      return false;
    }
    if (this.closed) return false;
    let m = this.managed.get(name);
    if (!m) {
      m = { name, onDemand: true, failures: 0, nextAttemptAt: 0 };
      this.managed.set(name, m);
      await this.loadFromStorage(m); // a previous run or another instance may have one
      if (m.cert && !this.dueFor(m, m.cert)) {
        this.ticker.start();
        return true;
      }
    }
    if (m.cert && Date.now() < m.cert.notAfter.getTime()) {
      if (this.dueFor(m, m.cert) && !m.job) void this.startJob(m);
      return true;
    }
    if (!m.job && !gate.takeSlot()) {
      this.emit({ type: 'on_demand_denied', name, reason: 'rate-limited' });
      this.logger.warn(`on-demand certificate for ${name} not issued: more than ${gate.perMinute} on-demand issuances in the last minute`, { name, reason: 'rate-limited' });
      if (m.onDemand && !m.cert) this.managed.delete(name);
      return false;
    }
    const ok = await this.startJob(m);
    if (!ok) {
      gate.fail(name);
      if (m.onDemand && !m.cert && this.managed.get(name) === m) {
        if (m.retryTimer) clearTimeout(m.retryTimer);
        this.managed.delete(name);
      }
      return false;
    }
    this.ticker.start();
    return true;
  }
}

function verdictText(v: GateVerdict, retryAfterMs: number): string {
  switch (v) {
    case 'invalid':
      return 'not a valid DNS name';
    case 'refused':
      return `ask() did not approve it (not asked again for ${formatDelay(retryAfterMs)})`;
    case 'backoff':
      return 'refused or failed recently (backoff)';
    default:
      return v;
  }
}

export function formatDelay(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${Math.round(ms / 100) / 10} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 6000) / 10} min`;
  return `${Math.round(ms / 360_000) / 10} h`;
}

/**
 * The TLS service the engine talks to (`TlsService`): a CertStore for the handshake, the internal
 * CA, and the ACME issuer, put together per config.
 *
 * Where a name's certificate comes from, in order:
 * 1. a certificate file in `tls.certs` that covers it (files always win; such names are not
 *    managed by ACME or the internal CA);
 * 2. `tls: 'internal'`: the internal CA, for every name;
 * 3. `tls.acme`: the ACME CA, for every name that can have a publicly trusted certificate; names
 *    that cannot (`localhost`, `*.localhost`, `.local`, `.internal`, `.home.arpa`, IP addresses)
 *    get one from the internal CA instead, as Caddy does.
 *
 * During a handshake (`sni`): a pending TLS-ALPN-01 challenge, the store (exact, then wildcard one
 * label up), on-demand ACME issuance (`ask` approves), internal issuance on the fly for unknown
 * names when `tls` is internal (development), then the default certificate.
 */
import { OcspStapler } from './ocsp.js';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { isAbsolute, resolve } from 'node:path';
import type { SecureContext } from 'node:tls';
import type { AcmeSpec, ConfigSpec, TlsSpec } from '../config/spec.js';
import { ConfigError, type ConfigProblem } from '../config/errors.js';
import type { CertificateStatus } from '../observe/contracts.js';
import type { Logger } from '../observe/logger.js';
import type { TlsService } from './contracts.js';
import { InternalCa, LEAF_LIFETIME_MS } from './internal-ca.js';
import { CertStore, checkKeyPair, normalizeName, type StoredCert } from './store.js';

/** What the manager needs from an ACME issuer (the real one is `./acme/issuer.js`). */
export interface AcmeIssuerLike {
  /**
   * The names to keep certificates for (the whole set, replacing the previous one). Loads stored
   * certificates (reporting each through `onCertificate`), orders missing ones in the background,
   * renews. Must not throw for issuance failures: it logs and retries them.
   */
  manage(names: string[]): void | Promise<void>;
  /** Key authorization for a pending HTTP-01 token, or null. */
  httpChallenge(token: string): string | null;
  /** The TLS-ALPN-01 context for a name with a pending challenge, or null. */
  alpnChallengeContext(servername: string): SecureContext | null;
  /** True while any TLS-ALPN-01 challenge is pending (absent: never, listeners do not peek). */
  readonly alpnChallengePending?: boolean;
  /** On-demand issuance for an unknown name; true once a certificate was installed. */
  onDemand(servername: string): Promise<boolean>;
  close(): Promise<void>;
}

/** What a certificate came with from the issuer (the real one sends `{ notBefore, notAfter, issuer }`); not read. */
export type AcmeCertificateMeta = object;

/** What an AcmeIssuer is built from. */
export interface AcmeIssuerDeps {
  spec: AcmeSpec;
  dataDir: string;
  logger: Logger;
  /** Called for every certificate the issuer obtains, renews or loads from storage. */
  onCertificate(names: string[], certPem: string, keyPem: string, meta?: AcmeCertificateMeta): void;
}

export interface TlsServiceOptions {
  /** Where the internal CA and ACME state live. */
  dataDir: string;
  logger: Logger;
  /** Directory that relative `tls.certs` paths are resolved against. Default the process's cwd. */
  configDir?: string;
  /** Builds the ACME issuer (tests pass a fake). Default: `./acme/issuer.js` with file storage. */
  acmeFactory?: (deps: AcmeIssuerDeps) => AcmeIssuerLike | Promise<AcmeIssuerLike>;
  /** Called after certificates were installed or removed (e.g. to refresh `defaultKeyPair()`). */
  onChange?: () => void;
  /** Clock, for tests. */
  now?: () => number;
}

/** The ALPN protocol of TLS-ALPN-01 challenge handshakes (RFC 8737 §6.2). */
export const ACME_TLS_ALPN = 'acme-tls/1';
/** Names that get certificates from the internal CA when no other source covers them. */
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];
/** Internal leaves are renewed after this share of their lifetime (as ACME ones, at 2/3). */
const INTERNAL_RENEW_RATIO = 2 / 3;
/** At most this many internal certificates are issued on the fly for unknown SNI names. */
const MAX_ON_THE_FLY = 1000;
/** Longest setTimeout delay (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;
const DNS_NAME = /^(\*\.)?(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?)*$/;

/** `tls` of a config as an object (`'internal'` is `{ internal: true }`); undefined stays undefined. */
export function normalizeTls(tls: ConfigSpec['tls']): TlsSpec | undefined {
  if (tls === undefined) return undefined;
  if (tls === 'internal') return { internal: true };
  return tls;
}

/**
 * Whether a publicly trusted CA can issue for `name` (after CertMagic's SubjectQualifiesForPublicCert):
 * not an IP address, not `localhost`, not under `.localhost`, `.local`, `.internal`, `.home.arpa`,
 * `.test`, `.invalid`, `.example`, and at least two labels.
 */
export function qualifiesForPublicCert(name: string): boolean {
  const n = normalizeName(name);
  if (n === '' || isIP(n) !== 0 || !n.includes('.') || !DNS_NAME.test(n)) return false;
  const base = n.startsWith('*.') ? n.slice(2) : n;
  if (!base.includes('.') && n.startsWith('*.')) return false; // *.com
  return !/(^|\.)(localhost|local|internal|home\.arpa|test|invalid|example)$/.test(base);
}

function isIssuableInternally(name: string): boolean {
  return isIP(name) !== 0 || DNS_NAME.test(name);
}

/** The plain (non-function) parts of an ACME spec: a change there needs a new issuer. */
function acmeIdentity(a: AcmeSpec): string {
  return JSON.stringify({
    email: a.email,
    directory: a.directory ?? null,
    challenges: a.challenges ?? null,
    dns: a.dns !== undefined,
    onDemand: a.onDemand ? { perMinute: a.onDemand.perMinute ?? null, retryAfter: a.onDemand.retryAfter ?? null } : null,
    ari: a.ari !== false,
  });
}

function fmtDate(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `createTlsService(opts)` as a class, for callers that want the extras (CA, trust text). */
export class TlsManager implements TlsService {
  readonly store: CertStore;
  readonly #opts: TlsServiceOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  #tls: TlsSpec | undefined;
  #ca: InternalCa | null = null;
  #caOpening: Promise<InternalCa> | null = null;
  #issuer: AcmeIssuerLike | null = null;
  #issuerIdentity = '';
  /** The latest config's ACME spec; the issuer's spec delegates `ask` and `dns` to it. */
  #acmeSpec: AcmeSpec | null = null;
  /** Bumped whenever the issuer is replaced, so a closed issuer's late certificates are ignored. */
  #issuerGeneration = 0;
  /** Names currently handed to ACME. */
  #acmeNames: string[] = [];
  /** Names that need an internal certificate (internal mode: all; ACME mode: the non-public ones). */
  #internalNames = new Set<string>();
  /** In-flight internal issuance per name (dedupes concurrent handshakes). */
  #issuing = new Map<string, Promise<StoredCert | null>>();
  #onTheFly = new Set<string>();
  /** Fingerprints of the file certificates of the last config (to log only changes). */
  #fileFingerprints = new Set<string>();
  #renewTimer: NodeJS.Timeout | null = null;
  #reconciling: Promise<void> = Promise.resolve();
  #closed = false;
  readonly #stapler: OcspStapler;
  /** True while a reconcile runs (it reports one change at its end). */
  #reconcilingNow = false;

  constructor(opts: TlsServiceOptions) {
    this.#opts = opts;
    this.#log = opts.logger;
    this.#now = opts.now ?? Date.now;
    this.store = new CertStore({ now: this.#now });
    this.#stapler = new OcspStapler({ logger: opts.logger });
  }

  /** The internal CA, once a config used it. */
  get internalCa(): InternalCa | null {
    return this.#ca;
  }

  // -------------------------------------------------------------------------------------------
  // TlsService
  // -------------------------------------------------------------------------------------------

  /**
   * `alpnProtocols`: the ALPN list the client offered, when the listener knows it (from the
   * ClientHello). A pending TLS-ALPN-01 challenge context is returned only for clients offering
   * `acme-tls/1` (RFC 8737 §3); when the list is unknown, only while the name has no certificate
   * yet, so regular clients keep getting the current certificate during a renewal.
   */
  async sni(servername: string, alpnProtocols?: readonly string[]): Promise<SecureContext | null> {
    const name = servername ? normalizeName(servername) : '';
    const issuer = this.#issuer;
    if (name !== '') {
      const ctx = this.store.contextFor(name);
      if (issuer !== null && (alpnProtocols === undefined ? ctx === null : alpnProtocols.includes(ACME_TLS_ALPN))) {
        const challenge = issuer.alpnChallengeContext(name);
        if (challenge !== null) return challenge;
      }
      if (ctx !== null) return ctx;
      if (issuer !== null && this.#acmeSpec?.onDemand !== undefined && qualifiesForPublicCert(name)) {
        try {
          if (await issuer.onDemand(name)) {
            const issued = this.store.contextFor(name);
            if (issued !== null) return issued;
          }
        } catch (err) {
          this.#log.warn(`on-demand certificate for ${name} failed: ${(err as Error).message}`);
        }
      }
      if (this.#tls?.internal === true && this.#ca !== null && isIssuableInternally(name) && this.#onTheFly.size < MAX_ON_THE_FLY) {
        this.#onTheFly.add(name);
        const cert = await this.#issueInternal([name]);
        if (cert !== null) return cert.context;
      }
    }
    return this.#defaultContext();
  }

  httpChallenge(token: string): string | null {
    return this.#issuer?.httpChallenge(token) ?? null;
  }

  alpnChallengePending(): boolean {
    return this.#issuer?.alpnChallengePending === true;
  }

  alpnChallengeContext(servername: string): SecureContext | null {
    const name = servername ? normalizeName(servername) : '';
    if (name === '') return null;
    return this.#issuer?.alpnChallengeContext(name) ?? null;
  }

  manages(host: string): boolean {
    const cert = this.store.lookup(host);
    return cert !== null && (cert.source === 'acme' || cert.source === 'internal');
  }

  reconcile(spec: ConfigSpec, names: string[]): Promise<void> {
    // One reconcile at a time, in call order; a failed one does not block the next.
    const run = this.#reconciling.then(() => this.#reconcile(spec, names));
    this.#reconciling = run.catch(() => {});
    return run;
  }

  certificates(): CertificateStatus[] {
    return this.store.list();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#stapler.close();
    if (this.#renewTimer) clearTimeout(this.#renewTimer);
    this.#renewTimer = null;
    await this.#reconciling;
    const issuer = this.#issuer;
    this.#issuer = null;
    this.#issuerGeneration++;
    if (issuer) await issuer.close();
  }

  /** How to trust the internal CA, or null when no config used it. */
  trustInstructions(): string | null {
    return this.#ca?.trustInstructions() ?? null;
  }

  // -------------------------------------------------------------------------------------------
  // Reconcile
  // -------------------------------------------------------------------------------------------

  async #reconcile(spec: ConfigSpec, names: string[]): Promise<void> {
    if (this.#closed) throw new Error('the TLS service is closed');
    this.#reconcilingNow = true;
    try {
      await this.#apply(spec, names);
    } finally {
      this.#reconcilingNow = false;
    }
  }

  async #apply(spec: ConfigSpec, names: string[]): Promise<void> {
    const tls = normalizeTls(spec.tls);

    // 1. Everything that can fail on bad input, before anything changes.
    const files = await this.#loadFiles(spec, tls);
    const wanted = new Set<string>();
    for (const n of [...names, ...(tls?.domains ?? [])]) {
      const name = normalizeName(n);
      if (name !== '' && name !== '*') wanted.add(name);
    }
    const internal = tls?.internal === true;
    const acme = tls?.acme;
    if (internal && acme) {
      throw new ConfigError([{ message: 'config: tls has both internal and acme', ...(spec.at ? { at: spec.at } : {}), hint: "use tls: 'internal' for local development, or tls: { acme: { email } } for public names" }]);
    }
    // Names a file certificate covers are not managed (files win).
    const probe = new CertStore({ now: this.#now });
    probe.replaceFiles(files);
    const unfiled = [...wanted].filter((n) => probe.lookup(n) === null);
    let acmeNames = acme ? unfiled.filter(qualifiesForPublicCert) : [];
    if (acme && acme.dns === undefined) {
      // ACME CAs issue wildcards only through DNS-01 (RFC 8555 §7.1.3 / Let's Encrypt policy).
      const wild = acmeNames.filter((n) => n.startsWith('*.'));
      if (wild.length > 0) {
        acmeNames = acmeNames.filter((n) => !n.startsWith('*.'));
        this.#log.warn(
          `not ordering ${wild.join(', ')}: wildcard certificates need a DNS provider (tls.acme.dns)` +
            (acme.onDemand ? '; with onDemand, each subdomain gets its own certificate at its first handshake' : ''),
        );
      }
    }
    const internalNames = internal ? unfiled : acme ? unfiled.filter((n) => !qualifiesForPublicCert(n)) : [];
    const needsCa = internal || internalNames.length > 0;
    if (needsCa) await this.#openCa(spec);
    let issuer = this.#issuer;
    let oldIssuer: AcmeIssuerLike | null = null;
    if (acme) {
      const identity = acmeIdentity(acme);
      if (issuer === null || identity !== this.#issuerIdentity) {
        oldIssuer = issuer;
        issuer = await this.#createIssuer(acme);
        this.#issuerIdentity = identity;
      }
    } else if (issuer !== null) {
      oldIssuer = issuer;
      issuer = null;
    }

    // 2. Apply.
    this.#tls = tls;
    this.store.replaceFiles(files);
    const seen = this.#fileFingerprints;
    this.#fileFingerprints = new Set(files.map((f) => f.fingerprint));
    for (const f of files) {
      if (seen.has(f.fingerprint)) continue; // unchanged since the last config: said already
      this.#log.info(`certificate for ${f.names.join(', ')} loaded from file, valid until ${fmtDate(f.notAfter)}`, { issuer: f.issuer });
      if (f.notAfter.getTime() <= this.#now()) this.#log.warn(`certificate for ${f.names.join(', ')} expired on ${fmtDate(f.notAfter)}`);
    }

    if (issuer !== this.#issuer) this.#issuerGeneration++; // a replaced issuer's late certificates are ignored
    if (oldIssuer !== null) {
      await oldIssuer.close().catch((err: Error) => this.#log.warn(`closing the previous ACME issuer failed: ${err.message}`));
      if (issuer === null) {
        // ACME is off: its certificates stay on disk but are no longer served.
        for (const c of this.store.all().filter((x) => x.source === 'acme')) this.store.remove(c.names, 'acme');
        this.#log.info('ACME is no longer configured: stopped managing certificates', { names: this.#acmeNames });
      }
    }
    this.#issuer = issuer;
    this.#acmeSpec = acme ?? null;
    this.#acmeNames = acmeNames;

    this.#internalNames = new Set(internalNames);
    if (!internal) {
      this.#onTheFly.clear();
      if (internalNames.length === 0) {
        for (const c of this.store.all().filter((x) => x.source === 'internal')) this.store.remove(c.names, 'internal');
      }
    }
    if (internal || internalNames.length > 0) await this.#ensureInternal();

    if (issuer !== null) {
      try {
        await issuer.manage(acmeNames);
      } catch (err) {
        // The contract says manage does not throw for issuance trouble; anything else is logged.
        this.#log.error(`ACME: could not start managing ${acmeNames.join(', ')}: ${(err as Error).message}`);
      }
    }
    this.#scheduleRenewal();
    this.#changed();
  }

  /** Read and check `tls.certs`; a ConfigError naming every unusable file. */
  async #loadFiles(spec: ConfigSpec, tls: TlsSpec | undefined): Promise<StoredCert[]> {
    const pairs = tls?.certs ?? [];
    const base = this.#opts.configDir ?? process.cwd();
    const problems: ConfigProblem[] = [];
    const at = spec.at ? { at: spec.at } : {};
    const out: StoredCert[] = [];
    await Promise.all(
      pairs.map(async (pair, i) => {
        const certPath = isAbsolute(pair.cert) ? pair.cert : resolve(base, pair.cert);
        const keyPath = isAbsolute(pair.key) ? pair.key : resolve(base, pair.key);
        const read = async (path: string, what: string): Promise<string | null> => {
          try {
            return await readFile(path, 'utf8');
          } catch (err) {
            const code = (err as NodeJS.ErrnoException).code;
            problems.push({
              message: `config: tls.certs[${i}]: cannot read the ${what} file ${path} (${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message})`,
              ...at,
              hint: `paths are relative to the config file's directory (${base}); check the file exists and proxykit may read it`,
            });
            return null;
          }
        };
        const [certPem, keyPem] = await Promise.all([read(certPath, 'certificate'), read(keyPath, 'key')]);
        if (certPem === null || keyPem === null) return;
        try {
          checkKeyPair(certPem, keyPem);
          out[i] = CertStore.build(certPem, keyPem, 'file');
        } catch (err) {
          problems.push({
            message: `config: tls.certs[${i}]: ${certPath} and ${keyPath}: ${(err as Error).message}`,
            ...at,
            hint: 'cert is a PEM certificate (leaf first, then intermediates), key the PEM private key that belongs to it',
          });
        }
      }),
    );
    if (problems.length > 0) throw new ConfigError(problems);
    return out.filter((c) => c !== undefined);
  }

  async #openCa(spec: ConfigSpec): Promise<InternalCa> {
    if (this.#ca) return this.#ca;
    this.#caOpening ??= InternalCa.open(this.#opts.dataDir, { logger: this.#log, now: this.#now }).then((ca) => {
      this.#ca = ca;
      if (ca.created) this.#log.info(ca.trustInstructions());
      else this.#log.info(`using the local CA in ${ca.certPath} (trust it with NODE_EXTRA_CA_CERTS=${ca.certPath} or curl --cacert ${ca.certPath})`);
      return ca;
    });
    try {
      return await this.#caOpening;
    } catch (err) {
      this.#caOpening = null;
      throw new ConfigError([
        {
          message: `config: tls internal: ${(err as Error).message}`,
          ...(spec.at ? { at: spec.at } : {}),
          hint: `the data directory (${this.#opts.dataDir}) must be writable by proxykit`,
        },
      ]);
    }
  }

  async #createIssuer(acme: AcmeSpec): Promise<AcmeIssuerLike> {
    // The generation this issuer will have once reconcile installs it (reconciles are serialized).
    const generation = this.#issuerGeneration + 1;
    const spec = this.#liveAcmeSpec(acme);
    const deps: AcmeIssuerDeps = {
      spec,
      dataDir: this.#opts.dataDir,
      logger: this.#log,
      onCertificate: (names, certPem, keyPem, meta) => {
        if (generation !== this.#issuerGeneration || this.#closed) return;
        this.#installAcme(names, certPem, keyPem, meta);
      },
    };
    const factory = this.#opts.acmeFactory ?? defaultAcmeFactory;
    return factory(deps);
  }

  /**
   * The spec handed to the issuer: plain values copied, functions (`ask`, the DNS provider)
   * delegating to the latest config's, so a reload that only changes a function keeps the issuer.
   */
  #liveAcmeSpec(acme: AcmeSpec): AcmeSpec {
    const spec: AcmeSpec = { email: acme.email };
    if (acme.directory !== undefined) spec.directory = acme.directory;
    if (acme.challenges !== undefined) spec.challenges = [...acme.challenges];
    if (acme.dns !== undefined) {
      spec.dns = {
        set: (name, value) => this.#currentDns().set(name, value),
        remove: (name, value) => this.#currentDns().remove(name, value),
      };
    }
    if (acme.onDemand !== undefined) {
      spec.onDemand = { ask: async (name) => (await this.#acmeSpec?.onDemand?.ask(name)) === true };
      if (acme.onDemand.perMinute !== undefined) spec.onDemand.perMinute = acme.onDemand.perMinute;
      if (acme.onDemand.retryAfter !== undefined) spec.onDemand.retryAfter = acme.onDemand.retryAfter;
    }
    return spec;
  }

  #currentDns(): NonNullable<AcmeSpec['dns']> {
    const dns = this.#acmeSpec?.dns;
    if (!dns) throw new Error('the DNS-01 provider is no longer configured');
    return dns;
  }

  #installAcme(names: string[], certPem: string, keyPem: string, _meta?: AcmeCertificateMeta): void {
    try {
      const cert = CertStore.build(certPem, keyPem, 'acme');
      this.store.install(cert);
      this.#log.info(`certificate for ${cert.names.join(', ')} installed, valid until ${fmtDate(cert.notAfter)}`, { issuer: cert.issuer });
      this.#changed();
    } catch (err) {
      this.#log.error(`certificate for ${names.join(', ')} from the ACME CA is not usable: ${(err as Error).message}`);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Internal certificates
  // -------------------------------------------------------------------------------------------

  /** True when `cert` is internal and not yet due for renewal. */
  #fresh(cert: StoredCert | null): boolean {
    if (cert === null) return false;
    if (cert.source !== 'internal') return cert.notAfter.getTime() > this.#now();
    return this.#now() < this.#dueAt(cert);
  }

  #dueAt(cert: StoredCert): number {
    const nb = cert.notBefore.getTime();
    return nb + (cert.notAfter.getTime() - nb) * INTERNAL_RENEW_RATIO;
  }

  /** Issue what is missing: the loopback default (internal mode) and every internal name. */
  async #ensureInternal(): Promise<void> {
    const jobs: Array<Promise<unknown>> = [];
    if (this.#tls?.internal === true && !this.#fresh(this.store.certFor('localhost'))) {
      jobs.push(this.#issueInternal(LOOPBACK_NAMES));
    }
    for (const name of this.#internalNames) {
      if (!this.#fresh(this.store.lookup(name))) jobs.push(this.#issueInternal([name]));
    }
    await Promise.all(jobs);
  }

  /** Issue and install one internal certificate; null (logged) on failure. Deduped by first name. */
  #issueInternal(names: string[]): Promise<StoredCert | null> {
    const key = names.join(',');
    const running = this.#issuing.get(key);
    if (running) return running;
    const ca = this.#ca;
    if (ca === null) return Promise.resolve(null);
    const job = (async () => {
      try {
        const leaf = await ca.issue(names, LEAF_LIFETIME_MS);
        const cert = CertStore.build(leaf.certPem, leaf.keyPem, 'internal');
        this.store.install(cert);
        this.#log.info(`certificate for ${cert.names.join(', ')} issued by the local CA, valid until ${fmtDate(cert.notAfter)}`);
        if (!this.#reconcilingNow) this.#changed();
        return cert;
      } catch (err) {
        this.#log.error(`the local CA could not issue a certificate for ${names.join(', ')}: ${(err as Error).message}`);
        return null;
      } finally {
        this.#issuing.delete(key);
      }
    })();
    this.#issuing.set(key, job);
    return job;
  }

  /** One timer for the earliest internal certificate due (2/3 of its lifetime), unref'd. */
  #scheduleRenewal(): void {
    if (this.#renewTimer) clearTimeout(this.#renewTimer);
    this.#renewTimer = null;
    if (this.#closed) return;
    const internal = this.store.all().filter((c) => c.source === 'internal');
    if (internal.length === 0) return;
    const next = Math.min(...internal.map((c) => this.#dueAt(c)));
    const delay = Math.min(Math.max(next - this.#now(), 1000), MAX_TIMER_MS);
    this.#renewTimer = setTimeout(() => void this.#renewInternal(), delay);
    this.#renewTimer.unref();
  }

  /** Re-issue every internal certificate that is due (same names), then reschedule. */
  async #renewInternal(): Promise<void> {
    const due = this.store.all().filter((c) => c.source === 'internal' && !this.#fresh(c));
    await Promise.all(due.map((c) => this.#issueInternal([...c.names])));
    this.#scheduleRenewal();
  }

  #defaultCert(): StoredCert | null {
    const file = this.store.defaultCert();
    if (file !== null) return file;
    if (this.#tls?.internal === true) return this.store.lookup('localhost');
    return null;
  }

  #defaultContext(): SecureContext | null {
    return this.#defaultCert()?.context ?? null;
  }

  /**
   * The certificate for clients that send no SNI (node calls no SNICallback for them, so a
   * listener sets it as its own context: `server.setSecureContext({ cert, key, minVersion })`,
   * again after each `onChange`). First file certificate; with `tls: 'internal'` the loopback one
   * (localhost, 127.0.0.1, ::1). Null: such clients get no certificate.
   */
  defaultKeyPair(): { cert: string; key: string } | null {
    const c = this.#defaultCert();
    return c ? { cert: c.certPem, key: c.keyPem } : null;
  }

  /** A stapled OCSP response for the certificate a handshake is using (the listener's OCSPRequest). */
  ocspResponse(certDer: Buffer, issuerDer: Buffer | null): Buffer | null {
    return this.#stapler.responseFromDer(certDer, issuerDer);
  }

  #changed(): void {
    // Fetch OCSP responses for new certificates ahead of the first handshake that asks.
    for (const c of this.store.all()) if (c.ocspUrl) void this.#stapler.prefetch({ certPem: c.certPem, ocspUrl: c.ocspUrl });
    try {
      this.#opts.onChange?.();
    } catch (err) {
      this.#log.warn(`TLS change listener failed: ${(err as Error).message}`);
    }
  }
}

/** The real issuer, loaded on first use so configs without ACME never load acme-client. */
async function defaultAcmeFactory(deps: AcmeIssuerDeps): Promise<AcmeIssuerLike> {
  const [{ AcmeIssuer }, { FileStorage }] = await Promise.all([import('./acme/issuer.js'), import('./acme/storage.js')]);
  return new AcmeIssuer({
    spec: deps.spec,
    storage: new FileStorage(deps.dataDir),
    logger: deps.logger,
    onCertificate: deps.onCertificate,
    ...(deps.spec.ari === false ? { ari: false } : {}),
  });
}

/**
 * The TLS service for the engine: certificates from files, the internal CA and ACME, swapped live.
 *
 * @example
 * const tls = createTlsService({ dataDir: '/var/lib/proxykit', logger, configDir: dirname(configPath) });
 * await tls.reconcile(spec, ['app.example.com']);
 * https.createServer({ SNICallback: (name, cb) => tls.sni(name).then((ctx) => cb(null, ctx ?? undefined), cb) });
 */
export function createTlsService(opts: TlsServiceOptions): TlsManager {
  return new TlsManager(opts);
}

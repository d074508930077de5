/**
 * The in-memory certificate store the TLS handshake reads from.
 *
 * Each certificate becomes one `tls.SecureContext`, built once when it is added, and is indexed by
 * every name in its subjectAltName (DNS names lower-cased, IP addresses in canonical form). A
 * handshake asks `contextFor(servername)`: an exact name first, then a wildcard exactly one label
 * up (`a.example.com` → `*.example.com`, never `*.com` for `a.b.com`; RFC 6125 §6.4.3: the wildcard
 * stands for one whole left-most label).
 *
 * Swapping is live and atomic per name: `set()` replaces the map entry in one step, so handshakes
 * that start afterwards get the new context while connections already open keep the one they
 * negotiated (a SecureContext is immutable once built).
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { isIP } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { CertificateStatus } from '../observe/contracts.js';

/** Where a certificate came from: a file in the config, the ACME issuer, or the internal CA. */
export type CertSource = 'file' | 'acme' | 'internal';

/** One certificate in the store, with what the handshake and the status pages need. */
export interface StoredCert {
  /** DNS names (lower case, wildcards as `*.example.com`) and IP addresses from the SAN. */
  readonly names: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** The issuer's common name (or organisation), e.g. `R11` or `proxykit Local CA`. */
  readonly issuer: string;
  /** SHA-256 fingerprint of the leaf, `AB:CD:…`. */
  readonly fingerprint: string;
  /** The OCSP responder URL from the certificate's AIA, when it has one. */
  readonly ocspUrl: string | null;
  readonly source: CertSource;
  readonly certPem: string;
  /** The private key, PEM (for listeners that must set it as their default context; never listed). */
  readonly keyPem: string;
  readonly context: SecureContext;
}

/** Facts read from a PEM certificate (the first one when the PEM holds a chain). */
export interface CertInfo {
  names: string[];
  notBefore: Date;
  notAfter: Date;
  issuer: string;
  fingerprint: string;
  ocspUrl: string | null;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Protocol floor for every context: TLS 1.2 and 1.3 (1.3 is preferred by OpenSSL when both sides have it). */
const MIN_VERSION = 'TLSv1.2';

/** `host` lower-cased, without a trailing dot; IP addresses in canonical form (`::1`, not `0:0:…:1`). */
export function normalizeName(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.endsWith('.')) h = h.slice(0, -1);
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (isIP(h) === 6) {
    try {
      h = new URL(`http://[${h}]/`).hostname.slice(1, -1);
    } catch {
      // keep as written
    }
  }
  return h;
}

/**
 * Parse Node's `subjectAltName` string (`DNS:a.example.com, IP Address:127.0.0.1`). Since Node
 * 17 values with special characters are JSON-quoted (`DNS:"a,b"`), so the string is not simply
 * split on commas.
 */
export function parseSubjectAltName(san: string | undefined): string[] {
  if (!san) return [];
  const out: string[] = [];
  const re = /([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:,\s*|$)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(san)) !== null && m[0] !== '') {
    const kind = m[1]!.trim();
    let value = m[2]!;
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        continue;
      }
    }
    if (kind === 'DNS' || kind === 'IP Address') out.push(normalizeName(value));
  }
  return out;
}

function distinguishedNameField(dn: string, field: string): string | undefined {
  for (const line of dn.split('\n')) {
    if (line.startsWith(`${field}=`)) return line.slice(field.length + 1);
  }
  return undefined;
}

/** Read names, validity, issuer and OCSP URL from the (first) certificate of a PEM. */
export function certInfo(certPem: string | Buffer): CertInfo {
  const x = new X509Certificate(certPem);
  let names = parseSubjectAltName(x.subjectAltName);
  if (names.length === 0) {
    // A certificate without a SAN: clients ignore the CN nowadays, but index it so it still serves.
    const cn = distinguishedNameField(x.subject, 'CN');
    if (cn) names = [normalizeName(cn)];
  }
  const issuer = distinguishedNameField(x.issuer, 'CN') ?? distinguishedNameField(x.issuer, 'O') ?? x.issuer.replace(/\n/g, ', ');
  const ocsp = /OCSP - URI:(\S+)/.exec(x.infoAccess ?? '')?.[1] ?? null;
  return {
    names: [...new Set(names)],
    notBefore: new Date(x.validFrom),
    notAfter: new Date(x.validTo),
    issuer,
    fingerprint: x.fingerprint256,
    ocspUrl: ocsp,
  };
}

/**
 * Check that `keyPem` is the private key of the certificate in `certPem`; throws an Error saying
 * which part is wrong (so a config error can name the files).
 */
export function checkKeyPair(certPem: string | Buffer, keyPem: string | Buffer): void {
  let x: X509Certificate;
  try {
    x = new X509Certificate(certPem);
  } catch (err) {
    throw new Error(`not a PEM certificate (${(err as Error).message})`);
  }
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new Error(`not a PEM private key (${(err as Error).message})`);
  }
  if (!x.checkPrivateKey(key)) throw new Error('the private key does not belong to the certificate');
}

/** The wildcard name one label up: `a.example.com` → `*.example.com`; null for a single label. */
function wildcardOf(name: string): string | null {
  if (isIP(name) !== 0) return null;
  const dot = name.indexOf('.');
  if (dot <= 0 || dot === name.length - 1) return null;
  return `*${name.slice(dot)}`;
}

function isUsable(c: StoredCert, now: number): boolean {
  return c.notBefore.getTime() <= now && now < c.notAfter.getTime();
}

/** Better of two certificates for one name: a currently valid one, then the newest (notBefore, notAfter). */
function better(a: StoredCert, b: StoredCert, now: number): StoredCert {
  const ua = isUsable(a, now);
  const ub = isUsable(b, now);
  if (ua !== ub) return ua ? a : b;
  const d = a.notBefore.getTime() - b.notBefore.getTime();
  if (d !== 0) return d > 0 ? a : b;
  return a.notAfter.getTime() >= b.notAfter.getTime() ? a : b;
}

export class CertStore {
  /** Every certificate covering a name (usually one; more while sources overlap). */
  #byName = new Map<string, StoredCert[]>();
  /** File certificates in config order (the first is the default for clients without SNI). */
  #files: StoredCert[] = [];
  readonly #now: () => number;

  constructor(opts: { now?: () => number } = {}) {
    this.#now = opts.now ?? Date.now;
  }

  /**
   * Build a SecureContext for a certificate (PEM, leaf first, then intermediates) and its key.
   * Throws when they are not PEM or do not belong together.
   */
  static build(certPem: string, keyPem: string, source: CertSource): StoredCert {
    checkKeyPair(certPem, keyPem);
    const info = certInfo(certPem);
    const context = createSecureContext({ cert: certPem, key: keyPem, minVersion: MIN_VERSION });
    return Object.freeze({ ...info, names: Object.freeze([...info.names]), source, certPem, keyPem, context });
  }

  /**
   * Add a certificate. For each of its names it replaces the certificate of the same source
   * (a renewal, a re-issued internal cert); certificates of other sources for that name stay and
   * the better one serves (valid now, then newest).
   */
  set(certPem: string, keyPem: string, source: CertSource): StoredCert {
    const cert = CertStore.build(certPem, keyPem, source);
    this.#install(cert, true);
    return cert;
  }

  /** Install an already built certificate (see `build`), replacing same-source ones per name. */
  install(cert: StoredCert): void {
    this.#install(cert, true);
  }

  /**
   * Replace every file certificate at once with `certs` (already built, in config order). Two
   * file certificates may cover one name; the better one serves.
   */
  replaceFiles(certs: StoredCert[]): void {
    for (const old of this.#files) this.#uninstall(old);
    this.#files = [...certs];
    for (const c of certs) this.#install(c, false);
  }

  #install(cert: StoredCert, replaceSameSource: boolean): void {
    for (const name of cert.names) {
      const list = this.#byName.get(name) ?? [];
      const kept = replaceSameSource ? list.filter((c) => c.source !== cert.source) : list.filter((c) => c !== cert);
      // One Map.set per name: a handshake sees the old list or the new one, never a half state.
      this.#byName.set(name, [...kept, cert]);
    }
  }

  #uninstall(cert: StoredCert): void {
    for (const name of cert.names) {
      const list = this.#byName.get(name);
      if (!list) continue;
      const kept = list.filter((c) => c !== cert);
      if (kept.length) this.#byName.set(name, kept);
      else this.#byName.delete(name);
    }
  }

  /** Drop the certificates for `names` (all sources, or only `source`). Connections open stay. */
  remove(names: Iterable<string>, source?: CertSource): void {
    for (const raw of names) {
      const name = normalizeName(raw);
      const list = this.#byName.get(name);
      if (!list) continue;
      const kept = source ? list.filter((c) => c.source !== source) : [];
      if (kept.length) this.#byName.set(name, kept);
      else this.#byName.delete(name);
    }
    this.#files = this.#files.filter((c) => [...this.#byName.values()].some((l) => l.includes(c)));
  }

  /** The certificate serving exactly `name` (no wildcard lookup), or null. */
  certFor(name: string): StoredCert | null {
    const list = this.#byName.get(normalizeName(name));
    if (!list || list.length === 0) return null;
    const now = this.#now();
    return list.reduce((a, b) => better(a, b, now));
  }

  /**
   * The certificate for a handshake naming `servername`: exact name, then the wildcard one label
   * up. Case-insensitive; IDNA names arrive as A-labels (`xn--…`) already. Null when neither.
   */
  lookup(servername: string): StoredCert | null {
    if (!servername) return null;
    const name = normalizeName(servername);
    const exact = this.certFor(name);
    if (exact) return exact;
    const wild = wildcardOf(name);
    return wild ? this.certFor(wild) : null;
  }

  /** `lookup(servername)`'s SecureContext, or null. */
  contextFor(servername: string): SecureContext | null {
    return this.lookup(servername)?.context ?? null;
  }

  /** For clients that send no SNI: the first file certificate of the config, else null. */
  default(): SecureContext | null {
    return this.#files[0]?.context ?? null;
  }

  /** The certificate behind `default()`, or null. */
  defaultCert(): StoredCert | null {
    return this.#files[0] ?? null;
  }

  /** Every distinct certificate held. */
  all(): StoredCert[] {
    const seen = new Set<StoredCert>();
    for (const list of this.#byName.values()) for (const c of list) seen.add(c);
    return [...seen];
  }

  /** Certificates being served, for the admin API and dashboard, soonest expiry first. */
  list(): CertificateStatus[] {
    const now = this.#now();
    return this.all()
      .sort((a, b) => a.notAfter.getTime() - b.notAfter.getTime() || a.names[0]!.localeCompare(b.names[0]!))
      .map((c) => ({
        names: [...c.names],
        notAfter: c.notAfter.toISOString(),
        daysLeft: Math.floor((c.notAfter.getTime() - now) / DAY_MS),
        issuer: c.issuer,
      }));
  }
}

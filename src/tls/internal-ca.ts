/**
 * The internal CA: a local certificate authority proxykit creates once under the data directory
 * and issues short-lived leaf certificates from (`tls: 'internal'`, and `proxykit dev` for https
 * listeners). Like Caddy's `tls internal`: trust the root once, then every name works.
 *
 * Layout: `<dataDir>/internal/ca.key` (PKCS#8 PEM, 0600) and `<dataDir>/internal/ca.pem`. Both are
 * written atomically (temp file, fsync, rename, fsync of the directory), created together in a
 * temporary directory renamed into place, so two instances starting at once end up with one CA:
 * the loser of the rename loads the winner's files. A restart reuses them (same fingerprint), so
 * the user trusts the root once.
 *
 * Keys are ECDSA P-256 (fast handshakes, universally supported). Root: 10 years, pathLen 0. Leaves:
 * 7 days — short enough that a leaked dev key goes stale quickly, and they renew themselves at two
 * thirds of their lifetime (the manager's timer), as ACME certificates do.
 */
import { X509Certificate, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import { dirname, join } from 'node:path';
import * as x509 from '@peculiar/x509';
import type { Logger } from '../observe/logger.js';
import { normalizeName } from './store.js';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const EC_KEY: EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING: EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const DAY_MS = 24 * 60 * 60 * 1000;
/** Root lifetime: 10 years; the user trusts it once. */
export const ROOT_LIFETIME_MS = 3650 * DAY_MS;
/** Leaf lifetime: 7 days (Caddy uses 12 hours; a week keeps dev restarts quiet with the same safety idea). */
export const LEAF_LIFETIME_MS = 7 * DAY_MS;
/** Leaves and root start a little in the past so a client whose clock lags does not reject them. */
const BACKDATE_MS = 5 * 60 * 1000;

/** A leaf certificate and its private key, PEM. */
export interface IssuedCert {
  certPem: string;
  keyPem: string;
  notAfter: Date;
}

/**
 * Write `data` to `path` atomically: a temp file beside it (mode `mode`), fsync, rename over the
 * target, fsync the directory. A reader sees the old content or the new, never a torn file.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode); // the umask may have narrowed or widened the create mode
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dir);
}

async function fsyncDir(dir: string): Promise<void> {
  try {
    const d = await open(dir, fsConstants.O_RDONLY);
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // Some file systems do not allow fsync on a directory; the rename is still atomic.
  }
}

function toPem(der: ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  return toPem(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

async function importSigningKey(pem: string): Promise<CryptoKey> {
  const der = createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' });
  return webcrypto.subtle.importKey('pkcs8', der, EC_KEY, false, ['sign']);
}

/** Certificates carry whole seconds; keep `notAfter` equal to what the certificate says. */
function wholeSeconds(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

/** A positive random serial number (hex), 128 bits. */
function serial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  if (b[0] === 0) b[0] = 0x01;
  return b.toString('hex');
}

/** The names a leaf for `names` carries: DNS names and IP addresses, deduplicated. */
function sanEntries(names: string[]): Array<{ type: 'dns' | 'ip'; value: string }> {
  const seen = new Set<string>();
  const out: Array<{ type: 'dns' | 'ip'; value: string }> = [];
  for (const raw of names) {
    const n = normalizeName(raw);
    if (!n || seen.has(n)) continue;
    seen.add(n);
    out.push({ type: isIP(n) !== 0 ? 'ip' : 'dns', value: n });
  }
  return out;
}

export interface InternalCaOptions {
  logger?: Logger;
  /** Clock, for tests. */
  now?: () => number;
}

export class InternalCa {
  /** `<dataDir>/internal/ca.pem`: the root certificate to trust. */
  readonly certPath: string;
  /** `<dataDir>/internal/ca.key`. */
  readonly keyPath: string;
  /** SHA-256 fingerprint of the root (`AB:CD:…`). */
  readonly fingerprint: string;
  /** True when this call created the CA (first run); false when it was loaded. */
  readonly created: boolean;
  readonly #certPem: string;
  readonly #cert: x509.X509Certificate;
  readonly #key: CryptoKey;
  readonly #now: () => number;

  private constructor(dir: string, certPem: string, key: CryptoKey, created: boolean, now: () => number) {
    this.certPath = join(dir, 'ca.pem');
    this.keyPath = join(dir, 'ca.key');
    this.#certPem = certPem;
    this.#cert = new x509.X509Certificate(certPem);
    this.#key = key;
    this.created = created;
    this.#now = now;
    this.fingerprint = new X509Certificate(certPem).fingerprint256;
  }

  /**
   * Load the CA from `<dataDir>/internal/`, creating it on first use. Throws when the files exist
   * but cannot be used (unreadable, key not matching the certificate): replacing them silently
   * would break every place the old root is trusted.
   */
  static async open(dataDir: string, opts: InternalCaOptions = {}): Promise<InternalCa> {
    const now = opts.now ?? Date.now;
    const dir = join(dataDir, 'internal');
    const loaded = await InternalCa.#load(dir, now, null);
    if (loaded) return loaded;

    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const { certPem, keyPem } = await InternalCa.#createRoot(now);
    const existing = await stat(dir).catch(() => null);
    if (existing) {
      // An empty `internal/` (made by hand, or a crash before the first files landed): fill it,
      // key first, so a reader never finds a certificate without its key.
      await writeFileAtomic(join(dir, 'ca.key'), keyPem, 0o600);
      await writeFileAtomic(join(dir, 'ca.pem'), certPem, 0o644);
    } else {
      // Build both files in a private temp directory, then move the directory into place in one
      // rename: it fails when another instance got there first, and then we load theirs.
      const tmp = join(dataDir, `.internal-${randomBytes(6).toString('hex')}`);
      await mkdir(tmp, { mode: 0o700 });
      try {
        await writeFileAtomic(join(tmp, 'ca.key'), keyPem, 0o600);
        await writeFileAtomic(join(tmp, 'ca.pem'), certPem, 0o644);
        await rename(tmp, dir);
        await fsyncDir(dataDir);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    }
    const ca = await InternalCa.#load(dir, now, certPem);
    if (!ca) throw new Error(`could not create the internal CA in ${dir}`);
    if (ca.created) opts.logger?.info(`created a local certificate authority in ${dir}`, { fingerprint: ca.fingerprint });
    return ca;
  }

  /** Load the CA files; null when there are none. `ours`: the root this process just wrote, if any. */
  static async #load(dir: string, now: () => number, ours: string | null): Promise<InternalCa | null> {
    const certPath = join(dir, 'ca.pem');
    const keyPath = join(dir, 'ca.key');
    const read = async (path: string): Promise<string | null> => {
      try {
        return await readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw new Error(`cannot read the internal CA file ${path}: ${(err as Error).message}`);
      }
    };
    const [certPem, keyPem] = await Promise.all([read(certPath), read(keyPath)]);
    if (certPem === null && keyPem === null) return null;
    const redo = 'move the directory away to create a new CA (then trust the new ca.pem)';
    if (certPem === null || keyPem === null) {
      throw new Error(`the internal CA in ${dir} is incomplete (${certPem === null ? 'ca.pem' : 'ca.key'} is missing); ${redo}`);
    }
    let match = false;
    try {
      match = new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem));
    } catch (err) {
      throw new Error(`the internal CA in ${dir} is damaged (${(err as Error).message}); ${redo}`);
    }
    if (!match) throw new Error(`the internal CA in ${dir}: ca.key does not belong to ca.pem; ${redo}`);
    const key = await importSigningKey(keyPem);
    return new InternalCa(dir, certPem, key, certPem === ours, now);
  }

  static async #createRoot(now: () => number): Promise<{ certPem: string; keyPem: string }> {
    const keys = (await webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as CryptoKeyPair;
    const notBefore = new Date(wholeSeconds(now() - BACKDATE_MS));
    const stamp = new Date(now()).toISOString().slice(0, 10);
    const name = `CN=proxykit Local CA ${stamp} ${randomBytes(3).toString('hex')}, O=proxykit`;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name,
      notBefore,
      notAfter: new Date(notBefore.getTime() + ROOT_LIFETIME_MS),
      keys,
      signingAlgorithm: SIGNING,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    return { certPem: cert.toString('pem') + '\n', keyPem: await exportKeyPem(keys.privateKey) };
  }

  /** The root certificate, PEM. */
  caPem(): string {
    return this.#certPem;
  }

  /** When the root expires. */
  get notAfter(): Date {
    return this.#cert.notAfter;
  }

  /**
   * A leaf certificate for `names` (DNS names, wildcards, IP addresses such as `127.0.0.1`/`::1`):
   * ECDSA P-256, valid 7 days, serverAuth, SAN with every name, SKI/AKI, signed by the root.
   */
  async issue(names: string[], lifetimeMs = LEAF_LIFETIME_MS): Promise<IssuedCert> {
    const san = sanEntries(names);
    if (san.length === 0) throw new Error('internal CA: no names to issue a certificate for');
    const keys = (await webcrypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as CryptoKeyPair;
    const notBefore = new Date(wholeSeconds(this.#now() - BACKDATE_MS));
    const notAfter = new Date(Math.min(notBefore.getTime() + lifetimeMs, this.#cert.notAfter.getTime()));
    const first = san.find((e) => e.type === 'dns') ?? san[0]!;
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: [{ CN: [first.value] }, { O: ['proxykit internal'] }],
      issuer: this.#cert.subjectName,
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      signingKey: this.#key,
      signingAlgorithm: SIGNING,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(san),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(this.#cert.publicKey),
      ],
    });
    return { certPem: cert.toString('pem') + '\n', keyPem: await exportKeyPem(keys.privateKey), notAfter };
  }

  /** How to make clients trust the root: files, Node, curl, the system store, browsers. */
  trustInstructions(): string {
    const p = this.certPath;
    return [
      `proxykit's local CA signs the certificates of https listeners with tls: 'internal'.`,
      `Trust its root certificate once (fingerprint SHA-256 ${this.fingerprint}):`,
      `  root certificate: ${p}`,
      `  Node.js:          NODE_EXTRA_CA_CERTS=${p} node app.js`,
      `  curl:             curl --cacert ${p} https://localhost:8443/`,
      `  Debian/Ubuntu:    sudo cp ${p} /usr/local/share/ca-certificates/proxykit-local-ca.crt && sudo update-ca-certificates`,
      `  Fedora/RHEL:      sudo cp ${p} /etc/pki/ca-trust/source/anchors/proxykit-local-ca.pem && sudo update-ca-trust`,
      `  macOS:            sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain ${p}`,
      `  Firefox:          Settings → Privacy & Security → Certificates → View Certificates → Authorities → Import`,
      `Keep ${join(dirname(p), 'ca.key')} private: anyone holding it can issue certificates your machine trusts.`,
    ].join('\n');
  }
}

/**
 * OCSP stapling: fetch, verify and cache the OCSP response of each served certificate that has an
 * OCSP responder URL in its Authority Information Access extension, so the TLS handshake can hand
 * it to clients that ask (the `status_request` extension). Certificates without an OCSP URL are
 * skipped cleanly: no request, no log line, no staple.
 *
 * What a response must be to be stapled (RFC 6960): `successful`, of type id-pkix-ocsp-basic, with
 * a SingleResponse whose CertID matches the certificate (issuer name hash, issuer key hash and
 * serial, with whatever hash algorithm the responder used), status `good`, fresh
 * (`thisUpdate ≤ now < nextUpdate`, with 5 minutes of clock skew allowed on `thisUpdate`), and signed
 * either by the issuer itself or by a delegated responder certificate that the issuer signed, that
 * is valid now and carries the id-kp-OCSPSigning extended key usage. RSA PKCS#1 v1.5, ECDSA and
 * Ed25519/Ed448 signatures are checked; an RSA-PSS signed response is refused (not stapled, warned).
 * A revoked or unknown status is never stapled (a good response cached before is dropped at once).
 *
 * Caching: per certificate (keyed by the SHA-256 of its DER), until `nextUpdate`; a new response
 * is fetched in the background once `refreshRatio` (default 0.5) of the window
 * `thisUpdate → nextUpdate` has passed, the first time the certificate is asked for after that
 * (handshakes keep getting the cached, still valid response meanwhile). A response without
 * `nextUpdate` is treated as valid for one hour after `thisUpdate`. Failures (network, timeout, HTTP
 * status, bad or unverifiable response, revoked) are retried with exponential backoff (1 min,
 * doubling, at most 1 hour) and logged at `warn` once per certificate per failure streak (later
 * ones at `debug`); a success after a warning is logged at `info`.
 *
 * ## Wiring (for the listener / TLS manager)
 *
 * ```ts
 * const stapler = new OcspStapler({ logger });
 * // whenever a certificate is installed in the store (file, ACME, internal), warm the cache:
 * void stapler.prefetch({ certPem: stored.certPem, ocspUrl: stored.ocspUrl });
 * // on the https server (http2.createSecureServer is a tls.Server):
 * server.on('OCSPRequest', (certificate: Buffer, issuer: Buffer | null, cb: (err: Error | null, resp?: Buffer) => void) => {
 *   cb(null, stapler.responseFromDer(certificate, issuer) ?? undefined);
 * });
 * // on shutdown:
 * stapler.close();
 * ```
 *
 * Node emits `'OCSPRequest'` only when the client sent `status_request` (`requestOCSP: true` in
 * `tls.connect`, every browser); the handler never blocks the handshake: a miss returns
 * `undefined` (no staple) and starts a background fetch for the next handshakes. `issuer` is the
 * issuer certificate Node found in the served chain or the trust store (it can be null for a
 * certificate served without its chain; the one found by `prefetch` in the PEM is used then).
 */
import { createHash, verify as cryptoVerify, X509Certificate, type KeyObject } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import {
  BasicOCSPResponse,
  CertID,
  id_kp_OCSPSigning,
  id_pkix_ocsp_basic,
  OCSPRequest,
  OCSPResponse,
  OCSPResponseStatus,
  Request as OcspSingleRequest,
  TBSRequest,
} from '@peculiar/asn1-ocsp';
import { request as undiciRequest } from 'undici';
import type { Logger } from '../observe/logger.js';
import { childrenOf, readTlv } from './der.js';

export interface OcspStaplerOptions {
  logger: Logger;
  /** HTTP client (undici's `request` signature). Default: undici `request`. */
  fetch?: typeof undiciRequest;
  /** Share of the validity window (thisUpdate → nextUpdate) after which a response is refreshed. Default 0.5. */
  refreshRatio?: number;
  /** Timeout of one OCSP request (connect to last body byte), ms. Default 5000. */
  timeoutMs?: number;
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number;
}

/** Result of checking an OCSP response against a certificate. */
export interface OcspVerdict {
  status: 'good' | 'revoked' | 'unknown';
  thisUpdate: Date;
  /** Absent when the responder gave none. */
  nextUpdate: Date | null;
  /** For `revoked`. */
  revocationTime?: Date;
  /** `issuer` or `delegated` (a responder certificate signed by the issuer with id-kp-OCSPSigning). */
  signer: 'issuer' | 'delegated';
}

const SHA1 = '1.3.14.3.2.26';
const HASH_BY_OID: Record<string, string> = {
  [SHA1]: 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
/** Signature algorithm OID → digest for node's `crypto.verify` (null: the key implies it, EdDSA). */
const SIG_HASH: Record<string, string | null> = {
  '1.2.840.113549.1.1.5': 'sha1',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.1': 'sha1',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.3.101.112': null,
  '1.3.101.113': null,
};

const SKEW_MS = 5 * 60_000;
const NO_NEXT_UPDATE_MS = 60 * 60_000;
const MIN_REFRESH_MS = 10_000;
const BACKOFF_MIN_MS = 60_000;
const BACKOFF_MAX_MS = 60 * 60_000;
const MAX_RESPONSE_BYTES = 64 * 1024;
const MAX_ENTRIES = 10_000;

// ---------------------------------------------------------------------------------------------
// PEM and minimal DER reading (raw byte ranges; re-encoding parsed names could change bytes)

/** The certificates of a PEM bundle, each as its own PEM block, in order (leaf first). */
export function splitChain(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)?.map((b) => `${b}\n`) ?? [];
}

function pemToDer(pem: string): Buffer {
  const body = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
  return Buffer.from(body, 'base64');
}


interface CertParts {
  /** INTEGER contents. */
  serial: Buffer;
  /** Subject Name, DER (whole TLV). */
  subject: Buffer;
  /** subjectPublicKey BIT STRING value without the unused-bits byte. */
  publicKeyBits: Buffer;
}

function certParts(der: Buffer): CertParts {
  const cert = readTlv(der, 0);
  const tbs = childrenOf(der, cert)[0];
  if (!tbs) throw new Error('not a certificate');
  const f = childrenOf(der, tbs);
  const i = f[0]?.tag === 0xa0 ? 1 : 0;
  const serial = f[i];
  const subject = f[i + 4];
  const spki = f[i + 5];
  if (!serial || serial.tag !== 0x02 || !subject || !spki) throw new Error('not a certificate');
  const bits = childrenOf(der, spki)[1];
  if (!bits || bits.tag !== 0x03) throw new Error('certificate without a public key');
  return {
    serial: der.subarray(serial.content, serial.end),
    subject: der.subarray(subject.start, subject.end),
    publicKeyBits: der.subarray(bits.content + 1, bits.end),
  };
}

function stripZeros(b: Uint8Array): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return Buffer.from(b.subarray(i));
}

function hash(alg: string, data: Uint8Array): Buffer {
  return createHash(alg).update(data).digest();
}

// ---------------------------------------------------------------------------------------------
// Request and response

/** The CertID (RFC 6960 §4.1.1) of a certificate, with SHA-1 unless another digest OID is given. */
export function certIdFor(certDer: Buffer, issuerDer: Buffer, hashOid = SHA1): CertID {
  const alg = HASH_BY_OID[hashOid];
  if (!alg) throw new Error(`unsupported CertID hash ${hashOid}`);
  const issuer = certParts(issuerDer);
  const serial = certParts(certDer).serial;
  return new CertID({
    hashAlgorithm: new AlgorithmIdentifier({ algorithm: hashOid, parameters: null }),
    issuerNameHash: new OctetString(hash(alg, issuer.subject)),
    issuerKeyHash: new OctetString(hash(alg, issuer.publicKeyBits)),
    serialNumber: new Uint8Array(serial).buffer,
  });
}

/** A DER OCSPRequest (unsigned, no nonce: responses must be cacheable) for one certificate. */
export function buildOcspRequest(certDer: Buffer, issuerDer: Buffer): Buffer {
  const req = new OCSPRequest({
    tbsRequest: new TBSRequest({ requestList: [new OcspSingleRequest({ reqCert: certIdFor(certDer, issuerDer) })] }),
  });
  return Buffer.from(AsnConvert.serialize(req));
}

function sameCertId(got: CertID, certDer: Buffer, issuerDer: Buffer): boolean {
  const oid = got.hashAlgorithm.algorithm;
  if (!HASH_BY_OID[oid]) return false;
  const want = certIdFor(certDer, issuerDer, oid);
  return (
    Buffer.from(got.issuerNameHash.buffer).equals(Buffer.from(want.issuerNameHash.buffer)) &&
    Buffer.from(got.issuerKeyHash.buffer).equals(Buffer.from(want.issuerKeyHash.buffer)) &&
    stripZeros(new Uint8Array(got.serialNumber)).equals(stripZeros(new Uint8Array(want.serialNumber)))
  );
}

function checkSignature(sigOid: string, data: Buffer, signature: Buffer, key: KeyObject): boolean {
  if (!(sigOid in SIG_HASH)) throw new Error(`unsupported signature algorithm ${sigOid}`);
  try {
    return cryptoVerify(SIG_HASH[sigOid] ?? null, data, key, signature);
  } catch {
    return false;
  }
}

/**
 * Parse a DER OCSPResponse and check it for `certDer` issued by `issuerDer`: structure, CertID,
 * signature (issuer or delegated responder). Throws with a reason when it cannot be trusted; returns
 * the status and validity otherwise (freshness is the caller's business, see `isFresh`).
 */
export function checkOcspResponse(der: Buffer, certDer: Buffer, issuerDer: Buffer, now = Date.now()): OcspVerdict {
  const outer = AsnConvert.parse(der, OCSPResponse);
  if (outer.responseStatus !== OCSPResponseStatus.successful) {
    throw new Error(`responder answered ${OCSPResponseStatus[outer.responseStatus] ?? outer.responseStatus}`);
  }
  if (!outer.responseBytes || outer.responseBytes.responseType !== id_pkix_ocsp_basic) throw new Error('not a basic OCSP response');
  const basicDer = Buffer.from(outer.responseBytes.response.buffer);
  const basic = AsnConvert.parse(basicDer, BasicOCSPResponse);
  // Raw bytes of tbsResponseData and of the embedded certificates, as signed.
  const basicTlv = readTlv(basicDer, 0);
  const parts = childrenOf(basicDer, basicTlv);
  const tbsRaw = basicDer.subarray(parts[0]!.start, parts[0]!.end);
  const certsRaw: Buffer[] = [];
  const certsField = parts.find((p) => p.tag === 0xa0);
  if (certsField) {
    const seq = childrenOf(basicDer, certsField)[0];
    if (seq) for (const c of childrenOf(basicDer, seq)) certsRaw.push(basicDer.subarray(c.start, c.end));
  }

  const single = basic.tbsResponseData.responses.find((r) => sameCertId(r.certID, certDer, issuerDer));
  if (!single) throw new Error('no response for this certificate in the OCSP response (CertID mismatch)');

  const sigOid = basic.signatureAlgorithm.algorithm;
  const signature = Buffer.from(basic.signature);
  const issuerX = new X509Certificate(issuerDer);
  let signer: OcspVerdict['signer'] | null = null;
  if (checkSignature(sigOid, tbsRaw, signature, issuerX.publicKey)) signer = 'issuer';
  else {
    for (const raw of certsRaw) {
      let x: X509Certificate;
      try {
        x = new X509Certificate(raw);
      } catch {
        continue;
      }
      const valid = Date.parse(x.validFrom) <= now && now < Date.parse(x.validTo);
      const eku = x.keyUsage ?? [];
      if (!valid || !eku.includes(id_kp_OCSPSigning) || !x.checkIssued(issuerX) || !x.verify(issuerX.publicKey)) continue;
      if (checkSignature(sigOid, tbsRaw, signature, x.publicKey)) {
        signer = 'delegated';
        break;
      }
    }
  }
  if (!signer) throw new Error('OCSP response signature does not verify against the issuer or a delegated responder');

  const st = single.certStatus;
  const status: OcspVerdict['status'] = st.revoked ? 'revoked' : st.good !== undefined ? 'good' : 'unknown';
  return {
    status,
    thisUpdate: single.thisUpdate,
    nextUpdate: single.nextUpdate ?? null,
    ...(st.revoked ? { revocationTime: st.revoked.revocationTime } : {}),
    signer,
  };
}

/** The end of a response's validity: nextUpdate, or one hour after thisUpdate when it has none. */
function expiryOf(v: Pick<OcspVerdict, 'thisUpdate' | 'nextUpdate'>): number {
  return v.nextUpdate ? v.nextUpdate.getTime() : v.thisUpdate.getTime() + NO_NEXT_UPDATE_MS;
}

/** thisUpdate ≤ now (+ clock skew) < nextUpdate. */
export function isFresh(v: Pick<OcspVerdict, 'thisUpdate' | 'nextUpdate'>, now: number): boolean {
  return v.thisUpdate.getTime() - SKEW_MS <= now && now < expiryOf(v);
}

// ---------------------------------------------------------------------------------------------
// The stapler

interface Entry {
  certDer: Buffer;
  issuerDer: Buffer | null;
  url: string | null;
  label: string;
  /** The verified good response being stapled, and its window. */
  response: Buffer | null;
  thisUpdate: number;
  expiresAt: number;
  refreshAt: number;
  inflight: Promise<void> | null;
  retryAt: number;
  failures: number;
  warned: boolean;
}

function ocspUrlOf(x: X509Certificate): string | null {
  return /OCSP - URI:(\S+)/.exec(x.infoAccess ?? '')?.[1] ?? null;
}

export class OcspStapler {
  readonly #logger: Logger;
  readonly #fetch: typeof undiciRequest;
  readonly #ratio: number;
  readonly #timeoutMs: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  #closed = false;

  constructor(opts: OcspStaplerOptions) {
    this.#logger = opts.logger;
    this.#fetch = opts.fetch ?? undiciRequest;
    const r = opts.refreshRatio ?? 0.5;
    this.#ratio = Number.isFinite(r) && r > 0 && r <= 1 ? r : 0.5;
    this.#timeoutMs = opts.timeoutMs ?? 5000;
    this.#now = opts.now ?? Date.now;
  }

  /**
   * The cached DER OCSP response to staple for a certificate (PEM, leaf first; `issuerPem` or the
   * second certificate of `certPem` is its issuer), or null. Never waits: a miss (or a response due
   * for refresh) starts a background fetch.
   */
  responseFor(certPem: string, issuerPem: string | null): Buffer | null {
    const chain = splitChain(certPem);
    if (chain.length === 0) return null;
    const issuer = issuerPem ? splitChain(issuerPem)[0] : chain[1];
    return this.responseFromDer(pemToDer(chain[0]!), issuer ? pemToDer(issuer) : null);
  }

  /** `responseFor` with DER certificates, as Node's `'OCSPRequest'` event passes them. */
  responseFromDer(certDer: Buffer, issuerDer: Buffer | null): Buffer | null {
    if (this.#closed) return null;
    const entry = this.#entry(certDer, issuerDer, undefined);
    if (!entry || !entry.url) return null;
    const now = this.#now();
    const fresh = entry.response !== null && entry.thisUpdate - SKEW_MS <= now && now < entry.expiresAt;
    if (!entry.inflight && now >= entry.retryAt && (!fresh || now >= entry.refreshAt)) void this.#refresh(entry);
    return fresh ? entry.response : null;
  }

  /**
   * Fetch (and cache) the response for a certificate now, e.g. when it is installed, so the first
   * handshakes already get a staple. `chainPem` (intermediates, issuer first) defaults to the
   * certificates after the leaf in `certPem`. `ocspUrl: null` skips without any network. Never throws.
   */
  async prefetch(cert: { certPem: string; chainPem?: string; ocspUrl: string | null }): Promise<void> {
    if (this.#closed || !cert.ocspUrl) return;
    try {
      const chain = splitChain(cert.certPem);
      if (chain.length === 0) return;
      const leafDer = pemToDer(chain[0]!);
      const candidates = [...chain.slice(1), ...splitChain(cert.chainPem ?? '')].map(pemToDer).filter((d) => !d.equals(leafDer));
      let issuerDer: Buffer | null = candidates[0] ?? null;
      const leafX = new X509Certificate(leafDer);
      for (const d of candidates) {
        try {
          if (leafX.checkIssued(new X509Certificate(d))) {
            issuerDer = d;
            break;
          }
        } catch {
          // not a certificate: skip
        }
      }
      const entry = this.#entry(leafDer, issuerDer, cert.ocspUrl);
      if (!entry) return;
      const now = this.#now();
      if (entry.inflight) return await entry.inflight;
      const fresh = entry.response !== null && now < entry.expiresAt && now < entry.refreshAt;
      if (!fresh && now >= entry.retryAt) await this.#refresh(entry);
    } catch (err) {
      this.#logger.debug('OCSP prefetch failed', { err: String(err) });
    }
  }

  /** Forget a certificate (e.g. removed from the store). */
  forget(certPem: string): void {
    const leaf = splitChain(certPem)[0];
    if (leaf) this.#entries.delete(keyOf(pemToDer(leaf)));
  }

  /** Stop: no more fetches, no staples; in-flight requests are left to finish and ignored. */
  close(): void {
    this.#closed = true;
    this.#entries.clear();
  }

  #entry(certDer: Buffer, issuerDer: Buffer | null, url: string | null | undefined): Entry | null {
    const key = keyOf(certDer);
    let e = this.#entries.get(key);
    if (!e) {
      let x: X509Certificate;
      try {
        x = new X509Certificate(certDer);
      } catch {
        return null;
      }
      const cn = /^CN=(.*)$/m.exec(x.subject)?.[1];
      const san = /DNS:([^,\s]+)/.exec(x.subjectAltName ?? '')?.[1];
      e = {
        certDer: Buffer.from(certDer),
        issuerDer: issuerDer ? Buffer.from(issuerDer) : null,
        url: url !== undefined ? url : ocspUrlOf(x),
        label: `${san ?? cn ?? x.subject.replace(/\n/g, ', ')} (serial ${x.serialNumber})`,
        response: null,
        thisUpdate: 0,
        expiresAt: 0,
        refreshAt: 0,
        inflight: null,
        retryAt: 0,
        failures: 0,
        warned: false,
      };
      if (this.#entries.size >= MAX_ENTRIES) {
        const oldest = this.#entries.keys().next().value;
        if (oldest !== undefined) this.#entries.delete(oldest);
      }
      this.#entries.set(key, e);
    } else {
      if (issuerDer && !e.issuerDer) e.issuerDer = Buffer.from(issuerDer);
      if (url) e.url = url;
    }
    return e;
  }

  #refresh(entry: Entry): Promise<void> {
    if (entry.inflight) return entry.inflight;
    const p = this.#fetchAndCheck(entry).finally(() => {
      entry.inflight = null;
    });
    entry.inflight = p;
    return p;
  }

  async #fetchAndCheck(entry: Entry): Promise<void> {
    const url = entry.url!;
    try {
      if (!entry.issuerDer) throw new Error('the issuer certificate is not known (serve the chain with the certificate)');
      const body = buildOcspRequest(entry.certDer, entry.issuerDer);
      const der = await this.#post(url, body);
      if (this.#closed) return;
      const now = this.#now();
      const v = checkOcspResponse(der, entry.certDer, entry.issuerDer, now);
      if (v.status !== 'good') {
        entry.response = null;
        const when = v.revocationTime ? ` at ${v.revocationTime.toISOString()}` : '';
        throw new Error(`the responder says the certificate is ${v.status}${when}; not stapling`);
      }
      if (!isFresh(v, now)) {
        throw new Error(`stale OCSP response (thisUpdate ${v.thisUpdate.toISOString()}, nextUpdate ${v.nextUpdate?.toISOString() ?? 'none'})`);
      }
      const thisUpdate = v.thisUpdate.getTime();
      const expiresAt = expiryOf(v);
      entry.response = der;
      entry.thisUpdate = thisUpdate;
      entry.expiresAt = expiresAt;
      entry.refreshAt = Math.max(thisUpdate + this.#ratio * (expiresAt - thisUpdate), Math.min(now + MIN_REFRESH_MS, expiresAt));
      entry.retryAt = 0;
      entry.failures = 0;
      if (entry.warned) this.#logger.info('OCSP stapling: responses for the certificate are available again', { cert: entry.label, url });
      else this.#logger.debug('OCSP response cached', { cert: entry.label, url, nextUpdate: new Date(expiresAt).toISOString() });
      entry.warned = false;
    } catch (err) {
      if (this.#closed) return;
      entry.failures++;
      const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(entry.failures - 1, 10));
      entry.retryAt = this.#now() + backoff;
      const fields = {
        cert: entry.label,
        url,
        err: err instanceof Error ? err.message : String(err),
        retryInSec: Math.round(backoff / 1000),
        stapling: entry.response !== null && this.#now() < entry.expiresAt ? 'cached response until nextUpdate' : 'none',
      };
      if (!entry.warned) {
        entry.warned = true;
        this.#logger.warn('OCSP stapling: could not get a good OCSP response', fields);
      } else {
        this.#logger.debug('OCSP stapling: still failing', fields);
      }
    }
  }

  async #post(url: string, body: Buffer): Promise<Buffer> {
    const signal = AbortSignal.timeout(this.#timeoutMs);
    const res = await this.#fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/ocsp-request', accept: 'application/ocsp-response' },
      body,
      signal,
      headersTimeout: this.#timeoutMs,
      bodyTimeout: this.#timeoutMs,
    });
    if (res.statusCode !== 200) {
      res.body.resume();
      throw new Error(`responder answered HTTP ${res.statusCode}`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > MAX_RESPONSE_BYTES) {
        res.body.destroy();
        throw new Error(`OCSP response larger than ${MAX_RESPONSE_BYTES} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }
}

function keyOf(certDer: Buffer): string {
  return createHash('sha256').update(certDer).digest('hex');
}

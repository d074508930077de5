/**
 * ACME Renewal Information (ARI, RFC 9773): the CA tells each client when to renew each
 * certificate (a `suggestedWindow`), so it can spread renewals out and ask for early renewal
 * before a mass revocation. Used when the CA's directory has a `renewalInfo` URL; otherwise (and
 * whenever the CA's answer is unusable) renewal falls back to the lifetime rule (renewal.ts).
 *
 * - Certificate identifier (§4.1): base64url(AKI keyIdentifier) "." base64url(serial), where the
 *   serial is the DER INTEGER's content octets (a leading 0x00 kept when the high bit is set).
 * - `GET <renewalInfo>/<id>` → `{ suggestedWindow: { start, end }, explanationURL? }`; a window
 *   whose end is not after its start is invalid and treated as no answer (§4.2).
 * - The client renews at a uniformly random time inside the window, at once when that time has
 *   passed (§4.2), and asks again after `Retry-After` (clamped to one minute … one day; six hours
 *   when absent) (§4.3).
 * - A renewal order names the certificate it replaces (`replaces`, §5).
 */
import acme from 'acme-client';
import { childrenOf, readTlv } from '../der.js';

/** Re-check interval without a usable Retry-After (RFC 9773 §4.3.3 suggests a few hours). */
export const ARI_DEFAULT_POLL_MS = 6 * 3600_000;
export const ARI_MIN_POLL_MS = 60_000;
export const ARI_MAX_POLL_MS = 24 * 3600_000;
/** Longest wait for a directory or renewalInfo answer. */
const ARI_TIMEOUT_MS = 10_000;
/** The directory is fetched again after this long (a CA may add or move `renewalInfo`). */
const DIRECTORY_MAX_AGE_MS = 24 * 3600_000;

export interface SuggestedWindow {
  /** ms since the epoch. */
  start: number;
  end: number;
}

export interface RenewalInfo {
  window: SuggestedWindow;
  explanationURL?: string;
  /** When to ask again, ms from now (clamped). */
  retryAfterMs: number;
}

// ---------------------------------------------------------------------------------------------
// Certificate identifier


const OID_AKI = Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x23]); // 2.5.29.35

function pemToDer(pem: string): Buffer | null {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(pem);
  return m ? Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64') : null;
}

/**
 * The ARI identifier of a certificate (the first one of a PEM chain, or DER), or null when it has
 * no Authority Key Identifier with a keyIdentifier, or cannot be parsed.
 */
export function ariCertId(cert: string | Uint8Array): string | null {
  const der = typeof cert === 'string' ? pemToDer(cert) : cert;
  if (!der) return null;
  try {
    const root = readTlv(der, 0, der.length);
    const tbs = childrenOf(der, root)[0];
    if (!tbs || tbs.tag !== 0x30) return null;
    const fields = childrenOf(der, tbs);
    const i = fields[0]?.tag === 0xa0 ? 1 : 0; // [0] version
    const serial = fields[i];
    if (!serial || serial.tag !== 0x02 || serial.end === serial.content) return null;
    const exts = fields.find((f) => f.tag === 0xa3); // [3] extensions
    if (!exts) return null;
    const list = childrenOf(der, exts)[0];
    if (!list) return null;
    for (const ext of childrenOf(der, list)) {
      const parts = childrenOf(der, ext);
      const oid = parts[0];
      if (!oid || !Buffer.from(der.subarray(oid.content - 2, oid.end)).equals(OID_AKI)) continue;
      const value = parts[parts.length - 1]!; // OCTET STRING (after an optional `critical`)
      if (value.tag !== 0x04) return null;
      const aki = readTlv(der, value.content, value.end); // AuthorityKeyIdentifier SEQUENCE
      const keyId = childrenOf(der, aki).find((c) => c.tag === 0x80); // [0] IMPLICIT KeyIdentifier
      if (!keyId || keyId.end === keyId.content) return null;
      const b64 = (s: number, e: number): string => Buffer.from(der.subarray(s, e)).toString('base64url');
      return `${b64(keyId.content, keyId.end)}.${b64(serial.content, serial.end)}`;
    }
    return null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Renewal information

/** The `suggestedWindow` of a renewalInfo response body, or null when missing or invalid. */
export function parseRenewalInfo(body: unknown): { window: SuggestedWindow; explanationURL?: string } | null {
  let data = body;
  if (typeof data === 'string' || data instanceof Uint8Array) {
    try {
      data = JSON.parse(typeof data === 'string' ? data : Buffer.from(data).toString('utf8'));
    } catch {
      return null;
    }
  }
  const w = (data as { suggestedWindow?: { start?: unknown; end?: unknown } } | null)?.suggestedWindow;
  if (typeof w?.start !== 'string' || typeof w.end !== 'string') return null;
  const start = Date.parse(w.start);
  const end = Date.parse(w.end);
  if (!Number.isFinite(start) || !Number.isFinite(end) || end <= start) return null;
  const url = (data as { explanationURL?: unknown }).explanationURL;
  return { window: { start, end }, ...(typeof url === 'string' ? { explanationURL: url } : {}) };
}

/** The next poll delay from a Retry-After header value (seconds or HTTP date), clamped. */
export function ariPollDelay(retryAfter: string | undefined, now = Date.now()): number {
  let ms: number | undefined;
  if (retryAfter !== undefined && retryAfter.trim() !== '') {
    const v = retryAfter.trim();
    if (/^\d+$/.test(v)) ms = Number(v) * 1000;
    else if (/^[A-Za-z]{3},/.test(v)) {
      // HTTP-date (IMF-fixdate, e.g. `Wed, 21 Oct 2015 07:28:00 GMT`)
      const at = Date.parse(v);
      if (Number.isFinite(at)) ms = at - now;
    }
  }
  if (ms === undefined) return ARI_DEFAULT_POLL_MS;
  return Math.min(ARI_MAX_POLL_MS, Math.max(ARI_MIN_POLL_MS, ms));
}

/** A uniformly random instant in the window (RFC 9773 §4.2); renew at once when it has passed. */
export function chooseRenewalTime(w: SuggestedWindow, rand: () => number = Math.random): number {
  return w.start + Math.floor((w.end - w.start) * Math.min(Math.max(rand(), 0), 0.999999));
}

/**
 * Talks ARI with one CA: finds `renewalInfo` in its directory (cached for a day) and fetches
 * renewal information, through acme-client's axios instance (so it uses the same agent, proxy and
 * trust settings as the rest of the ACME traffic). Methods reject on network/CA errors; callers
 * fall back to the lifetime rule.
 */
export class AriClient {
  private dir: { at: number; url: Promise<string | null> } | null = null;

  constructor(private readonly directory: string, private readonly signal?: AbortSignal) {}

  /** The CA's `renewalInfo` base URL, or null when its directory has none. */
  renewalInfoUrl(now = Date.now()): Promise<string | null> {
    if (this.dir === null || now - this.dir.at > DIRECTORY_MAX_AGE_MS) {
      const url = this.get(this.directory).then(({ status, data }) => {
        if (status !== 200) throw new Error(`the ACME directory answered HTTP ${status}`);
        const body = typeof data === 'string' ? (JSON.parse(data) as unknown) : data;
        const ri = (body as { renewalInfo?: unknown } | null)?.renewalInfo;
        return typeof ri === 'string' && ri !== '' ? ri : null;
      });
      const entry = { at: now, url };
      this.dir = entry;
      url.catch(() => {
        if (this.dir === entry) this.dir = null; // ask again next time
      });
    }
    return this.dir.url;
  }

  /** The renewal information for `certId` from `base` (the directory's `renewalInfo`). */
  async fetch(base: string, certId: string, now = Date.now()): Promise<RenewalInfo> {
    const { status, data, retryAfter } = await this.get(`${base.replace(/\/+$/, '')}/${certId}`);
    if (status !== 200) throw new Error(`renewalInfo answered HTTP ${status}`);
    const info = parseRenewalInfo(data);
    if (info === null) throw new Error('renewalInfo answer has no valid suggestedWindow');
    return { ...info, retryAfterMs: ariPollDelay(retryAfter, now) };
  }

  private async get(url: string): Promise<{ status: number; data: unknown; retryAfter?: string }> {
    const res = await acme.axios.get(url, {
      timeout: ARI_TIMEOUT_MS,
      validateStatus: () => true,
      ...(this.signal ? { signal: this.signal } : {}),
    } as Parameters<typeof acme.axios.get>[1]);
    const h = res.headers as { get?: (n: string) => unknown } & Record<string, unknown>;
    const ra = typeof h?.get === 'function' ? h.get('retry-after') : h?.['retry-after'];
    return { status: res.status, data: res.data as unknown, ...(ra !== undefined && ra !== null ? { retryAfter: String(ra) } : {}) };
  }
}

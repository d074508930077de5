/**
 * The TLS protocol settings of proxykit's HTTPS listeners: Mozilla's "intermediate" profile
 * (https://wiki.mozilla.org/Security/Server_Side_TLS), which Caddy's defaults match too.
 *
 * Node's default cipher list still offers, for TLS 1.2, CBC suites (LUCKY13-class, and on RFC 9113
 * §9.2.2's list of suites an HTTP/2 client may refuse) and static-RSA key exchange (no forward
 * secrecy). These settings keep TLS 1.2 to ECDHE with an AEAD cipher; TLS 1.3's suites are all AEAD
 * and stay node's. Only the listener's own context counts here: OpenSSL takes protocol versions and
 * ciphers from the server's context, not from the per-name context SNI selects.
 */
import type { SecureContextOptions } from 'node:tls';

/** Lowest TLS version a listener accepts (`tls.minVersion` in the config). */
export type TlsMinVersion = '1.2' | '1.3';

/** TLS 1.2 suites, strongest-and-fastest first: ECDHE key exchange, AEAD ciphers only. */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** Key-exchange groups, fastest first (X448 and P-521 add cost and no practical strength). */
export const ECDH_CURVES = 'X25519:prime256v1:secp384r1';

/** The SecureContext options every HTTPS listener context gets (certificates come on top). */
export type ServerTlsProfile = Pick<SecureContextOptions, 'minVersion' | 'ciphers' | 'ecdhCurve' | 'honorCipherOrder'>;

export function serverTlsProfile(minVersion: TlsMinVersion = '1.2'): ServerTlsProfile {
  return {
    minVersion: minVersion === '1.3' ? 'TLSv1.3' : 'TLSv1.2',
    // A cipher string without TLS 1.3 names leaves node's TLS 1.3 suites as they are.
    ciphers: TLS12_CIPHERS,
    ecdhCurve: ECDH_CURVES,
    // Every suite offered is strong; the server's order puts AES-GCM (hardware) first.
    honorCipherOrder: true,
  };
}

export function sameProfile(a: ServerTlsProfile, b: ServerTlsProfile): boolean {
  return a.minVersion === b.minVersion && a.ciphers === b.ciphers && a.ecdhCurve === b.ecdhCurve && a.honorCipherOrder === b.honorCipherOrder;
}

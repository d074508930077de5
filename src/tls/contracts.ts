/**
 * Contracts between the engine (listeners, gateway) and the TLS subsystem (certificate store,
 * internal CA, ACME issuer, renewal). The engine only calls these; src/tls/* implements them.
 *
 * - Listeners for `https:` addresses ask `TlsService.sni(servername)` for a SecureContext during
 *   the handshake (SNICallback), so certificates change live, without touching a listener. While
 *   `alpnChallengePending()`, they read each ClientHello first and answer `acme-tls/1` handshakes
 *   with `alpnChallengeContext(name)` on a separate TLS server (TLS-ALPN-01, RFC 8737).
 * - HTTP listeners ask `TlsService.httpChallenge(token)` for `/.well-known/acme-challenge/<token>`
 *   before routing (HTTP-01).
 * - The runtime calls `reconcile()` on every config apply with the names the config serves, and
 *   `close()` on shutdown.
 */
import type { SecureContext } from 'node:tls';
import type { CertificateStatus } from '../observe/contracts.js';
import type { ConfigSpec } from '../config/spec.js';

export interface TlsService {
  /**
   * The context for a TLS handshake naming `servername` (may be '' when the client sent no SNI).
   * Order: a pending TLS-ALPN-01 challenge for that name (only when `alpn` includes 'acme-tls/1'
   * if known), an exact certificate, a wildcard certificate one label up, on-demand issuance (if
   * configured and `ask` approves), then the default certificate. Null: abort the handshake.
   */
  sni(servername: string): Promise<SecureContext | null>;
  /**
   * True while a TLS-ALPN-01 challenge is pending. `https:` listeners read the ClientHello of new
   * connections only then (to send `acme-tls/1` handshakes to `alpnChallengeContext`); optional:
   * a service without it never answers TLS-ALPN-01 for names that already have a certificate.
   */
  alpnChallengePending?(): boolean;
  /**
   * The TLS-ALPN-01 challenge certificate for `servername` while its challenge is pending, else
   * null. For handshakes offering ALPN `acme-tls/1` only (RFC 8737 §3).
   */
  alpnChallengeContext?(servername: string): SecureContext | null;
  /** Key authorization for an HTTP-01 token, or null when no such challenge is pending. */
  httpChallenge(token: string): string | null;
  /** True when `host` is served with an ACME-managed certificate (for the HTTP→HTTPS redirect). */
  manages(host: string): boolean;
  /**
   * Apply a config: load file certificates, create/load the internal CA, start issuing ACME
   * certificates for `names` (the hosts of the config's routes plus `tls.domains`). Must not throw
   * for issuance failures (they are logged and retried); throws ConfigError for unreadable
   * certificate files and the like, before anything changes.
   */
  reconcile(spec: ConfigSpec, names: string[]): Promise<void>;
  /**
   * The certificate for clients that send no SNI (node runs no SNICallback for them, so listeners
   * install it as their own context, again whenever it changes). Null: no such certificate.
   */
  defaultKeyPair(): { cert: string; key: string } | null;
  /**
   * A fresh, verified, "good" OCSP response to staple for this certificate, or null (no OCSP URL,
   * not fetched yet, revoked, responder down). Never waits: responses are fetched in the background.
   */
  ocspResponse(certDer: Buffer, issuerDer: Buffer | null): Buffer | null;
  /** Certificates being served, for the admin API and dashboard. */
  certificates(): CertificateStatus[];
  close(): Promise<void>;
}

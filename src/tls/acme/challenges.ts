/**
 * Challenge responders (RFC 8555 §8): what the engine serves while a challenge is pending.
 *
 * - HTTP-01 (§8.3): `GET /.well-known/acme-challenge/<token>` → the key authorization. Kept until
 *   the authorization is final: the CA validates from several vantage points (Pebble: 3 GETs).
 * - TLS-ALPN-01 (RFC 8737): a handshake with SNI = the name and ALPN `acme-tls/1` gets a
 *   self-signed certificate carrying the critical acmeIdentifier extension.
 * - DNS-01 (§8.4): the user's provider publishes `_acme-challenge.<name>` TXT = the digest.
 *   `set(name, value)` gets the bare name (`example.com` for `*.example.com`) and should resolve
 *   once the record is visible to the CA (we do not poll DNS for propagation); `remove` runs after
 *   the authorization is final, also on failure.
 */
import tls from 'node:tls';
import acme from 'acme-client';
import type { DnsChallengeProvider } from '../../config/spec.js';
import { DnsProviderError } from './renewal.js';

export type ChallengeType = 'http-01' | 'tls-alpn-01' | 'dns-01';

export class ChallengeResponders {
  /** token → key authorization. A token may be shared by overlapping attempts: refcount. */
  private readonly http = new Map<string, { keyAuth: string; refs: number }>();
  /** name → TLS-ALPN-01 context. */
  private readonly alpn = new Map<string, { ctx: tls.SecureContext; refs: number }>();

  constructor(private readonly dns?: DnsChallengeProvider) {}

  httpChallenge(token: string): string | null {
    return this.http.get(token)?.keyAuth ?? null;
  }

  alpnChallengeContext(servername: string): tls.SecureContext | null {
    return this.alpn.get(servername.toLowerCase())?.ctx ?? null;
  }

  /** True while any TLS-ALPN-01 challenge is pending (listeners may peek at ALPN only then). */
  get alpnPending(): boolean {
    return this.alpn.size > 0;
  }

  /**
   * Publishes the answer for one challenge; returns the function that withdraws it.
   * `identifier` is the authorization's identifier (for a wildcard, the base name).
   */
  async present(
    type: ChallengeType,
    identifier: string,
    authz: acme.Authorization,
    token: string,
    keyAuth: string,
  ): Promise<() => Promise<void>> {
    switch (type) {
      case 'http-01': {
        const cur = this.http.get(token);
        if (cur) cur.refs++;
        else this.http.set(token, { keyAuth, refs: 1 });
        return async () => {
          const e = this.http.get(token);
          if (e && --e.refs <= 0) this.http.delete(token);
        };
      }
      case 'tls-alpn-01': {
        // ECDSA key: createAlpnCertificate's default is RSA-2048, ~0.4 s (acme-testing.md pitfall 8).
        const key = await acme.crypto.createPrivateEcdsaKey();
        const [keyPem, certPem] = await acme.crypto.createAlpnCertificate(authz, keyAuth, key);
        const ctx = tls.createSecureContext({ key: keyPem, cert: certPem });
        const name = identifier.toLowerCase();
        const cur = this.alpn.get(name);
        if (cur) {
          cur.ctx = ctx;
          cur.refs++;
        } else this.alpn.set(name, { ctx, refs: 1 });
        return async () => {
          const e = this.alpn.get(name);
          if (e && --e.refs <= 0) this.alpn.delete(name);
        };
      }
      case 'dns-01': {
        const dns = this.dns;
        if (!dns) throw new DnsProviderError(`no DNS-01 provider configured for ${identifier}`);
        // For dns-01 acme-client's "key authorization" is already the TXT value (base64url SHA-256).
        try {
          await dns.set(identifier, keyAuth);
        } catch (err) {
          throw new DnsProviderError(`DNS provider could not set _acme-challenge.${identifier} TXT: ${(err as Error)?.message ?? err}`, { cause: err });
        }
        return async () => {
          await dns.remove(identifier, keyAuth);
        };
      }
    }
  }
}

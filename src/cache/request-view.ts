/**
 * A request as the cache reads it: header lookups straight from node's rawHeaders (no header object
 * is built on the hit path) and the `CacheKeyRequest` that key functions and bypass rules see.
 */
import type { CacheKeyRequest, HeaderGetter } from './contracts.js';

/** Header lookup by lower-case name over a flat rawHeaders list; repeats joined per RFC 9110 §5.3. */
export function rawHeaderGetter(raw: readonly string[]): HeaderGetter {
  return (lower) => {
    let value: string | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i];
      if (name.length !== lower.length || name.toLowerCase() !== lower) continue;
      // Cookie is the exception to comma-joining (RFC 6265 §5.4).
      value = value === undefined ? raw[i + 1] : `${value}${lower === 'cookie' ? '; ' : ', '}${raw[i + 1]}`;
    }
    return value;
  };
}

/** Value of one cookie in a Cookie header, or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function keyRequest(method: string, scheme: 'http' | 'https', host: string, path: string, query: string, get: HeaderGetter): CacheKeyRequest {
  return {
    method,
    scheme,
    host,
    path,
    query,
    header: get,
    cookie: (name) => cookieValue(get('cookie'), name),
  };
}

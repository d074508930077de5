/**
 * Header handling for both directions of a proxied exchange.
 *
 * Hop-by-hop headers (RFC 9110 §7.6.1) are removed both ways: Connection and every header it
 * names, Keep-Alive, Proxy-Connection, TE, Transfer-Encoding, Upgrade, plus Proxy-Authorization /
 * Proxy-Authenticate (meant for this proxy, RFC 9110 §11.7) and Trailer unless trailers are
 * forwarded. Both directions work on flat `[name, value, name, value…]` arrays, never on header
 * objects: node gives us `rawHeaders`, undici takes and gives flat arrays, and skipping the object
 * form avoids the megamorphic property access that dominates a Node proxy's profile.
 *
 * Names are compared in lower case, but a name is only lower-cased when its length is one of the
 * lengths we care about (a cheap filter that skips most headers).
 */
import type { CompiledHeaderEdits } from './plan.js';

/** Lower-case names removed from every request before it goes upstream. */
export const REQUEST_HOP_BY_HOP = [
  'connection', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade',
  'proxy-authorization', 'proxy-authenticate', 'trailer', 'http2-settings',
  // Rebuilt by the proxy itself:
  'host', 'expect', 'x-request-id',
] as const;

/** Lower-case names removed from every response before it goes to the client. */
export const RESPONSE_HOP_BY_HOP = [
  'connection', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade',
  'proxy-authenticate', 'proxy-authorization', 'http2-settings',
] as const;

/** Headers that say who forwarded a request; believed only from trusted proxies. */
export const FORWARDING_HEADERS = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded', 'x-real-ip'] as const;

/** A set of lower-case names plus a length filter that rejects most other names without lower-casing. */
export class NameSet {
  private readonly names: Set<string>;
  private readonly lengths: Uint8Array;

  constructor(names: Iterable<string>) {
    this.names = new Set();
    this.lengths = new Uint8Array(256);
    for (const n of names) this.add(n);
  }

  add(name: string): void {
    const lower = name.toLowerCase();
    this.names.add(lower);
    if (lower.length < 256) this.lengths[lower.length] = 1;
  }

  /** `name` in any case. Returns the lower-case form when it is in the set, else null. */
  match(name: string): string | null {
    const len = name.length;
    if (len >= 256 || this.lengths[len] === 0) return null;
    const lower = name.toLowerCase();
    return this.names.has(lower) ? lower : null;
  }

  has(lowerName: string): boolean {
    return this.names.has(lowerName);
  }

  get size(): number {
    return this.names.size;
  }
}

/** Token list of a Connection header value, lower-cased (`"close, X-Foo"` → ['close', 'x-foo']). */
export function connectionTokens(value: string): string[] {
  const out: string[] = [];
  for (const part of value.split(',')) {
    const t = part.trim().toLowerCase();
    if (t.length > 0) out.push(t);
  }
  return out;
}

/** Names listed in Connection that are not themselves standard connection options. */
export function namedByConnection(value: string): string[] | null {
  // The common values name no other header; skip the split for them.
  if (value === 'keep-alive' || value === 'close' || value === 'Keep-Alive' || value === 'Close' || value === 'upgrade') return null;
  let names: string[] | null = null;
  for (const t of connectionTokens(value)) {
    if (t === 'close' || t === 'keep-alive' || t === 'upgrade') continue;
    (names ??= []).push(t);
  }
  return names;
}

/** Apply a route's `set` / `add` entries to a flat header array (removal already happened). */
export function appendEdits(out: string[], edits: CompiledHeaderEdits): void {
  const set = edits.set;
  for (let i = 0; i < set.length; i += 2) out.push(set[i], set[i + 1]);
  const add = edits.add;
  for (let i = 0; i < add.length; i += 2) out.push(add[i], add[i + 1]);
}

/** Quote an address for RFC 7239 `Forwarded: for=` (IPv6 and anything with ':' must be quoted). */
export function forwardedNode(ip: string): string {
  return ip.includes(':') ? `"[${ip}]"` : ip;
}

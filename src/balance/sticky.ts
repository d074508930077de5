/**
 * Session affinity by a signed cookie (`.sticky({ cookie })`). The first response from a pool
 * sets `NAME=<upstream id>.<signature>`; later requests carrying a valid cookie go back to that
 * upstream while `accept` still takes it (when it is down, the balancer picks another and the
 * cookie is rewritten).
 *
 * - The cookie names the upstream's `id`, a short hash of pool name + URL, never its address, so
 *   it leaks no internal topology.
 * - The signature is HMAC-SHA256 over the id, base64url, truncated to 16 characters (96 bits), and
 *   is compared in constant time, so a client cannot steer itself to an upstream of its choosing
 *   (e.g. pile onto one backend) by forging a cookie.
 * - The key is `secret` when given; otherwise a random key made once per process. With the default,
 *   cookies are not honoured by other instances or after a restart (clients are simply re-balanced);
 *   set `secret` to the same value on every instance to share affinity across them and restarts.
 * - The signature does not expire: `ttl` becomes the cookie's `Max-Age`, which the client enforces.
 *
 * Cost: `read()` scans the Cookie header by index; a value already verified is found in a small
 * map (only genuine values ever enter it, so clients cannot grow it beyond the few ids signed), and
 * otherwise costs one HMAC. `setCookieValue()` is cached per upstream id.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { StickySpec } from '../config/spec.js';
import { parseDuration } from '../config/units.js';
import { cookieValueEnd, cookieValueStart } from './algorithms/key.js';

/** Signature length in base64url characters (96 bits). */
const SIG_CHARS = 16;
/** Bound on the verified-value and Set-Cookie caches (a pool has far fewer upstreams). */
const CACHE_MAX = 1024;
/** A cookie name is an RFC 9110 token (RFC 6265 §4.1.1). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Characters an id may not contain: controls, space, DQUOTE, comma, semicolon, backslash (not cookie-octets). */
const NOT_COOKIE_OCTET = /[\x00-\x20\x7f",;\\]/;

export class StickyCookie {
  /** The cookie name. */
  readonly name: string;
  /** Max-Age in seconds, or null for a session cookie. */
  readonly maxAgeSec: number | null;
  private readonly key: Buffer;
  private readonly needle: string;
  /** Cookie values already verified, to the id they name. */
  private readonly verified = new Map<string, string>();
  /** Set-Cookie header values by id. */
  private readonly setCookies = new Map<string, string>();

  /** @throws TypeError when the cookie name, ttl or secret is not valid. */
  constructor(spec: StickySpec) {
    if (typeof spec?.cookie !== 'string' || !TOKEN.test(spec.cookie)) {
      throw new TypeError(`expected sticky.cookie to be a cookie name (a token, e.g. 'pk_srv'), got ${JSON.stringify(spec?.cookie)}`);
    }
    this.name = spec.cookie;
    this.needle = `${spec.cookie}=`;
    if (spec.ttl === undefined) {
      this.maxAgeSec = null;
    } else {
      const ms = parseDuration(spec.ttl);
      if (ms < 1000) throw new TypeError(`expected sticky.ttl to be at least 1s, got ${JSON.stringify(spec.ttl)}`);
      this.maxAgeSec = Math.floor(ms / 1000);
    }
    if (spec.secret !== undefined && (typeof spec.secret !== 'string' || spec.secret.length === 0)) {
      throw new TypeError(`expected sticky.secret to be a non-empty string, got ${typeof spec.secret === 'string' ? 'an empty string' : typeof spec.secret}`);
    }
    this.key = spec.secret !== undefined ? Buffer.from(spec.secret, 'utf8') : randomBytes(32);
  }

  /**
   * The upstream id named by a genuine cookie in this Cookie header, or null when the cookie is
   * absent, malformed, or signed with another key. The caller maps the id to an upstream and
   * still asks `accept` whether it may be used.
   */
  read(cookieHeader: string | undefined): string | null {
    if (cookieHeader === undefined || cookieHeader.length === 0) return null;
    const start = cookieValueStart(cookieHeader, this.needle);
    if (start < 0) return null;
    const end = cookieValueEnd(cookieHeader, start);
    // id (>= 1 char) + '.' + signature
    if (end - start < SIG_CHARS + 2) return null;
    const value = cookieHeader.slice(start, end);
    const known = this.verified.get(value);
    if (known !== undefined) return known;
    const dot = value.length - SIG_CHARS - 1;
    if (value.charCodeAt(dot) !== 0x2e) return null;
    const id = value.slice(0, dot);
    const given = Buffer.from(value.slice(dot + 1), 'latin1');
    const expected = Buffer.from(this.sign(id), 'latin1');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    if (this.verified.size >= CACHE_MAX) this.verified.clear();
    this.verified.set(value, id);
    return id;
  }

  /**
   * The full `Set-Cookie` header value naming this upstream id:
   * `NAME=<id>.<sig>; Path=/; HttpOnly; SameSite=Lax[; Max-Age=<ttl s>]`.
   * @throws TypeError when the id holds characters a cookie value may not.
   */
  setCookieValue(upstreamId: string): string {
    const cached = this.setCookies.get(upstreamId);
    if (cached !== undefined) return cached;
    if (typeof upstreamId !== 'string' || upstreamId.length === 0 || NOT_COOKIE_OCTET.test(upstreamId)) {
      throw new TypeError(`expected an upstream id made of cookie-value characters, got ${JSON.stringify(upstreamId)}`);
    }
    let v = `${this.name}=${upstreamId}.${this.sign(upstreamId)}; Path=/; HttpOnly; SameSite=Lax`;
    if (this.maxAgeSec !== null) v += `; Max-Age=${this.maxAgeSec}`;
    if (this.setCookies.size >= CACHE_MAX) this.setCookies.clear();
    this.setCookies.set(upstreamId, v);
    return v;
  }

  private sign(id: string): string {
    return createHmac('sha256', this.key).update(id, 'utf8').digest('base64url').slice(0, SIG_CHARS);
  }
}

/**
 * Who may talk to the admin API: loopback detection (for peers and for the listen address), the
 * constant-time bearer-token check, and the admin listen URL's parsing.
 *
 * Kept free of `node:http` so that config validation can use it.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

/** Where the admin API listens when the config does not say, and where `proxykit status` looks. */
export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:2019';

/** Shortest token accepted in `admin.token`. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

/** Visible ASCII, no spaces: anything that fits after `Bearer ` unchanged. */
const TOKEN_SYNTAX = /^[\x21-\x7e]+$/;

/**
 * Whether an IP address (as `socket.remoteAddress` gives it) is loopback: 127.0.0.0/8, `::1`, and
 * IPv4-mapped `::ffff:127.x.y.z`.
 */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  let a = address.toLowerCase();
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  const zone = a.indexOf('%');
  if (zone !== -1) a = a.slice(0, zone);
  if (a.startsWith('::ffff:') && isIP(a.slice(7)) === 4) a = a.slice(7);
  const family = isIP(a);
  if (family === 4) return a.startsWith('127.');
  if (family === 6) {
    // ::1 in any spelling (0:0:0:0:0:0:0:1, ::0:1 …).
    const groups = expandV6(a);
    return groups !== null && groups.slice(0, 7).every((g) => g === 0) && groups[7] === 1;
  }
  return false;
}

function expandV6(a: string): number[] | null {
  const halves = a.split('::');
  if (halves.length > 2) return null;
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  const fill = 8 - head.length - tail.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0)) return null;
  return [...head, ...new Array<number>(fill).fill(0), ...tail];
}

/**
 * Whether a host name (URL hostname or Host header host, brackets allowed) can only be reached
 * from this machine: a loopback IP, `localhost` or a `*.localhost` name (RFC 6761).
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  return isLoopbackAddress(h);
}

export interface AdminListen {
  /** Host to bind, without brackets (`127.0.0.1`, `::1`, `localhost`, `0.0.0.0`). */
  host: string;
  port: number;
  loopback: boolean;
}

/**
 * Parse `admin.listen` (`http://127.0.0.1:2019`). Throws an Error whose message says what is wrong.
 * No port means 80, as in any http URL.
 */
export function parseAdminListen(listen: string): AdminListen {
  let u: URL;
  try {
    u = new URL(listen);
  } catch {
    throw new Error(`admin.listen ${JSON.stringify(listen)} is not a URL (expected http://127.0.0.1:2019)`);
  }
  if (u.protocol !== 'http:') {
    throw new Error(`admin.listen ${JSON.stringify(listen)} must be an http:// URL (the admin API does not serve TLS)`);
  }
  if (!u.hostname) throw new Error(`admin.listen ${JSON.stringify(listen)} has no host`);
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  const port = u.port === '' ? 80 : Number(u.port);
  return { host, port, loopback: isLoopbackHost(host) };
}

/** What is wrong with a configured token, or undefined when it is usable. */
export function adminTokenProblem(token: unknown): string | undefined {
  if (typeof token !== 'string') return `admin.token must be a string, got ${typeof token}`;
  if (token.length < MIN_ADMIN_TOKEN_LENGTH) return `admin.token must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters`;
  if (!TOKEN_SYNTAX.test(token)) return 'admin.token may contain only visible ASCII characters (no spaces or line breaks)';
  return undefined;
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/**
 * A constant-time checker for one token: both sides are hashed to 32-byte SHA-256 digests first,
 * so `timingSafeEqual` always compares equal lengths and the token's length does not leak.
 */
export function tokenChecker(token: string): (candidate: string) => boolean {
  const expected = digest(token);
  return (candidate) => timingSafeEqual(digest(candidate), expected);
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer +(\S+) *$/i.exec(header);
  return m?.[1];
}

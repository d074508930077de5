/**
 * Validation of a plain `ConfigSpec`: every problem found (not just the first), each with the
 * location of the builder call at fault, a message naming the thing, and a hint with the fix.
 *
 * The builder's types catch most mistakes in an editor; this catches the rest at load time, and
 * everything for plain-JS configs (`as any`, wrong option names, values out of range).
 */
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { parseMatch } from '../engine/match.js';
import { DEFAULT_HEALTH_INTERVAL_MS } from '../balance/health.js';
import { DEFAULT_EJECT_FOR_MS } from '../balance/passive.js';
import { poolContent } from './builder.js';
import { ConfigError, formatLocation, type ConfigProblem } from './errors.js';
import { adminTokenProblem, parseAdminListen } from '../observe/admin-auth.js';
import type { ConfigSpec, HeaderEdits, PoolSpec, RouteSpec, SourceLocation } from './spec.js';
import { parseByteSize, parseDuration, parseRate, type Rate } from './units.js';
import type { ByteSize, Duration } from './spec.js';

/** RFC 9110 `token` (method and header-name syntax). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE = /[\r\n\0]/;
const BALANCE_ALGORITHMS = ['round-robin', 'weighted', 'least-conn', 'random', 'p2c-ewma'];
const REDIRECT_STATUSES = [301, 302, 303, 307, 308];
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
const ACME_CHALLENGES = ['http-01', 'tls-alpn-01', 'dns-01'];
/** host or host:port, also [v6]:port (Host header syntax, loosely). */
const HOST_HEADER = /^[A-Za-z0-9._\-:[\]]+$/;
/** Shortest accepted sticky-cookie HMAC key. */
const MIN_STICKY_SECRET = 16;

const KEYS = {
  config: ['kind', 'listen', 'routes', 'trustProxies', 'via', 'limits', 'log', 'admin', 'tls', 'redis', 'metrics', 'tracing', 'cache', 'at'],
  cacheStorage: ['maxSize', 'maxObjectSize', 'disk', 'name'],
  cacheDisk: ['path'],
  limits: ['maxHeaderSize', 'headersTimeout', 'requestTimeout', 'keepAliveTimeout', 'maxConnections', 'drainTimeout'],
  log: ['access', 'level', 'file'],
  admin: ['listen', 'token'],
  tls: ['acme', 'certs', 'internal', 'domains', 'hsts', 'redirectHttp', 'minVersion'],
  acme: ['email', 'directory', 'challenges', 'dns', 'onDemand', 'ari'],
  onDemand: ['ask', 'perMinute', 'retryAfter'],
  hsts: ['maxAge', 'includeSubDomains', 'preload'],
  upstreamTls: ['ca', 'cert', 'key', 'servername', 'insecure'],
  route: [
    'kind', 'match', 'methods', 'target', 'stripPrefix', 'rewrite', 'headers', 'hostHeader', 'hideHeaders',
    'bodyLimit', 'timeouts', 'features', 'at', 'calls',
  ],
  pool: [
    'kind', 'name', 'upstreams', 'balance', 'sticky', 'health', 'passive', 'retry', 'timeouts', 'maxConnections',
    'maxPending', 'slowStart', 'dns', 'tls', 'at', 'calls',
  ],
  upstream: ['url', 'weight', 'region'],
  health: ['path', 'interval', 'timeout', 'healthy', 'unhealthy', 'expect', 'host'],
  passive: ['failures', 'ejectFor', 'maxEjectFor', 'statuses'],
  retry: ['attempts', 'statuses', 'budget', 'minPerSecond'],
  timeouts: ['connect', 'response', 'idle'],
  sticky: ['cookie', 'ttl', 'secret'],
  dns: ['refresh'],
  headers: ['request', 'response'],
  headerEdits: ['set', 'add', 'remove'],
  rewrite: ['from', 'to', 'flags'],
  redirect: ['kind', 'location', 'status', 'keepPath'],
  respond: ['kind', 'status', 'body', 'headers'],
  waf: ['mode', 'paranoia'],
  rateLimit: ['perIp', 'burst'],
  cache: ['maxAge', 'staleWhileRevalidate', 'staleIfError', 'key', 'bypass', 'ignoreOriginNoCache', 'tagHeaders', 'lockTimeout', 'heuristic'],
  cacheKey: ['query', 'headers', 'cookies'],
  cacheKeyQuery: ['include', 'exclude'],
  cacheBypass: ['cookies', 'headers'],
  geo: ['pools', 'deny', 'nearest'],
} as const;

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

function q(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPositiveInt(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0;
}

/** Levenshtein distance (case-insensitive). */
export function editDistance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** The closest of `known` to `word`, if it is close enough to be a likely typo. */
export function didYouMean(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(word, k);
    if (d < bestD) {
      best = k;
      bestD = d;
    }
  }
  if (best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3))) return best;
  // A prefix either way ('warning' → 'warn', 'conn' → 'connect').
  const w = word.toLowerCase();
  return w.length >= 3 ? known.find((k) => k.toLowerCase().startsWith(w) || w.startsWith(k.toLowerCase())) : undefined;
}

function suggestHint(word: string, known: readonly string[], what = 'known options'): string {
  const s = didYouMean(word, known);
  const list = `${what}: ${known.join(', ')}`;
  return s ? `did you mean ${q(s)}? (${list})` : list;
}

class Collector {
  readonly problems: ConfigProblem[] = [];

  add(message: string, at: SourceLocation | undefined, hint: string): void {
    const p: ConfigProblem = { message, hint };
    if (at) p.at = at;
    this.problems.push(p);
  }

  /** Unknown keys of an options object, with a did-you-mean suggestion. */
  keys(obj: unknown, known: readonly string[], label: string, at: SourceLocation | undefined): void {
    if (!isObject(obj)) return;
    const internal = ['kind', 'at', 'calls'];
    for (const key of Object.keys(obj)) {
      if (known.includes(key)) continue;
      const shown = known.filter((k) => !internal.includes(k));
      this.add(`${label}: unknown option ${q(key)}`, at, suggestHint(key, shown));
    }
  }

  object(value: unknown, label: string, at: SourceLocation | undefined, example: string): value is Record<string, unknown> {
    if (isObject(value)) return true;
    this.add(`${label} must be an object, got ${q(value)}`, at, `e.g. ${example}`);
    return false;
  }

  duration(value: unknown, label: string, at: SourceLocation | undefined): void {
    if (value === undefined) return;
    try {
      parseDuration(value as Duration);
    } catch (err) {
      this.add(`${label}: ${(err as Error).message}`, at, "write a number of milliseconds or a string like '500ms', '30s', '5m', '1h'");
    }
  }

  /** A duration that must be above zero; returns it in ms when valid. */
  positiveDuration(value: unknown, label: string, at: SourceLocation | undefined): number | undefined {
    if (value === undefined) return undefined;
    let n: number;
    try {
      n = parseDuration(value as Duration);
    } catch (err) {
      this.add(`${label}: ${(err as Error).message}`, at, "write a number of milliseconds or a string like '500ms', '30s', '5m', '1h'");
      return undefined;
    }
    if (n > 0) return n;
    this.add(`${label} must be longer than zero, got ${q(value)}`, at, "e.g. '500ms', '5s'");
    return undefined;
  }

  /** An array of HTTP status codes. */
  statusList(value: unknown, label: string, at: SourceLocation | undefined, example: string): void {
    if (value === undefined) return;
    if (!Array.isArray(value)) {
      this.add(`${label} must be an array of status codes, got ${q(value)}`, at, example);
      return;
    }
    for (const s of value) this.status(s, label, at);
  }

  size(value: unknown, label: string, at: SourceLocation | undefined): void {
    if (value === undefined) return;
    try {
      parseByteSize(value as ByteSize);
    } catch (err) {
      this.add(`${label}: ${(err as Error).message}`, at, "write a number of bytes or a string like '512kb', '10mb', '1gb'");
    }
  }

  /** A byte size that must be above zero; returns it in bytes when valid. */
  positiveSize(value: unknown, label: string, at: SourceLocation | undefined): number | undefined {
    if (value === undefined) return undefined;
    let n: number;
    try {
      n = parseByteSize(value as ByteSize);
    } catch (err) {
      this.add(`${label}: ${(err as Error).message}`, at, "write a number of bytes or a string like '512kb', '10mb', '1gb'");
      return undefined;
    }
    if (n > 0) return n;
    this.add(`${label} must be larger than zero, got ${q(value)}`, at, "e.g. '16mb', '1gb'");
    return undefined;
  }

  /** A list of cookie names (RFC 6265 `cookie-name` is a token). */
  cookieList(list: unknown, label: string, at: SourceLocation | undefined): void {
    if (list === undefined) return;
    if (!Array.isArray(list)) {
      this.add(`${label} must be an array of cookie names, got ${q(list)}`, at, "e.g. ['session']");
      return;
    }
    for (const name of list) {
      if (typeof name !== 'string' || !TOKEN.test(name)) {
        this.add(`${label}: cookie name ${q(name)} is not valid`, at, "cookie names are letters, digits and !#$%&'*+-.^_`|~ (no spaces, '=' or ';'), e.g. 'session'");
      }
    }
  }

  positiveInt(value: unknown, label: string, at: SourceLocation | undefined, allowZero = false): void {
    if (value === undefined) return;
    const ok = Number.isSafeInteger(value) && (value as number) >= (allowZero ? 0 : 1);
    if (!ok) this.add(`${label} must be a ${allowZero ? 'non-negative' : 'positive'} whole number, got ${q(value)}`, at, allowZero ? 'e.g. 0, 1, 2' : 'e.g. 1, 2, 3');
  }

  status(value: unknown, label: string, at: SourceLocation | undefined): void {
    if (!(Number.isInteger(value) && (value as number) >= 100 && (value as number) <= 599)) {
      this.add(`${label}: status ${q(value)} is not an HTTP status code`, at, 'expected a whole number from 100 to 599');
    }
  }

  headerName(name: unknown, label: string, at: SourceLocation | undefined): void {
    if (typeof name !== 'string' || !TOKEN.test(name)) {
      this.add(`${label}: header name ${q(name)} is not valid`, at, "header names are letters, digits and !#$%&'*+-.^_`|~ (no spaces or colons), e.g. 'x-request-id'");
    }
  }

  headerValue(name: string, value: unknown, label: string, at: SourceLocation | undefined): void {
    if (typeof value !== 'string') {
      this.add(`${label}: header ${q(name)} has value ${q(value)}, not a string`, at, `write the value as a string, e.g. { ${q(name)}: '${String(value)}' }`);
    } else if (BAD_VALUE.test(value)) {
      this.add(`${label}: header ${q(name)} value contains CR, LF or NUL`, at, 'remove line breaks and NUL characters from header values');
    }
  }

  headerMap(map: unknown, label: string, at: SourceLocation | undefined): void {
    if (map === undefined) return;
    if (!this.object(map, label, at, "{ 'x-env': 'prod' }")) return;
    for (const [name, value] of Object.entries(map)) {
      this.headerName(name, label, at);
      this.headerValue(name, value, label, at);
    }
  }

  nameList(list: unknown, label: string, at: SourceLocation | undefined): void {
    if (list === undefined) return;
    if (!Array.isArray(list)) {
      this.add(`${label} must be an array of header names, got ${q(list)}`, at, "e.g. ['x-debug']");
      return;
    }
    for (const name of list) this.headerName(name, label, at);
  }
}

/** `url`'s problems as an origin (`http(s)://host[:port]`), or undefined when it is fine. */
function originProblem(url: unknown, what: string, protocols: readonly string[] = ['http:', 'https:']): { message: string; hint: string } | undefined {
  const expected = `expected ${protocols.map((p) => `${p}//host:port`).join(' or ')}`;
  if (typeof url !== 'string') return { message: `${what} ${q(url)} is not a URL string`, hint: expected };
  const port = /^[a-z][a-z0-9+.-]*:\/\/(?:[^/@]*@)?(?:\[[^\]]*\]|[^/:?#]*):(\d+)/i.exec(url)?.[1];
  if (port !== undefined && Number(port) > 65535) {
    return { message: `${what} ${q(url)} has port ${port}, out of range`, hint: 'ports are 0 to 65535' };
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { message: `${what} ${q(url)} is not a URL`, hint: expected };
  }
  if (!protocols.includes(u.protocol)) {
    return { message: `${what} ${q(url)} uses ${u.protocol.slice(0, -1)}:, not ${protocols.map((p) => p.slice(0, -1)).join(' or ')}`, hint: expected };
  }
  if (!u.hostname) return { message: `${what} ${q(url)} has no host`, hint: expected };
  if (u.username || u.password) return { message: `${what} ${q(url)} contains credentials`, hint: `${expected}, without user:password@` };
  if (u.pathname !== '/' && u.pathname !== '' || u.search || u.hash) {
    const extra = u.pathname !== '/' && u.pathname !== '' ? `a path (${q(u.pathname)})` : u.search ? `a query (${q(u.search)})` : `a fragment (${q(u.hash)})`;
    return {
      message: `${what} ${q(url)} has ${extra}; only an origin is allowed`,
      hint: `${expected} with nothing after the port (or just '/'); change paths on the route with .stripPrefix() or .rewrite()`,
    };
  }
  return undefined;
}

function cidrOk(entry: string): boolean {
  const slash = entry.indexOf('/');
  if (slash === -1) return isIP(entry) !== 0;
  const addr = entry.slice(0, slash);
  const bits = entry.slice(slash + 1);
  const family = isIP(addr);
  if (family === 0 || !/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

// ---------------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------------

/**
 * Every problem in `spec`: listeners, upstreams, options, units, match patterns, headers, status
 * codes, duplicate pool names, unknown option keys (with did-you-mean), trusted proxies, routes
 * without a target. Returns `[]` for a valid config.
 *
 * @example
 * const problems = validateConfig(spec);
 * if (problems.length) console.error(formatProblems(problems));
 */
export function validateConfig(spec: ConfigSpec): ConfigProblem[] {
  const c = new Collector();
  if (!isObject(spec) || spec.kind !== 'config') {
    c.add(`the config is not a defineConfig() result (got ${q(spec)})`, undefined, "export default defineConfig({ routes: [...] })");
    return c.problems;
  }
  const at = spec.at;
  c.keys(spec, KEYS.config, 'config', at);

  // listen
  if (!Array.isArray(spec.listen) || spec.listen.length === 0) {
    c.add('config: `listen` has no listener URL', at, "e.g. listen: ['http://127.0.0.1:8080']");
  } else {
    const seen = new Set<string>();
    for (const l of spec.listen) {
      const p = originProblem(l, 'listen');
      if (p) c.add(`config: ${p.message}`, at, p.hint);
      else if (seen.has(l)) c.add(`config: listen ${q(l)} is listed twice`, at, 'list each listener once');
      seen.add(l);
    }
  }

  // trustProxies
  if (spec.trustProxies !== undefined) {
    if (!Array.isArray(spec.trustProxies)) {
      c.add(`config: trustProxies must be an array, got ${q(spec.trustProxies)}`, at, "e.g. trustProxies: ['10.0.0.0/8', '127.0.0.1']");
    } else {
      for (const entry of spec.trustProxies) {
        if (typeof entry !== 'string' || !cidrOk(entry)) {
          c.add(`config: trustProxies entry ${q(entry)} is not an IP address or CIDR range`, at, "expected e.g. '10.0.0.0/8', '192.168.1.10' or 'fd00::/8'");
        }
      }
    }
  }

  if (spec.via !== undefined && typeof spec.via !== 'boolean' && (typeof spec.via !== 'string' || spec.via === '' || BAD_VALUE.test(spec.via))) {
    c.add(`config: via ${q(spec.via)} is not valid`, at, "use true (for '1.1 proxykit') or a pseudonym string like 'edge-1'");
  }

  if (spec.limits !== undefined && c.object(spec.limits, 'config: limits', at, "{ maxHeaderSize: '16kb' }")) {
    const l = spec.limits;
    c.keys(l, KEYS.limits, 'config: limits', at);
    c.size(l.maxHeaderSize, 'config: limits.maxHeaderSize', at);
    c.duration(l.headersTimeout, 'config: limits.headersTimeout', at);
    c.duration(l.requestTimeout, 'config: limits.requestTimeout', at);
    c.duration(l.keepAliveTimeout, 'config: limits.keepAliveTimeout', at);
    c.duration(l.drainTimeout, 'config: limits.drainTimeout', at);
    c.positiveInt(l.maxConnections, 'config: limits.maxConnections', at);
  }

  if (spec.log !== undefined && c.object(spec.log, 'config: log', at, "{ level: 'info' }")) {
    c.keys(spec.log, KEYS.log, 'config: log', at);
    if (spec.log.access !== undefined && typeof spec.log.access !== 'boolean') {
      c.add(`config: log.access must be true or false, got ${q(spec.log.access)}`, at, 'access: false turns the access log off');
    }
    if (spec.log.level !== undefined && !LOG_LEVELS.includes(spec.log.level as string)) {
      c.add(`config: log.level ${q(spec.log.level)} is not a level`, at, suggestHint(String(spec.log.level), LOG_LEVELS, 'levels'));
    }
  }

  if (spec.admin !== undefined && c.object(spec.admin, 'config: admin', at, "{ listen: 'http://127.0.0.1:2019' }")) {
    validateAdmin(c, spec.admin, at);
  }

  if (spec.cache !== undefined && c.object(spec.cache, 'config: cache', at, "cache: { maxSize: '256mb' }")) {
    validateCacheStorage(c, spec.cache, at);
  }

  if (spec.redis !== undefined) {
    const p = originProblem(spec.redis, 'redis', ['redis:', 'rediss:']);
    // A Redis URL may carry credentials and a database number (/0).
    const lenient = p && !/credentials|a path|a query/.test(p.message);
    if (lenient) c.add(`config: ${p.message}`, at, p.hint);
  }

  validateTls(c, spec, at);

  // routes and pools
  if (!Array.isArray(spec.routes)) {
    c.add(`config: routes must be an array, got ${q(spec.routes)}`, at, "e.g. routes: [route('/*').to('http://127.0.0.1:3000')]");
    return c.problems;
  }
  const pools = new Set<PoolSpec>();
  spec.routes.forEach((r, i) => validateRoute(c, r, i, pools));
  validatePools(c, pools);
  return c.problems;
}

/**
 * Throws a `ConfigError` carrying every problem when `spec` is not valid.
 *
 * @example
 * assertValidConfig(spec); // then compile
 */
export function assertValidConfig(spec: ConfigSpec): void {
  const problems = validateConfig(spec);
  if (problems.length > 0) throw new ConfigError(problems);
}

function validateAdmin(c: Collector, admin: Record<string, unknown>, at: SourceLocation | undefined): void {
  c.keys(admin, KEYS.admin, 'config: admin', at);
  const tokenHint = `a long random string, e.g. token: process.env.PROXYKIT_ADMIN_TOKEN with a value from \`openssl rand -hex 32\``;
  const hasToken = admin.token !== undefined;
  if (hasToken) {
    const problem = adminTokenProblem(admin.token);
    if (problem) c.add(`config: ${problem}`, at, tokenHint);
  }
  const p = originProblem(admin.listen, 'admin.listen', ['http:']);
  if (p) {
    c.add(`config: ${p.message}`, at, `${p.hint} (the admin API serves plain http; keep it on loopback or behind a TLS proxy)`);
    return;
  }
  const listen = parseAdminListen(admin.listen as string);
  if (!listen.loopback && !hasToken) {
    c.add(
      `config: admin.listen ${q(admin.listen)} is reachable from other machines but admin has no token`,
      at,
      `set admin.token (${tokenHint}), or listen on loopback: admin: { listen: 'http://127.0.0.1:2019' }`,
    );
  }
}

/** Defaults of the top-level `cache` block (compile.ts resolves them the same way). */
export const DEFAULT_CACHE_MAX_BYTES = 256 * 1024 * 1024;
export const DEFAULT_CACHE_MAX_OBJECT_BYTES = 16 * 1024 * 1024;

function validateCacheStorage(c: Collector, cs: Record<string, unknown>, at: SourceLocation | undefined): void {
  c.keys(cs, KEYS.cacheStorage, 'config: cache', at);
  const maxSize = c.positiveSize(cs.maxSize, 'config: cache.maxSize', at);
  const maxObjectSize = c.positiveSize(cs.maxObjectSize, 'config: cache.maxObjectSize', at);
  if (maxObjectSize !== undefined && cs.maxSize !== undefined && maxSize !== undefined && maxObjectSize > maxSize) {
    c.add(
      `config: cache.maxObjectSize (${bytes(maxObjectSize)}) is larger than cache.maxSize (${bytes(maxSize)})`,
      at,
      'one response cannot be larger than the whole cache: make maxObjectSize at most maxSize',
    );
  } else if (maxObjectSize !== undefined && cs.maxSize === undefined && maxObjectSize > DEFAULT_CACHE_MAX_BYTES) {
    c.add(
      `config: cache.maxObjectSize (${bytes(maxObjectSize)}) is larger than cache.maxSize (${bytes(DEFAULT_CACHE_MAX_BYTES)}, the default)`,
      at,
      'one response cannot be larger than the whole cache: set a larger maxSize too, or lower maxObjectSize',
    );
  }
  if (cs.disk !== undefined && c.object(cs.disk, 'config: cache.disk', at, "{ path: '.cache' }")) {
    c.keys(cs.disk, KEYS.cacheDisk, 'config: cache.disk', at);
    const dir = cs.disk.path;
    if (dir === undefined) {
      c.add('config: cache.disk has no path', at, "e.g. disk: { path: '.cache' } (a directory, relative to the config file)");
    } else if (typeof dir !== 'string' || dir.trim() === '' || dir.includes('\0')) {
      c.add(`config: cache.disk.path must be a directory path, got ${q(dir)}`, at, "e.g. disk: { path: '.cache' } (relative to the config file)");
    }
  }
  if (cs.name !== undefined && (typeof cs.name !== 'string' || !TOKEN.test(cs.name))) {
    c.add(`config: cache.name ${q(cs.name)} is not valid`, at, "the name in Cache-Status is a token: letters, digits and !#$%&'*+-.^_`|~ (no spaces), e.g. 'edge-1'");
  }
}

const TLS_HINT = "add tls: 'internal' for local development or tls: { acme: { email: 'you@example.com' } }";
/** hstspreload.org asks for at least one year, includeSubDomains and preload. */
const HSTS_PRELOAD_MIN_MS = 365 * 24 * 3600 * 1000;
/** A DNS name as a certificate carries it: LDH labels, a `*` only as the whole left-most label. */
const CERT_NAME = /^(\*\.)?(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** Problem with a name to get a certificate for (`tls.domains`), or undefined when fine. */
function certNameProblem(name: unknown): { message: string; hint: string } | undefined {
  if (typeof name !== 'string' || name === '') return { message: `${q(name)} is not a host name`, hint: "e.g. 'www.example.com' or '*.example.com'" };
  if (isIP(name) !== 0) return undefined;
  if (/[^\x00-\x7f]/.test(name)) {
    const ascii = domainToASCII(name);
    return { message: `${q(name)} is not in ASCII form`, hint: ascii ? `write the IDNA (punycode) form: ${q(ascii)}` : 'write the IDNA (punycode) form' };
  }
  if (!CERT_NAME.test(name)) {
    const wild = name.includes('*');
    return {
      message: `${q(name)} is not a valid ${wild ? 'wildcard ' : ''}host name`,
      hint: wild ? "a wildcard is only a whole left-most label: '*.example.com' (not 'a*.example.com' or '*.*.example.com')" : 'letters, digits and hyphens in dot-separated labels, e.g. \'www.example.com\'',
    };
  }
  return undefined;
}

function validateTls(c: Collector, spec: ConfigSpec, at: SourceLocation | undefined): void {
  const tls: unknown = spec.tls;
  const httpsListen = Array.isArray(spec.listen) ? spec.listen.find((l) => typeof l === 'string' && /^https:/i.test(l)) : undefined;
  if (tls === undefined) {
    if (httpsListen !== undefined) c.add(`config: listen ${q(httpsListen)} is https but the config has no tls`, at, TLS_HINT);
    return;
  }
  if (tls === 'internal') return;
  const example = "tls: { acme: { email: 'ops@example.com' } }, { certs: [{ cert: 'a.pem', key: 'a.key' }] } or 'internal'";
  if (!isObject(tls)) {
    c.add(`config: tls ${q(tls)} is not valid`, at, `use ${example}`);
    return;
  }
  c.keys(tls, KEYS.tls, 'config: tls', at);
  if (tls.internal !== undefined && typeof tls.internal !== 'boolean') {
    c.add(`config: tls.internal must be true or false, got ${q(tls.internal)}`, at, "tls: 'internal' (or { internal: true })");
  }
  if (tls.acme !== undefined && tls.internal === true) {
    c.add('config: tls has both acme and internal', at, "use tls.acme for public names, or tls: 'internal' for local development (names ACME cannot serve, like localhost, get internal certificates anyway)");
  }
  if (tls.acme === undefined && tls.certs === undefined && tls.internal !== true) {
    c.add('config: tls has no certificate source', at, `${TLS_HINT}, or certs: [{ cert: 'a.pem', key: 'a.key' }]`);
  }
  if (tls.acme !== undefined && c.object(tls.acme, 'config: tls.acme', at, "{ email: 'ops@example.com' }")) {
    validateAcme(c, tls.acme, tls.domains, at);
  }
  if (tls.certs !== undefined) {
    if (!Array.isArray(tls.certs) || tls.certs.length === 0) {
      c.add('config: tls.certs must be a non-empty array', at, "certs: [{ cert: 'a.pem', key: 'a.key' }]");
    } else {
      tls.certs.forEach((pair: unknown, i: number) => {
        if (!isObject(pair) || typeof pair.cert !== 'string' || typeof pair.key !== 'string' || !pair.cert || !pair.key) {
          c.add(`config: tls.certs[${i}] needs cert and key file paths`, at, "{ cert: 'a.pem', key: 'a.key' }");
        } else {
          c.keys(pair, ['cert', 'key'], `config: tls.certs[${i}]`, at);
        }
      });
    }
  }
  if (tls.domains !== undefined) {
    if (!Array.isArray(tls.domains)) {
      c.add(`config: tls.domains must be an array of host names, got ${q(tls.domains)}`, at, "e.g. domains: ['www.example.com', '*.example.com']");
    } else {
      for (const d of tls.domains) {
        const p = certNameProblem(d);
        if (p) c.add(`config: tls.domains: ${p.message}`, at, p.hint);
      }
    }
  }
  if (tls.hsts !== undefined && typeof tls.hsts !== 'boolean') {
    if (c.object(tls.hsts, 'config: tls.hsts', at, "true, or { maxAge: '365d', includeSubDomains: true }")) {
      const h = tls.hsts;
      c.keys(h, KEYS.hsts, 'config: tls.hsts', at);
      const maxAge = c.positiveDuration(h.maxAge, 'config: tls.hsts.maxAge', at);
      for (const k of ['includeSubDomains', 'preload'] as const) {
        if (h[k] !== undefined && typeof h[k] !== 'boolean') c.add(`config: tls.hsts.${k} must be true or false, got ${q(h[k])}`, at, `{ ${k}: true }`);
      }
      if (h.preload === true && (h.includeSubDomains !== true || (maxAge !== undefined && maxAge < HSTS_PRELOAD_MIN_MS))) {
        c.add('config: tls.hsts.preload needs includeSubDomains and a maxAge of at least a year', at, "hsts: { maxAge: 31536000000, includeSubDomains: true, preload: true } (or leave maxAge out for one year)");
      }
    }
  }
  if (tls.redirectHttp !== undefined && typeof tls.redirectHttp !== 'boolean') {
    c.add(`config: tls.redirectHttp must be true or false, got ${q(tls.redirectHttp)}`, at, 'redirectHttp: false serves plain HTTP as well');
  }
  if (tls.minVersion !== undefined && tls.minVersion !== '1.2' && tls.minVersion !== '1.3') {
    c.add(`config: tls.minVersion must be '1.2' or '1.3', got ${q(tls.minVersion)}`, at, "minVersion: '1.3' accepts TLS 1.3 clients only; TLS 1.0 and 1.1 are never offered");
  }
}

function validateAcme(c: Collector, a: Record<string, unknown>, domains: unknown, at: SourceLocation | undefined): void {
  c.keys(a, KEYS.acme, 'config: tls.acme', at);
  if (typeof a.email !== 'string' || !/^[^@\s]+@[^@\s]+\.[^@\s.]+$/.test(a.email)) {
    c.add(`config: tls.acme.email ${q(a.email)} is not an email address`, at, "the ACME account's contact, e.g. email: 'ops@example.com'");
  }
  if (a.directory !== undefined) {
    let protocol = '';
    try {
      protocol = typeof a.directory === 'string' ? new URL(a.directory).protocol : '';
    } catch {
      protocol = '';
    }
    if (protocol === 'http:') {
      c.add(`config: tls.acme.directory ${q(a.directory)} is not https`, at, 'ACME runs over https only (RFC 8555 §6.1); a test CA such as Pebble serves https too (trust its root with NODE_EXTRA_CA_CERTS)');
    } else if (protocol !== 'https:') {
      c.add(`config: tls.acme.directory ${q(a.directory)} is not a URL`, at, "e.g. 'https://acme-staging-v02.api.letsencrypt.org/directory'");
    }
  }
  if (a.ari !== undefined && typeof a.ari !== 'boolean') {
    c.add(`config: tls.acme.ari must be true or false, got ${q(a.ari)}`, at, 'ari: false renews at two thirds of the lifetime even when the CA offers renewal information');
  }
  const hasDns = a.dns !== undefined;
  if (hasDns && !(isObject(a.dns) || typeof a.dns === 'function') || (hasDns && (typeof (a.dns as Record<string, unknown>).set !== 'function' || typeof (a.dns as Record<string, unknown>).remove !== 'function'))) {
    c.add('config: tls.acme.dns must be a provider with set(name, value) and remove(name, value) functions', at, 'dns: { set: async (name, value) => { /* create the TXT record */ }, remove: async (name, value) => { /* delete it */ } }');
  }
  if (a.challenges !== undefined) {
    const list = Array.isArray(a.challenges) ? a.challenges : [a.challenges];
    if (list.length === 0) c.add('config: tls.acme.challenges lists no challenge type', at, "leave it out for ['http-01', 'tls-alpn-01'], or list some");
    const seen = new Set<unknown>();
    for (const ch of list) {
      if (!ACME_CHALLENGES.includes(ch as string)) {
        c.add(`config: tls.acme.challenges: ${q(ch)} is not a challenge type`, at, suggestHint(String(ch), ACME_CHALLENGES, 'challenge types'));
      } else if (seen.has(ch)) {
        c.add(`config: tls.acme.challenges lists ${q(ch)} twice`, at, 'list each challenge type once');
      }
      seen.add(ch);
    }
    if (seen.has('dns-01') && !hasDns) {
      c.add("config: tls.acme.challenges has 'dns-01' but tls.acme.dns is not set", at, 'add a DNS provider: dns: { set(name, value), remove(name, value) }');
    }
  }
  if (Array.isArray(domains) && !hasDns) {
    const wild = domains.find((d) => typeof d === 'string' && d.startsWith('*.'));
    if (wild !== undefined) {
      c.add(`config: tls.domains has the wildcard ${q(wild)} but tls.acme.dns is not set`, at, 'ACME CAs issue wildcards only through DNS-01: add dns: { set(name, value), remove(name, value) }');
    }
  }
  if (a.onDemand !== undefined) {
    const od = a.onDemand;
    if (!isObject(od) || typeof od.ask !== 'function') {
      c.add('config: tls.acme.onDemand needs an ask function', at, "onDemand: { ask: (name) => name.endsWith('.example.com') } — it must approve every name, or anyone can make you order certificates");
    } else {
      c.keys(od, KEYS.onDemand, 'config: tls.acme.onDemand', at);
      c.positiveInt(od.perMinute, 'config: tls.acme.onDemand.perMinute', at);
      c.positiveDuration(od.retryAfter, 'config: tls.acme.onDemand.retryAfter', at);
    }
  }
}

/** A pool's `.tls()`: file paths, names, flags (files are read when the pool is built). */
function validateUpstreamTls(c: Collector, t: Record<string, unknown>, label: string, at: SourceLocation | undefined): void {
  c.keys(t, KEYS.upstreamTls, `${label}: tls`, at);
  for (const k of ['ca', 'cert', 'key'] as const) {
    if (t[k] !== undefined && (typeof t[k] !== 'string' || t[k] === '')) {
      c.add(`${label}: tls.${k} must be a file path, got ${q(t[k])}`, at, `e.g. { ${k}: 'certs/${k === 'ca' ? 'ca.pem' : k === 'cert' ? 'client.pem' : 'client.key'}' } (relative to the config)`);
    }
  }
  if ((t.cert === undefined) !== (t.key === undefined)) {
    c.add(`${label}: tls needs both cert and key for a client certificate`, at, "{ cert: 'client.pem', key: 'client.key' }");
  }
  if (t.servername !== undefined) {
    const p = typeof t.servername === 'string' && !t.servername.includes('*') ? certNameProblem(t.servername) : { message: `${q(t.servername)} is not a host name`, hint: "e.g. servername: 'api.internal'" };
    if (p) c.add(`${label}: tls.servername ${p.message}`, at, p.hint);
  }
  if (t.insecure !== undefined && typeof t.insecure !== 'boolean') {
    c.add(`${label}: tls.insecure must be true or false, got ${q(t.insecure)}`, at, 'insecure: true skips verification (tests only)');
  }
}

// ---------------------------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------------------------

function validateRoute(c: Collector, r: RouteSpec, index: number, pools: Set<PoolSpec>): void {
  if (!isObject(r) || r.kind !== 'route') {
    c.add(`config: routes[${index}] is not a route (got ${q(r)})`, undefined, "build routes with route('/path').to(...)");
    return;
  }
  const label = `route ${q(r.match)}`;
  const loc = (method: string): SourceLocation | undefined => r.calls?.[method]?.at ?? r.at;
  c.keys(r, KEYS.route, label, r.at);

  try {
    parseMatch(r.match);
  } catch (err) {
    c.add(`${label}: ${(err as Error).message}`, r.at, "write [host][path]: 'example.com/*', '*.example.com/api/*', '/users/:id'");
  }

  if (r.methods !== undefined) {
    if (!Array.isArray(r.methods) || r.methods.length === 0) {
      c.add(`${label}: methods must list at least one method`, loc('methods'), ".methods('GET', 'POST')");
    } else {
      for (const m of r.methods) {
        if (typeof m !== 'string' || !TOKEN.test(m)) {
          c.add(`${label}: method ${q(m)} is not an HTTP method`, loc('methods'), "methods are tokens like 'GET', 'POST', 'PURGE' (no spaces)");
        }
      }
    }
  }

  const t = r.target;
  if (t === undefined) {
    c.add(`${label} has no target`, r.at, "add .to(pool or 'http://host:port'), .redirect(url) or .respond(status, body)");
  } else if (!isObject(t)) {
    c.add(`${label}: target ${q(t)} is not valid`, r.at, 'use .to(), .redirect() or .respond()');
  } else if (t.kind === 'pool') {
    if (!isObject(t.pool) || t.pool.kind !== 'pool') {
      c.add(`${label}: .to() target is not a pool`, loc('to'), "pass a pool('name', [...]) or a URL string");
    } else {
      pools.add(t.pool);
    }
  } else if (t.kind === 'redirect') {
    const at = loc('redirect');
    c.keys(t, KEYS.redirect, `${label}: redirect`, at);
    if (typeof t.location !== 'string' || t.location === '' || BAD_VALUE.test(t.location)) {
      c.add(`${label}: redirect location ${q(t.location)} is not valid`, at, "use an absolute URL ('https://example.com/') or a path ('/new')");
    } else if (!t.location.startsWith('/')) {
      try {
        new URL(t.location);
      } catch {
        c.add(`${label}: redirect location ${q(t.location)} is not a URL or a path`, at, "use an absolute URL ('https://example.com/') or a path ('/new')");
      }
    }
    if (!REDIRECT_STATUSES.includes(t.status as number)) {
      c.add(`${label}: redirect status ${q(t.status)} is not a redirect status`, at, 'use 301, 302, 303, 307 or 308');
    }
    if (typeof t.keepPath !== 'boolean') c.add(`${label}: redirect keepPath must be true or false`, at, '{ keepPath: true }');
  } else if (t.kind === 'respond') {
    const at = loc('respond');
    c.keys(t, KEYS.respond, `${label}: respond`, at);
    c.status(t.status, `${label}: respond`, at);
    if (typeof t.body !== 'string') c.add(`${label}: respond body must be a string, got ${q(t.body)}`, at, ".respond(200, 'ok') or JSON.stringify(value)");
    c.headerMap(t.headers, `${label}: respond headers`, at);
  } else {
    c.add(`${label}: target kind ${q((t as { kind?: unknown }).kind)} is unknown`, r.at, 'use .to(), .redirect() or .respond()');
  }

  if (r.stripPrefix !== undefined) {
    const p = r.stripPrefix;
    if (typeof p !== 'string' || !p.startsWith('/') || /[\s?#]/.test(p)) {
      c.add(`${label}: stripPrefix ${q(p)} is not a path prefix`, loc('stripPrefix'), "a prefix starts with '/', e.g. .stripPrefix('/v1')");
    }
  }

  if (r.rewrite !== undefined && c.object(r.rewrite, `${label}: rewrite`, loc('rewrite'), "{ from: '^/old/', to: '/new/' }")) {
    const at = loc('rewrite');
    c.keys(r.rewrite, KEYS.rewrite, `${label}: rewrite`, at);
    try {
      new RegExp(String(r.rewrite.from), r.rewrite.flags ?? '');
    } catch (err) {
      c.add(`${label}: rewrite pattern ${q(r.rewrite.from)} is not a valid regular expression: ${(err as Error).message}`, at, 'fix the pattern, e.g. .rewrite(/^\\/old\\/(.*)$/, \'/new/$1\')');
    }
    if (typeof r.rewrite.to !== 'string' || BAD_VALUE.test(r.rewrite.to)) {
      c.add(`${label}: rewrite replacement ${q(r.rewrite.to)} is not valid`, at, "a path string with $1… or :param, e.g. '/new/$1'");
    }
  }

  if (r.headers !== undefined && c.object(r.headers, `${label}: headers`, loc('headers'), "{ request: { set: { 'x-env': 'prod' } } }")) {
    const at = loc('headers');
    c.keys(r.headers, KEYS.headers, `${label}: headers`, at);
    for (const side of ['request', 'response'] as const) {
      const edits = r.headers[side] as HeaderEdits | undefined;
      if (edits === undefined) continue;
      const l = `${label}: headers.${side}`;
      if (!c.object(edits, l, at, "{ set: { 'x-env': 'prod' }, remove: ['x-debug'] }")) continue;
      c.keys(edits, KEYS.headerEdits, l, at);
      c.headerMap(edits.set, `${l}.set`, at);
      c.headerMap(edits.add, `${l}.add`, at);
      c.nameList(edits.remove, `${l}.remove`, at);
    }
  }

  if (r.hostHeader !== undefined) {
    const h = r.hostHeader;
    if (typeof h !== 'string' || h === '' || !/^[A-Za-z0-9._\-:[\]]+$/.test(h)) {
      c.add(`${label}: hostHeader ${q(h)} is not valid`, loc('hostHeader'), "use 'preserve', 'upstream' or a host like 'api.internal:8080'");
    }
  }

  c.nameList(r.hideHeaders, `${label}: hideHeaders`, loc('hideHeaders'));

  if (r.bodyLimit !== undefined && r.bodyLimit !== false) c.size(r.bodyLimit, `${label}: bodyLimit`, loc('bodyLimit'));

  if (r.timeouts !== undefined && c.object(r.timeouts, `${label}: timeouts`, loc('timeouts'), "{ response: '30s' }")) {
    validateTimeouts(c, r.timeouts, `${label}: timeouts`, loc('timeouts'));
  }

  if (r.features !== undefined && isObject(r.features)) {
    validateFeatures(c, r.features, label, loc, pools);
    if (r.features.cache !== undefined && isObject(t) && (t.kind === 'redirect' || t.kind === 'respond')) {
      c.add(
        `${label}: .cache() needs a proxy target, but the route answers with .${t.kind}()`,
        loc('cache'),
        'the cache stores upstream responses: remove .cache() here, or send the route .to(pool)',
      );
    }
  }
}

function validateTimeouts(c: Collector, t: Record<string, unknown>, label: string, at: SourceLocation | undefined): void {
  c.keys(t, KEYS.timeouts, label, at);
  for (const k of KEYS.timeouts) c.duration(t[k], `${label}.${k}`, at);
}

/** Options of later features: only their shape is checked here (the engine decides support). */
function validateFeatures(
  c: Collector,
  f: Record<string, unknown>,
  label: string,
  loc: (m: string) => SourceLocation | undefined,
  pools: Set<PoolSpec>,
): void {
  const waf = f.waf;
  if (isObject(waf)) {
    c.keys(waf, KEYS.waf, `${label}: waf`, loc('waf'));
    if (waf.mode !== undefined && waf.mode !== 'block' && waf.mode !== 'detect') {
      c.add(`${label}: waf mode ${q(waf.mode)} is not a mode`, loc('waf'), "use 'block' or 'detect'");
    }
    if (waf.paranoia !== undefined && ![1, 2, 3, 4].includes(waf.paranoia as number)) {
      c.add(`${label}: waf paranoia ${q(waf.paranoia)} is out of range`, loc('waf'), 'use 1, 2, 3 or 4');
    }
  }
  const rl = f.rateLimit;
  if (isObject(rl)) {
    c.keys(rl, KEYS.rateLimit, `${label}: rateLimit`, loc('rateLimit'));
    if (rl.perIp !== undefined) {
      try {
        parseRate(rl.perIp as Rate);
      } catch (err) {
        c.add(`${label}: rateLimit.perIp: ${(err as Error).message}`, loc('rateLimit'), "e.g. perIp: '100/s'");
      }
    }
    c.positiveInt(rl.burst, `${label}: rateLimit.burst`, loc('rateLimit'));
  }
  if (f.cache !== undefined && c.object(f.cache, `${label}: cache`, loc('cache'), "{ maxAge: '60s' }")) {
    validateRouteCache(c, f.cache, label, loc('cache'));
  }
  const geo = f.geo;
  if (isObject(geo)) {
    const at = loc('geo');
    c.keys(geo, KEYS.geo, `${label}: geo`, at);
    if (geo.pools !== undefined && c.object(geo.pools, `${label}: geo.pools`, at, '{ EU: euPool }')) {
      for (const [code, p] of Object.entries(geo.pools)) {
        if (!/^[A-Za-z]{2}$/.test(code)) c.add(`${label}: geo pool key ${q(code)} is not a country or continent code`, at, "two letters, e.g. 'DE' or 'EU'");
        if (isObject(p) && p.kind === 'pool') pools.add(p as unknown as PoolSpec);
        else c.add(`${label}: geo pool for ${q(code)} is not a pool`, at, "pass pool('name', [...])");
      }
    }
    if (geo.deny !== undefined) {
      const list = Array.isArray(geo.deny) ? geo.deny : [geo.deny];
      for (const code of list) {
        if (typeof code !== 'string' || !/^[A-Za-z]{2}$/.test(code)) {
          c.add(`${label}: geo deny ${q(code)} is not a country or continent code`, at, "two letters, e.g. 'KP'");
        }
      }
    }
    if (geo.nearest !== undefined && typeof geo.nearest !== 'boolean') {
      c.add(`${label}: geo nearest must be true or false`, at, '{ nearest: true }');
    }
  }
}

/** A cache time: a duration of whole seconds (HTTP ages are counted in seconds). */
function cacheSeconds(c: Collector, value: unknown, label: string, at: SourceLocation | undefined): void {
  if (value === undefined) return;
  let n: number;
  try {
    n = parseDuration(value as Duration);
  } catch (err) {
    c.add(`${label}: ${(err as Error).message}`, at, "write a string like '30s', '5m', '1h' (or a number of milliseconds)");
    return;
  }
  if (n % 1000 === 0) return;
  const hint =
    typeof value === 'number'
      ? `a number is milliseconds; for ${value} seconds write '${value}s'`
      : `HTTP counts ages in whole seconds, e.g. '${Math.max(1, Math.round(n / 1000))}s'`;
  c.add(`${label} must be whole seconds, got ${q(value)}`, at, hint);
}

/** Cache key `query`: true, false, { include } or { exclude } with parameter names. */
function validateCacheQuery(c: Collector, query: unknown, label: string, at: SourceLocation | undefined): void {
  if (query === undefined || typeof query === 'boolean') return;
  if (!isObject(query)) {
    c.add(`${label} ${q(query)} is not valid`, at, "use true (the whole query), false (none), { include: ['page'] } or { exclude: ['utm_source'] }");
    return;
  }
  c.keys(query, KEYS.cacheKeyQuery, label, at);
  if (query.include !== undefined && query.exclude !== undefined) {
    c.add(`${label} has both include and exclude`, at, "use one: { include: [...] } keeps only those parameters, { exclude: [...] } drops those");
    return;
  }
  const mode = query.include !== undefined ? 'include' : query.exclude !== undefined ? 'exclude' : undefined;
  if (mode === undefined) {
    if (Object.keys(query).length > 0) return; // only unknown keys, reported above
    c.add(`${label} has neither include nor exclude`, at, "e.g. { exclude: ['utm_source'] }, or true / false for the whole query or none");
    return;
  }
  const names = query[mode];
  if (!Array.isArray(names)) {
    c.add(`${label}.${mode} must be an array of parameter names, got ${q(names)}`, at, `e.g. { ${mode}: ['page'] }`);
    return;
  }
  if (names.length === 0) {
    c.add(
      `${label}.${mode} lists no parameter`,
      at,
      mode === 'include' ? 'for no query in the key write query: false' : 'for the whole query in the key leave query out (or write query: true)',
    );
  }
  for (const n of names) {
    if (typeof n !== 'string' || n === '' || /[&=#\s]/.test(n)) {
      c.add(`${label}.${mode}: parameter name ${q(n)} is not valid`, at, "a query parameter name as it appears before '=', e.g. 'utm_source'");
    }
  }
}

/** `.cache()` options: shapes, units, names; the store itself is checked in the top-level block. */
function validateRouteCache(c: Collector, o: Record<string, unknown>, label: string, at: SourceLocation | undefined): void {
  const l = `${label}: cache`;
  c.keys(o, KEYS.cache, l, at);
  cacheSeconds(c, o.maxAge, `${l}.maxAge`, at);
  cacheSeconds(c, o.staleWhileRevalidate, `${l}.staleWhileRevalidate`, at);
  cacheSeconds(c, o.staleIfError, `${l}.staleIfError`, at);
  c.positiveDuration(o.lockTimeout, `${l}.lockTimeout`, at);

  const key = o.key;
  if (key !== undefined && typeof key !== 'function') {
    if (!isObject(key)) {
      c.add(`${l}.key must be a function or { query, headers, cookies }, got ${q(key)}`, at, "e.g. key: { query: false } or key: (req) => req.host + req.path");
    } else {
      c.keys(key, KEYS.cacheKey, `${l}.key`, at);
      validateCacheQuery(c, key.query, `${l}.key.query`, at);
      c.nameList(key.headers, `${l}.key.headers`, at);
      c.cookieList(key.cookies, `${l}.key.cookies`, at);
    }
  }

  const bypass = o.bypass;
  if (bypass !== undefined && typeof bypass !== 'function') {
    if (!isObject(bypass)) {
      c.add(`${l}.bypass must be a function or { cookies, headers }, got ${q(bypass)}`, at, "e.g. bypass: { cookies: ['session'] } or bypass: (req) => req.path.startsWith('/preview/')");
    } else {
      c.keys(bypass, KEYS.cacheBypass, `${l}.bypass`, at);
      c.cookieList(bypass.cookies, `${l}.bypass.cookies`, at);
      c.nameList(bypass.headers, `${l}.bypass.headers`, at);
      const count = (Array.isArray(bypass.cookies) ? bypass.cookies.length : 0) + (Array.isArray(bypass.headers) ? bypass.headers.length : 0);
      const shapeOk = Object.keys(bypass).every((k) => KEYS.cacheBypass.includes(k as never) && (bypass[k] === undefined || Array.isArray(bypass[k])));
      if (count === 0 && shapeOk) {
        c.add(`${l}.bypass lists no cookie or header`, at, "e.g. bypass: { cookies: ['session'], headers: ['authorization'] }, or leave bypass out");
      }
    }
  }

  if (o.ignoreOriginNoCache !== undefined && typeof o.ignoreOriginNoCache !== 'boolean') {
    c.add(`${l}.ignoreOriginNoCache must be true or false, got ${q(o.ignoreOriginNoCache)}`, at, 'ignoreOriginNoCache: true caches despite the origin\'s no-store, no-cache and private');
  }

  c.nameList(o.tagHeaders, `${l}.tagHeaders`, at);

  const h = o.heuristic;
  if (h !== undefined && h !== false && !(typeof h === 'number' && h > 0 && h <= 1)) {
    c.add(
      `${l}.heuristic ${q(h)} is not a fraction in (0, 1] or false`,
      at,
      h === true ? 'heuristics are on by default (0.1); write a fraction like 0.05, or false to turn them off' : 'a share of the time since Last-Modified, e.g. heuristic: 0.1; false turns heuristic freshness off',
    );
  }
  if (h !== undefined && o.maxAge !== undefined) {
    c.add(`${l} has both maxAge and heuristic`, at, 'maxAge replaces heuristic freshness for responses without an expiration; remove heuristic');
  }
}

// ---------------------------------------------------------------------------------------------
// Pools
// ---------------------------------------------------------------------------------------------

function validatePools(c: Collector, pools: Set<PoolSpec>): void {
  const byName = new Map<string, PoolSpec>();
  for (const p of pools) {
    validatePool(c, p);
    if (typeof p.name !== 'string') continue;
    const first = byName.get(p.name);
    if (!first) {
      byName.set(p.name, p);
    } else if (poolContent(first) !== poolContent(p)) {
      c.add(
        `pool ${q(p.name)} is defined twice with different settings${first.at ? ` (first at ${formatLocation(first.at)})` : ''}`,
        p.at,
        `reuse one builder (const ${/^[A-Za-z_$][\w$]*$/.test(p.name) ? p.name : 'p'} = pool(${q(p.name)}, …)) everywhere, or give the other pool its own name`,
      );
    }
  }
}

function validatePool(c: Collector, p: PoolSpec): void {
  const label = `pool ${q(p.name)}`;
  const loc = (method: string): SourceLocation | undefined => p.calls?.[method]?.at ?? p.at;
  c.keys(p, KEYS.pool, label, p.at);
  if (typeof p.name !== 'string' || p.name.trim() === '') {
    c.add(`pool ${q(p.name)}: the name must be a non-empty string`, p.at, "pool('api', ['http://127.0.0.1:3000'])");
  }

  if (!Array.isArray(p.upstreams) || p.upstreams.length === 0) {
    c.add(`${label} has no upstreams`, p.at, "list at least one, e.g. pool('api', ['http://127.0.0.1:3000'])");
  } else {
    const seen = new Set<string>();
    for (const u of p.upstreams as unknown[]) {
      if (!isObject(u)) {
        c.add(`${label}: upstream ${q(u)} is not a URL or { url } object`, p.at, "e.g. 'http://127.0.0.1:3000' or { url: 'http://127.0.0.1:3000', weight: 2 }");
        continue;
      }
      c.keys(u, KEYS.upstream, `${label}: upstream ${q(u.url)}`, p.at);
      const problem = originProblem(u.url, 'upstream');
      if (problem) c.add(`${label}: ${problem.message}`, p.at, problem.hint);
      else if (seen.has(new URL(u.url as string).origin)) {
        c.add(`${label}: upstream ${q(u.url)} is listed twice`, p.at, 'list each upstream once; use weight to send it more traffic');
      } else seen.add(new URL(u.url as string).origin);
      if (u.weight !== undefined && !isPositiveInt(u.weight)) {
        c.add(`${label}: upstream ${q(u.url)} has weight ${q(u.weight)}`, p.at, 'a weight is a positive whole number (1, 2, 3 …)');
      }
      if (u.region !== undefined && (typeof u.region !== 'string' || u.region === '')) {
        c.add(`${label}: upstream ${q(u.url)} has region ${q(u.region)}`, p.at, "a region is a non-empty string like 'eu-west'");
      }
    }
  }

  const b: unknown = p.balance;
  if (typeof b === 'string') {
    if (!BALANCE_ALGORITHMS.includes(b)) {
      c.add(`${label}: balance ${q(b)} is not an algorithm`, loc('balance'), `${suggestHint(b, BALANCE_ALGORITHMS, 'algorithms')}, or { hash: 'ip' }`);
    }
  } else if (isObject(b)) {
    c.keys(b, ['hash'], `${label}: balance`, loc('balance'));
    const key = b.hash;
    const ok =
      key === 'ip' ||
      key === 'path' ||
      (typeof key === 'string' && /^(header|cookie):/.test(key) && TOKEN.test(key.slice(key.indexOf(':') + 1)));
    if (!ok) {
      c.add(`${label}: balance hash key ${q(key)} is not valid`, loc('balance'), "use 'ip', 'path', 'header:<name>' or 'cookie:<name>'");
    }
  } else {
    c.add(`${label}: balance ${q(b)} is not valid`, loc('balance'), `algorithms: ${BALANCE_ALGORITHMS.join(', ')}, or { hash: 'ip' }`);
  }

  if (p.sticky !== undefined && c.object(p.sticky, `${label}: sticky`, loc('sticky'), "{ cookie: 'pk_srv' }")) {
    const at = loc('sticky');
    const st = p.sticky;
    c.keys(st, KEYS.sticky, `${label}: sticky`, at);
    if (typeof st.cookie !== 'string' || !TOKEN.test(st.cookie)) {
      c.add(`${label}: sticky cookie name ${q(st.cookie)} is not valid`, at, "a cookie name is a token, e.g. 'pk_srv'");
    }
    c.duration(st.ttl, `${label}: sticky.ttl`, at);
    if (st.secret !== undefined && (typeof st.secret !== 'string' || st.secret.length < MIN_STICKY_SECRET)) {
      c.add(
        `${label}: sticky secret must be a string of at least ${MIN_STICKY_SECRET} characters`,
        at,
        'use a long random value shared by all instances, e.g. from `openssl rand -hex 32`, or leave it out for a per-process key',
      );
    }
    if (isObject(b) && 'hash' in b) {
      c.add(`${label}: sticky and hash balancing both pin clients; use one`, at, 'remove .sticky() or use a balance algorithm that is not { hash }');
    }
  }

  if (p.health !== undefined && c.object(p.health, `${label}: health`, loc('health'), "{ path: '/healthz' }")) {
    const h = p.health;
    const at = loc('health');
    c.keys(h, KEYS.health, `${label}: health`, at);
    if (typeof h.path !== 'string' || !h.path.startsWith('/') || /[\s#]/.test(h.path)) {
      c.add(`${label}: health path ${q(h.path)} is not a path`, at, "a path starting with '/', e.g. '/healthz'");
    }
    const interval = c.positiveDuration(h.interval, `${label}: health.interval`, at);
    const timeout = c.positiveDuration(h.timeout, `${label}: health.timeout`, at);
    c.positiveInt(h.healthy, `${label}: health.healthy`, at);
    c.positiveInt(h.unhealthy, `${label}: health.unhealthy`, at);
    if (h.expect !== undefined) {
      const list: unknown[] = Array.isArray(h.expect) ? h.expect : [h.expect];
      if (list.length === 0) c.add(`${label}: health.expect lists no status`, at, 'e.g. expect: 200 or expect: [200, 204]; leave it out for any 2xx or 3xx');
      for (const s of list) c.status(s, `${label}: health.expect`, at);
    }
    if (h.host !== undefined && (typeof h.host !== 'string' || !HOST_HEADER.test(h.host))) {
      c.add(`${label}: health host ${q(h.host)} is not a host`, at, "a host or host:port, e.g. 'api.internal' or 'api.internal:8080'");
    }
    const intervalMs = interval ?? (h.interval === undefined ? DEFAULT_HEALTH_INTERVAL_MS : undefined);
    // Without an explicit timeout the default follows the interval (defaultTimeout), so only an
    // explicit one can be too long.
    const timeoutMs = timeout ?? undefined;
    if (intervalMs !== undefined && timeoutMs !== undefined && timeoutMs >= intervalMs) {
      c.add(
        `${label}: health.timeout (${ms(timeoutMs)}${h.timeout === undefined ? ', the default' : ''}) is not shorter than health.interval (${ms(intervalMs)}${h.interval === undefined ? ', the default' : ''})`,
        at,
        'a probe must end before the next one starts: make timeout shorter than interval',
      );
    }
  }

  if (p.passive !== undefined && c.object(p.passive, `${label}: passive`, loc('passive'), "{ failures: 5, ejectFor: '30s' }")) {
    const at = loc('passive');
    const pv = p.passive;
    c.keys(pv, KEYS.passive, `${label}: passive`, at);
    c.positiveInt(pv.failures, `${label}: passive.failures`, at);
    const ejectFor = c.positiveDuration(pv.ejectFor, `${label}: passive.ejectFor`, at);
    const maxEjectFor = c.positiveDuration(pv.maxEjectFor, `${label}: passive.maxEjectFor`, at);
    const base = ejectFor ?? (pv.ejectFor === undefined ? DEFAULT_EJECT_FOR_MS : undefined);
    if (base !== undefined && maxEjectFor !== undefined && maxEjectFor < base) {
      c.add(
        `${label}: passive.maxEjectFor (${ms(maxEjectFor)}) is shorter than passive.ejectFor (${ms(base)}${pv.ejectFor === undefined ? ', the default' : ''})`,
        at,
        'maxEjectFor caps the doubling ejection time; make it at least ejectFor',
      );
    }
    c.statusList(pv.statuses, `${label}: passive.statuses`, at, 'e.g. statuses: [502, 503, 504]');
  }

  if (p.retry !== undefined && c.object(p.retry, `${label}: retry`, loc('retry'), '{ attempts: 2 }')) {
    const at = loc('retry');
    const rt = p.retry;
    c.keys(rt, KEYS.retry, `${label}: retry`, at);
    c.positiveInt(rt.attempts, `${label}: retry.attempts`, at, true);
    c.statusList(rt.statuses, `${label}: retry.statuses`, at, 'e.g. statuses: [502, 503]');
    if (rt.budget !== undefined && !(typeof rt.budget === 'number' && rt.budget > 0 && rt.budget <= 1)) {
      c.add(`${label}: retry.budget ${q(rt.budget)} is not a share in (0, 1]`, at, 'a share of recent requests, e.g. budget: 0.2 for at most 20% extra load');
    }
    c.positiveInt(rt.minPerSecond, `${label}: retry.minPerSecond`, at, true);
  }

  if (p.timeouts !== undefined && c.object(p.timeouts, `${label}: timeouts`, loc('timeouts'), "{ connect: '2s' }")) {
    validateTimeouts(c, p.timeouts, `${label}: timeouts`, loc('timeouts'));
  }

  const breakerAt = p.calls?.maxConnections?.at ?? loc('circuitBreaker');
  c.positiveInt(p.maxConnections, `${label}: maxConnections`, breakerAt);
  c.positiveInt(p.maxPending, `${label}: maxPending`, loc('circuitBreaker'), true);

  if (p.slowStart !== undefined) c.duration(p.slowStart, `${label}: slowStart`, loc('slowStart'));

  if (p.tls !== undefined && c.object(p.tls, `${label}: tls`, loc('tls'), "{ ca: 'certs/ca.pem' }")) {
    validateUpstreamTls(c, p.tls as unknown as Record<string, unknown>, label, loc('tls'));
  }

  if (p.dns !== undefined && c.object(p.dns, `${label}: dns`, loc('dns'), "{ refresh: '30s' }")) {
    c.keys(p.dns, KEYS.dns, `${label}: dns`, loc('dns'));
    c.positiveDuration(p.dns.refresh, `${label}: dns.refresh`, loc('dns'));
  }
}

function ms(n: number): string {
  return n % 1000 === 0 ? `${n / 1000}s` : `${n}ms`;
}

/** `256mb`, `1.5gb`, `512kb`, `100b`: a byte count in the largest unit that reads well. */
function bytes(n: number): string {
  for (const [unit, size] of [['gb', 1024 ** 3], ['mb', 1024 ** 2], ['kb', 1024]] as const) {
    if (n >= size) return `${+(n / size).toFixed(2)}${unit}`;
  }
  return `${n}b`;
}

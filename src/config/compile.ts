/**
 * ConfigSpec → Plan. Runs once per (re)load, after validation. Everything the request path needs
 * is resolved here so that it never parses, validates or builds a regular expression per request.
 */
import { BlockList, isIP } from 'node:net';
import type { Pool as UndiciPool } from 'undici';
import { ConfigError, type ConfigProblem } from './errors.js';
import type {
  CacheStorageSpec,
  ConfigSpec,
  Duration,
  HeaderEdits,
  PoolSpec,
  RouteSpec,
  RouteTarget,
  StickySpec,
  UpstreamTlsSpec,
} from './spec.js';
import type { CacheBypassRule, CacheKeyQuery, CacheOptions } from './builder.types.js';
import { DEFAULT_CACHE_MAX_BYTES, DEFAULT_CACHE_MAX_OBJECT_BYTES } from './validate.js';
import type { CacheKeyRequest, QueryKeyRule, ResolvedCacheStorage, ResolvedRouteCache } from '../cache/contracts.js';
import { parseByteSize, parseDuration } from './units.js';
import { parseMatch, paramNames } from '../engine/match.js';
import type { CompiledHeaderEdits, CompiledRoute, ListenAddress, Plan, ResolvedLimits, RouteAction } from '../engine/plan.js';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DispatcherRegistry, UpstreamPool, type RetryPolicy, type UpstreamTls } from '../balance/pool.js';
import { PassivePolicy } from '../balance/passive.js';
import type { RetryBudget } from '../balance/retry-budget.js';
import { StateRegistry, type UpstreamState } from '../balance/state.js';
import { StickyCookie } from '../balance/sticky.js';
import type { Logger } from '../observe/logger.js';
import type { Metrics } from '../observe/contracts.js';
import { Upstream } from '../balance/upstream.js';
import { Router } from '../engine/router.js';
import { FORWARDING_HEADERS, NameSet, REQUEST_HOP_BY_HOP, RESPONSE_HOP_BY_HOP } from '../engine/headers.js';

export const DEFAULT_LIMITS = {
  maxHeaderSize: 16 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  keepAliveTimeoutMs: 65_000,
  maxConnections: 10_000,
  drainTimeoutMs: 10_000,
} as const satisfies ResolvedLimits;

const DEFAULT_BODY_LIMIT = 10 * 1024 * 1024;
const DEFAULT_HIDDEN = ['server', 'x-powered-by'];
const DEFAULT_TIMEOUTS = { connect: 5_000, response: 60_000, idle: 60_000 };

/** Features whose builder methods exist but whose engines land with later issues. */
const PENDING_FEATURES: Record<string, string> = {
  waf: 'the WAF',
  rateLimit: 'rate limiting',
  geo: 'geo routing',
};
/** Features the compiler resolves (everything else in `features` is refused). */
const IMPLEMENTED_FEATURES: ReadonlySet<string> = new Set(['cache']);

/** `.cache()` defaults (the store's are in validate.ts, next to the checks that use them). */
export const DEFAULT_ROUTE_CACHE = {
  heuristicFraction: 0.1,
  heuristicMax: 86_400,
  tagHeaders: ['surrogate-key', 'cache-tag'],
  lockTimeoutMs: 5_000,
  statusName: 'proxykit',
} as const;

export interface CompileResult {
  plan: Plan;
  /** Every undici pool the plan uses (the registry closes the others). */
  dispatchers: Set<UndiciPool>;
  /** Every upstream state and retry budget the plan uses (the registry forgets the others). */
  states: Set<UpstreamState>;
  budgets: Set<RetryBudget>;
}

/** Long-lived things a Plan refers to but does not own. */
export interface CompileResources {
  dispatchers: DispatcherRegistry;
  states: StateRegistry;
  logger: Logger;
  metrics: Metrics;
  /** Where relative file paths in the config (upstream CA, client certificates) are resolved. */
  configDir?: string;
}

const DEFAULT_RETRY = { attempts: 2, budget: 0.2, minPerSecond: 10 };

export function compile(spec: ConfigSpec, res: CompileResources, id: number): CompileResult {
  const problems: ConfigProblem[] = [];
  const dispatchers = new Set<UndiciPool>();
  const states = new Set<UpstreamState>();
  const budgets = new Set<RetryBudget>();
  const pools = new Map<string, UpstreamPool>();
  const poolBySpec = new Map<PoolSpec, UpstreamPool>();
  const now = Date.now();

  const buildPool = (p: PoolSpec): UpstreamPool => {
    const known = poolBySpec.get(p);
    if (known) return known;
    const t = p.timeouts ?? {};
    const timeouts = {
      connectMs: t.connect !== undefined ? parseDuration(t.connect) : DEFAULT_TIMEOUTS.connect,
      responseMs: t.response !== undefined ? parseDuration(t.response) : DEFAULT_TIMEOUTS.response,
      idleMs: t.idle !== undefined ? parseDuration(t.idle) : DEFAULT_TIMEOUTS.idle,
    };
    const ups = p.upstreams.map((u) => {
      const origin = new URL(u.url).origin;
      const d = res.dispatchers.get(origin, {
        connectMs: timeouts.connectMs,
        maxConnections: p.maxConnections ?? null,
        ...(origin.startsWith('https:') && p.tls !== undefined ? { tls: upstreamTls(p.tls, res.configDir, p.name) } : {}),
      });
      dispatchers.add(d);
      const state = res.states.get(p.name, u.url, now);
      states.add(state);
      const upstreamId = createHash('sha256').update(`${p.name}\0${u.url}`).digest('base64url').slice(0, 12);
      return new Upstream(p.name, u.url, u.weight ?? 1, u.region ?? null, state, d, upstreamId, res.metrics.upstream(p.name, u.url));
    });
    let retry: RetryPolicy | null = null;
    if (p.retry !== undefined) {
      const budget = res.states.budget(p.name, p.retry.budget ?? DEFAULT_RETRY.budget, p.retry.minPerSecond ?? DEFAULT_RETRY.minPerSecond);
      budgets.add(budget);
      retry = { attempts: p.retry.attempts ?? DEFAULT_RETRY.attempts, statuses: new Set(p.retry.statuses ?? []), budget };
    }
    const capacity = p.maxConnections !== undefined && p.maxPending !== undefined ? p.maxConnections + p.maxPending : Infinity;
    const pool = new UpstreamPool({
      name: p.name,
      upstreams: ups,
      balance: p.balance,
      timeouts,
      passive: new PassivePolicy(p.passive, res.logger, p.name),
      retry,
      sticky: p.sticky !== undefined ? stickyFor(p.sticky) : null,
      capacity,
      slowStartMs: p.slowStart !== undefined ? parseDuration(p.slowStart) : 0,
      logger: res.logger,
    });
    poolBySpec.set(p, pool);
    pools.set(p.name, pool);
    return pool;
  };

  const routes: CompiledRoute[] = [];
  // A route's label (logs, metrics) is its match pattern, stable when routes are reordered;
  // only a pattern used twice gets its position appended.
  const seen = new Map<string, number>();
  for (const r of spec.routes) seen.set(r.match, (seen.get(r.match) ?? 0) + 1);
  spec.routes.forEach((r, i) => {
    try {
      const label = (seen.get(r.match) ?? 0) > 1 ? `${r.match} #${i}` : r.match;
      routes.push(compileRoute(r, label, buildPool, res.metrics));
    } catch (err) {
      problems.push({ message: `route "${r.match}": ${(err as Error).message}`, at: r.at });
    }
  });
  for (const r of spec.routes) {
    for (const key of Object.keys(r.features ?? {})) {
      if (IMPLEMENTED_FEATURES.has(key)) continue;
      const what = PENDING_FEATURES[key] ?? key;
      problems.push({
        message: `route "${r.match}": .${key}() is not available in this version of proxykit (${what} is not implemented yet)`,
        at: r.at,
        hint: `remove .${key}() from this route for now`,
      });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const plan: Plan = {
    id,
    listen: spec.listen.map(parseListen),
    routes,
    router: new Router(routes),
    limits: resolveLimits(spec),
    trust: buildTrust(spec.trustProxies),
    via: spec.via === true ? '1.1 proxykit' : typeof spec.via === 'string' ? `1.1 ${spec.via}` : null,
    pools,
    accessLog: spec.log?.access !== false,
    startTraces: spec.tracing?.start === true,
    httpsRedirect: httpsRedirectPort(spec),
    hsts: hstsValue(spec),
    cacheStorage: routes.some((r) => r.cache !== null) ? resolveCacheStorage(spec.cache, res.configDir) : null,
  };
  return { plan, dispatchers, states, budgets };
}

/** Read an upstream's TLS files once per compile; a missing file is a config error, not a 502. */
function upstreamTls(t: UpstreamTlsSpec, configDir: string | undefined, poolName: string): UpstreamTls {
  const read = (file: string | undefined, what: string): Buffer | undefined => {
    if (file === undefined) return undefined;
    const full = path.resolve(configDir ?? process.cwd(), file);
    try {
      return fs.readFileSync(full);
    } catch (err) {
      throw new ConfigError([
        { message: `pool "${poolName}": cannot read tls.${what} file ${full} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, hint: 'paths are relative to the config file' },
      ]);
    }
  };
  return {
    id: JSON.stringify([t.ca ?? null, t.cert ?? null, t.key ?? null, t.servername ?? null, t.insecure === true]),
    ...(t.ca !== undefined ? { ca: read(t.ca, 'ca') } : {}),
    ...(t.cert !== undefined ? { cert: read(t.cert, 'cert') } : {}),
    ...(t.key !== undefined ? { key: read(t.key, 'key') } : {}),
    ...(t.servername !== undefined ? { servername: t.servername } : {}),
    rejectUnauthorized: t.insecure !== true,
  };
}

/**
 * One StickyCookie per cookie settings for the life of the process: its default key is random per
 * instance, so re-creating it on every reload would invalidate every client's cookie.
 */
const stickyCookies = new Map<string, StickyCookie>();
function stickyFor(spec: StickySpec): StickyCookie {
  const key = JSON.stringify([spec.cookie, spec.ttl ?? null, spec.secret ?? null]);
  let c = stickyCookies.get(key);
  if (c === undefined) {
    c = new StickyCookie(spec);
    stickyCookies.set(key, c);
  }
  return c;
}

function compileRoute(r: RouteSpec, label: string, buildPool: (p: PoolSpec) => UpstreamPool, metrics: Metrics): CompiledRoute {
  const match = parseMatch(r.match);
  const target = r.target;
  if (target === undefined) throw new Error('has no target: add .to(pool), .redirect(url) or .respond(status)');
  const methods = r.methods && r.methods.length > 0 ? new Set(r.methods.map((m) => m.toUpperCase())) : null;
  if (methods?.has('GET')) methods.add('HEAD');
  let rewrite: CompiledRoute['rewrite'] = null;
  if (r.rewrite) {
    const usesParams = paramNames(match).some((n) => r.rewrite!.to.includes(`:${n}`));
    rewrite = { from: new RegExp(r.rewrite.from, r.rewrite.flags), to: r.rewrite.to, usesParams };
  }
  const host = r.hostHeader ?? 'preserve';
  const requestHeaders = compileEdits(r.headers?.request);
  const responseHeaders = compileEdits(r.headers?.response);
  const hide = new Set((r.hideHeaders ?? DEFAULT_HIDDEN).map((h) => h.toLowerCase()));
  return {
    label,
    metrics: metrics.route(label),
    match,
    methods,
    action: compileAction(target, buildPool),
    stripPrefix: r.stripPrefix && r.stripPrefix !== '/' ? r.stripPrefix.replace(/\/+$/, '') : null,
    rewrite,
    requestHeaders,
    responseHeaders,
    hide,
    requestDrop: new NameSet([...REQUEST_HOP_BY_HOP, ...FORWARDING_HEADERS, ...requestHeaders.remove]),
    responseDrop: new NameSet([...RESPONSE_HOP_BY_HOP, 'trailer', ...hide, ...responseHeaders.remove]),
    hostHeader: host === 'preserve' || host === 'upstream' ? host : { literal: host },
    bodyLimit: r.bodyLimit === false ? Infinity : r.bodyLimit === undefined ? DEFAULT_BODY_LIMIT : parseByteSize(r.bodyLimit),
    cache: compileCache(r, target),
  };
}

/** Seconds from a validated duration (whole seconds; validation refuses fractions). */
function seconds(d: Duration): number {
  return Math.floor(parseDuration(d) / 1000);
}

const lower = (names: readonly string[] | undefined): string[] => [...new Set((names ?? []).map((n) => n.toLowerCase()))];

/** A route's `.cache()` options resolved for the cache stage, or null without `.cache()`. */
function compileCache(r: RouteSpec, target: RouteTarget): ResolvedRouteCache | null {
  const raw = r.features?.cache;
  if (raw === undefined) return null;
  if (target.kind !== 'pool') throw new Error(`.cache() needs a proxy target, but the route answers with .${target.kind}()`);
  const o = raw as CacheOptions;
  const key = typeof o.key === 'function' ? null : o.key;
  return {
    policy: {
      defaultMaxAge: o.maxAge !== undefined ? seconds(o.maxAge) : null,
      staleWhileRevalidate: o.staleWhileRevalidate !== undefined ? seconds(o.staleWhileRevalidate) : null,
      staleIfError: o.staleIfError !== undefined ? seconds(o.staleIfError) : null,
      ignoreOriginNoCache: o.ignoreOriginNoCache === true,
      heuristicFraction: o.heuristic === false ? 0 : (o.heuristic ?? DEFAULT_ROUTE_CACHE.heuristicFraction),
      heuristicMax: DEFAULT_ROUTE_CACHE.heuristicMax,
    },
    key: {
      fn: typeof o.key === 'function' ? o.key : null,
      query: queryRule(key?.query),
      headers: lower(key?.headers),
      cookies: [...new Set(key?.cookies ?? [])],
    },
    bypass: typeof o.bypass === 'function' ? o.bypass : o.bypass !== undefined ? bypassRule(o.bypass) : null,
    tagHeaders: lower(o.tagHeaders ?? DEFAULT_ROUTE_CACHE.tagHeaders),
    lockTimeoutMs: o.lockTimeout !== undefined ? parseDuration(o.lockTimeout) : DEFAULT_ROUTE_CACHE.lockTimeoutMs,
  };
}

function queryRule(q: CacheKeyQuery | undefined): QueryKeyRule {
  if (q === undefined || q === true) return { mode: 'all' };
  if (q === false) return { mode: 'none' };
  if (Array.isArray(q.include)) return { mode: 'include', names: new Set(q.include) };
  return { mode: 'exclude', names: new Set(Array.isArray(q.exclude) ? q.exclude : []) };
}

/** `{ cookies, headers }` → a predicate: true when the request carries any of them. */
function bypassRule(rule: CacheBypassRule): (req: CacheKeyRequest) => boolean {
  const cookies = [...new Set(rule.cookies ?? [])];
  const headers = lower(rule.headers);
  return (req) => {
    for (const h of headers) if (req.header(h) !== undefined) return true;
    for (const c of cookies) if (req.cookie(c) !== undefined) return true;
    return false;
  };
}

/** The top-level `cache` block with its defaults; relative disk paths resolve against the config's directory. */
export function resolveCacheStorage(c: CacheStorageSpec | undefined, configDir: string | undefined): ResolvedCacheStorage {
  const maxBytes = c?.maxSize !== undefined ? parseByteSize(c.maxSize) : DEFAULT_CACHE_MAX_BYTES;
  const maxObjectBytes = c?.maxObjectSize !== undefined ? parseByteSize(c.maxObjectSize) : Math.min(DEFAULT_CACHE_MAX_OBJECT_BYTES, maxBytes);
  return {
    maxBytes,
    maxObjectBytes,
    disk: c?.disk !== undefined ? { dir: path.resolve(configDir ?? process.cwd(), c.disk.path) } : null,
    statusName: c?.name ?? DEFAULT_ROUTE_CACHE.statusName,
  };
}

function compileAction(t: RouteTarget, buildPool: (p: PoolSpec) => UpstreamPool): RouteAction {
  switch (t.kind) {
    case 'pool':
      return { kind: 'proxy', pool: buildPool(t.pool) };
    case 'redirect':
      return { kind: 'redirect', location: t.location, status: t.status, keepPath: t.keepPath };
    case 'respond':
      return { kind: 'respond', status: t.status, body: Buffer.from(t.body), headers: { ...t.headers } };
  }
}

export function compileEdits(e: HeaderEdits | undefined): CompiledHeaderEdits {
  const set: string[] = [];
  const add: string[] = [];
  const remove = new Set<string>();
  for (const name of e?.remove ?? []) remove.add(name.toLowerCase());
  for (const [k, v] of Object.entries(e?.set ?? {})) {
    remove.add(k.toLowerCase());
    set.push(k, v);
  }
  for (const [k, v] of Object.entries(e?.add ?? {})) add.push(k, v);
  return { remove, set, add, empty: remove.size === 0 && add.length === 0 };
}

export function parseListen(url: string): ListenAddress {
  const u = new URL(url);
  const protocol = u.protocol === 'https:' ? 'https' : 'http';
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  const port = u.port === '' ? (protocol === 'https' ? 443 : 80) : Number(u.port);
  return { url, protocol, host, port };
}

function resolveLimits(spec: ConfigSpec): ResolvedLimits {
  const l = spec.limits ?? {};
  return {
    maxHeaderSize: l.maxHeaderSize !== undefined ? parseByteSize(l.maxHeaderSize) : DEFAULT_LIMITS.maxHeaderSize,
    headersTimeoutMs: l.headersTimeout !== undefined ? parseDuration(l.headersTimeout) : DEFAULT_LIMITS.headersTimeoutMs,
    requestTimeoutMs: l.requestTimeout !== undefined ? parseDuration(l.requestTimeout) : DEFAULT_LIMITS.requestTimeoutMs,
    keepAliveTimeoutMs: l.keepAliveTimeout !== undefined ? parseDuration(l.keepAliveTimeout) : DEFAULT_LIMITS.keepAliveTimeoutMs,
    maxConnections: l.maxConnections ?? DEFAULT_LIMITS.maxConnections,
    drainTimeoutMs: l.drainTimeout !== undefined ? parseDuration(l.drainTimeout) : DEFAULT_LIMITS.drainTimeoutMs,
  };
}

/** The port plain HTTP is redirected to for managed hosts: the first https listener's, if any. */
function httpsRedirectPort(spec: ConfigSpec): number | null {
  const tls = spec.tls;
  if (tls === undefined || (typeof tls === 'object' && tls.redirectHttp === false)) return null;
  const https = spec.listen.map(parseListen).find((l) => l.protocol === 'https');
  return https ? https.port : null;
}

function hstsValue(spec: ConfigSpec): string | null {
  const h = typeof spec.tls === 'object' ? spec.tls.hsts : undefined;
  if (h === undefined || h === false) return null;
  const o = h === true ? {} : h;
  const maxAge = o.maxAge !== undefined ? Math.floor(parseDuration(o.maxAge) / 1000) : 31_536_000;
  return `max-age=${maxAge}${o.includeSubDomains ? '; includeSubDomains' : ''}${o.preload ? '; preload' : ''}`;
}

function buildTrust(entries: string[] | undefined): BlockList | null {
  if (!entries || entries.length === 0) return null;
  const list = new BlockList();
  for (const e of entries) {
    const [addr, bits] = e.split('/');
    const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, family);
    else list.addSubnet(addr, Number(bits), family);
  }
  return list;
}

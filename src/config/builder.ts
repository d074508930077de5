/**
 * The typed config builder: `route(match)`, `pool(name, upstreams)` and `defineConfig(opts)`.
 *
 * Builders are IMMUTABLE: every method returns a new builder and leaves the one it was called on
 * untouched, so a base route or pool can be reused:
 *
 * ```ts
 * const base = route('/x');
 * const a = base.to(p1);                   // base is still target-less, methods unset
 * const b = base.methods('GET').to(p2);    // a has no methods; b does
 * ```
 *
 * Builder state lives in the types (Drizzle style): a one-shot method disappears from the type once
 * used, `.to()` / `.redirect()` / `.respond()` exclude each other, and `defineConfig` only takes
 * routes that have a target. At runtime the builders only record plain data (`spec.ts`) plus where
 * each call was written (`at`, `calls`), and `defineConfig` returns that data frozen.
 */
import { callerLocation } from './callsite.js';
import { ConfigError } from './errors.js';
import type {
  ConfigSpec,
  HeaderRules,
  PoolSpec,
  RouteSpec,
  RouteTarget,
  SourceLocation,
  UpstreamSpec,
  ByteSize,
  Duration,
} from './spec.js';
import {
  CONFIG_BRAND,
  POOL_BRAND,
  ROUTE_BRAND,
  SPEC,
  type AnyPool,
  type AnyRoute,
  type BalanceOptions,
  type CacheOptions,
  type CircuitBreakerOptions,
  type ConfigOptions,
  type DnsOptions,
  type Exact,
  type ExactCache,
  type ExactHeaders,
  type GeoOptions,
  type HeaderOptions,
  type HealthOptions,
  type PassiveOptions,
  type RateLimitOptions,
  type RedirectOptions,
  type RedirectStatus,
  type RetryOptions,
  type StickyOptions,
  type Target,
  type TargetMethod,
  type TimeoutOptions,
  type UpstreamInput,
  type UpstreamTlsOptions,
  type WafOptions,
} from './builder.types.js';

export * from './builder.types.js';

/** Standard HTTP methods (any other token is accepted too). */
export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'OPTIONS' | 'CONNECT' | 'TRACE';

/**
 * A route builder after the methods in `TUsed` were called (they are gone from the type).
 * `THasTarget` is `true` once `.to()`, `.redirect()` or `.respond()` was called. `TDynamic` is
 * `true` after `.$dynamic()`: methods no longer disappear, so the builder can be extended
 * conditionally (`if (x) r = r.stripPrefix('/x')`).
 */
export type Route<THasTarget extends boolean = boolean, TUsed extends string = never, TDynamic extends boolean = false> =
  TDynamic extends true ? RouteBuilder<THasTarget, never, true> : Omit<RouteBuilder<THasTarget, TUsed, false>, TUsed>;

/**
 * A pool builder after the methods in `TUsed` were called (they are gone from the type).
 * `TDynamic` is `true` after `.$dynamic()`: methods no longer disappear.
 */
export type Pool<TUsed extends string = never, TDynamic extends boolean = false> = TDynamic extends true
  ? PoolBuilder<never, true>
  : Omit<PoolBuilder<TUsed, false>, TUsed>;

// ---------------------------------------------------------------------------------------------
// Plain-data helpers
// ---------------------------------------------------------------------------------------------

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Deep copy of arrays and plain objects (functions, builders and other objects are kept). */
function copyPlain<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v: unknown) => copyPlain(v)) as T;
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = copyPlain(v);
    return out as T;
  }
  return value;
}

function misuse(message: string, at: SourceLocation | undefined, hint: string): ConfigError {
  return new ConfigError([{ message, at, hint }]);
}

/**
 * True for a route builder, from this or another copy of proxykit.
 *
 * @example
 * isRoute(route('/x')) // true
 */
export function isRoute(value: unknown): value is AnyRoute {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[ROUTE_BRAND] === true;
}

/**
 * True for a pool builder, from this or another copy of proxykit.
 *
 * @example
 * isPool(pool('api', ['http://127.0.0.1:3000'])) // true
 */
export function isPool(value: unknown): value is AnyPool {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[POOL_BRAND] === true;
}

/**
 * True for a config made by `defineConfig` (branded), or for plain data of the same shape (a spec
 * that went through `structuredClone` or JSON loses the brand but is still a config).
 *
 * @example
 * if (!isConfig(mod.default)) throw new Error('not a config');
 */
export function isConfig(value: unknown): value is ConfigSpec {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<PropertyKey, unknown>;
  if (v[CONFIG_BRAND] === true) return true;
  return v.kind === 'config' && Array.isArray(v.listen) && Array.isArray(v.routes);
}

/**
 * The plain spec recorded by a route builder (works across module copies).
 *
 * @example
 * routeSpecOf(route('/x').respond(200)).target // { kind: 'respond', status: 200, body: '', headers: {} }
 */
export function routeSpecOf(route: AnyRoute): RouteSpec {
  return (route as unknown as Record<symbol, RouteSpec>)[SPEC];
}

/**
 * The plain spec recorded by a pool builder (works across module copies).
 *
 * @example
 * poolSpecOf(pool('api', ['http://a:1'])).balance // 'round-robin'
 */
export function poolSpecOf(p: AnyPool): PoolSpec {
  return (p as unknown as Record<symbol, PoolSpec>)[SPEC];
}

const TARGET_METHODS: readonly string[] = ['to', 'redirect', 'respond'];

// ---------------------------------------------------------------------------------------------
// Route
// ---------------------------------------------------------------------------------------------

/**
 * Builder of one route. Obtain one with `route(match)`; every method returns a new builder.
 * Most methods can be used once per route (they disappear from the type once used).
 */
export class RouteBuilder<THasTarget extends boolean = false, TUsed extends string = never, TDynamic extends boolean = false>
  implements AnyRoute
{
  /** Type-level state (no runtime value). */
  declare readonly _: { readonly hasTarget: THasTarget; readonly used: TUsed; readonly dynamic: TDynamic };
  readonly #spec: RouteSpec;

  /** @internal Use `route(match)`. */
  constructor(spec: RouteSpec) {
    this.#spec = spec;
  }

  /** Brand: `Symbol.for('proxykit.route')`. */
  get [ROUTE_BRAND](): true {
    return true;
  }

  /** The plain data recorded so far. */
  get [SPEC](): RouteSpec {
    return this.#spec;
  }

  /**
   * Escape hatch for builders extended conditionally or by helpers: returns the same route, typed
   * so that methods no longer disappear once used (the type stays the same across calls). Each
   * method still works once per route at runtime (a second call throws a ConfigError). Set the
   * target before, so `defineConfig` still sees that the route has one.
   *
   * @example
   * let r = route('/api/*').to(api).$dynamic();
   * if (prefix) r = r.stripPrefix(prefix);
   * if (limit) r = r.bodyLimit(limit);
   */
  $dynamic(): Route<THasTarget, never, true> {
    return this as unknown as Route<THasTarget, never, true>;
  }

  get #label(): string {
    return `route ${JSON.stringify(this.#spec.match)}`;
  }

  /** New builder with `patch` applied and the call of `name` recorded. */
  #next<R>(
    name: string,
    fn: (...args: never[]) => unknown,
    patch: Partial<RouteSpec>,
    at: SourceLocation | undefined = callerLocation(fn),
  ): R {
    const calls = this.#spec.calls ?? {};
    if (calls[name] !== undefined) {
      throw misuse(`${this.#label}: .${name}() is used twice`, at, `call .${name}() once per route (first call at ${where(calls[name]!.at)})`);
    }
    if (TARGET_METHODS.includes(name)) {
      const used = TARGET_METHODS.find((m) => calls[m] !== undefined);
      if (used) {
        throw misuse(
          `${this.#label}: .${name}() after .${used}(): a route has one target`,
          at,
          'use one of .to(), .redirect() or .respond() per route',
        );
      }
    }
    return new RouteBuilder({ ...this.#spec, ...patch, calls: { ...calls, [name]: { at } } }) as unknown as R;
  }

  #feature<R>(name: string, fn: (...args: never[]) => unknown, opts: unknown): R {
    return this.#next<R>(name, fn, { features: { ...this.#spec.features, [name]: copyPlain(opts ?? {}) } });
  }

  /**
   * Restrict the route to these HTTP methods (case-insensitive, stored uppercase).
   * Default: every method.
   *
   * @example
   * route('/api/*').methods('GET', 'POST').to(api)
   */
  methods(...methods: [HttpMethod | (string & {}), ...Array<HttpMethod | (string & {})>]): Route<THasTarget, TUsed | 'methods', TDynamic> {
    return this.#next<Route<THasTarget, TUsed | 'methods', TDynamic>>('methods', this.methods, {
      methods: methods.map((m) => (typeof m === 'string' ? m.toUpperCase() : m)),
    });
  }

  /**
   * Proxy matching requests to a pool, or to a single upstream given as a URL string (which becomes
   * an anonymous pool named `url:<url>` with round-robin balancing). Excludes `.redirect()` and
   * `.respond()`.
   *
   * @example
   * route('api.example.com/*').to(api)
   * route('/legacy/*').to('http://127.0.0.1:3000')
   */
  to(target: Target): Route<true, TUsed | TargetMethod, TDynamic> {
    const at = callerLocation(this.to);
    let pool: PoolSpec;
    if (typeof target === 'string') {
      pool = { kind: 'pool', name: `url:${target}`, upstreams: [{ url: target }], balance: 'round-robin', at };
    } else if (isPool(target)) {
      pool = poolSpecOf(target);
    } else {
      throw misuse(`${this.#label}: .to() takes a pool or a URL string`, at, "e.g. .to(pool('api', ['http://127.0.0.1:3000'])) or .to('http://127.0.0.1:3000')");
    }
    const t: RouteTarget = { kind: 'pool', pool };
    return this.#next<Route<true, TUsed | TargetMethod, TDynamic>>('to', this.to, { target: t }, at);
  }

  /**
   * Answer matching requests with a redirect to `location`. Excludes `.to()` and `.respond()`.
   *
   * @param status 301, 302, 303, 307 or 308. Default `302`.
   * @param opts `keepPath` appends the request path and query to `location`. Default `false`.
   * @example
   * route('old.example.com/*').redirect('https://example.com/', 301, { keepPath: true })
   */
  redirect<O extends RedirectOptions = RedirectOptions>(
    location: string,
    status: RedirectStatus = 302,
    opts?: Exact<O, RedirectOptions>,
  ): Route<true, TUsed | TargetMethod, TDynamic> {
    const extra = copyPlain((opts ?? {}) as RedirectOptions);
    const target = { ...extra, kind: 'redirect', location, status, keepPath: extra.keepPath ?? false } as const;
    return this.#next<Route<true, TUsed | TargetMethod, TDynamic>>('redirect', this.redirect, { target });
  }

  /**
   * Answer matching requests directly, without an upstream. Excludes `.to()` and `.redirect()`.
   *
   * @param status 100–599.
   * @param body Default `''`.
   * @param headers Response headers. Default none.
   * @example
   * route('/health').respond(200, 'ok')
   * route('/robots.txt').respond(200, 'User-agent: *\nDisallow: /', { 'content-type': 'text/plain' })
   */
  respond(status: number, body: string = '', headers?: Record<string, string>): Route<true, TUsed | TargetMethod, TDynamic> {
    return this.#next<Route<true, TUsed | TargetMethod, TDynamic>>('respond', this.respond, {
      target: { kind: 'respond', status, body, headers: copyPlain(headers ?? {}) },
    });
  }

  /**
   * Remove this prefix from the request path before forwarding (`/v1/users` → `/users`).
   * Default: the path is forwarded as is.
   *
   * @example
   * route('api.example.com/v1/*').to(api).stripPrefix('/v1')
   */
  stripPrefix(prefix: string): Route<THasTarget, TUsed | 'stripPrefix', TDynamic> {
    return this.#next<Route<THasTarget, TUsed | 'stripPrefix', TDynamic>>('stripPrefix', this.stripPrefix, { stripPrefix: prefix });
  }

  /**
   * Rewrite the path (after `stripPrefix`) with a regular expression; `to` may use `$1`… and
   * `:param` from the match pattern. Default: no rewrite.
   *
   * @example
   * route('/users/:id').to(api).rewrite(/^\/users\/(\d+)$/, '/api/v2/users/$1')
   * route('/old/*').to(api).rewrite('^/old/', '/new/')
   */
  rewrite(from: RegExp | string, to: string): Route<THasTarget, TUsed | 'rewrite', TDynamic> {
    const rewrite =
      from instanceof RegExp
        ? { from: from.source, to, ...(from.flags ? { flags: from.flags } : {}) }
        : { from: String(from), to };
    return this.#next<Route<THasTarget, TUsed | 'rewrite', TDynamic>>('rewrite', this.rewrite, { rewrite });
  }

  /**
   * Edit request headers (sent upstream) and response headers (sent to the client): `set`
   * replaces, `add` appends, `remove` deletes. Default: no edits.
   *
   * @example
   * route('/*').to(api).headers({
   *   request: { set: { 'x-env': 'prod' }, remove: ['x-debug'] },
   *   response: { add: { 'cache-control': 'no-store' } },
   * })
   */
  headers<O extends HeaderOptions>(rules: ExactHeaders<O>): Route<THasTarget, TUsed | 'headers', TDynamic> {
    return this.#next<Route<THasTarget, TUsed | 'headers', TDynamic>>('headers', this.headers, { headers: copyPlain(rules as HeaderRules) });
  }

  /**
   * The Host header sent upstream: `'preserve'` (the client's, the default), `'upstream'` (the
   * upstream's own host:port) or a literal host.
   *
   * @example
   * route('/*').to('https://api.internal:8443').hostHeader('upstream')
   */
  hostHeader(host: 'preserve' | 'upstream' | (string & {})): Route<THasTarget, TUsed | 'hostHeader', TDynamic> {
    return this.#next<Route<THasTarget, TUsed | 'hostHeader', TDynamic>>('hostHeader', this.hostHeader, { hostHeader: host });
  }

  /**
   * Upstream identity headers to remove from responses. Default `['server', 'x-powered-by']`;
   * `[]` keeps them all.
   *
   * @example
   * route('/*').to(api).hideHeaders(['server', 'x-powered-by', 'x-aspnet-version'])
   */
  hideHeaders(names: string[]): Route<THasTarget, TUsed | 'hideHeaders', TDynamic> {
    return this.#next<Route<THasTarget, TUsed | 'hideHeaders', TDynamic>>('hideHeaders', this.hideHeaders, { hideHeaders: [...names] });
  }

  /**
   * Largest request body accepted; larger ones get 413. Default `'10mb'`; `false` for no limit.
   *
   * @example
   * route('/upload').to(api).bodyLimit('100mb')
   */
  bodyLimit(limit: ByteSize | false): Route<THasTarget, TUsed | 'bodyLimit', TDynamic> {
    return this.#next<Route<THasTarget, TUsed | 'bodyLimit', TDynamic>>('bodyLimit', this.bodyLimit, { bodyLimit: limit });
  }

  /**
   * Timeouts for this route's upstream exchange, overriding the pool's: `connect` (default 5s),
   * `response` until the response head (default 60s), `idle` between body chunks (default 60s).
   *
   * @example
   * route('/reports/*').to(api).timeouts({ response: '5m' })
   */
  timeouts<O extends TimeoutOptions>(t: Exact<O, TimeoutOptions>): Route<THasTarget, TUsed | 'timeouts', TDynamic> {
    return this.#next<Route<THasTarget, TUsed | 'timeouts', TDynamic>>('timeouts', this.timeouts, { timeouts: copyPlain(t as TimeoutOptions) });
  }

  /**
   * Web application firewall on this route. Defaults: `mode: 'block'`, `paranoia: 1`.
   *
   * @example
   * route('/*').to(api).waf({ mode: 'detect', paranoia: 2 })
   */
  waf<O extends WafOptions = WafOptions>(opts?: Exact<O, WafOptions>): Route<THasTarget, TUsed | 'waf', TDynamic> {
    return this.#feature<Route<THasTarget, TUsed | 'waf', TDynamic>>('waf', this.waf, opts);
  }

  /**
   * Rate limit per client IP (token bucket). `burst` defaults to the rate's count.
   *
   * @example
   * route('/api/*').to(api).rateLimit({ perIp: '100/s', burst: 200 })
   */
  rateLimit<O extends RateLimitOptions>(opts: Exact<O, RateLimitOptions>): Route<THasTarget, TUsed | 'rateLimit', TDynamic> {
    return this.#feature<Route<THasTarget, TUsed | 'rateLimit', TDynamic>>('rateLimit', this.rateLimit, opts);
  }

  /**
   * Cache upstream responses in a shared HTTP cache (RFC 9111); the route needs `.to()`. Without
   * options the origin's `Cache-Control` / `Expires` decide (heuristics for responses that have
   * neither). The store is set up once in `defineConfig({ cache })`.
   *
   * - `maxAge`: freshness for responses without an explicit expiration. Default: heuristic.
   * - `staleWhileRevalidate`, `staleIfError`: stale windows when the origin gives none. Default none.
   * - `key`: `{ query, headers, cookies }` or a function. Default the full URI with its query.
   * - `bypass`: a predicate, or `{ cookies, headers }` whose presence skips the cache. Default none.
   * - `ignoreOriginNoCache`: cache despite `no-store` / `no-cache` / `private`. Default `false`.
   * - `tagHeaders`: response headers with surrogate keys. Default `['surrogate-key', 'cache-tag']`.
   * - `lockTimeout`: how long coalesced misses wait for the one upstream request. Default `'5s'`.
   * - `heuristic`: fraction of the `Last-Modified` age, or `false`. Default `0.1`.
   *
   * @example
   * route('/assets/*').to(origin).cache({ maxAge: '1h', staleWhileRevalidate: '10m' })
   * route('/*').to(app).cache({
   *   key: { query: { exclude: ['utm_source', 'utm_campaign'] }, cookies: ['currency'] },
   *   bypass: { cookies: ['session'], headers: ['authorization'] },
   *   staleIfError: '1h',
   * })
   */
  cache<O extends CacheOptions = CacheOptions>(opts?: ExactCache<O>): Route<THasTarget, TUsed | 'cache', TDynamic> {
    return this.#feature<Route<THasTarget, TUsed | 'cache', TDynamic>>('cache', this.cache, opts);
  }

  /**
   * Route by client geography: `pools` overrides `.to()` per country/continent code, `deny`
   * answers 403 for codes, `nearest: true` picks the upstream whose `region` is closest.
   * Defaults: no pools, no deny, `nearest: false`.
   *
   * @example
   * route('example.com/*').to(api).geo({ pools: { EU: euPool }, deny: ['KP'] })
   */
  geo<O extends GeoOptions>(opts: Exact<O, GeoOptions>): Route<THasTarget, TUsed | 'geo', TDynamic> {
    const { pools, ...rest } = opts as GeoOptions;
    let specPools: Record<string, PoolSpec> | undefined;
    if (pools !== undefined) {
      specPools = {};
      for (const [code, p] of Object.entries(pools)) {
        if (!isPool(p)) {
          throw misuse(`${this.#label}: .geo() pool for ${JSON.stringify(code)} is not a pool`, callerLocation(this.geo), "build it with pool('name', ['http://host:port'])");
        }
        specPools[code] = poolSpecOf(p);
      }
    }
    return this.#feature<Route<THasTarget, TUsed | 'geo', TDynamic>>('geo', this.geo, specPools ? { ...rest, pools: specPools } : rest);
  }
}

function where(at: SourceLocation | undefined): string {
  return at ? `${at.file}:${at.line}:${at.column}` : 'unknown location';
}

/**
 * Start a route. `match` is `[host][path]`: a host (`'api.example.com'`, `'*.example.com'`) and/or
 * a path (`'/x'` exact, `'/x/*'` prefix, `'/users/:id'` with parameters). Without a host it matches
 * every host. Routes are tried in order; the first match wins. A route needs a target:
 * `.to()`, `.redirect()` or `.respond()`.
 *
 * The returned builder is immutable: each method returns a new builder.
 *
 * @example
 * route('api.example.com/v1/*').methods('GET', 'POST').to(api).stripPrefix('/v1')
 * route('/health').respond(200, 'ok')
 */
export function route(match: string): Route<false, never> {
  return new RouteBuilder<false, never, false>({ kind: 'route', match, at: callerLocation(route) });
}

// ---------------------------------------------------------------------------------------------
// Pool
// ---------------------------------------------------------------------------------------------

/**
 * Builder of an upstream pool. Obtain one with `pool(name, upstreams)`; every method returns a new
 * builder and can be used once.
 */
export class PoolBuilder<TUsed extends string = never, TDynamic extends boolean = false> implements AnyPool {
  /** Type-level state (no runtime value). */
  declare readonly _: { readonly used: TUsed; readonly dynamic: TDynamic };
  readonly #spec: PoolSpec;

  /** @internal Use `pool(name, upstreams)`. */
  constructor(spec: PoolSpec) {
    this.#spec = spec;
  }

  /** Brand: `Symbol.for('proxykit.pool')`. */
  get [POOL_BRAND](): true {
    return true;
  }

  /** The plain data recorded so far. */
  get [SPEC](): PoolSpec {
    return this.#spec;
  }

  /**
   * Escape hatch for pools extended conditionally or by helpers: returns the same pool, typed so
   * that methods no longer disappear once used. Each method still works once per pool at runtime.
   *
   * @example
   * let p = pool('api', upstreams).$dynamic();
   * if (slow) p = p.timeouts({ response: '5m' });
   */
  $dynamic(): Pool<never, true> {
    return this as unknown as Pool<never, true>;
  }

  #next<R>(name: string, fn: (...args: never[]) => unknown, patch: Partial<PoolSpec>): R {
    const at = callerLocation(fn);
    const calls = this.#spec.calls ?? {};
    if (calls[name] !== undefined) {
      throw misuse(
        `pool ${JSON.stringify(this.#spec.name)}: .${name}() is used twice`,
        at,
        `call .${name}() once per pool (first call at ${where(calls[name]!.at)})`,
      );
    }
    return new PoolBuilder({ ...this.#spec, ...patch, calls: { ...calls, [name]: { at } } }) as unknown as R;
  }

  /**
   * How to pick an upstream: `'round-robin'` (default), `'weighted'` (by `weight`),
   * `'least-conn'`, `'random'`, `'p2c-ewma'` (power of two choices on latency), or
   * `{ hash: 'ip' | 'path' | 'header:<name>' | 'cookie:<name>' }` (consistent hashing).
   *
   * @example
   * pool('api', ['http://10.0.0.1:3000', 'http://10.0.0.2:3000']).balance('least-conn')
   * pool('api', upstreams).balance({ hash: 'header:x-user' })
   */
  balance(balance: BalanceOptions): Pool<TUsed | 'balance', TDynamic> {
    return this.#next<Pool<TUsed | 'balance', TDynamic>>('balance', this.balance, { balance: copyPlain(balance as BalanceOptions) });
  }

  /**
   * Session affinity: the first response sets a cookie naming the upstream that served it (by an
   * opaque id, never an address, signed with HMAC); later requests carrying it go to the same
   * upstream while it is usable, and are rebalanced otherwise. Default off.
   *
   * - `cookie`: the cookie name (a token).
   * - `ttl`: cookie lifetime. Default none (a session cookie).
   * - `secret`: HMAC key, share it across instances. Default a random key per process (cookies
   *   then do not survive a restart or travel between instances).
   *
   * Do not combine with `.balance({ hash })`: both pin clients (a validation error).
   *
   * @example
   * pool('app', upstreams).sticky({ cookie: 'pk_srv' })
   * pool('app', upstreams).sticky({ cookie: 'pk_srv', ttl: '1h', secret: process.env.STICKY_SECRET })
   */
  sticky<O extends StickyOptions>(opts: Exact<O, StickyOptions>): Pool<TUsed | 'sticky', TDynamic> {
    return this.#next<Pool<TUsed | 'sticky', TDynamic>>('sticky', this.sticky, { sticky: copyPlain(opts as StickyOptions) });
  }

  /**
   * Active health checks, run once per pool (not per worker or route) and kept across reloads
   * while the options stay the same: `GET path` on each upstream.
   *
   * - `path`: the path probed (starts with `/`).
   * - `interval`: time between probes of one upstream, jittered ±10%. Default `'5s'`.
   * - `timeout`: a probe slower than this fails. Default `'2s'`; must be below `interval`.
   * - `healthy`: consecutive passes that bring an unhealthy upstream back. Default 2.
   * - `unhealthy`: consecutive failures that take a healthy upstream out. Default 3.
   * - `expect`: passing status or statuses. Default any 2xx or 3xx.
   * - `host`: Host header of probes. Default the upstream's own `host:port`.
   *
   * Upstreams start healthy; each change of verdict is logged once.
   *
   * @example
   * pool('api', upstreams).health({ path: '/healthz', interval: '2s', timeout: '1s', healthy: 2, unhealthy: 3 })
   * pool('api', upstreams).health({ path: '/status', expect: [200, 204], host: 'status.internal' })
   */
  health<O extends HealthOptions>(opts: Exact<O, HealthOptions>): Pool<TUsed | 'health', TDynamic> {
    return this.#next<Pool<TUsed | 'health', TDynamic>>('health', this.health, { health: copyPlain(opts as HealthOptions) });
  }

  /**
   * Passive health (outlier detection), judged from real traffic. It is always on; this method
   * tunes it. After `failures` consecutive failures (connect errors, resets, timeouts, or a status
   * in `statuses`) an upstream is ejected for `ejectFor`; each ejection in a row doubles that,
   * up to `maxEjectFor`. A success after the ejection ends resets the backoff. If ejecting would
   * leave no usable upstream, the pool serves from all of them (panic mode) and logs it.
   *
   * - `failures`: default 5.
   * - `ejectFor`: default `'30s'`.
   * - `maxEjectFor`: default 10 × `ejectFor`.
   * - `statuses`: upstream statuses that count as failures. Default `[502, 503, 504]`.
   *
   * @example
   * pool('api', upstreams).passive({ failures: 5, ejectFor: '30s' })
   * pool('api', upstreams).passive({ failures: 3, ejectFor: '10s', maxEjectFor: '5m', statuses: [500, 502, 503, 504] })
   */
  passive<O extends PassiveOptions>(opts: Exact<O, PassiveOptions>): Pool<TUsed | 'passive', TDynamic> {
    return this.#next<Pool<TUsed | 'passive', TDynamic>>('passive', this.passive, { passive: copyPlain(opts as PassiveOptions) });
  }

  /**
   * Retry a failed request on a different upstream, only when it is safe: on a connect error, or a
   * reset before any response byte, or a status in `statuses`, and only for idempotent methods or
   * requests whose body was not sent yet. A retry budget keeps retries from amplifying an outage.
   *
   * - `attempts`: extra tries after the first. Default 2.
   * - `statuses`: upstream statuses also retried (idempotent requests only). Default none.
   * - `budget`: retries allowed as a share of recent requests, in (0, 1]. Default 0.2 (20% extra load).
   * - `minPerSecond`: retries always allowed per second, so a quiet pool can retry. Default 10.
   *
   * @example
   * pool('api', upstreams).retry({ attempts: 2 })
   * pool('api', upstreams).retry({ attempts: 2, statuses: [502, 503], budget: 0.1, minPerSecond: 5 })
   */
  retry<O extends RetryOptions>(opts: Exact<O, RetryOptions>): Pool<TUsed | 'retry', TDynamic> {
    return this.#next<Pool<TUsed | 'retry', TDynamic>>('retry', this.retry, { retry: copyPlain(opts as RetryOptions) });
  }

  /**
   * Upstream timeouts: `connect` (default `'5s'`), `response` until the response head (default
   * `'60s'`), `idle` between body chunks (default `'60s'`).
   *
   * @example
   * pool('api', upstreams).timeouts({ connect: '2s', response: '30s' })
   */
  timeouts<O extends TimeoutOptions>(t: Exact<O, TimeoutOptions>): Pool<TUsed | 'timeouts', TDynamic> {
    return this.#next<Pool<TUsed | 'timeouts', TDynamic>>('timeouts', this.timeouts, { timeouts: copyPlain(t as TimeoutOptions) });
  }

  /**
   * Max connections per upstream; requests beyond wait for a free one. Default: unlimited.
   * The same as `.circuitBreaker({ maxConnections: n })` (use one of the two).
   *
   * @example
   * pool('api', upstreams).maxConnections(64)
   */
  maxConnections(n: number): Pool<TUsed | 'maxConnections', TDynamic> {
    if (this.#spec.maxConnections !== undefined) {
      throw misuse(
        `pool ${JSON.stringify(this.#spec.name)}: maxConnections is set twice`,
        callerLocation(this.maxConnections),
        'set it once, with .maxConnections(n) or .circuitBreaker({ maxConnections: n })',
      );
    }
    return this.#next<Pool<TUsed | 'maxConnections', TDynamic>>('maxConnections', this.maxConnections, { maxConnections: n });
  }

  /**
   * Circuit breaking per upstream: at most `maxConnections` connections (default unlimited) and
   * `maxPending` requests waiting for one (default unlimited); a request beyond both fails fast
   * with 503 and `Retry-After` instead of queueing behind a struggling upstream.
   *
   * @example
   * pool('api', upstreams).circuitBreaker({ maxConnections: 100, maxPending: 50 })
   */
  circuitBreaker<O extends CircuitBreakerOptions>(
    opts: Exact<O, CircuitBreakerOptions>,
  ): Pool<TUsed | 'circuitBreaker' | 'maxConnections', TDynamic> {
    const { maxConnections, maxPending } = (isPlainObject(opts) ? opts : {}) as CircuitBreakerOptions;
    if (maxConnections !== undefined && this.#spec.maxConnections !== undefined) {
      throw misuse(
        `pool ${JSON.stringify(this.#spec.name)}: maxConnections is set twice`,
        callerLocation(this.circuitBreaker),
        'set it once, with .maxConnections(n) or .circuitBreaker({ maxConnections: n })',
      );
    }
    const patch: Partial<PoolSpec> = {};
    if (maxConnections !== undefined) patch.maxConnections = maxConnections;
    if (maxPending !== undefined) patch.maxPending = maxPending;
    // The options land on two PoolSpec fields, so validation could not name an unknown key: do it here.
    const unknown = Object.keys(isPlainObject(opts) ? opts : {}).filter((k) => k !== 'maxConnections' && k !== 'maxPending');
    if (unknown.length > 0 || !isPlainObject(opts)) {
      throw misuse(
        `pool ${JSON.stringify(this.#spec.name)}: .circuitBreaker() ${unknown.length > 0 ? `has unknown option ${JSON.stringify(unknown[0])}` : 'takes an options object'}`,
        callerLocation(this.circuitBreaker),
        'known options: maxConnections, maxPending',
      );
    }
    return this.#next<Pool<TUsed | 'circuitBreaker' | 'maxConnections', TDynamic>>('circuitBreaker', this.circuitBreaker, patch);
  }

  /**
   * Slow start: an upstream that joins the pool or comes back (healthy again, or its ejection
   * over) gets its weight ramped from 10% to 100% over `duration`, so a cold server is not hit
   * with its full share at once. Default off.
   *
   * @example
   * pool('api', upstreams).slowStart('30s')
   */
  slowStart(duration: Duration): Pool<TUsed | 'slowStart', TDynamic> {
    return this.#next<Pool<TUsed | 'slowStart', TDynamic>>('slowStart', this.slowStart, { slowStart: duration });
  }

  /**
   * Re-resolve upstream host names (`http://api.internal:3001`) every `refresh` (default `'30s'`),
   * so address changes are picked up without a reload; new connections go to the new addresses.
   * Upstreams given as IP addresses are not affected. Host names are re-resolved every 30s
   * without this call; it sets the interval.
   *
   * @example
   * pool('api', ['http://api.internal:3001']).dns({ refresh: '10s' })
   */
  dns<O extends DnsOptions = DnsOptions>(opts?: Exact<O, DnsOptions>): Pool<TUsed | 'dns', TDynamic> {
    return this.#next<Pool<TUsed | 'dns', TDynamic>>('dns', this.dns, { dns: copyPlain((opts ?? {}) as DnsOptions) });
  }

  /**
   * TLS to `https://` upstreams. The upstream's certificate is verified against the system roots
   * (and `NODE_EXTRA_CA_CERTS`) by default.
   *
   * - `ca`: extra CA certificate(s) to trust, a PEM file path (relative to the config).
   * - `cert`, `key`: client certificate and key (PEM file paths) for mutual TLS; give both.
   * - `servername`: SNI and verification name, when it differs from the URL's host.
   * - `insecure`: skip verification. Default `false`; only for tests against self-signed upstreams.
   *
   * @example
   * pool('api', ['https://10.0.0.5:8443']).tls({ ca: 'certs/internal-ca.pem', servername: 'api.internal' })
   * pool('api', ['https://api.internal']).tls({ cert: 'client.pem', key: 'client.key' })
   */
  tls<O extends UpstreamTlsOptions>(opts: Exact<O, UpstreamTlsOptions>): Pool<TUsed | 'tls', TDynamic> {
    return this.#next<Pool<TUsed | 'tls', TDynamic>>('tls', this.tls, { tls: copyPlain(opts as UpstreamTlsOptions) });
  }
}

/**
 * A named pool of upstreams. The name is its identity across reloads (health and connection state
 * survive a reload when the name stays). Upstreams are URL strings (`'http://host:port'`) or
 * `{ url, weight?, region? }`. Default balancing `'round-robin'`.
 *
 * The returned builder is immutable: each method returns a new builder. Use the same builder
 * everywhere a pool is meant; two different pools with one name are a validation error.
 *
 * @example
 * const api = pool('api', [
 *   'http://127.0.0.1:3001',
 *   { url: 'http://127.0.0.1:3002', weight: 2, region: 'eu-west' },
 * ]).balance('weighted').health({ path: '/healthz' });
 */
export function pool(name: string, upstreams: readonly UpstreamInput[]): Pool<never> {
  const at = callerLocation(pool);
  const list: UpstreamSpec[] = Array.isArray(upstreams)
    ? upstreams.map((u: UpstreamInput) => (typeof u === 'string' ? { url: u } : copyPlain(u)))
    : [];
  return new PoolBuilder<never, false>({ kind: 'pool', name, upstreams: list, balance: 'round-robin', at });
}

// ---------------------------------------------------------------------------------------------
// defineConfig
// ---------------------------------------------------------------------------------------------

/** The default listener when `listen` is omitted. */
export const DEFAULT_LISTEN = 'http://127.0.0.1:8080';

/** Stable JSON of a pool's content, without locations, to compare pools by content. */
export function poolContent(p: PoolSpec): string {
  const { at: _at, calls: _calls, ...content } = p;
  return stableStringify(content);
}

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableStringify((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? String(value);
}

/**
 * Deep copy for the final spec: fresh `at` objects everywhere (so the loader can rewrite each in
 * place), one copy per PoolSpec (routes sharing a pool share the copy).
 */
function copySpec(value: unknown, pools: Map<object, unknown>): unknown {
  if (Array.isArray(value)) return value.map((v) => copySpec(v, pools));
  if (!isPlainObject(value)) return value;
  if (value.kind === 'pool') {
    const seen = pools.get(value);
    if (seen) return seen;
  }
  const out: Record<string, unknown> = {};
  if (value.kind === 'pool') pools.set(value, out);
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    out[k] = k === 'at' && isPlainObject(v) ? { ...v } : copySpec(v, pools);
  }
  return out;
}

function deepFreeze(value: unknown, seen = new Set<object>()): void {
  if (typeof value !== 'object' || value === null || seen.has(value)) return;
  if (!Array.isArray(value) && !isPlainObject(value)) return;
  seen.add(value);
  for (const [k, v] of Object.entries(value)) {
    if (k === 'at') continue; // locations stay mutable for the loader's source-map pass
    deepFreeze(v, seen);
  }
  Object.freeze(value);
}

/** Every PoolSpec reachable from a route: its target, and `.geo()` pools. */
function forEachPoolRef(r: RouteSpec, visit: (p: PoolSpec, replace: (q: PoolSpec) => void) => void): void {
  if (r.target?.kind === 'pool') {
    const t = r.target;
    visit(t.pool, (q) => (t.pool = q));
  }
  const geo = r.features?.geo;
  if (isPlainObject(geo) && isPlainObject(geo.pools)) {
    const pools = geo.pools as Record<string, PoolSpec>;
    for (const code of Object.keys(pools)) visit(pools[code]!, (q) => (pools[code] = q));
  }
}

/**
 * Turn config options into the frozen plain `ConfigSpec` the engine runs. Routes become
 * `RouteSpec`s, pools `PoolSpec`s (routes using the same pool share one PoolSpec; two pools with
 * the same name and the same content are merged). Locations (`at`) stay mutable.
 *
 * Defaults: `listen: ['http://127.0.0.1:8080']`. Does not validate; the engine validates on load
 * (`validateConfig`), reporting every problem with its file:line.
 *
 * @example
 * export default defineConfig({
 *   listen: ['http://127.0.0.1:8080'],
 *   routes: [route('/health').respond(200, 'ok'), route('/*').to('http://127.0.0.1:3000')],
 * });
 */
export function defineConfig(opts: ConfigOptions): ConfigSpec {
  const at = callerLocation(defineConfig);
  if (!isPlainObject(opts)) {
    throw misuse('defineConfig() takes an options object', at, "e.g. defineConfig({ routes: [route('/*').to('http://127.0.0.1:3000')] })");
  }
  const { routes, listen, ...rest } = opts as ConfigOptions & Record<string, unknown>;
  if (!Array.isArray(routes)) {
    throw misuse('config: `routes` must be an array of route(...) builders', at, "e.g. routes: [route('/*').to('http://127.0.0.1:3000')]");
  }
  const routeSpecs: RouteSpec[] = routes.map((r: unknown, i: number) => {
    if (!isRoute(r)) {
      throw misuse(`config: routes[${i}] is not a route`, at, "build routes with route('/path').to(...), .redirect(...) or .respond(...)");
    }
    return routeSpecOf(r);
  });
  const listenList = listen === undefined ? [DEFAULT_LISTEN] : typeof listen === 'string' ? [listen] : [...listen];

  const draft = copySpec({ kind: 'config', ...rest, listen: listenList, routes: routeSpecs, at }, new Map()) as ConfigSpec;

  // Merge pools that have the same name and the same content into one PoolSpec.
  const byName = new Map<string, PoolSpec[]>();
  for (const r of draft.routes) {
    forEachPoolRef(r, (p, replace) => {
      const same = byName.get(p.name) ?? [];
      if (same.includes(p)) return;
      const twin = same.find((q) => poolContent(q) === poolContent(p));
      if (twin) replace(twin);
      else byName.set(p.name, [...same, p]);
    });
  }

  Object.defineProperty(draft, CONFIG_BRAND, { value: true, enumerable: false });
  deepFreeze(draft);
  return draft;
}

/**
 * Types of the config builder: option objects, brands, and the type-level state that makes misuse
 * a compile error (Drizzle style: used one-shot methods disappear from the builder type).
 */
import type {
  BalanceSpec,
  DnsSpec,
  Duration,
  HeaderEdits,
  HeaderRules,
  HealthSpec,
  LimitsSpec,
  PassiveSpec,
  RetrySpec,
  StickySpec,
  TimeoutsSpec,
  UpstreamSpec,
  AcmeSpec,
  CacheStorageSpec,
  TlsSpec,
  UpstreamTlsSpec,
} from './spec.js';
import type { Rate } from './units.js';
import type { CacheKeyFn, CacheKeyRequest } from '../cache/contracts.js';

export type { Rate, CacheKeyFn, CacheKeyRequest };

/** Brand on route builders: `Symbol.for('proxykit.route')`, so checks work across module copies. */
export const ROUTE_BRAND: unique symbol = Symbol.for('proxykit.route');
/** Brand on pool builders: `Symbol.for('proxykit.pool')`. */
export const POOL_BRAND: unique symbol = Symbol.for('proxykit.pool');
/** Brand on the spec returned by `defineConfig`: `Symbol.for('proxykit.config')` (non-enumerable). */
export const CONFIG_BRAND: unique symbol = Symbol.for('proxykit.config');
/** Key of the getter that yields a builder's plain spec: `Symbol.for('proxykit.spec')`. */
export const SPEC: unique symbol = Symbol.for('proxykit.spec');

/**
 * Marks an option key that the option type does not have. Appears in compile errors as
 * `Type 'string' is not assignable to type 'UnknownOption<"perIP">'`.
 */
export interface UnknownOption<K extends PropertyKey> {
  readonly 'unknown option, check its spelling': K;
}

/**
 * `T` only if it has no keys beyond `Shape`'s. Catches extra keys in option objects that TS's own
 * excess-property check misses (options held in a variable, spreads).
 */
export type Exact<T, Shape> = T & { [K in Exclude<keyof T, keyof Shape>]: UnknownOption<K> };

/** `Exact` for `.headers()`, also checking the nested `request` / `response` edit objects. */
export type ExactHeaders<O> = Exact<O, HeaderRules> & {
  [K in keyof O & ('request' | 'response')]?: Exact<O[K], HeaderEdits>;
};

// ---------------------------------------------------------------------------------------------
// Option types
// ---------------------------------------------------------------------------------------------

/** An upstream: `'http://10.0.0.1:3000'` or `{ url, weight?, region? }`. */
export type UpstreamInput = string | UpstreamSpec;

/** Options of `.health()`: active health checks (defaults on each field). */
export type HealthOptions = HealthSpec;
/** Options of `.passive()`: ejection after consecutive failures of real traffic. */
export type PassiveOptions = PassiveSpec;
/** Options of `.retry()`. */
export type RetryOptions = RetrySpec;
/** Options of `.timeouts()`. */
export type TimeoutOptions = TimeoutsSpec;
/** Options of `.sticky()`. */
export type StickyOptions = StickySpec;
/** Options of `.dns()`: re-resolution of upstream host names. */
export type DnsOptions = DnsSpec;

/** Options of `.circuitBreaker()`: per-upstream limits beyond which requests fail fast with 503. */
export interface CircuitBreakerOptions {
  /** Connections per upstream. Default unlimited. */
  maxConnections?: number;
  /**
   * Requests per upstream allowed to wait for a free connection (only meaningful with
   * `maxConnections`); beyond, 503 with `Retry-After`. Default unlimited.
   */
  maxPending?: number;
}
/** Argument of `.balance()`. */
export type BalanceOptions = BalanceSpec;
/** Argument of `.headers()`. */
export type HeaderOptions = HeaderRules;

/** Options of `.redirect()`. */
export interface RedirectOptions {
  /** Append the request path (and query) to `location`. Default `false`. */
  keepPath?: boolean;
}

/** Redirect status codes. */
export type RedirectStatus = 301 | 302 | 303 | 307 | 308;

/** Options of `.waf()`. */
export interface WafOptions {
  /** `'block'` answers 403 on a match; `'detect'` only logs. Default `'block'`. */
  mode?: 'block' | 'detect';
  /** Rule strictness, 1 (few false positives) to 4. Default 1. */
  paranoia?: 1 | 2 | 3 | 4;
}

/** Options of `.rateLimit()`. */
export interface RateLimitOptions {
  /** Sustained rate allowed per client IP, e.g. `'100/s'`. */
  perIp?: Rate;
  /** Requests allowed above the rate in a burst. Default: the rate's count. */
  burst?: number;
}

/**
 * Which query parameters are part of a cache key: `true` (the whole query, the default), `false`
 * (none: `/a?x=1` and `/a?x=2` share an entry), `{ include: [...] }` (only these parameters) or
 * `{ exclude: [...] }` (all but these, e.g. tracking parameters). `include` and `exclude` exclude
 * each other.
 *
 * @example
 * query: { exclude: ['utm_source', 'utm_medium', 'utm_campaign', 'fbclid'] }
 * query: { include: ['page', 'sort'] }
 */
export type CacheKeyQuery =
  | boolean
  | { /** Only these parameter names join the key. */ include: string[]; exclude?: NotWith<'include'> }
  | { /** Every parameter but these joins the key. */ exclude: string[]; include?: NotWith<'exclude'> };

/**
 * Marks an option that cannot be combined with option `K`. Appears in compile errors as
 * `Type 'string[]' is not assignable to type 'NotWith<"include">'`.
 */
export interface NotWith<K extends PropertyKey> {
  readonly 'cannot be combined with': K;
}

/**
 * What makes up a cache key beyond the request URI's scheme, host and path.
 *
 * @example
 * key: { query: { exclude: ['utm_source'] }, headers: ['accept-language'], cookies: ['currency'] }
 */
export interface CacheKeyOptions {
  /** Query parameters in the key. Default `true`: the whole query, as sent. */
  query?: CacheKeyQuery;
  /**
   * Request headers whose values join the key (case-insensitive names), for responses that vary
   * on them without saying so in `Vary`. Default none (`Vary` is always honoured).
   */
  headers?: string[];
  /** Cookies whose values join the key (e.g. a currency or A/B bucket). Default none. */
  cookies?: string[];
}

/**
 * When to skip the cache entirely (the request is forwarded and its response never stored): a
 * function, or `{ cookies, headers }` to skip it whenever the request carries any of them.
 *
 * @example
 * bypass: { cookies: ['session'], headers: ['authorization'] }
 * bypass: (req) => req.path.startsWith('/preview/')
 */
export type CacheBypass = ((req: CacheKeyRequest) => boolean) | CacheBypassRule;

/** The object form of `bypass`: skip the cache when the request has any of these. */
export interface CacheBypassRule {
  /** Cookie names; the cache is skipped when the request sends any of them. */
  cookies?: string[];
  /** Request header names (case-insensitive); the cache is skipped when any is present. */
  headers?: string[];
}

/**
 * Options of `.cache()`: a shared HTTP cache (RFC 9111) in front of this route's upstream.
 * Without options the origin's `Cache-Control` / `Expires` decide, and responses without them are
 * cached heuristically (10% of their `Last-Modified` age, at most a day). Times are whole seconds
 * (HTTP ages are counted in seconds). The store is configured once, in `defineConfig({ cache })`.
 *
 * @example
 * route('/assets/*').to(origin).cache({ maxAge: '1h', staleWhileRevalidate: '10m' })
 * route('/api/*').to(api).cache({
 *   key: { query: { exclude: ['utm_source'] }, headers: ['accept-language'] },
 *   bypass: { cookies: ['session'], headers: ['authorization'] },
 * })
 */
export interface CacheOptions {
  /**
   * Freshness for responses that carry no explicit expiration (no `max-age`, `s-maxage` or
   * `Expires`), used instead of heuristics. The origin's own expiration always wins. Default: none
   * (heuristic freshness, see `heuristic`).
   *
   * @example maxAge: '5m'
   */
  maxAge?: Duration;
  /**
   * How long past freshness an entry may still be served while it is refreshed in the background
   * (RFC 5861 `stale-while-revalidate`), when the origin gives no window of its own. Default: only
   * the origin's.
   *
   * @example staleWhileRevalidate: '30s'
   */
  staleWhileRevalidate?: Duration;
  /**
   * How long past freshness an entry may still be served when the origin fails (5xx, connect error,
   * timeout) (RFC 5861 `stale-if-error`), when the origin gives no window of its own. Default:
   * only the origin's.
   *
   * @example staleIfError: '1h'
   */
  staleIfError?: Duration;
  /**
   * The cache key. Default: the full URI (scheme, host, path and the whole query). A function
   * replaces the key altogether; the object form tunes it.
   *
   * @example
   * key: { query: false }
   * key: { query: { include: ['page'] }, headers: ['accept-language'], cookies: ['currency'] }
   * key: (req) => `${req.host}${req.path}`
   */
  key?: CacheKeyFn | CacheKeyOptions;
  /**
   * Requests that skip the cache (forwarded, never stored): a predicate, or cookies and headers
   * whose presence skips it. Default none.
   *
   * @example
   * bypass: { cookies: ['session'] }
   * bypass: (req) => req.header('x-preview') !== undefined
   */
  bypass?: CacheBypass;
  /**
   * Store and serve responses despite the origin's `no-store`, `no-cache` and `private`. Only for
   * origins you control that send those by mistake: it can leak one user's response to another.
   * Default `false`.
   */
  ignoreOriginNoCache?: boolean;
  /**
   * Response headers listing surrogate keys (tags) for purge-by-tag, names case-insensitive; `[]`
   * turns tagging off. Default `['surrogate-key', 'cache-tag']`.
   */
  tagHeaders?: string[];
  /**
   * Concurrent misses for one key are coalesced: one request goes upstream, the others wait for its
   * response this long before going upstream themselves. Default `'5s'`.
   */
  lockTimeout?: Duration;
  /**
   * Heuristic freshness for responses with `Last-Modified` but no explicit expiration (RFC 9111
   * §4.2.2): this fraction of the time since `Last-Modified`, at most a day; `false` turns it off
   * (such responses are then stale at once and revalidated before reuse). Default `0.1`. Not used
   * with `maxAge`, which replaces it.
   *
   * @example heuristic: 0.05
   */
  heuristic?: false | number;
}

/** A function as is, an object through `Exact` (distributes over unions). */
type ExactObjectForm<V, Shape> = V extends (...args: never[]) => unknown ? V : V extends object ? Exact<V, Shape> : V;

/**
 * `Exact` for `.cache()`, also checking the nested `key` and `bypass` objects. When `O` is
 * `CacheOptions` itself (no options, or inference fell back to the constraint after a type error)
 * it is plain `CacheOptions`: an intersection with `{}` would switch off TS's check that a value
 * shares a property with an all-optional type (and accept `bypass: () => 'yes'`).
 */
export type ExactCache<O> = CacheOptions extends O
  ? CacheOptions
  : Exact<O, CacheOptions> & {
      [K in keyof O & ('key' | 'bypass')]?: ExactObjectForm<O[K], K extends 'key' ? CacheKeyOptions : CacheBypassRule>;
    };

/**
 * The top-level `cache` block of `defineConfig`: the one store every `.cache()` route shares,
 * kept across reloads. Only used when a route caches.
 *
 * - `maxSize`: total size of stored responses (bodies and headers); least recently used entries go
 *   first. Default `'256mb'`.
 * - `maxObjectSize`: largest single response body stored (larger ones pass through uncached).
 *   Default `'16mb'` (or `maxSize`, if smaller).
 * - `disk`: `{ path }`, keep entries in this directory (relative to the config file) instead of in
 *   memory; they survive restarts. Default: memory.
 * - `name`: this cache's name in `Cache-Status` response headers (RFC 9211). Default `'proxykit'`.
 *
 * @example
 * cache: { maxSize: '1gb', maxObjectSize: '50mb', disk: { path: '.cache' }, name: 'edge-1' }
 */
export type CacheStorageOptions = CacheStorageSpec;

/** Options of `.geo()`. */
export interface GeoOptions {
  /** Pool per country or continent code (`'DE'`, `'EU'`), overriding `.to()`. */
  pools?: Record<string, AnyPool>;
  /** Country or continent codes answered with 403. */
  deny?: string[];
  /** Pick the pool upstream whose `region` is closest to the client. Default `false`. */
  nearest?: boolean;
}

/**
 * ACME (automatic certificates) options of `tls.acme`: the same shape as `AcmeSpec`.
 *
 * - `email`: contact address for the ACME account (required).
 * - `directory`: ACME directory URL (https). Default Let's Encrypt production.
 * - `challenges`: challenge types in preference order. Default `['http-01', 'tls-alpn-01']`
 *   (plus `'dns-01'` when `dns` is set).
 * - `dns`: a DNS-01 provider `{ set(name, value), remove(name, value) }` (needed for wildcards).
 * - `onDemand`: issue during the first handshake for an unknown name, only when `ask(name)`
 *   returns true; `perMinute` (default 10) caps issuances overall, `retryAfter` (default `'10m'`)
 *   is how long a refused or failed name is left alone.
 * - `ari`: renew in the window the CA suggests through ACME Renewal Information (RFC 9773) when it
 *   offers it; `false` renews at two thirds of the lifetime. Default true.
 *
 * @example
 * tls: { acme: { email: 'ops@example.com' } }
 * tls: { acme: { email: 'ops@example.com', onDemand: { ask: (name) => name.endsWith('.example.com'), perMinute: 5 } } }
 */
export type AcmeOptions = AcmeSpec;

/** A certificate file and its key file (PEM, paths relative to the config). */
export interface CertFileOptions {
  cert: string;
  key: string;
}

/** `tls` options every form shares: extra names, HSTS, the HTTP→HTTPS redirect. */
export interface TlsCommonOptions {
  /** Certificate files (PEM; relative to the config). Names come from the certificates; files win over ACME and internal. */
  certs?: CertFileOptions[];
  /** Names to manage besides the hosts in routes (e.g. `'*.example.com'` with a DNS-01 provider). */
  domains?: string[];
  /** Strict-Transport-Security on HTTPS responses. Default off; `true` = max-age 1 year. */
  hsts?: TlsSpec['hsts'];
  /** Redirect plain HTTP to HTTPS for hosts with a managed certificate. Default `true`. */
  redirectHttp?: boolean;
  /**
   * Lowest TLS version HTTPS listeners accept. Default `'1.2'` (Mozilla's "intermediate" profile:
   * TLS 1.2 with ECDHE + AEAD suites only, and TLS 1.3); `'1.3'` is Mozilla's "modern" profile.
   */
  minVersion?: TlsSpec['minVersion'];
}

/**
 * `tls` config: ACME, files, or the internal CA (`'internal'`, short for `{ internal: true }`).
 * Files may be combined with ACME or internal (they cover their names, the rest is issued);
 * ACME and internal exclude each other.
 *
 * @example
 * tls: { acme: { email: 'ops@example.com' }, domains: ['www.example.com'], hsts: true }
 * tls: { certs: [{ cert: 'a.pem', key: 'a.key' }] }
 * tls: 'internal'
 */
export type TlsOptions =
  | 'internal'
  | (TlsCommonOptions & { acme: AcmeOptions; internal?: false })
  | (TlsCommonOptions & { internal: true; acme?: undefined })
  | (TlsCommonOptions & { certs: CertFileOptions[]; acme?: undefined; internal?: false });

/**
 * Options of `.tls()` on a pool: how proxykit talks TLS to `https://` upstreams. Verification is
 * on by default.
 */
export type UpstreamTlsOptions = UpstreamTlsSpec;

/** Options of `.to()` on a route: a pool builder or a single upstream URL string. */
export type Target = AnyPool | string;

// ---------------------------------------------------------------------------------------------
// Builder state
// ---------------------------------------------------------------------------------------------

/** The three route targets; using one removes all three. */
export type TargetMethod = 'to' | 'redirect' | 'respond';

/** Any route builder, whatever was set. */
export interface AnyRoute {
  readonly [ROUTE_BRAND]: true;
  readonly _: { readonly hasTarget: boolean; readonly used: string };
}

/** A route builder that has a target (`.to()`, `.redirect()` or `.respond()`); `defineConfig` takes only these. */
export interface TargetedRoute extends AnyRoute {
  readonly _: { readonly hasTarget: true; readonly used: string };
}

/** Any pool builder, whatever was set. */
export interface AnyPool {
  readonly [POOL_BRAND]: true;
  readonly _: { readonly used: string };
}

/** Options of `defineConfig`. Only `routes` is required. */
export interface ConfigOptions {
  /** Listener URLs, `http://host:port` or `https://host:port`. Default `['http://127.0.0.1:8080']`. */
  listen?: string | string[];
  /** Routes in order; the first that matches a request serves it. */
  routes: TargetedRoute[];
  /** IPs/CIDRs whose `X-Forwarded-For` / `Forwarded` headers are believed. Default none. */
  trustProxies?: string[];
  /** Add a `Via` header: `true` for `1.1 proxykit`, a string for a custom pseudonym. Default `false`. */
  via?: boolean | string;
  /** Connection and request limits (defaults in `LimitsSpec`). */
  limits?: LimitsSpec;
  /** Logging. Default access log on, level `'info'`. */
  log?: {
    access?: boolean;
    level?: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
    /** Write JSON logs to this file (relative to the config) instead of stdout. `proxykit start` only. */
    file?: string;
  };
  /**
   * Prometheus metrics (`GET /metrics` on the admin listener) and the dashboard's live stats.
   * Default `true`; `false` takes all recording off the request path. Read at start.
   */
  metrics?: boolean;
  /**
   * OpenTelemetry trace context. `traceparent` / `tracestate` always pass through unchanged;
   * `start: true` adds a new `traceparent` to requests that arrive without one. Default off.
   * @example tracing: { start: true }
   */
  tracing?: { start?: boolean };
  /**
   * The admin API listener (`http://127.0.0.1:2019`). Default off. Without `token` only loopback
   * clients are answered and `listen` must be a loopback address; with `token` (at least 16
   * characters, e.g. `process.env.PROXYKIT_ADMIN_TOKEN`) every request must send
   * `Authorization: Bearer <token>`, loopback included.
   */
  admin?: { listen: string; token?: string };
  /**
   * Certificates for `https://` listeners: `{ acme: { email } }` (automatic, for the routes' hosts
   * and `domains`), `{ certs: [{ cert, key }] }` (files), or `'internal'` (a local CA proxykit
   * creates and tells you how to trust). An https listener needs one of them.
   */
  tls?: TlsOptions;
  /** Redis URL for state shared across instances. Default none (in-process state). */
  redis?: string;
  /**
   * The HTTP cache's store, shared by every route with `.cache()`: `maxSize` (default `'256mb'`),
   * `maxObjectSize` (default `'16mb'`), `disk: { path }` (relative to the config; default memory)
   * and `name` in `Cache-Status` (default `'proxykit'`). Without it, caching routes use the defaults.
   *
   * @example
   * cache: { maxSize: '1gb', disk: { path: '.cache' } }
   */
  cache?: CacheStorageOptions;
}

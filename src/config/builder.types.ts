/**
 * Types of the config builder: option objects, brands, and the type-level state that makes misuse
 * a compile error (Drizzle style: used one-shot methods disappear from the builder type).
 */
import type {
  BalanceSpec,
  ByteSize,
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
  TlsSpec,
  UpstreamTlsSpec,
} from './spec.js';
import type { Rate } from './units.js';

export type { Rate };

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

/** Options of `.cache()`. */
export interface CacheOptions {
  /** Freshness when the origin says nothing. Default: follow the origin's headers. */
  maxAge?: Duration;
  /** How long a stale entry may be served while it is refreshed. Default none. */
  staleWhileRevalidate?: Duration;
}

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
}

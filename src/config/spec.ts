/**
 * The plain-data form of a configuration: what the builder records and what `validate` and
 * `compile` read. Nothing here has behaviour; the builder (`builder.ts`) makes these objects and
 * the compiler (`compile.ts`) turns them into an immutable Plan.
 *
 * Every spec object that came from a builder call carries `at`, the place in the user's config file
 * where that call was written, so that validation errors can say `proxy.config.ts:12:5`.
 */

/** Where a builder call stands in the user's source. Filled by the loader's source-map pass. */
export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}

/** `'250ms'`, `'30s'`, `'5m'`, `'1h'`, or a number of milliseconds. */
export type Duration = number | `${number}ms` | `${number}s` | `${number}m` | `${number}h` | `${number}d`;

/** `'1mb'`, `'512kb'`, `'10gb'`, `'100b'` (or upper case: `'512MB'`), or a number of bytes; units are binary. */
export type ByteSize =
  | number
  | `${number}b` | `${number}kb` | `${number}mb` | `${number}gb`
  | `${number}B` | `${number}KB` | `${number}MB` | `${number}GB`;

export type BalanceAlgorithm = 'round-robin' | 'weighted' | 'least-conn' | 'random' | 'p2c-ewma';
export type HashKey = 'ip' | 'path' | `header:${string}` | `cookie:${string}`;
export type BalanceSpec = BalanceAlgorithm | { hash: HashKey };

export interface UpstreamSpec {
  url: string;
  weight?: number;
  region?: string;
}

export interface HealthSpec {
  /** Path probed with GET on each upstream. */
  path: string;
  /** Time between probes of one upstream (jittered ±10%). Default 5s. */
  interval?: Duration;
  /** Probe timeout. Default 2s. */
  timeout?: Duration;
  /** Consecutive passing probes that make an unhealthy upstream healthy. Default 2. */
  healthy?: number;
  /** Consecutive failing probes that make a healthy upstream unhealthy. Default 3. */
  unhealthy?: number;
  /** Statuses that pass. Default any 2xx or 3xx. */
  expect?: number | number[];
  /** Host header for probes. Default the upstream's own host:port. */
  host?: string;
}

export interface PassiveSpec {
  /** Consecutive failures (connect errors, timeouts, resets, `statuses`) that eject. Default 5. */
  failures?: number;
  /** First ejection length; each repeated ejection doubles it, up to `maxEjectFor`. Default 30s. */
  ejectFor?: Duration;
  /** Longest ejection. Default 10 × ejectFor. */
  maxEjectFor?: Duration;
  /** Upstream statuses that count as failures. Default [502, 503, 504]. */
  statuses?: number[];
}

export interface RetrySpec {
  /** Extra tries after the first, each to a different upstream. Default 2. */
  attempts?: number;
  /** Upstream statuses that are retried (idempotent requests only). Default none. */
  statuses?: number[];
  /** Retries allowed as a share of recent requests (0.2 = at most 20% extra load). Default 0.2. */
  budget?: number;
  /** Retries always allowed per second, so a quiet pool can still retry. Default 10. */
  minPerSecond?: number;
}

export interface TimeoutsSpec {
  /** TCP connect to the upstream. Default 5s. */
  connect?: Duration;
  /** Until the upstream's response head arrives. Default 60s. */
  response?: Duration;
  /** Longest silence between two body chunks from the upstream. Default 60s. */
  idle?: Duration;
}

export interface StickySpec {
  /** Cookie name. */
  cookie: string;
  /** Cookie lifetime; omitted = a session cookie. */
  ttl?: Duration;
  /** HMAC key for the cookie signature; share it across instances. Default a per-process random key. */
  secret?: string;
}

export interface DnsSpec {
  /** How often upstream host names are re-resolved. Default 30s. */
  refresh?: Duration;
}

export interface PoolSpec {
  readonly kind: 'pool';
  name: string;
  upstreams: UpstreamSpec[];
  balance: BalanceSpec;
  sticky?: StickySpec;
  health?: HealthSpec;
  passive?: PassiveSpec;
  retry?: RetrySpec;
  timeouts?: TimeoutsSpec;
  /** Max connections per upstream (undici `connections`); requests beyond wait as pending. */
  maxConnections?: number;
  /** Circuit breaker: requests allowed to wait for a connection per upstream; beyond, 503. */
  maxPending?: number;
  /** Ramp a recovered or new upstream's weight from ~0 to full over this period. */
  slowStart?: Duration;
  /** Re-resolution of upstream host names. */
  dns?: DnsSpec;
  /** TLS to `https://` upstreams (verification is on by default). */
  tls?: UpstreamTlsSpec;
  at?: SourceLocation;
  /** Where each builder method was called, by method name (`{ health: { at } }`), for precise errors. */
  calls?: Record<string, { at?: SourceLocation }>;
}

export interface HeaderEdits {
  set?: Record<string, string>;
  add?: Record<string, string>;
  remove?: string[];
}

export interface HeaderRules {
  request?: HeaderEdits;
  response?: HeaderEdits;
}

export type RouteTarget =
  | { kind: 'pool'; pool: PoolSpec }
  | { kind: 'redirect'; location: string; status: 301 | 302 | 303 | 307 | 308; keepPath: boolean }
  | { kind: 'respond'; status: number; body: string; headers: Record<string, string> };

export interface RewriteSpec {
  /** A regular expression source matched against the path (after stripPrefix). */
  from: string;
  /** Replacement, with `$1`… and `:param` substitution. */
  to: string;
  /** RegExp flags (e.g. `'i'`) when `from` was given as a RegExp with flags. */
  flags?: string;
}

export interface RouteSpec {
  readonly kind: 'route';
  /** `[host][path]`, e.g. `'api.example.com/v1/*'`, `'*.example.com'`, `'/users/:id'`. */
  match: string;
  methods?: string[];
  target?: RouteTarget;
  stripPrefix?: string;
  rewrite?: RewriteSpec;
  headers?: HeaderRules;
  /** Host header sent upstream: `'preserve'` (default), `'upstream'` (the upstream's authority) or a literal. */
  hostHeader?: string;
  /** Upstream identity headers removed from responses. Default `['server', 'x-powered-by']`; `[]` keeps them. */
  hideHeaders?: string[];
  /** Largest request body accepted, 413 above it. Default `'10mb'`; `false` for no limit. */
  bodyLimit?: ByteSize | false;
  /** Whole-request timeout for this route (client sending the request). */
  timeouts?: TimeoutsSpec;
  /** Options of the feature methods (waf, rateLimit, cache, geo), as given (functions kept). */
  features?: Record<string, unknown>;
  at?: SourceLocation;
  /** Where each builder method was called, by method name (`{ to: { at } }`), for precise errors. */
  calls?: Record<string, { at?: SourceLocation }>;
}

export interface LimitsSpec {
  /** Largest request head (request line + headers), 431 above it. Default 16kb. */
  maxHeaderSize?: ByteSize;
  /** Time a client has to send the complete request head. Default 10s. */
  headersTimeout?: Duration;
  /** Time a client has to send the complete request (head and body). Default 60s. */
  requestTimeout?: Duration;
  /** Idle keep-alive connection timeout. Default 65s. */
  keepAliveTimeout?: Duration;
  /** Max concurrent client connections per listener. Default 10000. */
  maxConnections?: number;
  /** Graceful shutdown deadline. Default 10s. */
  drainTimeout?: Duration;
}

export interface LogSpec {
  /** Access log on/off. Default on. */
  access?: boolean;
  level?: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  /** Write JSON logs to this file (relative to the config) instead of stdout (`proxykit start`). */
  file?: string;
}

/** A DNS-01 provider: publish and remove `_acme-challenge.<name>` TXT records (for wildcards). */
export interface DnsChallengeProvider {
  set(name: string, value: string): Promise<void>;
  remove(name: string, value: string): Promise<void>;
}

export interface AcmeSpec {
  /** Contact address for the ACME account. */
  email: string;
  /** ACME directory URL. Default Let's Encrypt production. */
  directory?: string;
  /** Challenge types, in preference order. Default `['http-01', 'tls-alpn-01']` (+ dns-01 when `dns` is set). */
  challenges?: Array<'http-01' | 'tls-alpn-01' | 'dns-01'>;
  /** DNS-01 provider (needed for wildcard names). */
  dns?: DnsChallengeProvider;
  /** Issue certificates during TLS handshakes for unknown names, only when `ask(name)` approves. */
  onDemand?: {
    ask: (name: string) => boolean | Promise<boolean>;
    /** At most this many on-demand issuances per minute overall. Default 10. */
    perMinute?: number;
    /** A name refused or failed is not asked again for this long. Default 10m. */
    retryAfter?: Duration;
  };
  /**
   * Renew when the CA's ACME Renewal Information (RFC 9773) suggests, when its directory offers
   * it (Let's Encrypt does); otherwise at two thirds of the lifetime. Default true.
   */
  ari?: boolean;
}

export interface TlsSpec {
  /** Automatic certificates from an ACME CA for the routes' hosts and `domains`. */
  acme?: AcmeSpec;
  /** Certificate files (PEM; paths relative to the config). Names come from the certificates. */
  certs?: Array<{ cert: string; key: string }>;
  /** A local CA that proxykit creates (and prints how to trust) and issues from. */
  internal?: boolean;
  /** Names to manage besides the hosts in routes (e.g. a wildcard). */
  domains?: string[];
  /** Strict-Transport-Security on HTTPS responses. Default off; `true` = max-age 1 year. */
  hsts?: boolean | { maxAge?: Duration; includeSubDomains?: boolean; preload?: boolean };
  /** Redirect plain HTTP to HTTPS for hosts that have a managed certificate. Default true. */
  redirectHttp?: boolean;
  /** Lowest TLS version HTTPS listeners accept. Default `'1.2'`; `'1.3'` refuses TLS 1.2 clients. */
  minVersion?: '1.2' | '1.3';
}

/** How proxykit talks TLS to an upstream (`https://` upstream URLs). */
export interface UpstreamTlsSpec {
  /** Extra CA certificate(s) to trust, PEM file path (relative to the config). */
  ca?: string;
  /** Client certificate and key (PEM file paths) for mutual TLS. */
  cert?: string;
  key?: string;
  /** SNI / verification name, when it differs from the URL's host. */
  servername?: string;
  /** Skip verification. Default false; for tests against self-signed upstreams only. */
  insecure?: boolean;
}

/** The top-level `cache` block: the store shared by every route with `.cache()`. */
export interface CacheStorageSpec {
  /** Total size of stored responses (bodies and headers); least recently used go first. Default `'256mb'`. */
  maxSize?: ByteSize;
  /** Largest single response body stored; larger ones pass through uncached. Default `'16mb'` (or `maxSize`, if smaller). */
  maxObjectSize?: ByteSize;
  /** Keep entries on disk, in `path` (a directory, relative to the config file), instead of in memory. */
  disk?: { path: string };
  /** This cache's name in `Cache-Status` response headers (RFC 9211), a token. Default `'proxykit'`. */
  name?: string;
}

export interface ConfigSpec {
  readonly kind: 'config';
  listen: string[];
  routes: RouteSpec[];
  trustProxies?: string[];
  /** Add a `Via` header: `true` for `1.1 proxykit`, a string for a custom pseudonym. */
  via?: boolean | string;
  limits?: LimitsSpec;
  log?: LogSpec;
  /**
   * The admin API listener. `token`: when set, every admin request needs `Authorization: Bearer
   * <token>` (loopback included); required when `listen` is not a loopback address.
   */
  admin?: { listen: string; token?: string };
  /** Prometheus metrics and live dashboard stats. Default on; `false` takes them off the hot path. */
  metrics?: boolean;
  /** OpenTelemetry trace context: `traceparent` always passes through; `start` adds one when absent. */
  tracing?: { start?: boolean };
  /** `'internal'` is short for `{ internal: true }`. */
  tls?: TlsSpec | 'internal';
  redis?: string;
  /** The HTTP cache's store (used only when a route has `.cache()`). */
  cache?: CacheStorageSpec;
  at?: SourceLocation;
}

/**
 * Contracts between the engine and the observability pieces (metrics, live stats, admin API,
 * dashboard). The engine only ever calls the small interfaces here; each implementation lives in
 * its own module.
 *
 * Hot-path rule: everything keyed by route or upstream is resolved to a handle when a Plan compiles
 * (`Metrics.route(label)`, `Metrics.upstream(pool, url)`), so a request never builds a label set.
 */

/** Per-route metric children, made once per route per Plan. */
export interface RouteMetrics {
  /** A finished request on this route. `upstream` is null when the proxy answered itself. */
  done(status: number, seconds: number, bytesIn: number, bytesOut: number, upstream: UpstreamMetrics | null): void;
}

/** Per-upstream metric children, made once per upstream (kept across reloads by pool + url). */
export interface UpstreamMetrics {
  /** A response head (or failure) from this upstream after `seconds`. `status` 0 = no response. */
  attempt(status: number, seconds: number): void;
}

export interface Metrics {
  route(label: string): RouteMetrics;
  upstream(pool: string, url: string): UpstreamMetrics;
  /** A request answered before any route matched (400, 404, 405, 408, 431…). */
  unrouted(status: number, seconds: number): void;
  connectionOpened(): void;
  connectionClosed(): void;
  reload(ok: boolean): void;
  /** Upstream health gauge (1 healthy and not ejected, 0 otherwise), set on every change. */
  upstreamHealth(pool: string, url: string, up: boolean): void;
  /** Retry taken (for the retry-budget panel) and circuit-breaker rejections. */
  retry(pool: string): void;
  rejected(pool: string, reason: 'circuit' | 'no_upstream'): void;
  /** Text exposition format (`GET /metrics`). */
  exposition(): Promise<{ contentType: string; body: string }>;
}

/** One second of traffic, for the dashboard's charts. */
export interface LiveSecond {
  /** Epoch seconds. */
  t: number;
  requests: number;
  /** Responses with status >= 500 (and proxy errors). */
  errors: number;
  /** Latency percentiles over that second, ms (0 when no requests). */
  p50: number;
  p90: number;
  p99: number;
}

export interface LiveSnapshot {
  /** Epoch ms when taken. */
  now: number;
  /** The last 60 seconds, oldest first (missing seconds are zero-filled). */
  seconds: LiveSecond[];
  totals: { requests: number; errors: number; openConnections: number; reloadsOk: number; reloadsFailed: number };
  pools: PoolStatus[];
  /** Filled by features as they land (cache, waf, certificates); absent until then. */
  cache?: { hits: number; misses: number; ratio: number };
  wafTopRules?: Array<{ rule: string; blocks: number }>;
  certificates?: CertificateStatus[];
}

export interface UpstreamStatus {
  url: string;
  label: string;
  /** `healthy` | `unhealthy` (active checks) | `ejected` (passive) | `draining` (admin). */
  state: 'healthy' | 'unhealthy' | 'ejected' | 'draining';
  inflight: number;
  /** Latency estimate ms (p2c's peak EWMA), 0 when unknown. */
  latencyMs: number;
  weight: number;
  /** Epoch ms the ejection ends, when ejected. */
  ejectedUntil?: number;
}

export interface PoolStatus {
  name: string;
  balance: string;
  upstreams: UpstreamStatus[];
}

export interface CertificateStatus {
  names: string[];
  notAfter: string;
  daysLeft: number;
  issuer: string;
}

/** What the admin API needs from the running proxy. */
export interface AdminContext {
  /** Summary of the serving config: listeners, routes (match, target), pools, plan id, loaded at. */
  config(): unknown;
  /** Reload the config from its file; rejects with a ConfigError (old config keeps serving). */
  reload(): Promise<{ planId: number; ms: number }>;
  pools(): PoolStatus[];
  /** Take an upstream out of rotation (finish in-flight, send nothing new) or put it back. */
  drain(pool: string, url: string, draining: boolean): boolean;
  metrics: Metrics;
  live(): LiveSnapshot;
}

/** A feature's own admin endpoint (e.g. certificates, cache purge), registered when it lands. */
export interface AdminRoute {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  handle(body: unknown): Promise<{ status: number; body: unknown }>;
}

/** The part of LiveStats the engine writes to (the dashboard reads snapshots). */
export interface LiveRecorder {
  record(status: number, ms: number): void;
  connections(delta: number): void;
  reload(ok: boolean): void;
}

/** Where the engine reports finished requests, connections and reloads. Both parts are optional. */
export interface Telemetry {
  metrics: Metrics | null;
  live: LiveRecorder | null;
}

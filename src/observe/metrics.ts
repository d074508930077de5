/**
 * Prometheus metrics (prom-client) behind the small `Metrics` contract the engine calls.
 *
 * Every instance owns its own `Registry`, so several runtimes in one process never collide.
 *
 * Hot path: `route(label)` and `upstream(pool, url)` return handles cached by key (a reload that
 * keeps a route's label or an upstream's pool + url gets the same handle back). A handle keeps its
 * numbers in plain fields and typed arrays — request counts in a 6-slot array indexed by status
 * class, histogram buckets in a Float64Array — so `done()` / `attempt()` are a few increments with
 * no allocation and no label set (~20 ns). The registry reads the handles when scraped (the
 * `PullFamily` metrics below). prom-client's own `counter.labels(...)` children are not used there:
 * they rebuild and re-validate the label hash on every call (~0.5 µs per `inc`/`observe`, ~2 µs
 * per request for four calls). Rare events (health, retries, rejections, reloads) use ordinary
 * prom-client metrics.
 *
 * Label decisions:
 * - `route` is the route's label (`#2 api.example.com/v1/*`), `pool` the pool name, `upstream` the
 *   upstream URL — all bounded by the config.
 * - `code` is the status class only: `1xx` `2xx` `3xx` `4xx` `5xx`, or `error` when there was no
 *   valid status (0: no response / connection failure). Exact statuses live in the access log; a
 *   class keeps at most 6 series per route or upstream whatever the upstream answers.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Metric } from 'prom-client';
import type { Metrics, RouteMetrics, UpstreamMetrics } from './contracts.js';

/** Request latency buckets, seconds: 0.5 ms … 30 s. */
export const REQUEST_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/** Status class label values, indexed by `codeIndex(status)`. */
export const CODE_CLASSES = ['error', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;
export type CodeClass = (typeof CODE_CLASSES)[number];

/** 1..5 for a status 100..599, 0 (`error`) for anything else (0 = no response). */
export function codeIndex(status: number): number {
  return status >= 100 && status < 600 ? (status / 100) | 0 : 0;
}

export type RejectReason = 'circuit' | 'no_upstream';

/** `Metrics` plus what features need to add their own metrics to the same registry. */
export interface PromMetrics extends Metrics {
  /** This instance's registry; pass it in `registers: [...]` when making a feature's metric. */
  readonly registry: Registry;
  /** Add an already-made metric (e.g. `new Counter({ name, help, registers: [] })`). */
  register(metric: Metric<string>): void;
}

export interface MetricsOptions {
  /** Node process metrics (`proxykit_process_*`, `proxykit_nodejs_*`). Default true. */
  collectDefault?: boolean;
}

type CounterChild = Counter.Internal;
type GaugeChild = Gauge.Internal<string>;

/** A finite, non-negative number, else 0. */
function nonNeg(x: number): number {
  return x >= 0 && x !== Infinity ? x : 0;
}

/** Index into `REQUEST_BUCKETS` of the first bound ≥ seconds; `REQUEST_BUCKETS.length` = +Inf. */
const BOUNDS = Float64Array.from(REQUEST_BUCKETS);
const NB = BOUNDS.length;
function bucketIndex(seconds: number): number {
  let i = 0;
  while (i < NB && seconds > BOUNDS[i]) i++;
  return i;
}

/** Histogram state kept in plain numbers: per-bucket (not cumulative) counts, +Inf last. */
class Hist {
  readonly buckets = new Float64Array(NB + 1);
  count = 0;
  sum = 0;
  observe(seconds: number): void {
    const s = nonNeg(seconds);
    this.buckets[bucketIndex(s)]++;
    this.count++;
    this.sum += s;
  }
  reset(): void {
    this.buckets.fill(0);
    this.count = 0;
    this.sum = 0;
  }
}

class RouteHandle implements RouteMetrics {
  /** Requests per status class, indexed by `codeIndex`. */
  readonly codes = new Float64Array(CODE_CLASSES.length);
  readonly duration = new Hist();
  bytesIn = 0;
  bytesOut = 0;
  /** Label sets for the exposition, made once. */
  readonly labels: Record<'route', string>;
  readonly codeLabels: Array<Record<'route' | 'code', string>>;

  constructor(readonly label: string) {
    this.labels = { route: label };
    this.codeLabels = CODE_CLASSES.map((code) => ({ route: label, code }));
  }

  /** `upstream` is not a label here (route × upstream would multiply series); see `attempt()`. */
  done(status: number, seconds: number, bytesIn: number, bytesOut: number, _upstream: UpstreamMetrics | null): void {
    this.codes[codeIndex(status)]++;
    this.duration.observe(seconds);
    if (bytesIn > 0 && bytesIn !== Infinity) this.bytesIn += bytesIn;
    if (bytesOut > 0 && bytesOut !== Infinity) this.bytesOut += bytesOut;
  }

  reset(): void {
    this.codes.fill(0);
    this.duration.reset();
    this.bytesIn = 0;
    this.bytesOut = 0;
  }
}

class UpstreamHandle implements UpstreamMetrics {
  readonly codes = new Float64Array(CODE_CLASSES.length);
  readonly response = new Hist();
  readonly labels: Record<'pool' | 'upstream', string>;
  readonly codeLabels: Array<Record<'pool' | 'upstream' | 'code', string>>;
  /** Health gauge child (1 up, 0 down); health changes are rare, so a prom-client child is fine. */
  readonly up: GaugeChild;

  constructor(pool: string, url: string, upGauge: Gauge<'pool' | 'upstream'>) {
    this.labels = { pool, upstream: url };
    this.codeLabels = CODE_CLASSES.map((code) => ({ pool, upstream: url, code }));
    this.up = upGauge.labels(pool, url);
    // An upstream counts as up until the engine says otherwise (no check has failed yet).
    this.up.set(1);
  }

  attempt(status: number, seconds: number): void {
    this.codes[codeIndex(status)]++;
    this.response.observe(seconds);
  }

  reset(): void {
    this.codes.fill(0);
    this.response.reset();
  }
}

interface Sample {
  metricName?: string;
  labels: Record<string, string | number>;
  value: number;
}

/**
 * A metric family whose values live in handles and are read at scrape time. prom-client's own
 * `labels(...)` children re-hash and re-validate their label set on every `inc()`/`observe()`
 * (~0.5 µs and a string or two per call), too much for four calls per request; these families
 * give the registry the same `get()` shape prom-client's own metrics do.
 */
class PullFamily {
  readonly aggregator = 'sum';
  constructor(
    public name: string,
    readonly help: string,
    readonly type: 'counter' | 'histogram',
    private readonly read: (out: Sample[], name: string) => void,
    private readonly zero: () => void,
  ) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new Error(`bad metric name ${name}`);
  }
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> {
    const values: Sample[] = [];
    this.read(values, this.name);
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
  reset(): void {
    this.zero();
  }
}

function pushHistogram(out: Sample[], name: string, labels: Record<string, string>, h: Hist): void {
  let acc = 0;
  for (let i = 0; i < NB; i++) {
    acc += h.buckets[i];
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: BOUNDS[i] }, value: acc });
  }
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: h.count });
  out.push({ metricName: `${name}_sum`, labels, value: h.sum });
  out.push({ metricName: `${name}_count`, labels, value: h.count });
}

/** Per-pool children for retries and rejections (not per request; a Map lookup is fine). */
interface PoolChildren {
  retries: CounterChild;
  circuit: CounterChild;
  noUpstream: CounterChild;
}

class PromMetricsImpl implements PromMetrics {
  readonly registry: Registry;
  private readonly routes = new Map<string, RouteHandle>();
  private readonly upstreams = new Map<string, UpstreamHandle>();
  private readonly pools = new Map<string, PoolChildren>();
  /** Unrouted requests per status class; read at scrape time like the route counters. */
  private readonly unroutedCodes = new Float64Array(CODE_CLASSES.length);
  private open = 0;
  private readonly upstreamUp: Gauge<'pool' | 'upstream'>;
  private readonly retries: Counter<'pool'>;
  private readonly rejectedTotal: Counter<'pool' | 'reason'>;
  private readonly reloadsOk: CounterChild;
  private readonly reloadsFailed: CounterChild;

  constructor(opts: MetricsOptions) {
    const registry = (this.registry = new Registry());
    const registers = [registry];
    const routes = this.routes;
    const upstreams = this.upstreams;
    const pull = (
      name: string,
      help: string,
      type: 'counter' | 'histogram',
      read: (out: Sample[], name: string) => void,
      zero: () => void,
    ): void => {
      registry.registerMetric(new PullFamily(name, help, type, read, zero) as unknown as Metric<string>);
    };
    const zeroRoutes = (): void => routes.forEach((h) => h.reset());
    const zeroUpstreams = (): void => upstreams.forEach((h) => h.reset());

    pull(
      'proxykit_requests_total',
      'Requests answered on a route, by route and status class (code: 1xx..5xx, or error when no status).',
      'counter',
      (out) => {
        for (const h of routes.values())
          for (let i = 0; i < h.codes.length; i++) if (h.codes[i] > 0) out.push({ labels: h.codeLabels[i], value: h.codes[i] });
      },
      zeroRoutes,
    );
    pull(
      'proxykit_request_duration_seconds',
      'Time from request received to response finished, by route.',
      'histogram',
      (out, name) => {
        for (const h of routes.values()) pushHistogram(out, name, h.labels, h.duration);
      },
      zeroRoutes,
    );
    pull(
      'proxykit_request_bytes_total',
      'Request body bytes received from clients, by route.',
      'counter',
      (out) => {
        for (const h of routes.values()) out.push({ labels: h.labels, value: h.bytesIn });
      },
      zeroRoutes,
    );
    pull(
      'proxykit_response_bytes_total',
      'Response body bytes sent to clients, by route.',
      'counter',
      (out) => {
        for (const h of routes.values()) out.push({ labels: h.labels, value: h.bytesOut });
      },
      zeroRoutes,
    );
    pull(
      'proxykit_upstream_requests_total',
      'Attempts sent to an upstream, by status class of its answer (code "error": no response).',
      'counter',
      (out) => {
        for (const h of upstreams.values())
          for (let i = 0; i < h.codes.length; i++) if (h.codes[i] > 0) out.push({ labels: h.codeLabels[i], value: h.codes[i] });
      },
      zeroUpstreams,
    );
    pull(
      'proxykit_upstream_response_seconds',
      'Time from attempt start to the upstream response head (or failure), by upstream.',
      'histogram',
      (out, name) => {
        for (const h of upstreams.values()) pushHistogram(out, name, h.labels, h.response);
      },
      zeroUpstreams,
    );
    this.upstreamUp = new Gauge({
      name: 'proxykit_upstream_up',
      help: 'Upstream health: 1 healthy and in rotation, 0 unhealthy or ejected.',
      labelNames: ['pool', 'upstream'] as const,
      registers,
    });
    this.retries = new Counter({
      name: 'proxykit_upstream_retries_total',
      help: 'Retries taken against a pool.',
      labelNames: ['pool'] as const,
      registers,
    });
    this.rejectedTotal = new Counter({
      name: 'proxykit_upstream_rejected_total',
      help: 'Requests a pool refused without an attempt (reason: circuit, no_upstream).',
      labelNames: ['pool', 'reason'] as const,
      registers,
    });
    const unrouted = this.unroutedCodes;
    const unroutedLabels = CODE_CLASSES.map((code) => ({ code }));
    pull(
      'proxykit_unrouted_requests_total',
      'Requests answered before any route matched, by status class.',
      'counter',
      (out) => {
        for (let i = 0; i < unrouted.length; i++) if (unrouted[i] > 0) out.push({ labels: unroutedLabels[i], value: unrouted[i] });
      },
      () => unrouted.fill(0),
    );
    const self = this;
    new Gauge({
      name: 'proxykit_open_connections',
      help: 'Client connections currently open.',
      registers,
      collect() {
        this.set(self.open);
      },
    });
    const reloads = new Counter({
      name: 'proxykit_config_reloads_total',
      help: 'Config reloads, by result (ok, failed).',
      labelNames: ['result'] as const,
      registers,
    });
    this.reloadsOk = reloads.labels('ok');
    this.reloadsFailed = reloads.labels('failed');
    this.reloadsOk.inc(0);
    this.reloadsFailed.inc(0);
    if (opts.collectDefault ?? true) collectDefaultMetrics({ register: registry, prefix: 'proxykit_' });
  }

  route(label: string): RouteMetrics {
    let h = this.routes.get(label);
    if (h === undefined) {
      h = new RouteHandle(label);
      this.routes.set(label, h);
    }
    return h;
  }

  upstream(pool: string, url: string): UpstreamMetrics {
    return this.upstreamHandle(pool, url);
  }

  private upstreamHandle(pool: string, url: string): UpstreamHandle {
    const key = `${pool}\u0000${url}`;
    let h = this.upstreams.get(key);
    if (h === undefined) {
      this.pool(pool);
      h = new UpstreamHandle(pool, url, this.upstreamUp);
      this.upstreams.set(key, h);
    }
    return h;
  }

  private pool(name: string): PoolChildren {
    let p = this.pools.get(name);
    if (p === undefined) {
      p = {
        retries: this.retries.labels(name),
        circuit: this.rejectedTotal.labels(name, 'circuit'),
        noUpstream: this.rejectedTotal.labels(name, 'no_upstream'),
      };
      // Present at 0 from the start, so increase()/rate() see the first event.
      p.retries.inc(0);
      p.circuit.inc(0);
      p.noUpstream.inc(0);
      this.pools.set(name, p);
    }
    return p;
  }

  /** Counted by status class; `seconds` is not a metric (the live stats see it). */
  unrouted(status: number, _seconds: number): void {
    this.unroutedCodes[codeIndex(status)]++;
  }

  connectionOpened(): void {
    this.open++;
  }

  connectionClosed(): void {
    if (this.open > 0) this.open--;
  }

  reload(ok: boolean): void {
    (ok ? this.reloadsOk : this.reloadsFailed).inc();
  }

  upstreamHealth(pool: string, url: string, up: boolean): void {
    this.upstreamHandle(pool, url).up.set(up ? 1 : 0);
  }

  /** Per pool, through a Map lookup and a prom-client child: retries are rare next to requests. */
  retry(pool: string): void {
    this.pool(pool).retries.inc();
  }

  rejected(pool: string, reason: RejectReason): void {
    const p = this.pool(pool);
    (reason === 'circuit' ? p.circuit : p.noUpstream).inc();
  }

  register(metric: Metric<string>): void {
    this.registry.registerMetric(metric);
  }

  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

export function createMetrics(opts: MetricsOptions = {}): PromMetrics {
  return new PromMetricsImpl(opts);
}

/** The registry behind a `Metrics` made by `createMetrics`, for a feature to add its own metrics. */
export function registryOf(metrics: Metrics): Registry {
  if (metrics instanceof PromMetricsImpl) return metrics.registry;
  throw new TypeError('registryOf: not a Metrics made by createMetrics()');
}

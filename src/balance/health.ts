/**
 * Active health checks: `GET <path>` on every upstream of a pool, on a jittered interval, with
 * consecutive-result thresholds (Caddy's ActiveHealthChecks, Pingora's HealthCheck). One checker
 * per pool, kept across reloads by `HealthCheckRegistry` while the pool's health spec is unchanged.
 *
 * Checkers only write `UpstreamState` (`healthy`, `probeOk`, `probeFail`, `usableSince`) and log
 * each transition once; they never pick an upstream. Probes use their own short-lived undici Client
 * (one connection, closed after the probe), never the traffic dispatcher, so a probe neither waits
 * behind queued requests nor takes a slot a request could use, and each probe tests a fresh connect.
 *
 * Defaults (documented on `HealthSpec`): interval 5s ±10%, timeout 2s, healthy 2, unhealthy 3,
 * expect any 2xx or 3xx, Host the upstream's own host:port.
 */
import { Client } from 'undici';
import type { HealthSpec } from '../config/spec.js';
import { parseDuration } from '../config/units.js';
import type { Logger } from '../observe/logger.js';
import type { Upstream } from './upstream.js';

export const DEFAULT_HEALTH_INTERVAL_MS = 5_000;
export const DEFAULT_HEALTH_TIMEOUT_MS = 2_000;
export const DEFAULT_HEALTHY_THRESHOLD = 2;
export const DEFAULT_UNHEALTHY_THRESHOLD = 3;
/** Each wait between probes is the interval × a random factor in [1 - JITTER, 1 + JITTER]. */
export const HEALTH_JITTER = 0.1;
/** Response bodies of probes are read (and dropped) up to this size, then the connection closes. */
const PROBE_BODY_LIMIT = 64 * 1024;
const USER_AGENT = 'proxykit-health-check';

/** A HealthSpec with every default applied and units parsed. */
export interface ResolvedHealth {
  path: string;
  intervalMs: number;
  timeoutMs: number;
  healthy: number;
  unhealthy: number;
  /** Passing statuses; null = any 2xx or 3xx. */
  expect: readonly number[] | null;
  /** Host header; null = the upstream's authority. */
  host: string | null;
}

/**
 * Apply defaults and parse units.
 *
 * @example
 * resolveHealth({ path: '/healthz', interval: '2s' }).timeoutMs // 2000
 */
/** The default probe timeout: 2s, or half the interval when probes are more frequent than 4s. */
export function defaultTimeout(intervalMs: number): number {
  return Math.min(DEFAULT_HEALTH_TIMEOUT_MS, intervalMs / 2);
}

export function resolveHealth(spec: HealthSpec): ResolvedHealth {
  const intervalMs = spec.interval !== undefined ? parseDuration(spec.interval) : DEFAULT_HEALTH_INTERVAL_MS;
  const expect = spec.expect === undefined ? null : [...(Array.isArray(spec.expect) ? spec.expect : [spec.expect])].sort((a, b) => a - b);
  return {
    path: spec.path,
    intervalMs,
    timeoutMs: spec.timeout !== undefined ? parseDuration(spec.timeout) : defaultTimeout(intervalMs),
    healthy: spec.healthy ?? DEFAULT_HEALTHY_THRESHOLD,
    unhealthy: spec.unhealthy ?? DEFAULT_UNHEALTHY_THRESHOLD,
    expect,
    host: spec.host ?? null,
  };
}

/** Identity of a health spec by meaning (`'2s'` and `2000` are the same), for reload decisions. */
export function healthSpecKey(spec: HealthSpec): string {
  return JSON.stringify(resolveHealth(spec));
}

/** Outcome of one probe: passed, or failed with a short reason for the log. */
export type ProbeResult = { ok: true } | { ok: false; reason: string };

export interface HealthCheckerOptions {
  /** Called after an upstream's verdict changed (already written to its state). */
  onChange?(u: Upstream, healthy: boolean): void;
}

/** errno codes that mean the TCP (or DNS) part of connecting failed. */
const CONNECT_CODES = new Set([
  'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL',
]);

class ProbeTimeout extends Error {
  constructor() {
    super('timeout');
  }
}
class CheckerStopped extends Error {
  constructor() {
    super('health checker stopped');
  }
}

/** A short reason for a failed probe: `'timeout'`, `'connect ECONNREFUSED'`, `'reset'` … */
function failureReason(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown; cause?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return 'connect timeout';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'timeout';
  if (code !== undefined && CONNECT_CODES.has(code)) return `connect ${code}`;
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'reset';
  if (code === 'UND_ERR_SOCKET') return 'connection closed';
  if (e?.cause !== undefined && e.cause !== err) return failureReason(e.cause);
  if (code !== undefined) return `error ${code}`;
  return `error ${typeof e?.message === 'string' ? e.message : String(err)}`;
}

/** Per-upstream probe loop. */
interface Target {
  upstream: Upstream;
  timer: NodeJS.Timeout | null;
  /** The probe in flight, if any. */
  inflight: { controller: AbortController; done: Promise<void> } | null;
  removed: boolean;
}

/**
 * Active health checks of one pool. `start()` begins probing every upstream (each on its own
 * jittered schedule, the first probe within 10% of an interval), `stop()` cancels timers and
 * in-flight probes, `updateUpstreams()` follows a reload that kept the pool and its health spec.
 *
 * @example
 * const checker = new ActiveHealthChecker('api', { path: '/healthz', interval: '2s' }, upstreams, logger);
 * checker.start();
 * // … on shutdown
 * await checker.stop();
 */
export class ActiveHealthChecker {
  readonly poolName: string;
  readonly config: ResolvedHealth;
  private readonly logger: Logger;
  private readonly opts: HealthCheckerOptions;
  private readonly targets = new Map<string, Target>();
  private running = false;
  private stopped = false;

  constructor(poolName: string, spec: HealthSpec, upstreams: readonly Upstream[], logger: Logger, opts: HealthCheckerOptions = {}) {
    this.poolName = poolName;
    this.config = resolveHealth(spec);
    this.logger = logger;
    this.opts = opts;
    for (const u of upstreams) this.targets.set(u.url, { upstream: u, timer: null, inflight: null, removed: false });
  }

  /** The upstreams probed now. */
  get upstreams(): Upstream[] {
    return [...this.targets.values()].map((t) => t.upstream);
  }

  /** Begin probing. Idempotent; a stopped checker cannot be started again. */
  start(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    for (const t of this.targets.values()) this.scheduleFirst(t);
  }

  /**
   * Stop probing: timers cleared, in-flight probes aborted (their result is dropped). Resolves when
   * the aborted probes have let go of their connections. Leaves upstream states as they are.
   */
  stop(): Promise<void> {
    this.stopped = true;
    this.running = false;
    const pending: Promise<void>[] = [];
    for (const t of this.targets.values()) pending.push(this.cancel(t));
    return Promise.all(pending).then(() => undefined);
  }

  /**
   * Follow a reload: keep probing upstreams still listed (matched by URL; the new `Upstream`
   * objects replace the old ones), start probing new ones, stop probing removed ones.
   */
  updateUpstreams(upstreams: readonly Upstream[]): void {
    const next = new Set<string>();
    for (const u of upstreams) {
      next.add(u.url);
      const t = this.targets.get(u.url);
      if (t !== undefined) {
        t.upstream = u;
        continue;
      }
      const fresh: Target = { upstream: u, timer: null, inflight: null, removed: false };
      this.targets.set(u.url, fresh);
      if (this.running) this.scheduleFirst(fresh);
    }
    for (const [url, t] of this.targets) {
      if (next.has(url)) continue;
      this.targets.delete(url);
      t.removed = true;
      void this.cancel(t);
    }
  }

  /** Probe one upstream once, without recording the result. */
  async probe(u: Upstream): Promise<ProbeResult> {
    const controller = new AbortController();
    return this.probeWith(u, controller);
  }

  private cancel(t: Target): Promise<void> {
    if (t.timer !== null) {
      clearTimeout(t.timer);
      t.timer = null;
    }
    const inflight = t.inflight;
    if (inflight === null) return Promise.resolve();
    inflight.controller.abort(new CheckerStopped());
    return inflight.done;
  }

  private scheduleFirst(t: Target): void {
    this.schedule(t, Math.random() * this.config.intervalMs * HEALTH_JITTER);
  }

  private schedule(t: Target, delayMs: number): void {
    t.timer = setTimeout(() => {
      t.timer = null;
      void this.run(t);
    }, Math.max(0, delayMs));
    t.timer.unref();
  }

  private live(t: Target): boolean {
    return this.running && !t.removed;
  }

  private async run(t: Target): Promise<void> {
    if (!this.live(t)) return;
    const startedAt = Date.now();
    const controller = new AbortController();
    let settle!: () => void;
    const done = new Promise<void>((resolve) => (settle = resolve));
    t.inflight = { controller, done };
    try {
      const result = await this.probeWith(t.upstream, controller);
      if (this.live(t) && !(controller.signal.reason instanceof CheckerStopped)) this.record(t.upstream, result, Date.now());
    } catch (err) {
      // A bug in here must not end the loop: log it and probe again next time.
      this.logger.error('health check failed unexpectedly', { pool: this.poolName, upstream: t.upstream.label, err: String(err) });
    } finally {
      t.inflight = null;
      settle();
    }
    if (!this.live(t)) return;
    const jittered = this.config.intervalMs * (1 - HEALTH_JITTER + Math.random() * 2 * HEALTH_JITTER);
    this.schedule(t, jittered - (Date.now() - startedAt));
  }

  private async probeWith(u: Upstream, controller: AbortController): Promise<ProbeResult> {
    const { timeoutMs, path } = this.config;
    const client = new Client(u.origin, {
      connect: { timeout: timeoutMs },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      pipelining: 1,
    });
    const timer = setTimeout(() => controller.abort(new ProbeTimeout()), timeoutMs);
    timer.unref();
    try {
      const res = await client.request({
        method: 'GET',
        path,
        headers: { host: this.config.host ?? u.authority, 'user-agent': USER_AGENT, accept: '*/*' },
        signal: controller.signal,
        reset: true, // Connection: close; one probe, one connection
      });
      // The status decides; the body is read only to end the exchange politely.
      await res.body.dump({ limit: PROBE_BODY_LIMIT }).catch(() => {});
      if (this.passes(res.statusCode)) return { ok: true };
      return { ok: false, reason: `status ${res.statusCode}` };
    } catch (err) {
      if (controller.signal.reason instanceof ProbeTimeout) return { ok: false, reason: 'timeout' };
      if (controller.signal.aborted) return { ok: false, reason: 'stopped' };
      return { ok: false, reason: failureReason(err) };
    } finally {
      clearTimeout(timer);
      await client.destroy().catch(() => {});
    }
  }

  private passes(status: number): boolean {
    const expect = this.config.expect;
    return expect === null ? status >= 200 && status < 400 : expect.includes(status);
  }

  private record(u: Upstream, result: ProbeResult, now: number): void {
    const s = u.state;
    if (result.ok) {
      s.probeOk += 1;
      s.probeFail = 0;
      if (!s.healthy && s.probeOk >= this.config.healthy) {
        s.healthy = true;
        s.usableSince = now;
        s.ewmaMs = 0; // measure it afresh (a stale estimate would keep p2c-ewma away)
        this.logger.info('upstream healthy', { pool: this.poolName, upstream: u.label, probes: s.probeOk });
        this.notify(u, true);
      }
      return;
    }
    s.probeFail += 1;
    s.probeOk = 0;
    if (s.healthy && s.probeFail >= this.config.unhealthy) {
      s.healthy = false;
      this.logger.warn('upstream unhealthy', { pool: this.poolName, upstream: u.label, reason: result.reason, probes: s.probeFail });
      this.notify(u, false);
    } else {
      this.logger.debug('health probe failed', { pool: this.poolName, upstream: u.label, reason: result.reason, probes: s.probeFail });
    }
  }

  private notify(u: Upstream, healthy: boolean): void {
    try {
      this.opts.onChange?.(u, healthy);
    } catch (err) {
      this.logger.error('health onChange callback threw', { pool: this.poolName, upstream: u.label, err: String(err) });
    }
  }
}

/** What `HealthCheckRegistry.reconcile` needs to know of each pool of the new Plan. */
export interface HealthPoolEntry {
  name: string;
  spec: HealthSpec | undefined;
  upstreams: readonly Upstream[];
}

/**
 * One checker per pool, kept across reloads: health checks run once per pool (not per Plan, not
 * per route), and a reload that keeps a pool and its health spec keeps its checker running (the
 * verdicts live in the long-lived `UpstreamState`s anyway).
 *
 * @example
 * const health = new HealthCheckRegistry(logger);
 * health.reconcile(plan.pools.map((p) => ({ name: p.name, spec: p.spec.health, upstreams: p.upstreams })));
 * // … on shutdown
 * await health.stopAll();
 */
export class HealthCheckRegistry {
  private readonly logger: Logger;
  private readonly opts: HealthCheckerOptions;
  private readonly checkers = new Map<string, { key: string; checker: ActiveHealthChecker }>();

  constructor(logger: Logger, opts: HealthCheckerOptions = {}) {
    this.logger = logger;
    this.opts = opts;
  }

  /**
   * Make the running checkers match `pools`: same name and same health spec (by meaning) → keep
   * the checker, give it the new upstream list; spec changed → restart it; pool gone or no longer
   * health-checked → stop it. A pool without health checks has nothing that could bring an
   * unhealthy upstream back, so its upstreams are marked healthy.
   * A name listed twice is taken once (the first entry).
   */
  reconcile(pools: readonly HealthPoolEntry[]): void {
    const seen = new Set<string>();
    for (const p of pools) {
      if (seen.has(p.name)) continue;
      seen.add(p.name);
      const cur = this.checkers.get(p.name);
      if (p.spec === undefined) {
        if (cur !== undefined) {
          void cur.checker.stop();
          this.checkers.delete(p.name);
        }
        this.forgetVerdicts(p);
        continue;
      }
      const key = healthSpecKey(p.spec);
      if (cur !== undefined && cur.key === key) {
        cur.checker.updateUpstreams(p.upstreams);
        continue;
      }
      if (cur !== undefined) {
        void cur.checker.stop();
        this.logger.info('health checks restarted', { pool: p.name });
      }
      const checker = new ActiveHealthChecker(p.name, p.spec, p.upstreams, this.logger, this.opts);
      this.checkers.set(p.name, { key, checker });
      checker.start();
    }
    for (const [name, cur] of this.checkers) {
      if (seen.has(name)) continue;
      void cur.checker.stop();
      this.checkers.delete(name);
    }
  }

  /** The running checker of a pool, if it has one. */
  get(poolName: string): ActiveHealthChecker | undefined {
    return this.checkers.get(poolName)?.checker;
  }

  /** Number of running checkers. */
  get size(): number {
    return this.checkers.size;
  }

  /** Stop every checker; resolves when their in-flight probes have let go. */
  async stopAll(): Promise<void> {
    const all = [...this.checkers.values()];
    this.checkers.clear();
    await Promise.all(all.map((c) => c.checker.stop()));
  }

  private forgetVerdicts(p: HealthPoolEntry): void {
    for (const u of p.upstreams) {
      const s = u.state;
      s.probeOk = 0;
      s.probeFail = 0;
      if (s.healthy) continue;
      s.healthy = true;
      s.usableSince = Date.now();
      this.logger.info('upstream healthy', { pool: p.name, upstream: u.label, reason: 'health checks removed' });
    }
  }
}

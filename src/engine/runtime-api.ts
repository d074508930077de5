/**
 * The contract between the CLI/loader and the engine. The CLI turns a config file into a
 * ConfigSpec (loader + builder), then hands it to a Runtime, which validates, compiles to a Plan,
 * (re)binds listeners and swaps the Plan in atomically.
 */
import type { ConfigSpec } from '../config/spec.js';
import type { Logger } from '../observe/logger.js';
import type { HttpCache } from '../cache/http-cache.js';
import type { CertificateStatus, LiveRecorder, Metrics, PoolStatus } from '../observe/contracts.js';

export interface ListenerInfo {
  /** e.g. `http://127.0.0.1:8080` (the actual port when 0 was asked). */
  url: string;
}

export interface RuntimeOptions {
  logger: Logger;
  /** Where certificates and state live. Default `$XDG_DATA_HOME/proxykit` (`~/.local/share/proxykit`). */
  dataDir?: string;
  /** The config file's directory, against which certificate file paths are resolved. */
  configDir?: string;
  /** Prometheus metrics (`createMetrics()`); none when omitted. */
  metrics?: Metrics;
  /** Rolling per-second stats for the dashboard (`new LiveStats()`); none when omitted. */
  live?: LiveRecorder;
}

export interface ApplyResult {
  /** Monotonic id of the Plan now serving. */
  planId: number;
  /** Listeners now bound. */
  listeners: ListenerInfo[];
  /** Time to validate, compile and swap, ms. */
  compileMs: number;
}

export interface Runtime {
  /**
   * Validate, compile and swap in a new config. On any error it throws a ConfigError (with every
   * problem found) and the Plan that was serving keeps serving.
   */
  apply(spec: ConfigSpec): Promise<ApplyResult>;
  /** Stop accepting, let in-flight requests finish up to `deadlineMs`, then close everything. */
  close(deadlineMs?: number): Promise<void>;
  readonly listeners: ListenerInfo[];
  /** Pools and their upstreams' state now (admin API, dashboard, `proxykit status`). */
  pools(): PoolStatus[];
  /** Take an upstream out of rotation (in-flight requests finish) or put it back. False if unknown. */
  drain(pool: string, url: string, draining: boolean): boolean;
  /** Id of the Plan serving now, 0 before the first apply. */
  readonly planId: number;
  /** Certificates being served (empty without TLS). */
  certificates(): CertificateStatus[];
  /** The HTTP cache (purge, stats); null when no route caches. */
  httpCache(): HttpCache | null;
}

/**
 * The contract between the CLI/loader and the engine. The CLI turns a config file into a
 * ConfigSpec (loader + builder), then hands it to a Runtime, which validates, compiles to a Plan,
 * (re)binds listeners and swaps the Plan in atomically.
 */
import type { ConfigSpec } from '../config/spec.js';
import type { Logger } from '../observe/logger.js';

export interface ListenerInfo {
  /** e.g. `http://127.0.0.1:8080` (the actual port when 0 was asked). */
  url: string;
}

export interface RuntimeOptions {
  logger: Logger;
  /** Where certificates and state live (later issues). */
  dataDir?: string;
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
}

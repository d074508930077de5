/**
 * The logger contract the engine writes to. Two implementations live beside it:
 * `createJsonLogger` (production, one JSON object per line, via pino) and `createPrettyLogger`
 * (`proxykit dev`, human-readable, coloured when the terminal allows).
 */
export interface AccessRecord {
  /** Epoch ms when the request head arrived. */
  time: number;
  method: string;
  host: string;
  /** The request target as the client sent it. */
  path: string;
  status: number;
  /** Response body bytes sent to the client. */
  bytes: number;
  /** From head arrival to the last response byte, ms. */
  durationMs: number;
  clientIp: string;
  /** Index and match string of the route that served it, if any. */
  route?: string;
  /** `pool/url` of the upstream that answered, if any. Never sent to clients. */
  upstream?: string;
  /** Stable error code when the proxy answered with an error (PK_ERR_...). */
  error?: string;
  /** X-Request-Id: the client's when it sent a sane one, else generated. Sent upstream and back. */
  requestId?: string;
  /** Request body bytes received from the client. */
  bytesIn?: number;
  /** Upstream attempts made (1 + retries); absent when no upstream was tried. */
  attempts?: number;
  /** Client country (geo feature), cache status, WAF and rate-limit verdicts, when those features run. */
  country?: string;
  cache?: string;
  waf?: string;
  rateLimit?: string;
}

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** One line per finished request. Only called when `accessEnabled` is true. */
  access(record: AccessRecord): void;
  /** False when access logging is off, so the hot path can skip building the record. */
  accessEnabled: boolean;
  /** Flush buffered output (before exit). */
  flush?(): void;
}

const noop = (): void => {};

/** A logger that drops everything: for tests and embedding. */
export function createSilentLogger(): Logger {
  return { debug: noop, info: noop, warn: noop, error: noop, access: noop, accessEnabled: false };
}

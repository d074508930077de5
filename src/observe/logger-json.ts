/**
 * Production logger: one JSON object per line via pino, written through an asynchronous SonicBoom
 * destination (buffered, flushed on exit). Access records are one line each, `"type":"access"`.
 */
import pino, { type DestinationStream } from 'pino';
import type { AccessRecord, LogFields, Logger } from './logger.js';

export interface JsonLoggerOptions {
  level?: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  /** Access log on/off. Default on. */
  access?: boolean;
  /** File descriptor or path. Default 1 (stdout). Ignored when `stream` is given. */
  dest?: number | string;
  /** Any writable (tests). */
  stream?: DestinationStream;
  /** Write synchronously (default false: async). */
  sync?: boolean;
  /** Buffer this many bytes before writing (async only). Default 4096, flushed every 200 ms. */
  minLength?: number;
  /** Extra fields on every line. */
  base?: LogFields;
}

export function createJsonLogger(opts: JsonLoggerOptions = {}): Logger {
  // Access lines are batched (one write per ~4 KiB instead of one per request), and flushed at
  // least every 200 ms so a quiet proxy's lines still appear promptly.
  const boom = opts.stream ? undefined : pino.destination({ dest: opts.dest ?? 1, sync: opts.sync ?? false, minLength: opts.sync ? 0 : (opts.minLength ?? 4096) });
  if (boom && !opts.sync) {
    const timer = setInterval(() => {
      try {
        boom.flush();
      } catch {
        // not open yet, or nothing buffered
      }
    }, 200);
    timer.unref();
  }
  const log = pino(
    {
      level: opts.level ?? 'info',
      base: opts.base ?? { pid: process.pid },
      timestamp: pino.stdTimeFunctions.epochTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.stream ?? boom!,
  );
  const write = (level: 'debug' | 'info' | 'warn' | 'error') => (msg: string, fields?: LogFields) =>
    fields ? log[level](fields, msg) : log[level](msg);
  const accessEnabled = opts.access !== false && log.isLevelEnabled('info');
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    access(r: AccessRecord) {
      // pino writes its own `time` (now, the end of the request); the record's head-arrival time is `start`.
      const { time, ...rest } = r;
      log.info({ type: 'access', start: time, ...rest });
    },
    accessEnabled,
    flush() {
      try {
        if (boom) boom.flushSync();
        else log.flush();
      } catch {
        // not ready yet (nothing written): nothing to flush
      }
    },
  };
}

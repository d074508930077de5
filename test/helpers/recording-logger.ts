/** A real Logger that keeps every line in memory, for tests that assert on what was logged. */
import type { LogFields, Logger } from '../../src/observe/logger.js';

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields: LogFields;
}

export interface RecordingLogger extends Logger {
  lines: LogLine[];
  /** Lines whose message is exactly `msg`. */
  named(msg: string): LogLine[];
  /** All lines as `level msg`, one per line (for assertion messages). */
  dump(): string;
}

export function recordingLogger(): RecordingLogger {
  const lines: LogLine[] = [];
  const at = (level: LogLine['level']) => (msg: string, fields: LogFields = {}) => void lines.push({ level, msg, fields });
  return {
    lines,
    named: (msg) => lines.filter((l) => l.msg === msg),
    dump: () => lines.map((l) => `${l.level} ${l.msg}`).join('\n'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    access: () => {},
    accessEnabled: false,
  };
}

/**
 * Parsing of the unit strings used in configs: durations (`'30s'`), byte sizes (`'10mb'`) and
 * rates (`'100/s'`). Each parser throws an `Error` whose message says what was expected.
 */
import type { ByteSize, Duration } from './spec.js';

/** `'100/s'`, `'20/m'`, `'1000/h'`: a count of events per second, minute or hour. */
export type Rate = `${number}/s` | `${number}/m` | `${number}/h`;

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const BYTE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };
const RATE_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000 };

const DECIMAL = '(\\d+(?:\\.\\d+)?|\\.\\d+)';
const DURATION_RE = new RegExp(`^${DECIMAL}(ms|s|m|h|d)$`);
const BYTES_RE = new RegExp(`^${DECIMAL}(b|kb|mb|gb)$`, 'i');
const RATE_RE = new RegExp(`^${DECIMAL}\\/(s|m|h)$`);

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/**
 * A duration in milliseconds.
 *
 * @example
 * parseDuration('250ms') // 250
 * parseDuration('1.5s')  // 1500
 * parseDuration(200)     // 200 (a number is already milliseconds)
 * @throws Error when the value is not a non-negative number or `<n>ms|s|m|h|d`.
 */
export function parseDuration(d: Duration): number {
  if (typeof d === 'number') {
    if (Number.isFinite(d) && d >= 0) return d;
    throw new Error(`invalid duration ${show(d)}: expected a non-negative number of milliseconds`);
  }
  const m = typeof d === 'string' ? DURATION_RE.exec(d.trim()) : null;
  if (!m) {
    throw new Error(`invalid duration ${show(d)}: expected a number with a unit, like '250ms', '30s', '5m', '1h' or '7d'`);
  }
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2]!]!);
}

/**
 * A size in bytes (units are binary: `1kb` = 1024 bytes).
 *
 * @example
 * parseByteSize('512kb') // 524288
 * parseByteSize('10mb')  // 10485760
 * parseByteSize(100)     // 100
 * @throws Error when the value is not a non-negative integer or `<n>b|kb|mb|gb`.
 */
export function parseByteSize(s: ByteSize): number {
  if (typeof s === 'number') {
    if (Number.isSafeInteger(s) && s >= 0) return s;
    throw new Error(`invalid size ${show(s)}: expected a non-negative whole number of bytes`);
  }
  const m = typeof s === 'string' ? BYTES_RE.exec(s.trim()) : null;
  if (!m) {
    throw new Error(`invalid size ${show(s)}: expected a number with a unit, like '100b', '512kb', '10mb' or '1gb'`);
  }
  return Math.floor(Number(m[1]) * BYTE_UNITS[m[2]!.toLowerCase()]!);
}

/**
 * A rate: `count` events per `perMs` milliseconds.
 *
 * @example
 * parseRate('100/s') // { count: 100, perMs: 1000 }
 * parseRate('30/m')  // { count: 30, perMs: 60000 }
 * @throws Error when the value is not `<n>/s|m|h` with n > 0.
 */
export function parseRate(r: Rate): { count: number; perMs: number } {
  const m = typeof r === 'string' ? RATE_RE.exec(r.trim()) : null;
  const count = m ? Number(m[1]) : NaN;
  if (!m || !(count > 0)) {
    throw new Error(`invalid rate ${show(r)}: expected a positive count per unit, like '100/s', '30/m' or '1000/h'`);
  }
  return { count, perMs: RATE_UNITS[m[2]!]! };
}

/**
 * Byte ranges served from a stored full response (RFC 9110 §14).
 */
import type { EntryMeta, HeaderGetter } from '../contracts.js';
import { parseEntityTag, strongMatch } from './etag.js';
import { first } from './fields.js';
import { parseHttpDate } from './http-date.js';

export type RangeAnswer = { kind: 'full' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

const FULL: RangeAnswer = { kind: 'full' };
const UNSATISFIABLE: RangeAnswer = { kind: 'unsatisfiable' };

/**
 * RFC 9110 §14: only for a stored 200. One satisfiable byte range → partial (end clamped to the
 * last byte, §14.1.2); a suffix range → the last N bytes. Several ranges, another unit, a
 * malformed or invalid (last < first) range, or a failed If-Range (§13.1.5) → the full response
 * (§14.2 lets a server ignore Range). A valid but unsatisfiable range → 416 (§15.5.17).
 */
export function rangeFor(get: HeaderGetter, meta: EntryMeta, size: number): RangeAnswer {
  if (meta.status !== 200) return FULL;
  const range = get('range');
  if (range === undefined) return FULL;
  const ifRange = get('if-range');
  if (ifRange !== undefined && !ifRangeHolds(ifRange, meta)) return FULL;

  const eq = range.indexOf('=');
  if (eq === -1 || range.slice(0, eq).trim().toLowerCase() !== 'bytes') return FULL;
  const spec = range.slice(eq + 1).trim();
  if (spec.indexOf(',') !== -1) return FULL; // several ranges: served whole (no multipart)
  const dash = spec.indexOf('-');
  if (dash === -1) return FULL;
  const a = spec.slice(0, dash).trim();
  const b = spec.slice(dash + 1).trim();
  if (a.length === 0) {
    // suffix-byte-range-spec: satisfiable when the length is non-zero and so is the representation.
    const n = digits(b);
    if (n === null) return FULL;
    if (n === 0 || size === 0) return UNSATISFIABLE;
    return { kind: 'partial', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = digits(a);
  if (start === null) return FULL;
  let end = size - 1;
  if (b.length > 0) {
    const last = digits(b);
    if (last === null || last < start) return FULL; // invalid byte-range-spec (§14.1.1)
    end = Math.min(last, size - 1);
  }
  // §14.1.1: satisfiable when first-pos is less than the representation length.
  if (start >= size) return UNSATISFIABLE;
  return { kind: 'partial', start, end };
}

function digits(s: string): number | null {
  if (s.length === 0) return null;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return null;
  }
  return Number(s);
}

/**
 * §13.1.5: an entity-tag must strongly match the stored ETag; a date must equal the stored
 * Last-Modified exactly, and only a strong Last-Modified counts (§8.8.2.2: at least a second
 * before the response's Date).
 */
function ifRangeHolds(value: string, meta: EntryMeta): boolean {
  const v = value.trim();
  if (v.startsWith('"') || v.startsWith('W/') || v.startsWith('w/')) {
    return meta.etag !== null && !parseEntityTag(v).weak && strongMatch(v, meta.etag);
  }
  const d = parseHttpDate(v);
  if (d === null || meta.lastModified === null || d !== meta.lastModified) return false;
  const date = parseHttpDate(first(meta.headers, 'date'), meta.responseTime) ?? meta.responseTime;
  return date - meta.lastModified >= 1000;
}

/**
 * Small helpers over flat header lists (`[name, value, …]`) and list-based field values
 * (RFC 9110 §5.6.1). Everything here is allocation-light: the hit path uses some of it.
 */
import type { HeaderList } from '../contracts.js';

/** ASCII-lower-cases `s` only when it has an upper-case letter (no allocation otherwise). */
export function lower(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) return s.toLowerCase();
  }
  return s;
}

/** Case-insensitive name comparison against an already lower-case name. */
export function nameIs(name: string, lowerName: string): boolean {
  return name.length === lowerName.length && (name === lowerName || name.toLowerCase() === lowerName);
}

/** The first line of a field, or undefined. */
export function first(headers: HeaderList, lowerName: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) {
    if (nameIs(headers[i], lowerName)) return headers[i + 1];
  }
  return undefined;
}

/** All lines of a field joined with `, ` (RFC 9110 §5.3), or undefined when absent. */
export function joined(headers: HeaderList, lowerName: string): string | undefined {
  let out: string | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    if (nameIs(headers[i], lowerName)) out = out === undefined ? headers[i + 1] : `${out}, ${headers[i + 1]}`;
  }
  return out;
}

/** RFC 9110 §5.6.3: optional whitespace. */
export function isOws(c: number): boolean {
  return c === 32 || c === 9;
}

/** RFC 9110 §5.6.2: tchar. */
export function isTchar(c: number): boolean {
  return (
    (c >= 97 && c <= 122) || // a-z
    (c >= 65 && c <= 90) || // A-Z
    (c >= 48 && c <= 57) || // 0-9
    c === 33 || // !
    (c >= 35 && c <= 39) || // # $ % & '
    c === 42 || // *
    c === 43 || // +
    c === 45 || // -
    c === 46 || // .
    c === 94 || // ^
    c === 95 || // _
    c === 96 || // `
    c === 124 || // |
    c === 126 // ~
  );
}

export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isTchar(s.charCodeAt(i))) return false;
  return true;
}

/** Trims OWS (SP / HTAB) from both ends. */
export function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isOws(s.charCodeAt(a))) a++;
  while (b > a && isOws(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/**
 * Splits a list-based field value on commas that are not inside a quoted-string (RFC 9110 §5.6.1,
 * §5.6.4), trimming OWS from each member and dropping empty ones.
 */
export function splitList(value: string): string[] {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (quoted) {
      if (c === 92) i++; // quoted-pair
      else if (c === 34) quoted = false;
    } else if (c === 34) {
      quoted = true;
    } else if (c === 44) {
      const m = trimOws(value.slice(start, i));
      if (m.length > 0) out.push(m);
      start = i + 1;
    }
  }
  const m = trimOws(value.slice(start));
  if (m.length > 0) out.push(m);
  return out;
}

/** Lower-case field names listed across every line of a list-based field (e.g. Vary, Connection). */
export function fieldNames(headers: HeaderList, lowerName: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (!nameIs(headers[i], lowerName)) continue;
    for (const m of splitList(headers[i + 1])) {
      const n = m.toLowerCase();
      if (!out.includes(n)) out.push(n);
    }
  }
  return out;
}

/**
 * RFC 9111 §1.2.2 delta-seconds: 1*DIGIT. Values past 2^31 become 2^31. Returns null when invalid
 * (empty, signs, letters). A decimal fraction after whole digits (`3600.0`) is tolerated and
 * truncated: the grammar does not allow it, but nothing is gained by refusing it.
 */
export function deltaSeconds(value: string | true | undefined): number | null {
  if (value === undefined || value === true || value.length === 0) return null;
  let n = 0;
  let i = 0;
  for (; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 48 || c > 57) break;
    n = n * 10 + (c - 48);
  }
  if (i === 0) return null;
  if (i < value.length) {
    // only `.DIGITS` may follow
    if (value.charCodeAt(i) !== 46 || i + 1 === value.length) return null;
    for (let j = i + 1; j < value.length; j++) {
      const c = value.charCodeAt(j);
      if (c < 48 || c > 57) return null;
    }
  }
  return n > DELTA_MAX ? DELTA_MAX : n;
}

/** RFC 9111 §1.2.2: the value to use for a delta-seconds too large to represent. */
export const DELTA_MAX = 2147483648;

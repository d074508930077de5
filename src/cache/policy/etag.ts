/**
 * Entity tags (RFC 9110 §8.8.3) and their comparison (§8.8.3.2), read leniently: an unquoted tag
 * (`abc`) is taken as `"abc"`, and `w/` is accepted for `W/`. Other damage (e.g. `W\"x"`) is
 * compared as an opaque string, so a tag still matches itself.
 */
import { splitList } from './fields.js';

/** The weakness flag and the opaque-tag without quotes. */
export interface EntityTag {
  weak: boolean;
  opaque: string;
}

export function parseEntityTag(value: string): EntityTag {
  let s = value.trim();
  let weak = false;
  if (s.length > 2 && (s.charCodeAt(0) === 87 || s.charCodeAt(0) === 119) && s.charCodeAt(1) === 47) {
    weak = true;
    s = s.slice(2);
  }
  if (s.length >= 2 && s.charCodeAt(0) === 34 && s.charCodeAt(s.length - 1) === 34) s = s.slice(1, -1);
  return { weak, opaque: s };
}

/** §8.8.3.2 strong comparison: both strong and identical. */
export function strongMatch(a: string, b: string): boolean {
  const x = parseEntityTag(a);
  const y = parseEntityTag(b);
  return !x.weak && !y.weak && x.opaque === y.opaque;
}

/** §8.8.3.2 weak comparison: identical opaque-tags, either or both may be weak. */
export function weakMatch(a: string, b: string): boolean {
  return parseEntityTag(a).opaque === parseEntityTag(b).opaque;
}

/**
 * Whether an If-Match / If-None-Match list (`*` or `#entity-tag`) matches the stored ETag
 * (`etag` null: the stored response has none; `*` still matches, a representation exists).
 */
export function listMatches(list: string, etag: string | null, strong: boolean): boolean {
  const t = list.trim();
  if (t === '*') return true;
  if (etag === null) return false;
  for (const m of splitList(t)) {
    if (m === '*') return true;
    if (strong ? strongMatch(m, etag) : weakMatch(m, etag)) return true;
  }
  return false;
}

/** The ETag as a well-formed entity-tag for an If-None-Match we send: a bare tag gets its quotes. */
export function quotedEntityTag(etag: string): string {
  const s = etag.trim();
  return s.indexOf('"') === -1 ? `"${s}"` : s;
}

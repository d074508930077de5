/**
 * Secondary cache keys (RFC 9111 §4.1): Vary, with the request's selecting fields normalised so
 * that semantically equal requests share a variant.
 */
import type { CacheEntry, HeaderGetter, HeaderList } from '../contracts.js';
import { first, isOws, lower, nameIs, splitList } from './fields.js';

/** Lower-case field names in Vary, or `'*'` when any member is `*` (§4.1: "always fails to match"). */
export function parseVary(headers: HeaderList): string[] | '*' {
  let out: string[] | null = null;
  for (let i = 0; i < headers.length; i += 2) {
    if (!nameIs(headers[i], 'vary')) continue;
    for (const m of splitList(headers[i + 1])) {
      if (m === '*') return '*';
      const n = m.toLowerCase();
      out ??= [];
      if (!out.includes(n)) out.push(n);
    }
  }
  return out ?? [];
}

/** Content negotiation fields whose members are unordered, case-insensitive lists (RFC 9110 §12.5). */
const CASE_INSENSITIVE_LISTS = new Set(['accept-encoding', 'accept-language', 'accept-charset']);

/**
 * §4.1: "normalizing both header field values in a way that is known to have identical semantics".
 * - Any field: the lines combined (the getter joins them with `, `), list members trimmed of OWS
 *   and re-joined with `,`, empty members dropped (RFC 9110 §5.6.1).
 * - Accept-Encoding / -Language / -Charset: additionally lower-cased, whitespace inside members
 *   removed (`en;q=0.5` = `en; q=0.5`) and members sorted (their order carries no meaning, RFC
 *   9110 §12.4.2 — preference is by qvalue).
 * - Accept: whitespace inside members (outside quotes) removed and members sorted.
 */
export function normaliseField(name: string, value: string): string {
  const structured = CASE_INSENSITIVE_LISTS.has(name) || name === 'accept';
  if (!structured) return isPlain(value) ? value : splitList(value).join(',');
  // Browsers send few distinct Accept* values: memoise (this runs on every lookup of such a variant).
  let memo = memos.get(name);
  if (memo === undefined) memos.set(name, (memo = new Map()));
  let out = memo.get(value);
  if (out === undefined) {
    out = normaliseList(name, value);
    if (memo.size >= MEMO_MAX) memo.clear();
    memo.set(value, out);
  }
  return out;
}

const memos = new Map<string, Map<string, string>>();
const MEMO_MAX = 256;

function normaliseList(name: string, value: string): string {
  const members = splitList(value);
  for (let i = 0; i < members.length; i++) {
    let m = stripWs(members[i]);
    if (name !== 'accept') m = m.toLowerCase();
    members[i] = m;
  }
  members.sort();
  return members.join(',');
}

/** No comma and no leading / trailing OWS: nothing to normalise (the common case, no allocation). */
function isPlain(v: string): boolean {
  if (v.length === 0) return true;
  if (isOws(v.charCodeAt(0)) || isOws(v.charCodeAt(v.length - 1))) return false;
  return v.indexOf(',') === -1;
}

/** Removes whitespace outside quoted strings. */
function stripWs(m: string): string {
  let ws = false;
  for (let i = 0; i < m.length; i++) {
    if (isOws(m.charCodeAt(i))) {
      ws = true;
      break;
    }
  }
  if (!ws) return m;
  let out = '';
  let quoted = false;
  for (let i = 0; i < m.length; i++) {
    const c = m.charCodeAt(i);
    if (quoted) {
      out += m[i];
      if (c === 92 && i + 1 < m.length) out += m[++i];
      else if (c === 34) quoted = false;
    } else if (c === 34) {
      quoted = true;
      out += m[i];
    } else if (!isOws(c)) out += m[i];
  }
  return out;
}

/** Normalised values of the named (lower-case) request fields, for EntryMeta.varyValues. */
export function varyValues(names: readonly string[], get: HeaderGetter): Array<string | null> {
  const out: Array<string | null> = new Array(names.length);
  for (let i = 0; i < names.length; i++) {
    const v = get(names[i]);
    out[i] = v === undefined ? null : normaliseField(names[i], v);
  }
  return out;
}

/**
 * The stored variant (if any) whose Vary'd request fields match this request (RFC 9111 §4.1);
 * entries are most-recent first, the first match wins ("the most recent" of several, §4.1).
 * A field absent from both requests matches; absent from only one does not.
 *
 * One more match than plain equality: when only Accept-Language differs, a stored response whose
 * single Content-Language is this request's unique most-preferred language (highest qvalue) is
 * what the origin would choose again (RFC 9110 §12.5.4), so it is selected.
 */
export function selectVariant(entries: readonly CacheEntry[], get: HeaderGetter): CacheEntry | null {
  let seen: Map<string, string | null> | null = null;
  for (let e = 0; e < entries.length; e++) {
    const entry = entries[e];
    const names = entry.meta.vary;
    const stored = entry.meta.varyValues;
    let ok = true;
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      let value: string | null | undefined;
      if (entries.length === 1) {
        const raw = get(name);
        value = raw === undefined ? null : normaliseField(name, raw);
      } else {
        seen ??= new Map();
        value = seen.get(name);
        if (value === undefined) {
          const raw = get(name);
          value = raw === undefined ? null : normaliseField(name, raw);
          seen.set(name, value);
        }
      }
      if (value === stored[i]) continue;
      if (name === 'accept-language' && value !== null && languageSelects(entry.meta.headers, value)) continue;
      ok = false;
      break;
    }
    if (ok) return entry;
  }
  return null;
}

/** The stored response's only Content-Language equals the request's unique top-preference language range. */
function languageSelects(headers: readonly string[], acceptLanguage: string): boolean {
  const cl = first(headers, 'content-language');
  if (cl === undefined || cl.indexOf(',') !== -1) return false;
  const lang = lower(cl.trim());
  let best = '';
  let bestQ = -1;
  let tie = false;
  for (const m of acceptLanguage.split(',')) {
    const semi = m.indexOf(';');
    const range = semi === -1 ? m : m.slice(0, semi);
    let q = 1;
    if (semi !== -1) {
      const param = m.slice(semi + 1);
      if (!param.startsWith('q=')) continue;
      q = Number(param.slice(2));
      if (!Number.isFinite(q)) continue;
    }
    if (q > bestQ) {
      best = range;
      bestQ = q;
      tie = false;
    } else if (q === bestQ) tie = true;
  }
  return !tie && bestQ > 0 && best === lang;
}

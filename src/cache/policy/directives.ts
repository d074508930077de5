/**
 * Cache directives: Cache-Control (RFC 9111 §5.2), CDN-Cache-Control (RFC 9213) and the request's
 * legacy Pragma (RFC 9111 §5.4).
 */
import type { Directives, HeaderGetter, HeaderList } from '../contracts.js';
import { isOws, isTchar, joined } from './fields.js';
import { parseSfDictionary } from './sf-dictionary.js';

const EMPTY: Directives = new Map();

/** Directives whose qualified forms list field names; repeats merge instead of first-wins. */
const FIELD_LISTS = new Set(['no-cache', 'private']);

/**
 * Parses a Cache-Control value (RFC 9111 §5.2: `#( token [ "=" ( token / quoted-string ) ] )`).
 *
 * - Names are case-insensitive (§5.2) and returned lower-case; quoted arguments are unescaped.
 * - Commas inside quoted strings do not split (so `ext="max-age=5"` is not a max-age).
 * - A repeated directive keeps its first occurrence (§4.2.1: "either the first occurrence should
 *   be used or the response should be considered stale"); `no-cache` / `private` are merged the
 *   most restrictive way (an unqualified one wins over field lists, lists are concatenated).
 * - A malformed member whose name is still a token (`max-age =5`, `max-age= 5`) is kept with an
 *   empty (invalid) argument: a garbled `max-age` must make the response stale, not heuristically
 *   fresh, and a garbled `no-store` still means no-store. A garbled or empty field list on
 *   `no-cache` / `private` reads as the unqualified directive.
 */
export function parseDirectives(value: string | undefined): Directives {
  if (value === undefined || value.length === 0) return EMPTY;
  const out = new Map<string, string | true>();
  const s = value;
  const n = s.length;
  let i = 0;
  while (i < n) {
    // skip separators
    let c = s.charCodeAt(i);
    if (c === 44 || isOws(c)) {
      i++;
      continue;
    }
    const nameStart = i;
    while (i < n && isTchar(s.charCodeAt(i))) i++;
    const name = s.slice(nameStart, i).toLowerCase();
    let arg: string | true = true;
    let ok = name.length > 0;
    if (ok && i < n && s.charCodeAt(i) === 61 /* = */) {
      i++;
      if (i < n && s.charCodeAt(i) === 34 /* " */) {
        i++;
        let q = '';
        let closed = false;
        while (i < n) {
          c = s.charCodeAt(i++);
          if (c === 92 && i < n) q += s[i++];
          else if (c === 34) {
            closed = true;
            break;
          } else q += String.fromCharCode(c);
        }
        arg = q;
        ok = closed;
      } else {
        const start = i;
        while (i < n && isTchar(s.charCodeAt(i))) i++;
        arg = s.slice(start, i);
      }
    }
    // After the member only OWS may come before the next comma.
    while (i < n && isOws(s.charCodeAt(i))) i++;
    if (i < n && s.charCodeAt(i) !== 44) {
      ok = false;
      i = skipMember(s, i);
    }
    if (name.length === 0) continue;
    if (FIELD_LISTS.has(name)) {
      // A garbled or empty field list reads as the unqualified (more restrictive) directive.
      add(out, name, ok && arg !== true && fieldList(arg).length > 0 ? arg : true);
    } else {
      add(out, name, ok ? arg : '');
    }
  }
  return out;
}

/** Advances past the rest of a malformed member, honouring quoted strings. */
function skipMember(s: string, i: number): number {
  let quoted = false;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (quoted) {
      if (c === 92) i++;
      else if (c === 34) quoted = false;
    } else if (c === 34) quoted = true;
    else if (c === 44) return i;
  }
  return i;
}

function add(out: Map<string, string | true>, name: string, arg: string | true): void {
  const prev = out.get(name);
  if (prev === undefined) {
    out.set(name, arg);
    return;
  }
  if (!FIELD_LISTS.has(name) || prev === true) return;
  // RFC 9111 §4.2.1: conflicting directives → the most restrictive.
  out.set(name, arg === true ? true : `${prev}, ${arg}`);
}

/** CDN-Cache-Control members that take an Integer (RFC 9213 §2.1 maps them to sf-integer). */
const INTEGER_DIRECTIVES = new Set(['max-age', 's-maxage', 'stale-while-revalidate', 'stale-if-error']);

/**
 * CDN-Cache-Control (RFC 9213 §2.1) as directives, or null when it is absent, empty, or not a valid
 * Dictionary — then the cache falls back to Cache-Control. A directive whose value has the wrong
 * type (`max-age="60"`, `max-age=1.5`) makes the whole field invalid too: ignoring just that member
 * would silently switch off the origin's Cache-Control (e.g. its no-store), which is the less safe
 * reading.
 */
export function targetedDirectives(value: string | undefined): Directives | null {
  if (value === undefined) return null;
  const dict = parseSfDictionary(value);
  if (dict === null || dict.size === 0) return null;
  const out = new Map<string, string | true>();
  for (const [name, m] of dict) {
    if (INTEGER_DIRECTIVES.has(name)) {
      if (m.t !== 'int') return null;
      out.set(name, String(m.v));
      continue;
    }
    switch (m.t) {
      case 'bool':
        if (m.v) out.set(name, true);
        break; // `?0` switches a directive off
      case 'str':
      case 'tok':
        out.set(name, FIELD_LISTS.has(name) && fieldList(m.v).length === 0 ? true : m.v);
        break;
      case 'int':
      case 'dec':
        out.set(name, String(m.v));
        break;
      default:
        out.set(name, true);
    }
  }
  return out;
}

/** Directives this cache obeys on a response: CDN-Cache-Control (RFC 9213) when present and valid, else Cache-Control. */
export function responseDirectives(headers: HeaderList): Directives {
  const cdn = targetedDirectives(joined(headers, 'cdn-cache-control'));
  if (cdn !== null) return cdn;
  return parseDirectives(joined(headers, 'cache-control'));
}

// Request directives are parsed on every lookup, and clients send few distinct values: memoise.
const memo = new Map<string, Directives>();
const MEMO_MAX = 256;
const PRAGMA_NO_CACHE: Directives = new Map([['no-cache', true]]);

/** Request Cache-Control; `Pragma: no-cache` counts as no-cache only when there is no Cache-Control (RFC 9111 §5.4). */
export function requestDirectives(get: HeaderGetter): Directives {
  const cc = get('cache-control');
  if (cc === undefined) {
    const pragma = get('pragma');
    return pragma !== undefined && hasNoCache(pragma) ? PRAGMA_NO_CACHE : EMPTY;
  }
  let d = memo.get(cc);
  if (d === undefined) {
    d = parseDirectives(cc);
    if (memo.size >= MEMO_MAX) memo.clear();
    memo.set(cc, d);
  }
  return d;
}

/** `Pragma` is `1#pragma-directive`; only `no-cache` means anything (RFC 9111 §5.4). */
function hasNoCache(pragma: string): boolean {
  const p = parseDirectives(pragma);
  return p.has('no-cache');
}

/** A directive's field-name list (`no-cache="a, b"`), lower-case; empty for the unqualified form. */
export function fieldList(arg: string | true | undefined): string[] {
  if (arg === undefined || arg === true) return [];
  const out: string[] = [];
  for (const part of arg.split(',')) {
    const name = part.trim().toLowerCase();
    if (name.length > 0) out.push(name);
  }
  return out;
}

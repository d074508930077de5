/**
 * Validation (RFC 9111 §4.3): the conditional request the cache sends (§4.3.1), which stored
 * response a 304 selects (§4.3.4), and freshening the stored response from it (§3.2, §4.3.4).
 */
import type { CachePolicyOptions, EntryMeta, HeaderList } from '../contracts.js';
import { responseDirectives } from './directives.js';
import { parseEntityTag, quotedEntityTag, strongMatch, weakMatch } from './etag.js';
import { first, nameIs } from './fields.js';
import { formatHttpDate, parseHttpDate } from './http-date.js';
import { evaluate, storedHeaders, type RequestFacts, type StoreVerdict } from './storable.js';

/**
 * §4.3.1: `if-none-match` with the stored ETag (a bare tag gets its quotes) and `if-modified-since`
 * with the stored Last-Modified value as received; empty when the entry has no validator.
 */
export function validationHeaders(meta: EntryMeta): string[] {
  const out: string[] = [];
  if (meta.etag !== null) out.push('if-none-match', quotedEntityTag(meta.etag));
  if (meta.lastModified !== null) {
    const raw = first(meta.headers, 'last-modified')?.trim();
    out.push('if-modified-since', raw !== undefined && raw.length > 0 ? raw : formatHttpDate(meta.lastModified));
  }
  return out;
}

/**
 * §4.3.4: does this 304 select this stored response?
 * - A strong ETag in the 304 selects a stored response with the same strong ETag, nothing else.
 * - A weak ETag selects a stored response whose ETag matches weakly.
 * - With no ETag, a Last-Modified selects a stored response with the same Last-Modified.
 * - With no validator at all, §4.3.4 selects the only stored response when it lacks validators
 *   too; this cache also accepts it when the entry has validators, because the 304 answers a
 *   conditional request built from exactly this entry's validators (deviation: origins often omit
 *   ETag from 304s despite RFC 9110 §15.4.5).
 */
export function notModifiedMatches(meta: EntryMeta, headers304: HeaderList): boolean {
  const et = first(headers304, 'etag');
  if (et !== undefined) {
    if (meta.etag === null) return false;
    return parseEntityTag(et).weak ? weakMatch(et, meta.etag) : strongMatch(et, meta.etag);
  }
  const lm = first(headers304, 'last-modified');
  if (lm !== undefined) {
    const t = parseHttpDate(lm);
    return t !== null && meta.lastModified === t;
  }
  return true;
}

/**
 * §3.2: the stored header section updated from a 304: every field the 304 carries replaces the
 * stored lines of that name, except Content-Length (§3.2: never updated) and fields never stored
 * (§3.1). A 304 without Date gets one for its receipt time (RFC 9110 §6.6.1), replacing the old
 * Date, so that age is computed from this response.
 */
export function mergeHeaders(stored: readonly string[], headers304: HeaderList, responseTime: number): string[] {
  const update = storedHeaders(headers304, ['content-length']);
  const names = new Set<string>();
  for (let i = 0; i < update.length; i += 2) names.add(update[i].toLowerCase());
  if (first(headers304, 'date') === undefined) {
    names.add('date');
    update.push('Date', formatHttpDate(responseTime));
  }
  const out: string[] = [];
  for (let i = 0; i < stored.length; i += 2) {
    if (!names.has(stored[i].toLowerCase())) out.push(stored[i], stored[i + 1]);
  }
  for (let i = 0; i < update.length; i++) out.push(update[i]);
  // Age is not stored, but the 304's own Age counts for the new corrected initial age (§4.2.3).
  for (let i = 0; i < headers304.length; i += 2) {
    if (nameIs(headers304[i], 'age')) {
      out.push(headers304[i], headers304[i + 1]);
      break;
    }
  }
  return out;
}

/**
 * Like `freshen`, but says when the updated response may no longer be stored at all (the 304
 * brought no-store, private, Vary: *…); the caller may then drop the entry.
 */
export function refreshed(meta: EntryMeta, req: RequestFacts, headers304: HeaderList, requestTime: number, responseTime: number, opts: CachePolicyOptions): StoreVerdict {
  const merged = mergeHeaders(meta.headers, headers304, responseTime);
  return evaluate(req, meta.status, merged, responseDirectives(merged), requestTime, responseTime, opts, { vary: meta.vary, varyValues: meta.varyValues });
}

/**
 * RFC 9111 §3.2/§4.3.4: metadata after a 304 freshened the stored response (merged headers,
 * recomputed freshness and age from the 304's times). If the merged response is no longer
 * storable, the result is marked `noCache` with no lifetime, so it is never reused without
 * another validation.
 */
export function freshen(meta: EntryMeta, req: RequestFacts, headers304: HeaderList, requestTime: number, responseTime: number, opts: CachePolicyOptions): EntryMeta {
  const v = refreshed(meta, req, headers304, requestTime, responseTime, opts);
  if (v.store) return v.meta;
  const merged = storedHeaders(mergeHeaders(meta.headers, headers304, responseTime), []);
  return {
    ...meta,
    headers: merged,
    requestTime,
    responseTime,
    initialAge: 0,
    lifetime: 0,
    heuristic: false,
    staleWhileRevalidate: 0,
    staleIfError: 0,
    noCache: true,
    etag: first(merged, 'etag')?.trim() ?? null,
    lastModified: parseHttpDate(first(merged, 'last-modified'), responseTime),
  };
}

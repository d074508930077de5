/**
 * A client's own preconditions evaluated against a stored response (RFC 9110 §13.2.2 order;
 * RFC 9111 §4.3.2 for If-Modified-Since without a stored Last-Modified).
 */
import type { EntryMeta, HeaderGetter } from '../contracts.js';
import { listMatches } from './etag.js';
import { first } from './fields.js';
import { parseHttpDate } from './http-date.js';

/** RFC 9110 §13.2.2 preconditions evaluated against the stored response for a GET/HEAD: 304, 412, or null (serve it). */
export function clientPrecondition(method: string, get: HeaderGetter, meta: EntryMeta): 304 | 412 | null {
  // §13.2.1: preconditions are ignored when the response without them would not be 2xx.
  if (meta.status < 200 || meta.status > 299) return null;
  // Step 1 (§13.1.1): If-Match, strong comparison; `*` matches the stored representation.
  const ifMatch = get('if-match');
  if (ifMatch !== undefined) {
    if (!listMatches(ifMatch, meta.etag, true)) return 412;
  } else {
    // Step 2 (§13.1.4): If-Unmodified-Since, only with a modification date; an invalid date is ignored.
    const ius = get('if-unmodified-since');
    if (ius !== undefined && meta.lastModified !== null) {
      const d = parseHttpDate(ius);
      if (d !== null && meta.lastModified > d) return 412;
    }
  }
  const safe = method === 'GET' || method === 'HEAD';
  // Step 3 (§13.1.2): If-None-Match, weak comparison; when present, If-Modified-Since is ignored.
  const inm = get('if-none-match');
  if (inm !== undefined) {
    if (listMatches(inm, meta.etag, false)) return safe ? 304 : 412;
    return null;
  }
  // Step 4 (§13.1.3): If-Modified-Since, GET/HEAD only; an invalid date is ignored. Without a stored
  // Last-Modified, RFC 9111 §4.3.2 says to use its Date (or when it was received).
  if (safe) {
    const ims = get('if-modified-since');
    if (ims !== undefined) {
      const d = parseHttpDate(ims);
      if (d !== null && modifiedAt(meta) <= d) return 304;
    }
  }
  return null;
}

function modifiedAt(meta: EntryMeta): number {
  if (meta.lastModified !== null) return meta.lastModified;
  const date = parseHttpDate(first(meta.headers, 'date'), meta.responseTime);
  return date ?? Math.floor(meta.responseTime / 1000) * 1000; // HTTP-dates have whole seconds
}

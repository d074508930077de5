/**
 * Whether a response may be stored by a shared cache (RFC 9111 §3, §3.5) and the metadata every
 * later decision needs (freshness §4.2, Vary §4.1, validators, tags), and which header fields are
 * stored (§3.1).
 */
import type { CachePolicyOptions, Directives, EntryMeta, HeaderGetter, HeaderList } from '../contracts.js';
import { fieldList, requestDirectives, responseDirectives } from './directives.js';
import { deltaSeconds, fieldNames, first } from './fields.js';
import { ageValue, correctedInitialAge, freshnessLifetime, heuristicAllowed } from './freshness.js';
import { formatHttpDate, parseHttpDate } from './http-date.js';
import { parseVary, varyValues } from './vary.js';

export interface RequestFacts {
  /** Upper-case. */
  method: string;
  get: HeaderGetter;
}

export type StoreVerdict = { store: true; meta: EntryMeta } | { store: false; reason: string };

/**
 * Status codes this cache "understands" (RFC 9111 §3, §5.2.2.3 must-understand): those defined by
 * RFC 9110 §15, plus 428/429/431 (RFC 6585) and 451 (RFC 7725).
 */
const UNDERSTOOD: ReadonlySet<number> = new Set([
  200, 201, 202, 203, 204, 205, 206, 300, 301, 302, 303, 304, 305, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409,
  410, 411, 412, 413, 414, 415, 416, 417, 421, 422, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505,
]);

/**
 * Fields never stored (RFC 9111 §3.1): hop-by-hop fields (RFC 9110 §7.6.1; the fields Connection
 * lists are added per response), fields specific to the proxy the cache used (Proxy-Authenticate,
 * Proxy-Authentication-Info, Proxy-Authorization), and Age, which the cache regenerates (§5.1).
 */
const NEVER_STORED: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authenticate',
  'proxy-authentication-info',
  'proxy-authorization',
  'age',
]);

const no = (reason: string): StoreVerdict => ({ store: false, reason });

/**
 * May this response (to this request) be stored (RFC 9111 §3, §3.5), and with what metadata.
 *
 * Refusals (reason): `method` (only GET responses are stored; HEAD is answered from them), `status`
 * (non-final, 206 — partial content is not combined, §3.3 —, 304, or no explicit freshness and not
 * heuristically cacheable), `must-understand` (§5.2.2.3 with an unknown status), `no-store`
 * (response, or the request's own, §5.2.1.5),
 * `private`, `authorization` (§3.5), `vary-star` (§4.1: would never match), and `no-cache` /
 * `no-freshness` when storing is useless (always stale or always validated, with no validator
 * and no stale-if-error / stale-while-revalidate window to use it in).
 *
 * Set-Cookie is stored and replayed like any other field: RFC 9111 does not exclude it, and the
 * conformance suite requires it (`headers-store-Set-Cookie`). Origins mark per-user responses
 * `private` (or `no-cache="set-cookie"`, which drops just that field); a route can bypass the cache
 * for requests carrying a session cookie.
 */
export function evaluateResponse(req: RequestFacts, status: number, headers: HeaderList, requestTime: number, responseTime: number, opts: CachePolicyOptions): StoreVerdict {
  // §3: the request method is understood by the cache (here: GET; §9.3.1 of RFC 9110).
  if (req.method !== 'GET') return no('method');
  // §3: the response status code is final; 206 is not combined (§3.3 allows not storing
  // incomplete responses); a 304 only ever updates stored responses (§4.3.4).
  if (status < 200 || status > 599 || status === 206 || status === 304) return no('status');
  // §5.2.1.5: request no-store: "MUST NOT store any part of either this request or any response to it".
  if (requestDirectives(req.get).has('no-store')) return no('no-store');
  return evaluate(req, status, headers, responseDirectives(headers), requestTime, responseTime, opts);
}

/** §3 from the directives on; shared by the store path and by freshening after a 304. */
export function evaluate(
  req: RequestFacts,
  status: number,
  headers: HeaderList,
  cc: Directives,
  requestTime: number,
  responseTime: number,
  opts: CachePolicyOptions,
  keepVary?: { vary: string[]; varyValues: Array<string | null> },
): StoreVerdict {
  const understood = UNDERSTOOD.has(status);
  const mustUnderstand = cc.has('must-understand');
  // §5.2.2.3: must-understand: store only if the status code is understood, and then no-store is overridden.
  if (mustUnderstand && !understood) return no('must-understand');
  const ignore = opts.ignoreOriginNoCache;
  // §5.2.2.5 no-store.
  if (!ignore && cc.has('no-store') && !mustUnderstand) return no('no-store');
  // §5.2.2.7: unqualified private: a shared cache MUST NOT store. The qualified form drops the fields.
  const priv = cc.get('private');
  if (!ignore && priv === true) return no('private');
  // §3.5: a request with Authorization only with public, s-maxage or must-revalidate.
  if (req.get('authorization') !== undefined && !cc.has('public') && !cc.has('s-maxage') && !cc.has('must-revalidate')) {
    return no('authorization');
  }
  // §4.1: "A stored response with a Vary header field value containing a member "*" always fails to match".
  const vary = parseVary(headers);
  if (vary === '*') return no('vary-star');

  // RFC 9110 §6.6.1: a missing (or unusable) Date is taken as the time the response was received.
  const dateRaw = first(headers, 'date');
  const dateValue = parseHttpDate(dateRaw, responseTime) ?? responseTime;
  const life = freshnessLifetime(status, headers, cc, dateValue, opts);
  // §3: storable only with explicit freshness, a heuristically cacheable status, or public.
  if (!life.explicit && !heuristicAllowed(status, cc)) return no('status');

  const noCacheArg = cc.get('no-cache');
  const noCache = noCacheArg === true && !ignore;
  // §5.2.2.2 must-revalidate, §5.2.2.8 proxy-revalidate, §5.2.2.10 s-maxage: never served stale.
  const mustRevalidate = cc.has('must-revalidate') || cc.has('proxy-revalidate') || cc.has('s-maxage');
  // RFC 5861 §3 / §4, with the route's defaults when the origin gives none.
  const swr = deltaSeconds(cc.get('stale-while-revalidate')) ?? opts.staleWhileRevalidate ?? 0;
  const sie = deltaSeconds(cc.get('stale-if-error')) ?? opts.staleIfError ?? 0;
  const etag = first(headers, 'etag')?.trim() ?? null;
  const lastModified = parseHttpDate(first(headers, 'last-modified'), dateValue);

  const validator = etag !== null || lastModified !== null;
  const servable = life.lifetime > 0 && !noCache;
  const staleUse = !noCache && !mustRevalidate && (swr > 0 || sie > 0);
  if (!servable && !validator && !staleUse) return no(noCache ? 'no-cache' : 'no-freshness');

  // §5.2.2.4 / §5.2.2.7 qualified forms: those fields are not stored (a shared cache honours both).
  const drop = [...fieldList(noCacheArg), ...fieldList(priv)];
  const stored = storedHeaders(headers, drop);
  if (dateRaw === undefined) stored.push('Date', formatHttpDate(responseTime));

  const names = vary;
  const keep = keepVary !== undefined && sameNames(keepVary.vary, names);
  const meta: EntryMeta = {
    status,
    headers: stored,
    requestTime,
    responseTime,
    initialAge: correctedInitialAge(ageValue(headers), dateValue, requestTime, responseTime),
    lifetime: life.lifetime,
    heuristic: life.heuristic,
    staleWhileRevalidate: Math.max(0, Math.floor(swr)),
    staleIfError: Math.max(0, Math.floor(sie)),
    mustRevalidate,
    noCache,
    vary: names,
    varyValues: keep ? keepVary.varyValues.slice() : varyValues(names, req.get),
    tags: tagsOf(headers),
    etag,
    lastModified,
  };
  return { store: true, meta };
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The header fields to store (§3.1): everything except hop-by-hop fields and those Connection
 * names, proxy-specific fields, Age, and `extra` (lower-case names, e.g. from no-cache="…").
 * Original case and order are kept.
 */
export function storedHeaders(headers: HeaderList, extra: readonly string[]): string[] {
  const connection = fieldNames(headers, 'connection');
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i];
    const l = name.toLowerCase();
    if (NEVER_STORED.has(l) || connection.includes(l) || extra.includes(l)) continue;
    out.push(name, headers[i + 1]);
  }
  return out;
}

/** Surrogate keys: `Surrogate-Key` (space separated) and `Cache-Tag` (comma separated), deduplicated. */
/** Surrogate keys for purge-by-tag. Default sources: Surrogate-Key (space separated) and Cache-Tag (comma separated). */
export const DEFAULT_TAG_HEADERS: readonly string[] = ['surrogate-key', 'cache-tag'];

/** Tags from the named (lower-case) fields; spaces and commas both separate tags, so either convention works. */
export function tagsOf(headers: HeaderList, names: readonly string[] = DEFAULT_TAG_HEADERS): string[] {
  const out: string[] = [];
  if (names.length === 0) return out;
  for (let i = 0; i < headers.length; i += 2) {
    if (!names.includes(headers[i].toLowerCase())) continue;
    for (const t of headers[i + 1].split(TAG_SEPARATORS)) {
      if (t.length > 0 && !out.includes(t)) out.push(t);
    }
  }
  return out;
}

const TAG_SEPARATORS = /[\s,]+/;

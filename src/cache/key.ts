/**
 * Cache keys. The primary key (RFC 9111 §2) is the target URI — scheme, lower-case host, the port
 * only when it is not the scheme's default, path, query — so that an unsafe request's invalidation
 * (§4.4) and purge-by-URL find it. Route options trim the query or add request headers and cookies;
 * those extras follow a NUL separator, so `uriKey(uri)` is always a prefix-free handle for
 * "every key of this URI".
 */
import type { CacheKeyRequest, QueryKeyRule, ResolvedRouteCache } from './contracts.js';

/** Separates the URI from the extra key parts (NUL cannot appear in a request target). */
export const KEY_EXTRA = '\u0000';

export function requestKey(rc: ResolvedRouteCache, req: CacheKeyRequest, port: string): string {
  const k = rc.key;
  if (k.fn !== null) return k.fn(req);
  let key = origin(req.scheme, req.host, port) + req.path + filterQuery(req.query, k.query);
  for (const name of k.headers) key += `${KEY_EXTRA}h:${name}=${req.header(name) ?? ''}`;
  for (const name of k.cookies) key += `${KEY_EXTRA}c:${name}=${req.cookie(name) ?? ''}`;
  return key;
}

/** `scheme://host[:port]` with the default port left out, so `:80` and no port are one key. */
export function origin(scheme: 'http' | 'https', host: string, port: string): string {
  const defaultPort = scheme === 'https' ? '443' : '80';
  return port === '' || port === defaultPort ? `${scheme}://${host}` : `${scheme}://${host}:${port}`;
}

/** The key part of an absolute URI (for invalidation and purge), under a route's query rule. */
export function uriKey(uri: URL, rule: QueryKeyRule): string {
  const scheme = uri.protocol === 'https:' ? 'https' : 'http';
  return origin(scheme, uri.hostname.toLowerCase(), uri.port) + (uri.pathname || '/') + filterQuery(uri.search, rule);
}

export function filterQuery(query: string, rule: QueryKeyRule): string {
  if (rule.mode === 'all' || query.length === 0) return query;
  if (rule.mode === 'none') return '';
  const kept: string[] = [];
  for (const pair of query.slice(1).split('&')) {
    if (pair.length === 0) continue;
    const eq = pair.indexOf('=');
    let name = eq === -1 ? pair : pair.slice(0, eq);
    try {
      name = decodeURIComponent(name.replaceAll('+', ' '));
    } catch {
      // A malformed escape is kept literally: it still names the same parameter every time.
    }
    if (rule.names.has(name) === (rule.mode === 'include')) kept.push(pair);
  }
  return kept.length === 0 ? '' : `?${kept.join('&')}`;
}

/**
 * The cache policy: pure RFC 9111 (HTTP caching), RFC 9110 (conditional and range requests),
 * RFC 5861 (stale-while-revalidate / stale-if-error), RFC 9211 (Cache-Status) and RFC 9213
 * (CDN-Cache-Control) decisions over header lists. No I/O, no clock: times are passed in (ms since
 * epoch).
 *
 *   directives.ts     Cache-Control / CDN-Cache-Control / Pragma parsing      (9111 §5.2, §5.4; 9213)
 *   storable.ts       may it be stored, and with what metadata                (9111 §3, §3.1, §3.5)
 *   freshness.ts      lifetime, heuristics, age, reuse, stale-if-error        (9111 §4.2; 5861)
 *   vary.ts           secondary keys and variant selection                    (9111 §4.1)
 *   validate.ts       conditional requests upstream, 304 selection and update (9111 §3.2, §4.3)
 *   preconditions.ts  the client's If-* against a stored response             (9110 §13.2.2)
 *   range.ts          one byte range from a stored 200                        (9110 §14)
 *   invalidate.ts     invalidation after unsafe methods                       (9111 §4.4)
 *   serve.ts          headers of a response served from cache                 (9111 §5.1)
 *   cache-status.ts   the Cache-Status member                                 (9211)
 */
export { parseDirectives, requestDirectives, responseDirectives, targetedDirectives } from './directives.js';
export { evaluateResponse, tagsOf, DEFAULT_TAG_HEADERS, type RequestFacts, type StoreVerdict } from './storable.js';
export { selectVariant, varyValues, normaliseField } from './vary.js';
export { currentAge, reuse, mayServeOnError, HEURISTIC_STATUSES, type Reuse } from './freshness.js';
export { validationHeaders, notModifiedMatches, freshen, refreshed } from './validate.js';
export { clientPrecondition } from './preconditions.js';
export { rangeFor, type RangeAnswer } from './range.js';
export { invalidationTargets } from './invalidate.js';
export { servedHeaders } from './serve.js';
export { cacheStatus, type CacheStatusParts } from './cache-status.js';
export { parseHttpDate, formatHttpDate } from './http-date.js';

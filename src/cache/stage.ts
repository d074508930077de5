/**
 * The cache stage of a caching route: look the request up, answer from the store when RFC 9111
 * allows (§4), otherwise send it upstream with a tap that stores, revalidates or invalidates.
 *
 *   unsafe method ─────────────▶ forward; a non-error answer invalidates the URI (§4.4)
 *   bypass rule / GET with body ▶ forward untouched (Cache-Status: fwd=bypass)
 *   GET/HEAD ─ lookup ─ fresh ──▶ hit
 *                      ├ stale, stale-while-revalidate ▶ hit + one background refresh
 *                      ├ needs validation ─▶ forward with our validators (304 ▶ hit)
 *                      └ none ─ only-if-cached ▶ 504 │ a fill in flight ▶ wait (coalesce) │ fill
 *
 * Coalescing is per variant once the variants are known: requests wait on the fill of their
 * primary key plus their Vary'd field values (fillKeyFor), so a cold burst of two languages costs
 * two origin requests, not one plus one per waiter of the other language.
 *
 * A HEAD miss is fetched as a GET (as nginx does), so it fills the cache for the GETs after it.
 */
import { ERRORS, sendError } from '../engine/errors.js';
import { clientGone, DetachedResponse } from '../engine/client-response.js';
import type { ExchangeTap } from '../engine/exchange.js';
import type { CacheEntry, Directives, HeaderGetter } from './contracts.js';
import type { CacheRequestContext } from './context.js';
import { FillTap, stripFields, type FwdReason } from './fill-tap.js';
import { Fill } from './http-cache.js';
import { origin, requestKey } from './key.js';
import { cacheStatus, currentAge, invalidationTargets, requestDirectives, reuse, selectVariant, validationHeaders, varyValues, type CacheStatusParts } from './policy/index.js';
import { keyRequest, rawHeaderGetter } from './request-view.js';
import { serveEntry } from './serve.js';

/**
 * How many fills one request may wait on: its primary key's (variants not known yet), then its
 * variant's. A bound, so that a request never waits in a loop on fills that store other variants.
 */
const MAX_WAITS = 2;

/** RFC 9110 §9.2.1: methods that change nothing; every other method may invalidate (RFC 9111 §4.4). */
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/** Request fields a fill must not forward: the cache fetches the full, current representation and answers these itself. */
const CLIENT_CONDITIONALS = new Set(['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range', 'range']);

/**
 * `waited`: the fill keys this request already waited on (a waiter looking again after a fill
 * settled); such a request is a collapsed hit when it finds a stored response.
 */
export function handleCached(ctx: CacheRequestContext, waited: readonly string[] = []): void {
  const rc = ctx.route.cache;
  if (rc === null) return;
  const { method, facts, target } = ctx;
  const get = rawHeaderGetter(ctx.req.rawHeaders);

  if (method !== 'GET' && method !== 'HEAD') {
    facts.cache = 'method';
    const tap = SAFE.has(method) ? new StatusTap(ctx, { fwd: 'method' }) : new InvalidateTap(ctx);
    forward(ctx, tap, null);
    return;
  }
  const scheme = facts.secure ? 'https' : 'http';
  const kreq = keyRequest(method, scheme, ctx.host, target.path, target.query, get);
  const hasBody = facts.transferEncoding || (facts.contentLength !== undefined && facts.contentLength !== '0');
  if (hasBody || (rc.bypass !== null && rc.bypass(kreq))) {
    facts.cache = 'bypass';
    forward(ctx, new StatusTap(ctx, { fwd: 'bypass' }), null);
    return;
  }

  const key = requestKey(rc, kreq, ctx.port);
  const cache = ctx.cache;
  const now = Date.now();
  const entries = cache.store.lookup(key);
  const entry = entries.length === 0 ? null : selectVariant(entries, get);
  const directives = requestDirectives(get);

  let fwd: FwdReason = entries.length === 0 ? 'uri-miss' : 'vary-miss';
  if (entry !== null) {
    const verdict = reuse(entry.meta, directives, now);
    if (verdict === 'fresh' || verdict === 'stale-ok' || verdict === 'stale-while-revalidate') {
      cache.hits++;
      facts.cache = verdict === 'fresh' ? 'hit' : 'hit-stale';
      const ttl = entry.meta.lifetime - currentAge(entry.meta, now);
      const parts: CacheStatusParts = waited.length > 0 ? { hit: true, ttl, collapsed: true } : { hit: true, ttl };
      serveEntry(ctx, get, entry, parts, now);
      if (verdict === 'stale-while-revalidate') refreshInBackground(ctx, get, key, fillKeyFor(key, entries, get), entry, directives);
      return;
    }
    fwd = directives.has('no-cache') || directives.has('max-age') || directives.has('min-fresh') ? 'request' : 'stale';
  }

  if (directives.has('only-if-cached')) {
    // RFC 9111 §5.2.1.7: nothing usable is stored, and the client forbids going upstream.
    sendError(ctx.res, ERRORS.NOT_CACHED, facts.accept, { 'x-request-id': facts.requestId as string, 'cache-status': cacheStatus(cache.statusName, { fwd }) });
    ctx.gateway.finish(ctx.req, ctx.res, ctx.plan, ctx.route, facts, ERRORS.NOT_CACHED.code, facts.started);
    return;
  }

  const fillKey = fillKeyFor(key, entries, get);
  const mayWait = waited.length < MAX_WAITS && !waited.includes(fillKey);
  if (mayWait) {
    const inFlight = cache.fills.get(fillKey);
    if (inFlight !== undefined) {
      waitForFill(ctx, inFlight, rc.lockTimeoutMs, [...waited, fillKey]);
      return;
    }
  }
  // Counted here, not before waiting: a request that waits and then hits is one hit.
  cache.misses++;
  facts.cache = fwd;
  // Others may wait on this one unless it is itself a waiter's last try (which nobody may join:
  // its own waiters could not wait again).
  const fill = mayWait ? new Fill(cache.fills, fillKey) : null;
  const options = { key, get, directives, fill, fwd, background: false };
  const refetch = (): void => forward(ctx, new FillTap(ctx, { ...options, stale: null }), fillHeaders(null), 'GET');
  const tap = new FillTap(ctx, { ...options, stale: entry, refetch });
  forward(ctx, tap, fillHeaders(entry), 'GET');
}

/** Joins a fill in flight: look again when it settles (a hit if it stored), else go upstream alone. */
function waitForFill(ctx: CacheRequestContext, fill: Fill, timeoutMs: number, waited: readonly string[]): void {
  const gateway = ctx.gateway;
  gateway.begin(); // a waiting request is in flight for graceful drain
  fill.wait(timeoutMs, () => {
    gateway.done();
    if (clientGone(ctx.res)) {
      gateway.finish(ctx.req, ctx.res, ctx.plan, ctx.route, ctx.facts, ERRORS.CLIENT_CLOSED.code, ctx.facts.started);
      return;
    }
    handleCached(ctx, waited);
  });
}

/**
 * The fill a request coalesces on: its primary key, plus its values of the fields the newest stored
 * response varies on, once there is one (before that, nobody knows the variants yet).
 */
function fillKeyFor(key: string, entries: readonly CacheEntry[], get: HeaderGetter): string {
  if (entries.length === 0) return key;
  const names = entries[0].meta.vary;
  if (names.length === 0) return key;
  const values = varyValues(names, get);
  let fillKey = key;
  // NUL separates (no header value holds one); an absent field differs from an empty one.
  for (let i = 0; i < names.length; i++) fillKey += values[i] === null ? `\0${names[i]}` : `\0${names[i]}=${values[i]}`;
  return fillKey;
}

/**
 * RFC 5861 §3: serve the stale response now and refresh it once, with no client waiting. Once per
 * variant (`fillKey`): a stale English page does not wait for the French one's refresh.
 */
function refreshInBackground(ctx: CacheRequestContext, get: HeaderGetter, key: string, fillKey: string, entry: CacheEntry, directives: Directives): void {
  const cache = ctx.cache;
  if (cache.refreshing.has(fillKey) || cache.fills.has(fillKey)) return;
  cache.refreshing.add(fillKey);
  const detached = new DetachedResponse();
  const bg: CacheRequestContext = { ...ctx, res: detached, expectContinue: false, method: 'GET' };
  const fill = new Fill(cache.fills, fillKey);
  const tap = new FillTap(bg, {
    key,
    get,
    directives,
    stale: entry,
    fill,
    fwd: 'stale',
    background: true,
    onDone: () => cache.refreshing.delete(fillKey),
  });
  forward(bg, tap, fillHeaders(entry), 'GET');
}

/** Header edits for a fill: drop the client's conditionals and Range, add our validators (RFC 9111 §4.3.1). */
function fillHeaders(stale: CacheEntry | null): (headers: string[]) => string[] {
  return (headers) => {
    const out: string[] = [];
    for (let i = 0; i < headers.length; i += 2) {
      if (!CLIENT_CONDITIONALS.has(headers[i].toLowerCase())) out.push(headers[i], headers[i + 1]);
    }
    if (stale !== null) out.push(...validationHeaders(stale.meta));
    return out;
  };
}

function forward(ctx: CacheRequestContext, tap: ExchangeTap, adjust: ((h: string[]) => string[]) | null, method = ctx.method): void {
  ctx.gateway.forward(ctx.req, ctx.res, ctx.plan, ctx.route, ctx.facts, ctx.target, method, ctx.authority, ctx.expectContinue, tap, adjust);
}

/** Relays the response and only labels it (Cache-Status) — for requests the cache does not take. */
class StatusTap implements ExchangeTap {
  constructor(
    private readonly ctx: CacheRequestContext,
    private readonly parts: CacheStatusParts,
  ) {}
  onHeaders(_status: number, headers: string[]): 'client' {
    // Surrogate keys are for this cache only, whatever it did with the response.
    stripFields(headers, this.ctx.route.cache?.tagHeaders ?? []);
    return 'client';
  }
  decorate(headers: string[]): void {
    headers.push('cache-status', cacheStatus(this.ctx.cache.statusName, this.parts));
  }
  onData(): void {}
  onComplete(): void {}
  onError(): boolean {
    return false;
  }
  onClientGone(): boolean {
    return false;
  }
}

/** RFC 9111 §4.4: after an unsafe request succeeds, the stored responses it may have changed go. */
class InvalidateTap extends StatusTap {
  constructor(private readonly c: CacheRequestContext) {
    super(c, { fwd: 'method' });
  }
  override onHeaders(status: number, headers: string[]): 'client' {
    super.onHeaders(status, headers);
    const ctx = this.c;
    const rc = ctx.route.cache;
    if (rc === null) return 'client';
    const uri = origin(ctx.facts.secure ? 'https' : 'http', ctx.host, ctx.port) + ctx.target.path + ctx.target.query;
    for (const t of invalidationTargets(ctx.method, status, uri, headers)) {
      try {
        ctx.cache.invalidate(new URL(t), rc.key.query);
      } catch {
        // A Location the policy could not resolve is simply not invalidated.
      }
    }
    return 'client';
  }
}

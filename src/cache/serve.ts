/**
 * Answering a request from a stored response: Age (RFC 9111 §4.2.3), the client's preconditions
 * (RFC 9110 §13.2.2: 304 / 412), HEAD from a stored GET (RFC 9110 §9.3.2), one byte range from a
 * stored full response (RFC 9110 §14), and the same per-client headers a proxied response gets.
 */
import type { CacheEntry, HeaderGetter } from './contracts.js';
import { cacheStatus, clientPrecondition, currentAge, rangeFor, servedHeaders, type CacheStatusParts } from './policy/index.js';
import type { CacheRequestContext } from './context.js';
import { clientGone } from '../engine/client-response.js';
import { ERRORS } from '../engine/errors.js';

const NO_TAGS: readonly string[] = [];

/** What a plain hit sends of an entry before the per-request fields; built once per entry object. */
interface HeaderTemplate {
  /** Stored fields minus Age, Content-Length and tags, then Content-Length and Accept-Ranges. */
  headers: string[];
  hasDate: boolean;
  /** The tag fields it was built without (a reload may change them). */
  tags: readonly string[];
  /** The last Cache-Status value for a hit and the ttl it says: most hits in a second share it. */
  ttl: number | undefined;
  status: string;
}

/** Entries are immutable (an update makes a new object), so a template per object stays right. */
const templates = new WeakMap<CacheEntry, HeaderTemplate>();

function templateOf(entry: CacheEntry, tags: readonly string[]): HeaderTemplate {
  let t = templates.get(entry);
  if (t !== undefined && t.tags === tags) return t;
  const headers: string[] = [];
  let hasDate = false;
  const h = entry.meta.headers;
  for (let i = 0; i < h.length; i += 2) {
    const lower = h[i].toLowerCase();
    if (lower === 'age' || lower === 'content-length' || tags.includes(lower)) continue;
    if (lower === 'date') hasDate = true;
    headers.push(h[i], h[i + 1]);
  }
  const status = entry.meta.status;
  if (status !== 204 && status !== 304) headers.push('content-length', String(entry.size));
  if (status === 200) headers.push('accept-ranges', 'bytes');
  t = { headers, hasDate, tags, ttl: undefined, status: '' };
  templates.set(entry, t);
  return t;
}

/** RFC 9110 §15.4.5: the fields a 304 carries (those a 200 would have had that matter to caches). */
const NOT_MODIFIED_FIELDS = new Set(['cache-control', 'content-location', 'date', 'etag', 'expires', 'vary', 'age', 'last-modified']);

/**
 * Writes `entry` to the client. `exchangeOwned`: an Exchange is answering this request (the cache
 * took over its response) and does the in-flight count and the access log when the response closes.
 */
export function serveEntry(ctx: CacheRequestContext, get: HeaderGetter, entry: CacheEntry, parts: CacheStatusParts, now: number, exchangeOwned = false): void {
  const { res, plan, route, facts, method, cache } = ctx;
  if (clientGone(res)) {
    // Nobody to answer (and no 'close' to come): only the bookkeeping.
    if (!exchangeOwned) ctx.gateway.finish(ctx.req, res, plan, route, facts, ERRORS.CLIENT_CLOSED.code, facts.started);
    return;
  }
  const meta = entry.meta;
  const tags = route.cache?.tagHeaders ?? NO_TAGS;
  let hasDate = false;
  let status = meta.status;
  let start = 0;
  let end = entry.size - 1;
  let headers: string[];
  let statusValue: string | undefined;

  if (!facts.conditional) {
    // The common hit (no preconditions, no Range): the entry's own header template plus Age.
    const t = templateOf(entry, tags);
    headers = t.headers.slice();
    headers.push('age', String(currentAge(meta, now)));
    hasDate = t.hasDate;
    if (parts.hit === true && parts.collapsed !== true && parts.ttl !== undefined) {
      if (t.ttl !== parts.ttl) {
        t.ttl = parts.ttl;
        t.status = cacheStatus(cache.statusName, parts);
      }
      statusValue = t.status;
    }
  } else {
    const stored = servedHeaders(meta, now);
    const pre = clientPrecondition(method, get, meta);
    if (pre === 304) {
      status = 304;
      headers = [];
      for (let i = 0; i < stored.length; i += 2) {
        const lower = stored[i].toLowerCase();
        if (!NOT_MODIFIED_FIELDS.has(lower)) continue;
        if (lower === 'date') hasDate = true;
        headers.push(stored[i], stored[i + 1]);
      }
    } else if (pre === 412) {
      status = 412;
      headers = ['content-length', '0'];
    } else {
      headers = [];
      for (let i = 0; i < stored.length; i += 2) {
        const name = stored[i];
        const lower = name.toLowerCase();
        // Length is ours to state (the stored body may have arrived chunked); tags are for purging.
        if (lower === 'content-length' || tags.includes(lower)) continue;
        if (lower === 'date') hasDate = true;
        headers.push(name, stored[i + 1]);
      }
      const wantsRange = status === 200 && method === 'GET' && get('range') !== undefined;
      const range = wantsRange ? rangeFor(get, meta, entry.size) : null;
      // A stored Content-Range is the origin's own field (RFC 9111 §3.1: stored as is); ours replaces it on 206/416.
      if (range !== null && range.kind !== 'full') stripField(headers, 'content-range');
      if (range !== null && range.kind === 'partial') {
        status = 206;
        start = range.start;
        end = range.end;
        headers.push('content-range', `bytes ${start}-${end}/${entry.size}`, 'content-length', String(end - start + 1));
      } else if (range !== null && range.kind === 'unsatisfiable') {
        status = 416;
        headers.push('content-range', `bytes */${entry.size}`, 'content-length', '0');
        end = -1;
      } else if (status !== 204 && status !== 304) {
        headers.push('content-length', String(entry.size));
      }
      if (status === 200 || status === 206) headers.push('accept-ranges', 'bytes');
    }
  }

  addClientHeaders(ctx, headers);
  headers.push('cache-status', statusValue ?? cacheStatus(cache.statusName, parts));
  // A stored Date is the origin's (RFC 9110 §6.6.1); node must not add a second one.
  res.sendDate = !hasDate;
  res.writeHead(status, headers);

  const withBody = method !== 'HEAD' && status !== 304 && status !== 412 && status !== 416 && status !== 204 && end >= start;
  if (!withBody) {
    res.end();
    if (!exchangeOwned) ctx.gateway.finish(ctx.req, res, plan, route, facts, undefined, facts.started, null, 0);
    return;
  }
  const length = end - start + 1;
  if (entry.body !== null) {
    res.end(start === 0 && length === entry.body.length ? entry.body : entry.body.subarray(start, end + 1));
    if (!exchangeOwned) ctx.gateway.finish(ctx.req, res, plan, route, facts, undefined, facts.started, null, length);
    return;
  }
  void streamBody(ctx, entry, start, end, exchangeOwned);
}

/** A body the store keeps on disk: streamed with backpressure; a read failure cuts the connection. */
async function streamBody(ctx: CacheRequestContext, entry: CacheEntry, start: number, end: number, exchangeOwned: boolean): Promise<void> {
  const { res, gateway } = ctx;
  if (!exchangeOwned) gateway.begin();
  let sent = 0;
  let error: string | undefined;
  let closed = false;
  let wake: (() => void) | null = null;
  const onDrainOrClose = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  res.on('drain', onDrainOrClose);
  res.once('close', () => {
    closed = true;
    onDrainOrClose();
  });
  try {
    for await (const chunk of ctx.cache.store.read(entry, start, end)) {
      if (closed) break;
      sent += chunk.length;
      if (!res.write(chunk)) await new Promise<void>((resolve) => (wake = resolve));
    }
    if (closed && !res.writableFinished) error = 'client_closed';
    else res.end();
  } catch (err) {
    error = 'cache_read_failed';
    gateway.logger.warn('cache: reading a stored body failed; closing the connection', { key: entry.key, error: (err as Error).message });
    res.destroy();
  } finally {
    if (!exchangeOwned) {
      gateway.done();
      gateway.finish(ctx.req, res, ctx.plan, ctx.route, ctx.facts, error, ctx.facts.started, null, sent);
    }
  }
}

/** What every response to a client gets on this route (mirrors the Exchange's relay). */
export function addClientHeaders(ctx: CacheRequestContext, headers: string[]): void {
  const { plan, route, facts } = ctx;
  if (plan.via !== null) headers.push('via', plan.via);
  headers.push('x-request-id', facts.requestId as string);
  if (facts.secure && plan.hsts !== null) headers.push('strict-transport-security', plan.hsts);
  const edits = route.responseHeaders;
  if (!edits.empty) {
    if (edits.remove.size > 0) {
      for (let i = headers.length - 2; i >= 0; i -= 2) if (edits.remove.has(headers[i].toLowerCase())) headers.splice(i, 2);
    }
    for (let i = 0; i < edits.set.length; i += 2) headers.push(edits.set[i], edits.set[i + 1]);
    for (let i = 0; i < edits.add.length; i += 2) headers.push(edits.add[i], edits.add[i + 1]);
  }
}

function stripField(headers: string[], lower: string): void {
  for (let i = headers.length - 2; i >= 0; i -= 2) if (headers[i].toLowerCase() === lower) headers.splice(i, 2);
}

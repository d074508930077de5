/**
 * The cache's side of a proxied GET: it decides, from the response head, whether to store
 * (RFC 9111 §3), streams the body into the store while the client gets it, and settles the Fill
 * that coalesced requests wait on. When it revalidated a stored response it handles the 304
 * itself (RFC 9111 §4.3.3–4.3.4), and on an origin failure it may serve the stale copy
 * (RFC 5861 §4, stale-if-error).
 */
import type { ExchangeTap } from '../engine/exchange.js';
import type { CacheEntry, Directives, EntryWriter, HeaderGetter } from './contracts.js';
import type { CacheRequestContext } from './context.js';
import type { Fill } from './http-cache.js';
import { cacheStatus, clientPrecondition, currentAge, tagsOf, evaluateResponse, freshen, mayServeOnError, notModifiedMatches, type CacheStatusParts } from './policy/index.js';
import { serveEntry } from './serve.js';

export type FwdReason = NonNullable<CacheStatusParts['fwd']>;

export interface FillOptions {
  key: string;
  get: HeaderGetter;
  /** The request's own Cache-Control directives. */
  directives: Directives;
  /** The stored response being revalidated, or null on a miss. */
  stale: CacheEntry | null;
  /** What coalesced requests wait on; null when nobody can join (a waiter's last try). */
  fill: Fill | null;
  fwd: FwdReason;
  /** No client is waiting (stale-while-revalidate refresh): store, never answer. */
  background: boolean;
  /** Called once when the tap is finished, however it ended. */
  onDone?: () => void;
  /**
   * Sends the request again without our validators: a 304 whose validators select nothing stored
   * cannot answer a client that never asked a conditional question (RFC 9111 §4.3.4).
   */
  refetch?: () => void;
}

export class FillTap implements ExchangeTap {
  private writer: EntryWriter | null = null;
  private parts: CacheStatusParts;
  private readonly requestTime = Date.now();
  private finished = false;
  /** A refetch took over: this exchange's remaining events mean nothing to the cache. */
  private handedOff = false;
  /** The client left while the response was worth finishing for the cache (see onClientGone). */
  private clientLeft = false;

  /** Nobody to answer: a background refresh, or a client that left. */
  private get noClient(): boolean {
    return this.o.background || this.clientLeft;
  }

  constructor(
    private readonly ctx: CacheRequestContext,
    private readonly o: FillOptions,
  ) {
    this.parts = { fwd: o.fwd };
  }

  onHeaders(status: number, headers: string[]): 'client' | 'detached' {
    const { ctx, o } = this;
    const rc = ctx.route.cache;
    if (rc === null) return 'client';
    const now = Date.now();
    const stale = o.stale;
    const request = { method: 'GET', get: o.get };

    if (stale !== null && status === 304 && notModifiedMatches(stale.meta, headers)) {
      const meta = freshen(stale.meta, request, headers, this.requestTime, now, rc.policy);
      meta.tags = tagsOf(meta.headers, rc.tagHeaders);
      const updated = ctx.cache.store.update(stale, meta) ?? { ...stale, meta };
      o.fill?.settle(true);
      ctx.facts.cache = 'revalidated';
      if (!this.noClient) serveEntry(ctx, o.get, updated, { fwd: o.fwd, fwdStatus: 304, ttl: meta.lifetime - currentAge(meta, now) }, now, true);
      this.done();
      return 'detached';
    }
    if (stale !== null && status === 304 && o.refetch !== undefined && !this.noClient) {
      ctx.cache.store.delete(stale);
      // The new request owns the fill from here; this exchange's end must not settle it.
      this.handedOff = true;
      o.refetch();
      this.done();
      return 'detached';
    }
    if (status >= 500 && stale !== null && !this.noClient && mayServeOnError(stale.meta, o.directives, now)) {
      o.fill?.settle(false);
      ctx.facts.cache = 'stale-if-error';
      serveEntry(ctx, o.get, stale, { fwd: 'stale', fwdStatus: status, detail: 'stale-if-error' }, now, true);
      this.done();
      return 'detached';
    }

    const verdict = evaluateResponse(request, status, headers, this.requestTime, now, rc.policy);
    if (verdict.store) verdict.meta.tags = tagsOf(headers, rc.tagHeaders);
    stripFields(headers, rc.tagHeaders);
    if (!verdict.store) {
      this.parts = { fwd: o.fwd, fwdStatus: status, detail: verdict.reason };
      o.fill?.settle(false);
      if (o.background) this.done();
      return this.clientLeft ? 'detached' : 'client';
    }
    this.writer = ctx.cache.store.open(o.key, verdict.meta, declaredLength(headers));
    this.parts = { fwd: o.fwd, fwdStatus: status, stored: this.writer !== null, ttl: verdict.meta.lifetime - currentAge(verdict.meta, now) };
    if (this.writer === null) o.fill?.settle(false);
    if (this.clientLeft) return 'detached';
    if (!o.background && clientPrecondition(ctx.method, o.get, verdict.meta) !== null) {
      // The client's own validators match what just arrived: answer 304/412 now, keep storing.
      serveEntry(ctx, o.get, { id: '', key: o.key, meta: verdict.meta, size: 0, body: null }, this.parts, now, true);
      return 'detached';
    }
    return 'client';
  }

  /**
   * The client left mid-exchange. Finish the upstream response anyway when it is being stored or
   * others wait for it (as Varnish does): aborting would send every waiter to the origin at once.
   */
  onClientGone(): boolean {
    if (this.handedOff || this.o.background || this.finished) return false;
    const keep = this.writer !== null || (this.o.fill?.waiting ?? 0) > 0;
    if (keep) this.clientLeft = true;
    return keep;
  }

  decorate(headers: string[]): void {
    headers.push('cache-status', cacheStatus(this.ctx.cache.statusName, this.parts));
  }

  onData(chunk: Buffer): void {
    if (this.writer !== null && !this.writer.write(chunk)) {
      // Over the per-object limit: the store abandoned it; the client still gets every byte.
      this.writer = null;
      this.o.fill?.settle(false);
    }
  }

  onComplete(): void {
    if (this.handedOff) return;
    const w = this.writer;
    this.writer = null;
    if (w === null) {
      this.o.fill?.settle(false);
      this.done();
      return;
    }
    w.commit().then(
      (entry) => {
        this.o.fill?.settle(entry !== null);
        this.done();
      },
      (err: unknown) => {
        this.ctx.gateway.logger.warn('cache: storing a response failed', { key: this.o.key, error: (err as Error)?.message });
        this.o.fill?.settle(false);
        this.done();
      },
    );
  }

  onError(clientHeadersSent: boolean): boolean {
    if (this.handedOff) return false;
    this.writer?.abort();
    this.writer = null;
    const { ctx, o } = this;
    o.fill?.settle(false);
    this.done();
    const now = Date.now();
    if (!clientHeadersSent && !this.noClient && o.stale !== null && mayServeOnError(o.stale.meta, o.directives, now)) {
      ctx.facts.cache = 'stale-if-error';
      serveEntry(ctx, o.get, o.stale, { fwd: 'stale', detail: 'stale-if-error' }, now, true);
      return true;
    }
    return false;
  }

  private done(): void {
    if (this.finished) return;
    this.finished = true;
    // A background refresh has no client to end its response; end it here so the Exchange's
    // close bookkeeping (in-flight count, access log) runs.
    if (this.o.background) this.ctx.res.end();
    this.o.onDone?.();
  }
}

function declaredLength(headers: readonly string[]): number | null {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i].length === 14 && headers[i].toLowerCase() === 'content-length') {
      const n = Number(headers[i + 1]);
      return Number.isSafeInteger(n) && n >= 0 ? n : null;
    }
  }
  return null;
}

/** Removes (in place) fields meant for this cache only, such as surrogate keys. */
export function stripFields(headers: string[], lowerNames: readonly string[]): void {
  if (lowerNames.length === 0) return;
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    if (lowerNames.includes(headers[i].toLowerCase())) headers.splice(i, 2);
  }
}

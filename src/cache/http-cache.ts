/**
 * The cache as a running service: one store shared by every caching route (kept across reloads),
 * the fills in flight (request coalescing), the background refreshes, and purge/invalidation.
 */
import type { CacheStore, CacheStoreStats, QueryKeyRule, ResolvedCacheStorage } from './contracts.js';
import { KEY_EXTRA, uriKey } from './key.js';

/**
 * One request gone upstream for a key that others now wait on (nginx's proxy_cache_lock,
 * Varnish's waiting list): when it settles, waiters look again — a stored response makes them
 * hits; anything else sends each of them upstream on its own.
 */
export class Fill {
  private waiters: Array<(stored: boolean) => void> = [];
  private settled = false;

  constructor(
    private readonly fills: Map<string, Fill>,
    readonly key: string,
  ) {
    fills.set(key, this);
  }

  /** Calls `then` once: when the fill settles, or after `timeoutMs` with `false`. */
  wait(timeoutMs: number, then: (stored: boolean) => void): void {
    let done = false;
    const once = (stored: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      then(stored);
    };
    const timer = setTimeout(() => once(false), timeoutMs);
    this.waiters.push(once);
  }

  get waiting(): number {
    return this.waiters.length;
  }

  settle(stored: boolean): void {
    if (this.settled) return;
    this.settled = true;
    if (this.fills.get(this.key) === this) this.fills.delete(this.key);
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f(stored);
  }
}

export interface PurgeResult {
  purged: number;
}

export class HttpCache {
  /** Fills in flight, by primary key (plus the variant's Vary'd values once variants are known). */
  readonly fills = new Map<string, Fill>();
  /** Variants being refreshed in the background (stale-while-revalidate), by fill key: one refresh each. */
  readonly refreshing = new Set<string>();
  hits = 0;
  misses = 0;

  constructor(
    readonly store: CacheStore,
    /** Replaced on reload when only settings outside the store change (e.g. the Cache-Status name). */
    public storage: ResolvedCacheStorage,
  ) {}

  get statusName(): string {
    return this.storage.statusName;
  }

  /** RFC 9111 §4.4: every stored response for this URI (under a route's query rule), all variants and key extras. */
  invalidate(uri: URL, rule: QueryKeyRule): number {
    return this.purgeKeyFamily(uriKey(uri, rule));
  }

  /** Purge by absolute URL (admin API): every variant and key extra of that URL, query as given. */
  purgeUrl(url: string): number {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new Error(`not an absolute URL: ${JSON.stringify(url)}`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`not an http(s) URL: ${JSON.stringify(url)}`);
    return this.purgeKeyFamily(uriKey(u, { mode: 'all' }));
  }

  purgeTag(tag: string): number {
    return this.store.purgeTag(tag);
  }

  /** Every key starting with `prefix` (e.g. `https://example.com/static/`). */
  purgePrefix(prefix: string): number {
    return this.store.purgePrefix(prefix);
  }

  purgeAll(): number {
    return this.store.purgePrefix('');
  }

  stats(): CacheStoreStats & { hits: number; misses: number; filling: number } {
    return { ...this.store.stats(), hits: this.hits, misses: this.misses, filling: this.fills.size };
  }

  close(): Promise<void> {
    for (const f of [...this.fills.values()]) f.settle(false);
    return this.store.close();
  }

  private purgeKeyFamily(key: string): number {
    return this.store.deleteKey(key) + this.store.purgePrefix(key + KEY_EXTRA);
  }
}

/** Whether two storage settings can share one store (same place, same bounds). */
export function sameStorage(a: ResolvedCacheStorage, b: ResolvedCacheStorage): boolean {
  return a.maxBytes === b.maxBytes && a.maxObjectBytes === b.maxObjectBytes && (a.disk?.dir ?? null) === (b.disk?.dir ?? null);
}

/**
 * The cache's seams. Three parts meet here and nowhere else:
 *
 *   policy (src/cache/policy/)  pure RFC 9111 / 9110 / 5861 / 9211 / 9213 decisions over header lists
 *   stores (src/cache/store/)   where entries live: memory (LRU by bytes) and disk; one conformance suite
 *   stage  (src/cache/*.ts)     the request path: lookup, coalescing, revalidation, purge
 *
 * Header lists are flat `[name, value, name, value…]` arrays (names in any case unless a comment
 * says lower-case), the same shape the engine uses everywhere, so nothing builds header objects on
 * the hot path.
 */

/** Flat `[name, value, …]`. */
export type HeaderList = readonly string[];

/** Reads a request header by lower-case name; repeated fields joined with `, ` (cookies with `; `). */
export type HeaderGetter = (lowerName: string) => string | undefined;

/** Parsed Cache-Control / CDN-Cache-Control: lower-case directive → argument (`true` when it has none). */
export type Directives = ReadonlyMap<string, string | true>;

/** Route options resolved to numbers (seconds, bytes) once at compile time. */
export interface CachePolicyOptions {
  /** Freshness (s) for responses that carry no explicit expiration; null: heuristics where allowed. */
  defaultMaxAge: number | null;
  /** stale-while-revalidate window (s) when the origin gives none; null: only the origin's. */
  staleWhileRevalidate: number | null;
  /** stale-if-error window (s) when the origin gives none; null: only the origin's. */
  staleIfError: number | null;
  /** Opt-in: store and serve despite the origin's `no-cache`, `no-store` and `private`. */
  ignoreOriginNoCache: boolean;
  /** Fraction of (Date − Last-Modified) used for heuristic freshness (RFC 9111 §4.2.2). Default 0.1. */
  heuristicFraction: number;
  /** Cap (s) on heuristic freshness. Default 86400. */
  heuristicMax: number;
}

/** What a stored response needs for every later decision; computed by the policy at store/update time. */
export interface EntryMeta {
  status: number;
  /** Stored response headers (hop-by-hop and never-stored fields already removed), original case. */
  headers: string[];
  /** ms since epoch: when the request that produced this response was sent upstream. */
  requestTime: number;
  /** ms since epoch: when its response head arrived. */
  responseTime: number;
  /** Seconds: the corrected initial age (RFC 9111 §4.2.3) at responseTime. */
  initialAge: number;
  /** Seconds: freshness lifetime (RFC 9111 §4.2.1); 0 for responses that must always be revalidated. */
  lifetime: number;
  /** Lifetime came from the heuristic (RFC 9111 §4.2.2): no explicit expiration. */
  heuristic: boolean;
  /** Seconds stale it may be served while refreshing (RFC 5861 §3); 0 for none. */
  staleWhileRevalidate: number;
  /** Seconds stale it may be served when the origin fails (RFC 5861 §4); 0 for none. */
  staleIfError: number;
  /** `must-revalidate` / `proxy-revalidate` / `s-maxage` (shared cache): never serve stale. */
  mustRevalidate: boolean;
  /** Response `no-cache` without field names: every reuse needs validation (RFC 9111 §5.2.2.4). */
  noCache: boolean;
  /** Lower-case names listed in `Vary`, in order; empty when there is no Vary. (`*` is never stored.) */
  vary: string[];
  /** Normalised request values for `vary` (same order); null where the request lacked the field. */
  varyValues: Array<string | null>;
  /** Surrogate keys for purge-by-tag (from `Surrogate-Key` / `Cache-Tag`). */
  tags: string[];
  /** Strong or weak validator, as sent (`"abc"`, `W/"abc"`), or null. */
  etag: string | null;
  /** Last-Modified, ms since epoch, or null. */
  lastModified: number | null;
}

/** One stored response. Stores return these; the stage never mutates them except through the store. */
export interface CacheEntry {
  /** Unique within the store (survives restarts for the disk store). */
  readonly id: string;
  /** The primary cache key (RFC 9111 §2). */
  readonly key: string;
  readonly meta: EntryMeta;
  /** Body length in bytes. */
  readonly size: number;
  /**
   * The whole body in memory, when the store holds it there (the hit fast path: one write), or
   * null when it must be read with `CacheStore.read`.
   */
  readonly body: Buffer | null;
}

/** Streams one response into a store. Nothing is visible to lookups until `commit`. */
export interface EntryWriter {
  /** Adds body bytes. False: the object exceeded the per-object limit and was abandoned (stop writing). */
  write(chunk: Buffer): boolean;
  /**
   * Makes the entry visible, atomically replacing any stored variant of the same key whose
   * `varyValues` equal this one's. Resolves with the committed entry (null if it was abandoned).
   */
  commit(): Promise<CacheEntry | null>;
  /** Discards what was written (client or origin failed mid-body). Idempotent. */
  abort(): void;
}

export interface CacheStoreStats {
  entries: number;
  bytes: number;
  maxBytes: number;
  evictions: number;
}

/**
 * Where entries live. Lookups are synchronous on purpose: both stores keep their index in memory,
 * so a hit never waits for I/O before it knows what it has. Eviction is LRU by bytes; `lookup`
 * counts as a use.
 */
export interface CacheStore {
  readonly kind: 'memory' | 'disk';
  /** Every stored variant for a primary key (most recently stored first); empty when none. */
  lookup(key: string): readonly CacheEntry[];
  /**
   * Starts storing a response. Returns null when it cannot be stored at all (declared size over
   * the per-object limit, or the store is closed).
   */
  open(key: string, meta: EntryMeta, declaredSize: number | null): EntryWriter | null;
  /** Replaces an entry's metadata (after a 304 freshened it). Returns the updated entry, or null if it is gone. */
  update(entry: CacheEntry, meta: EntryMeta): CacheEntry | null;
  /** Body bytes [start, end] inclusive (whole body when omitted). */
  read(entry: CacheEntry, start?: number, end?: number): AsyncIterable<Buffer>;
  /** Removes one entry. */
  delete(entry: CacheEntry): void;
  /** Removes every variant of a primary key. Returns how many entries went. */
  deleteKey(key: string): number;
  /** Removes every entry carrying `tag`. Returns how many entries went. */
  purgeTag(tag: string): number;
  /** Removes every entry whose primary key starts with `prefix`. Returns how many went. */
  purgePrefix(prefix: string): number;
  stats(): CacheStoreStats;
  /** Flushes (disk: index and pending writes) and refuses new writes. */
  close(): Promise<void>;
}

export interface MemoryStoreOptions {
  /** Total body + header bytes kept. */
  maxBytes: number;
  /** Largest single body stored. */
  maxObjectBytes: number;
}

export interface DiskStoreOptions extends MemoryStoreOptions {
  /** Directory owned by the store (created 0700). */
  dir: string;
}

// ---- configuration, as compile() resolves it (the stage reads only these) ----------------------

/** What a cache key function (and a bypass rule) sees of a request. */
export interface CacheKeyRequest {
  readonly method: string;
  readonly scheme: 'http' | 'https';
  /** Lower-case host without a default port. */
  readonly host: string;
  readonly path: string;
  /** `?…` or `''`. */
  readonly query: string;
  header(lowerName: string): string | undefined;
  cookie(name: string): string | undefined;
}

export type CacheKeyFn = (req: CacheKeyRequest) => string;

export type QueryKeyRule =
  | { readonly mode: 'all' }
  | { readonly mode: 'none' }
  | { readonly mode: 'include' | 'exclude'; readonly names: ReadonlySet<string> };

/** One route's `.cache()` options, resolved to numbers and sets. */
export interface ResolvedRouteCache {
  policy: CachePolicyOptions;
  key: {
    /** Replaces the whole key (the route's host/path/query rules below are then ignored). */
    fn: CacheKeyFn | null;
    query: QueryKeyRule;
    /** Lower-case request header names whose values join the key. */
    headers: readonly string[];
    /** Cookie names whose values join the key. */
    cookies: readonly string[];
  };
  /** Requests for which the cache is skipped entirely (forwarded, never stored). */
  bypass: ((req: CacheKeyRequest) => boolean) | null;
  /** Lower-case response header names carrying surrogate keys. Default `['surrogate-key', 'cache-tag']`. */
  tagHeaders: readonly string[];
  /** How long coalesced requests wait for the one that went upstream before going themselves (ms). */
  lockTimeoutMs: number;
}

/** The top-level `cache` block: one store shared by every caching route, kept across reloads. */
export interface ResolvedCacheStorage {
  maxBytes: number;
  maxObjectBytes: number;
  /** Disk store instead of memory, when configured. */
  disk: { dir: string } | null;
  /** The cache's name in `Cache-Status` (RFC 9211). Default `proxykit`. */
  statusName: string;
}

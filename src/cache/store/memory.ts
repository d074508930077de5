/**
 * The memory store: entries live in the process, bodies as one Buffer each so a hit is a single
 * `res.end(body)`. Bounded by bytes (body + an estimate of what the key and metadata occupy),
 * evicting least recently used primary keys (see lru-index.ts for why the key is the unit).
 *
 * Body chunks are kept as received and concatenated once at commit: one copy, and the stored
 * Buffer owns its memory instead of pinning the larger socket buffers the chunks may be views of.
 * A writer's pending chunks are bounded by the per-object limit (checked on every write).
 */
import type { CacheEntry, CacheStore, EntryMeta, MemoryStoreOptions } from '../contracts.js';
import { EntryIndex } from './lru-index.js';
import { checkLimits } from './options.js';
import { bufferRange } from './range.js';
import { removals, StoreWriter, WriterRegistry } from './writer.js';

/** Per-string bookkeeping beyond its characters (V8 header, array slot). */
const STRING_OVERHEAD = 16;
/** The entry and meta objects, the index slot and the Map entries around them. */
const ENTRY_OVERHEAD = 320;

/**
 * What an entry costs beyond its body. An estimate: one byte per character (HTTP header text is
 * Latin-1 in V8's one-byte strings), a fixed overhead per string and per entry. It exists so that
 * a flood of tiny responses with big headers cannot blow past `maxBytes`.
 */
export function metaCost(key: string, meta: EntryMeta): number {
  let n = ENTRY_OVERHEAD + key.length;
  for (const h of meta.headers) n += h.length + STRING_OVERHEAD;
  for (const v of meta.vary) n += v.length + STRING_OVERHEAD;
  for (const v of meta.varyValues) n += (v?.length ?? 0) + STRING_OVERHEAD;
  // Tags are held twice: in the meta and as tag-index keys.
  for (const t of meta.tags) n += 2 * (t.length + STRING_OVERHEAD);
  n += meta.etag?.length ?? 0;
  return n;
}

export function createMemoryStore(opts: MemoryStoreOptions): CacheStore {
  checkLimits(opts);
  const index = new EntryIndex(opts.maxBytes, () => {
    // Nothing to release: readers hold their own reference to the body Buffer.
  });
  const writers = new WriterRegistry();
  let closed = false;
  let seq = 0;

  return {
    kind: 'memory',

    lookup: (key) => index.lookup(key),

    open(key, meta, declaredSize) {
      if (closed || (declaredSize !== null && declaredSize > opts.maxObjectBytes)) return null;
      let chunks: Buffer[] = [];
      return new StoreWriter(key, meta.tags, declaredSize, opts.maxObjectBytes, writers, {
        append: (chunk) => void chunks.push(chunk),
        discard: () => void (chunks = []),
        async finish(size, live) {
          const body = Buffer.concat(chunks, size);
          chunks = [];
          const entry: CacheEntry = Object.freeze({ id: `m${++seq}`, key, meta, size, body });
          if (!live()) return null;
          return index.insert(entry, size + metaCost(key, meta)) ? entry : null;
        },
      });
    },

    update(entry, meta) {
      if (closed) return null;
      const live = index.current(entry);
      if (!live) return null;
      const next: CacheEntry = Object.freeze({ ...live, meta });
      return index.replace(live, next, live.size + metaCost(live.key, meta));
    },

    read(entry, start, end) {
      return bufferRange(entry.body ?? Buffer.alloc(0), start, end);
    },

    ...removals(index, writers),

    stats: () => ({ entries: index.entries, bytes: index.bytes, maxBytes: opts.maxBytes, evictions: index.evictions }),

    async close() {
      closed = true;
      await writers.settle();
    },
  };
}

/**
 * The disk store: entries survive restarts; the index (keys, metadata, LRU order, tags) lives in
 * memory so `lookup` stays synchronous, and bodies are read from files (format: disk-format.ts).
 *
 * Commit, in order: stream the body into `<id>.body.tmp` → fdatasync → rename to `<id>.body` →
 * write `<id>.meta` (temp + rename) → insert into the index. The meta is the commit point.
 *
 * fsync: the body is fdatasync'd before its meta exists, so a crash can never leave a meta that
 * points at a body whose blocks never reached the disk (same size, garbage content: the one case
 * the startup size check cannot catch). The cost lands in `commit()`, after the client has its
 * response. Meta files and the directory are not fsync'd: losing them in a power cut only loses
 * entries (a body without meta is deleted at startup), which a cache may always do.
 *
 * Small bodies (≤ 64 KiB) also get a hot copy in memory, bounded in total (1/8 of maxBytes, at
 * most 64 MiB, not counted in maxBytes which measures the disk), so small hits are one write with
 * no I/O; those entries have `body` set. Hot copies are assigned at commit and at startup (most
 * recently used first) and released when the entry goes.
 *
 * Writers get no backpressure from the contract (`write` returns a boolean for the size limit
 * only), so chunks queue in memory while a file write is in flight and are flushed in batches
 * (writev). The queue is bounded by the per-object limit, checked on every `write`.
 *
 * One store per directory: enforced within the process (`openDirs`); across processes it is the
 * operator's job (there is no lock file).
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { CacheEntry, CacheStore, DiskStoreOptions, EntryMeta } from '../contracts.js';
import { FORMAT_VERSION, LRU_FILE, bodyName, encodeLru, encodeRecord, metaName, type DiskRecord } from './disk-format.js';
import { Graveyard, IoTracker, PerIdQueue, forEachLimit, unlinkQuiet, writeAtomic } from './disk-io.js';
import { recover } from './disk-recover.js';
import { EntryIndex } from './lru-index.js';
import { checkLimits } from './options.js';
import { bufferRange, clampRange } from './range.js';
import { removals, StoreWriter, WriterRegistry, type WriterSink } from './writer.js';

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
const HOT_OBJECT_MAX = 64 * 1024;
const HOT_TOTAL_MAX = 64 * 1024 * 1024;
/** How long a removed entry's body stays readable for callers that looked it up just before. */
const UNLINK_GRACE_MS = 5_000;
const READ_CHUNK = 64 * 1024;

/** The store order travels with the entry so an update can rewrite the record unchanged. */
interface DiskEntry extends CacheEntry {
  readonly seq: number;
}

/**
 * Directories with an open store in this process. A second store on the same directory would
 * delete the first one's temp files at startup, and each would unlink files the other still
 * indexes (a hit then fails mid-response), so opening one twice is refused.
 */
const openDirs = new Set<string>();

export async function createDiskStore(opts: DiskStoreOptions): Promise<CacheStore> {
  checkLimits(opts);
  await fs.mkdir(opts.dir, { recursive: true, mode: DIR_MODE });
  const dir = await fs.realpath(opts.dir);
  if (openDirs.has(dir)) throw new Error(`cache directory ${dir} is already open (close its store first)`);
  openDirs.add(dir);
  try {
    return await openDiskStore(opts, dir);
  } catch (err) {
    openDirs.delete(dir);
    throw err;
  }
}

async function openDiskStore(opts: DiskStoreOptions, dir: string): Promise<CacheStore> {
  await fs.chmod(dir, DIR_MODE); // an existing directory may be wider; the umask may have narrowed mkdir's
  const file = (name: string): string => path.join(dir, name);

  const io = new IoTracker();
  const perId = new PerIdQueue();
  const graveyard = new Graveyard(UNLINK_GRACE_MS, io);
  const writers = new WriterRegistry();
  const hot = { used: 0, budget: Math.min(HOT_TOTAL_MAX, Math.floor(opts.maxBytes / 8)) };
  let closed = false;
  let closing: Promise<void> | null = null;

  const index = new EntryIndex(opts.maxBytes, (entry) => {
    if (entry.body) hot.used -= entry.size;
    // Meta first: once it is gone the entry cannot come back, whatever happens to the body.
    io.track(perId.run(entry.id, () => unlinkQuiet(file(metaName(entry.id)))));
    graveyard.bury(file(bodyName(entry.id)));
  });

  const recovered = await recover(dir);
  let seq = recovered.nextSeq;
  await restore(recovered.records);

  /** Loads hot copies (most recently used first), then inserts least recently used first. */
  async function restore(records: DiskRecord[]): Promise<void> {
    const bodies = new Map<string, Buffer>();
    const candidates: DiskRecord[] = [];
    let budget = hot.budget;
    for (const r of records) {
      if (r.size > HOT_OBJECT_MAX || r.size > budget) continue;
      candidates.push(r);
      budget -= r.size;
    }
    const broken = new Set<string>();
    await forEachLimit(candidates, 16, async (r) => {
      const buf = await fs.readFile(file(bodyName(r.id))).catch(() => null);
      if (buf && buf.length === r.size) bodies.set(r.id, buf);
      else broken.add(r.id);
    });
    for (let i = records.length - 1; i >= 0; i--) {
      const r = records[i];
      if (broken.has(r.id)) {
        io.track(unlinkQuiet(file(metaName(r.id))).then(() => unlinkQuiet(file(bodyName(r.id)))));
        continue;
      }
      const body = bodies.get(r.id) ?? null;
      const entry: DiskEntry = Object.freeze({ id: r.id, key: r.key, meta: r.meta, size: r.size, body, seq: r.seq });
      if (index.insert(entry, r.size + Buffer.byteLength(encodeRecord(r)))) {
        if (body) hot.used += r.size;
      } else {
        io.track(unlinkQuiet(file(metaName(r.id))).then(() => unlinkQuiet(file(bodyName(r.id)))));
      }
    }
  }

  function record(id: string, key: string, size: number, entrySeq: number, meta: EntryMeta): string {
    return encodeRecord({ v: FORMAT_VERSION, id, key, size, seq: entrySeq, meta });
  }

  function sink(key: string, meta: EntryMeta): WriterSink {
    const id = randomBytes(16).toString('hex');
    const tmp = file(`${bodyName(id)}.tmp`);
    const opened: Promise<FileHandle> = fs.open(tmp, 'wx', FILE_MODE);
    opened.catch(() => {}); // surfaced through `failure` by the pump or in finish()
    let queue: Buffer[] = [];
    let failure: unknown = null;
    let flushing: Promise<void> | null = null;
    /** Kept while the body may still qualify for a hot copy. */
    let hotChunks: Buffer[] | null = [];
    let hotSize = 0;

    const drain = async (): Promise<void> => {
      const fh = await opened;
      while (queue.length > 0) {
        const batch = queue;
        queue = [];
        let total = 0;
        for (const b of batch) total += b.length;
        const { bytesWritten } = await fh.writev(batch);
        if (bytesWritten !== total) throw new Error(`short write to ${tmp}`);
      }
    };
    const pump = (): void => {
      if (flushing || failure) return;
      flushing = drain().then(
        () => {
          flushing = null;
          if (queue.length > 0) pump(); // chunks that arrived after the loop's last check
        },
        (err: unknown) => {
          failure = err;
          queue = [];
          flushing = null;
        },
      );
    };
    const closeAndUnlink = async (): Promise<void> => {
      while (flushing) await flushing;
      const fh = await opened.catch(() => null);
      await fh?.close().catch(() => {});
      await unlinkQuiet(tmp);
    };

    return {
      append(chunk) {
        if (hotChunks) {
          hotSize += chunk.length;
          if (hotSize <= HOT_OBJECT_MAX) hotChunks.push(chunk);
          else hotChunks = null;
        }
        queue.push(chunk);
        pump();
      },

      discard() {
        queue = [];
        hotChunks = null;
        io.track(closeAndUnlink());
      },

      async finish(size, live) {
        let stage: 'tmp' | 'renamed' | 'done' = 'tmp';
        try {
          while (flushing) await flushing;
          if (failure) throw failure;
          const fh = await opened;
          try {
            await fh.datasync();
          } finally {
            await fh.close();
          }
          const entrySeq = seq++;
          const json = record(id, key, size, entrySeq, meta);
          const cost = size + Buffer.byteLength(json);
          if (!live() || cost > opts.maxBytes) {
            await unlinkQuiet(tmp);
            stage = 'done';
            return null;
          }
          await fs.rename(tmp, file(bodyName(id)));
          stage = 'renamed';
          await writeAtomic(file(metaName(id)), json, FILE_MODE);
          const body = hotChunks && size <= HOT_OBJECT_MAX && hot.used + size <= hot.budget ? Buffer.concat(hotChunks, size) : null;
          hotChunks = null;
          const entry: DiskEntry = Object.freeze({ id, key, meta, size, body, seq: entrySeq });
          // No await between this check and the insert: a purge either cancelled us or sees the entry.
          if (live() && index.insert(entry, cost)) {
            if (body) hot.used += size;
            stage = 'done';
            return entry;
          }
          throw new Error('cancelled while publishing'); // cleaned up below
        } catch (err) {
          if (stage === 'tmp') await closeAndUnlink().catch(() => {});
          if (stage === 'renamed') {
            await unlinkQuiet(file(metaName(id))).catch(() => {});
            await unlinkQuiet(file(bodyName(id))).catch(() => {});
          }
          throw err;
        }
      },
    };
  }

  async function* fileRange(id: string, size: number, start?: number, end?: number): AsyncGenerator<Buffer> {
    const r = clampRange(size, start, end);
    if (!r) return;
    const stream = createReadStream(file(bodyName(id)), { start: r.start, end: r.end, highWaterMark: READ_CHUNK });
    for await (const chunk of stream) yield chunk as Buffer;
  }

  return {
    kind: 'disk',

    lookup: (key) => index.lookup(key),

    open(key, meta, declaredSize) {
      if (closed || (declaredSize !== null && declaredSize > opts.maxObjectBytes)) return null;
      return new StoreWriter(key, meta.tags, declaredSize, opts.maxObjectBytes, writers, sink(key, meta));
    },

    update(entry, meta) {
      if (closed) return null;
      const live = index.current(entry) as DiskEntry | null;
      if (!live) return null;
      const json = record(live.id, live.key, live.size, live.seq, meta);
      const next: DiskEntry = Object.freeze({ ...live, meta });
      const out = index.replace(live, next, live.size + Buffer.byteLength(json));
      if (out) io.track(perId.run(live.id, () => writeAtomic(file(metaName(live.id)), json, FILE_MODE)));
      return out;
    },

    read(entry, start, end) {
      return entry.body ? bufferRange(entry.body, start, end) : fileRange(entry.id, entry.size, start, end);
    },

    ...removals(index, writers),

    stats: () => ({ entries: index.entries, bytes: index.bytes, maxBytes: opts.maxBytes, evictions: index.evictions }),

    close() {
      closing ??= (async () => {
        closed = true;
        await writers.settle();
        await io.idle();
        const order = [...index.mru()].map((e) => e.id);
        await writeAtomic(file(LRU_FILE), encodeLru(order), FILE_MODE).catch(() => {});
        graveyard.sweep(true);
        await io.idle();
        openDirs.delete(dir);
      })();
      return closing;
    },
  };
}

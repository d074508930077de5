/**
 * The part of `EntryWriter` both stores share: the per-object limit, the declared-size check, the
 * commit/abort state machine, and the registry that lets a purge or `close()` cancel writers that
 * have not been published yet. Where the bytes go is the store's `WriterSink`.
 *
 * Why purges cancel in-flight writers: a response that started filling before a purge carries
 * pre-purge content; committing it afterwards would resurrect exactly what was purged.
 */
import type { CacheEntry, CacheStore, EntryWriter } from '../contracts.js';

export interface WriterSink {
  /** Body bytes, in order; the limit has already been checked. */
  append(chunk: Buffer): void;
  /**
   * Publishes the entry. `live()` must be checked synchronously right before inserting into the
   * index (false: aborted, purged or the store closed meanwhile → clean up, resolve null).
   * Rejections count as "not stored".
   */
  finish(size: number, live: () => boolean): Promise<CacheEntry | null>;
  /** Drops what was written (called at most once, only before `finish`). */
  discard(): void;
}

type State = 'open' | 'committing' | 'done';

export class StoreWriter implements EntryWriter {
  private state: State = 'open';
  private cancelled = false;
  private size = 0;
  private result: Promise<CacheEntry | null> | null = null;

  constructor(
    readonly key: string,
    readonly tags: readonly string[],
    private readonly declared: number | null,
    private readonly limit: number,
    private readonly registry: WriterRegistry,
    private readonly sink: WriterSink,
  ) {
    registry.add(this);
  }

  write(chunk: Buffer): boolean {
    if (this.state !== 'open') return false;
    this.size += chunk.length;
    // More bytes than Content-Length promised is as broken as fewer: never store it.
    if (this.size > this.limit || (this.declared !== null && this.size > this.declared)) {
      this.cancel();
      return false;
    }
    if (chunk.length > 0) this.sink.append(chunk);
    return true;
  }

  commit(): Promise<CacheEntry | null> {
    if (this.result) return this.result;
    // A body shorter than its declared length was cut off upstream: a truncated body must never
    // become a cache hit.
    if (this.state !== 'open' || (this.declared !== null && this.size !== this.declared)) {
      this.cancel();
      return (this.result = Promise.resolve(null));
    }
    this.state = 'committing';
    this.result = this.sink
      .finish(this.size, () => !this.cancelled)
      .catch(() => null)
      .finally(() => {
        this.state = 'done';
        this.registry.delete(this);
      });
    return this.result;
  }

  /** Idempotent; during a commit it makes the commit resolve null instead of publishing. */
  abort(): void {
    this.cancel();
  }

  cancel(): void {
    if (this.state === 'done' || this.cancelled) return;
    this.cancelled = true;
    if (this.state === 'open') {
      this.state = 'done';
      this.registry.delete(this);
      this.sink.discard();
    }
  }

  /** The pending commit, while one is running. */
  get committing(): Promise<unknown> | null {
    return this.state === 'committing' ? this.result : null;
  }
}

/** Writers not yet published, so purges and `close()` can reach them. */
export class WriterRegistry {
  private readonly writers = new Set<StoreWriter>();

  add(w: StoreWriter): void {
    this.writers.add(w);
  }

  delete(w: StoreWriter): void {
    this.writers.delete(w);
  }

  cancelKey(key: string): void {
    this.cancelWhere((w) => w.key === key);
  }

  cancelPrefix(prefix: string): void {
    this.cancelWhere((w) => w.key.startsWith(prefix));
  }

  cancelTag(tag: string): void {
    this.cancelWhere((w) => w.tags.includes(tag));
  }

  /**
   * For `close()`: writers still receiving bytes are cancelled (their caller may never finish);
   * commits already running are awaited, so what was committed before close is kept.
   */
  async settle(): Promise<void> {
    const running: Array<Promise<unknown>> = [];
    for (const w of [...this.writers]) {
      const p = w.committing;
      if (p) running.push(p);
      else w.cancel();
    }
    await Promise.allSettled(running);
  }

  private cancelWhere(pred: (w: StoreWriter) => boolean): void {
    if (this.writers.size === 0) return;
    for (const w of [...this.writers]) if (pred(w)) w.cancel();
  }
}

/**
 * The removal half of a store, the same for memory and disk: each removal also cancels the writers
 * still filling what it removes, so a purge cannot be undone by a commit that lands after it.
 */
export function removals(
  index: { remove(e: CacheEntry): void; removeKey(k: string): number; removeTag(t: string): number; removePrefix(p: string): number },
  writers: WriterRegistry,
): Pick<CacheStore, 'delete' | 'deleteKey' | 'purgeTag' | 'purgePrefix'> {
  return {
    delete(entry) {
      index.remove(entry);
    },
    deleteKey(key) {
      writers.cancelKey(key);
      return index.removeKey(key);
    },
    purgeTag(tag) {
      writers.cancelTag(tag);
      return index.removeTag(tag);
    },
    purgePrefix(prefix) {
      writers.cancelPrefix(prefix);
      return index.removePrefix(prefix);
    },
  };
}

/**
 * Small file-system helpers for the disk store: tracking background I/O so `close()` can wait for
 * it, per-entry ordering of metadata writes, delayed unlinking of removed bodies, atomic writes.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';

/** Background operations still running; `idle()` resolves once none are left. */
export class IoTracker {
  private readonly pending = new Set<Promise<unknown>>();

  /** Errors are swallowed: a failed unlink or index write must never fail a request. */
  track(p: Promise<unknown>): void {
    const settled = p.then(
      () => {},
      () => {},
    );
    this.pending.add(settled);
    void settled.then(() => this.pending.delete(settled));
  }

  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }
}

/**
 * Runs operations on one entry's files in call order. An update's metadata write and a later
 * delete's unlink race otherwise, and a late rename would bring a deleted entry back on restart.
 */
export class PerIdQueue {
  private readonly tails = new Map<string, Promise<void>>();

  run(id: string, op: () => Promise<unknown>): Promise<void> {
    const prev = this.tails.get(id) ?? Promise.resolve();
    const next = prev.then(op).then(
      () => {},
      () => {},
    );
    this.tails.set(id, next);
    void next.then(() => {
      if (this.tails.get(id) === next) this.tails.delete(id);
    });
    return next;
  }
}

/**
 * Bodies of removed entries are unlinked after a grace period instead of at once. A reader that
 * already opened the file is safe either way (unlinking an open file is fine on POSIX); the grace
 * covers a caller that looked an entry up and calls `read()` a moment later, while an eviction
 * lands in between. Nothing is lost on a crash: a body without its meta is deleted at startup.
 */
export class Graveyard {
  private readonly dead: Array<{ file: string; at: number }> = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly graceMs: number,
    private readonly io: IoTracker,
  ) {}

  bury(file: string): void {
    this.dead.push({ file, at: Date.now() });
    this.schedule();
  }

  /** Unlinks what is due (everything when `all`). */
  sweep(all = false): void {
    const cutoff = all ? Infinity : Date.now() - this.graceMs;
    let n = 0;
    while (n < this.dead.length && this.dead[n].at <= cutoff) this.io.track(unlinkQuiet(this.dead[n++].file));
    this.dead.splice(0, n);
    if (all && this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.dead.length === 0) return;
    const wait = Math.max(0, this.dead[0].at + this.graceMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.sweep();
    }, wait);
    this.timer.unref(); // never keeps the process alive
  }
}

export async function unlinkQuiet(file: string): Promise<void> {
  try {
    await fs.unlink(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/**
 * Writes `data` to `file` via a `.tmp` sibling + rename, so readers (and a restart) see the old
 * content or the new, never a mix. Not fsync'd: see disk.ts for why losing it in a crash is fine.
 */
export async function writeAtomic(file: string, data: string, mode: number): Promise<void> {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await fs.writeFile(tmp, data, { mode, flag: 'wx' });
    await fs.rename(tmp, file);
  } catch (err) {
    await unlinkQuiet(tmp).catch(() => {});
    throw err;
  }
}

/** `fn` over `items` with at most `limit` in flight (startup scans of large directories). */
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

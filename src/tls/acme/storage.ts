/**
 * Certificate storage: a small key/value contract (after CertMagic's `Storage`) and its file
 * implementation under one data directory.
 *
 * Rules every implementation must follow:
 * - Keys are `/`-separated relative paths built by `StorageKeys` (keys.ts); implementations treat
 *   them as opaque but may map them to paths. A key never contains `..` or a leading `/`.
 * - `load` resolves `null` when the key does not exist (it never throws for that); other I/O
 *   errors reject.
 * - `store` is atomic: a concurrent `load` sees the old value or the new one, never a torn write,
 *   also across processes and crashes. `secret: true` values (private keys, the account) must be
 *   readable by the owner only.
 * - `list(prefix)` returns every key below `prefix` (recursively), sorted; `[]` when none.
 * - `delete` of a missing key is not an error.
 * - `lock(name, ttlMs)` waits until it holds the named lock and resolves an unlock function. A lock
 *   is a lease: the holder refreshes it while held, and a lock not refreshed for `ttlMs` is stale
 *   and may be taken over (its holder crashed). Locks are shared by every process using the same
 *   storage. **After taking a lock, re-check storage**: another holder may have done the work.
 * - Safe for concurrent use within one process.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface StoreOptions {
  /** Owner-only (0600) file: private keys, account keys. */
  secret?: boolean;
}

export interface LockOptions {
  /** Give up waiting (rejects with the signal's reason). */
  signal?: AbortSignal;
  /** How often to look at a busy lock. Default 250 ms (with jitter). */
  pollMs?: number;
}

/** Releases a lock. Idempotent. */
export type Unlock = () => Promise<void>;

export interface CertStorage {
  load(key: string): Promise<Buffer | null>;
  store(key: string, data: string | Uint8Array, opts?: StoreOptions): Promise<void>;
  exists(key: string): Promise<boolean>;
  list(prefix: string): Promise<string[]>;
  delete(key: string): Promise<void>;
  lock(name: string, ttlMs?: number, opts?: LockOptions): Promise<Unlock>;
}

/**
 * A lock not refreshed for this long is stale. CertMagic refreshes every 5 s and gives up on a
 * lock after 2 × that; we allow 4 × (20 s) so a process stalled by a long GC or a slow disk does
 * not lose its lock while it is still ordering.
 */
export const DEFAULT_LOCK_TTL_MS = 20_000;
/** The holder rewrites the lock's timestamp this often (a quarter of the TTL, at most 5 s). */
export const LOCK_REFRESH_MS = 5_000;

interface LockFile {
  token: string;
  pid: number;
  host: string;
  /** Epoch ms of the last refresh. */
  updated: number;
  ttlMs: number;
}

/** Rejects a key that would escape the data directory. */
function checkKey(key: string): string[] {
  const parts = key.split('/');
  if (key === '' || key.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\\'))) {
    throw new Error(`invalid storage key ${JSON.stringify(key)}`);
  }
  return parts;
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT';
}

const TEMP_MARK = '.tmp-';

/**
 * Writes `data` to `file` atomically: a temp file in the same directory (so rename stays on one
 * file system), fsync, rename over the target, then fsync the directory so the rename survives a
 * power cut. The temp file gets its final mode before any byte is written.
 */
export async function atomicWriteFile(file: string, data: string | Uint8Array, mode: number): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}${TEMP_MARK}${randomBytes(6).toString('hex')}`);
  const fh = await fs.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, mode);
  try {
    await fh.chmod(mode); // the umask may have dropped bits from `mode`; never widens past it
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  try {
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  try {
    const dh = await fs.open(dir, fsc.O_RDONLY);
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic.
  }
}

/**
 * File storage: key `a/b/c` is the file `<dataDir>/a/b/c`. Directories are 0700, secrets 0600,
 * other files 0644. Locks are files under `<dataDir>/locks/`.
 */
export class FileStorage implements CertStorage {
  readonly dataDir: string;
  private readonly lockRefreshMs: number;

  constructor(dataDir: string, opts: { lockRefreshMs?: number } = {}) {
    this.dataDir = path.resolve(dataDir);
    this.lockRefreshMs = opts.lockRefreshMs ?? LOCK_REFRESH_MS;
  }

  private file(key: string): string {
    return path.join(this.dataDir, ...checkKey(key));
  }

  async load(key: string): Promise<Buffer | null> {
    try {
      return await fs.readFile(this.file(key));
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async store(key: string, data: string | Uint8Array, opts: StoreOptions = {}): Promise<void> {
    const file = this.file(key);
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await atomicWriteFile(file, data, opts.secret ? 0o600 : 0o644);
  }

  async exists(key: string): Promise<boolean> {
    try {
      await fs.stat(this.file(key));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const clean = prefix.replace(/\/+$/, '');
    const root = clean === '' ? this.dataDir : this.file(clean);
    const out: string[] = [];
    const walk = async (dir: string, rel: string): Promise<void> => {
      let entries;
      try {
        entries = await fs.readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (isNotFound(err) || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
        throw err;
      }
      for (const e of entries) {
        const childRel = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) {
          if (clean === '' && childRel === 'locks') continue;
          await walk(path.join(dir, e.name), childRel);
        } else if (e.isFile() && !e.name.includes(TEMP_MARK)) {
          out.push(clean ? `${clean}/${childRel}` : childRel);
        }
      }
    };
    await walk(root, '');
    return out.sort();
  }

  async delete(key: string): Promise<void> {
    await fs.rm(this.file(key), { force: true, recursive: true });
  }

  private lockFile(name: string): string {
    if (!/^[A-Za-z0-9._@+-]+$/.test(name)) throw new Error(`invalid lock name ${JSON.stringify(name)}`);
    return path.join(this.dataDir, 'locks', `${name}.lock`);
  }

  async lock(name: string, ttlMs = DEFAULT_LOCK_TTL_MS, opts: LockOptions = {}): Promise<Unlock> {
    const file = this.lockFile(name);
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const token = randomBytes(12).toString('hex');
    const pollMs = opts.pollMs ?? 250;
    const content = (): string =>
      JSON.stringify({ token, pid: process.pid, host: os.hostname(), updated: Date.now(), ttlMs } satisfies LockFile);

    for (;;) {
      opts.signal?.throwIfAborted();
      try {
        const fh = await fs.open(file, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
        try {
          await fh.writeFile(content());
          await fh.sync();
        } finally {
          await fh.close();
        }
        break; // we hold it
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      // Busy: take it over when stale, else wait.
      const held = await readLock(file);
      if (held === 'missing') continue; // released between our open and read
      const staleAfter = held ? held.updated + held.ttlMs : 0; // unreadable/torn lock file: stale
      if (Date.now() > staleAfter) {
        // Remove only the stale lock we looked at, not one a peer just re-created.
        const again = await readLock(file);
        if (again === 'missing' || again?.token === held?.token) await fs.rm(file, { force: true });
        continue;
      }
      await sleep(pollMs / 2 + Math.random() * pollMs, opts.signal);
    }

    // Keep the lease fresh while held (CertMagic's keepLockfileFresh).
    const refreshEvery = Math.max(50, Math.min(this.lockRefreshMs, Math.floor(ttlMs / 4)));
    let released = false;
    const timer = setInterval(() => {
      void (async () => {
        const cur = await readLock(file).catch(() => null);
        if (released || cur === 'missing' || cur?.token !== token) return; // lost it (taken over)
        await atomicWriteFile(file, content(), 0o600).catch(() => {});
      })();
    }, refreshEvery);
    timer.unref();

    return async () => {
      if (released) return;
      released = true;
      clearInterval(timer);
      const cur = await readLock(file).catch(() => null);
      if (cur !== 'missing' && cur?.token === token) await fs.rm(file, { force: true });
    };
  }
}

/** The lock file's content, `'missing'` when there is none, `null` when unreadable. */
async function readLock(file: string): Promise<LockFile | 'missing' | null> {
  let raw: string;
  try {
    raw = await fs.readFile(file, 'utf8');
  } catch (err) {
    if (isNotFound(err)) return 'missing';
    throw err;
  }
  try {
    const v = JSON.parse(raw) as Partial<LockFile>;
    if (typeof v.token === 'string' && typeof v.updated === 'number' && typeof v.ttlMs === 'number') return v as LockFile;
  } catch {
    // torn or foreign content
  }
  // A half-written file from a peer that is creating it right now looks the same as garbage from a
  // crash; treat it as fresh for one TTL from its mtime.
  try {
    const st = await fs.stat(file);
    return { token: '', pid: 0, host: '', updated: st.mtimeMs, ttlMs: DEFAULT_LOCK_TTL_MS };
  } catch (err) {
    if (isNotFound(err)) return 'missing';
    throw err;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

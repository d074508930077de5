/**
 * Hot reload: watch the config and every file its bundle was built from; on change, load and apply.
 * A config that fails to build, run, validate or compile is reported and the old Plan keeps serving.
 *
 * chokidar 4 (no globs: we pass exact file paths). chokidar throttles `change` to one event per file
 * per 50 ms and drops later ones, so after each reload the inputs' mtimes are re-checked (75 ms later)
 * and a save that landed inside the throttle window triggers another reload (docs/dependencies.md §2).
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import chokidar, { type FSWatcher } from 'chokidar';
import type { ConfigLoader, LoadResult } from './loader.js';
import type { ConfigSpec } from './spec.js';
import type { Logger } from '../observe/logger.js';

export interface ReloadOutcome {
  ok: boolean;
  /** From the newest input's mtime (the save) to the new Plan serving, ms. */
  saveToServingMs?: number;
  loadMs?: number;
  error?: unknown;
}

export interface ReloaderOptions {
  loader: ConfigLoader;
  /** Swap the new spec in (e.g. `runtime.apply`); throws to reject it. */
  apply: (spec: ConfigSpec) => Promise<unknown>;
  logger: Logger;
  /** Report an error (the old config keeps serving). */
  onError: (err: unknown) => void;
  /** Called after every successful apply. */
  onApplied?: (result: LoadResult, outcome: ReloadOutcome) => void;
}

export interface Reloader {
  /** Load and apply now; serialised (a reload requested while one runs is run once after it). */
  reload(reason?: string): Promise<ReloadOutcome>;
}

const mtimeOf = (f: string): number => {
  try {
    return fs.statSync(f).mtimeMs;
  } catch {
    return -1;
  }
};

export function createReloader(opts: ReloaderOptions): Reloader {
  let running: Promise<ReloadOutcome> | null = null;
  let queued: Promise<ReloadOutcome> | null = null;

  async function once(reason: string): Promise<ReloadOutcome> {
    const t0 = performance.now();
    try {
      const result = await opts.loader.load();
      await opts.apply(result.spec);
      const newest = Math.max(...result.inputs.map(mtimeOf));
      // The save is the newest input's mtime.
      const sinceSave = Date.now() - newest;
      // SIGHUP and the like time the reload itself; a watched change times from the save.
      const ms = reason === 'change' && newest > 0 && sinceSave < 10_000 ? sinceSave : performance.now() - t0;
      const outcome: ReloadOutcome = { ok: true, saveToServingMs: Math.round(ms), loadMs: Math.round(result.loadMs) };
      opts.logger.info(`reloaded in ${outcome.saveToServingMs} ms`, {
        ...(reason === 'change' ? {} : { reason }),
        loadMs: outcome.loadMs,
        saveToServingMs: outcome.saveToServingMs,
      });
      opts.onApplied?.(result, outcome);
      return outcome;
    } catch (error) {
      opts.onError(error);
      return { ok: false, error };
    }
  }

  function reload(reason = 'change'): Promise<ReloadOutcome> {
    if (!running) {
      running = once(reason).finally(() => {
        running = null;
      });
      return running;
    }
    queued ??= running.then(() => {
      queued = null;
      return reload(reason);
    });
    return queued;
  }
  return { reload };
}

export interface WatchOptions extends ReloaderOptions {
  /** Files to watch at first: the inputs of the initial load (or just the config when it failed). */
  inputs: string[];
  debounceMs?: number;
}

export interface ConfigWatcher {
  reload(reason?: string): Promise<ReloadOutcome>;
  close(): Promise<void>;
}

export async function watchConfig(opts: WatchOptions): Promise<ConfigWatcher> {
  const debounceMs = opts.debounceMs ?? 25;
  const watchable = (files: string[]) => files.filter((f) => !f.split(path.sep).includes('node_modules'));
  let inputs = watchable(opts.inputs);
  const mtimes = (files: string[]) => files.map(mtimeOf).join();
  let builtFrom = mtimes(inputs);
  let timer: NodeJS.Timeout | undefined;
  let recheck: NodeJS.Timeout | undefined;
  let closed = false;

  const watcher: FSWatcher = chokidar.watch(inputs, { ignoreInitial: true });
  const schedule = (ms: number) => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(run, ms);
  };
  watcher.on('all', () => schedule(debounceMs));
  watcher.on('error', (err) => opts.logger.warn(`file watcher: ${(err as Error).message}`));

  const reloader = createReloader(opts);

  function syncInputs(): void {
    // After a failed build the loader still knows the files it tried; keep watching the old ones too.
    const next = watchable(opts.loader.inputs);
    const added = next.filter((p) => !inputs.includes(p));
    if (added.length) watcher.add(added);
    inputs = [...new Set([...inputs, ...next])];
  }

  async function run(): Promise<void> {
    builtFrom = mtimes(inputs); // before the build: a failing build is not retried in a loop
    const outcome = await reloader.reload('change');
    if (closed) return;
    const before = inputs.length;
    syncInputs();
    if (outcome.ok) {
      // Stop watching files no longer imported.
      const current = watchable(opts.loader.inputs);
      const removed = inputs.filter((p) => !current.includes(p));
      if (removed.length) watcher.unwatch(removed);
      inputs = current;
    }
    if (inputs.length !== before) builtFrom = mtimes(inputs);
    clearTimeout(recheck);
    recheck = setTimeout(() => {
      if (!closed && mtimes(inputs) !== builtFrom) schedule(0);
    }, 75);
  }

  await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  // A save between the initial load and the watcher being ready produced no event: catch it here.
  if (Math.max(...inputs.map(mtimeOf)) >= opts.loader.lastLoadStartedAt - 5) schedule(0);
  return {
    reload: (reason) => reloader.reload(reason),
    async close() {
      closed = true;
      clearTimeout(timer);
      clearTimeout(recheck);
      await watcher.close();
    },
  };
}

/**
 * Start test/helpers/proxy-child.ts as a separate process and sample its memory.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, statSync, existsSync, mkdtempSync, symlinkSync, rmSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../..');

/** Newest mtime (ms) of the files under `dir` ending in `ext`. */
function newest(dir: string, ext: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p, ext));
    else if (e.name.endsWith(ext)) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

/**
 * The compiled proxykit the child runs. The child never runs TypeScript through a loader: tsx alone
 * adds ~30 MB of RSS, which would distort a memory test. Uses `dist/` when it is at least as new as
 * every file in `src/` (as after `npm run build`, which `npm test` runs first); otherwise compiles
 * `src/` once per test process into a temporary directory (tsc, ~8 s) and removes it at exit.
 * PK_CHILD_LIB=<dir> forces a given build.
 */
let builtLib: string | undefined;
export function compiledLib(): { lib: string; mode: 'dist' | 'temp-build' | 'env' } {
  if (process.env.PK_CHILD_LIB) return { lib: process.env.PK_CHILD_LIB, mode: 'env' };
  const dist = path.join(repoRoot, 'dist');
  const distRuntime = path.join(dist, 'engine', 'runtime.js');
  if (existsSync(distRuntime) && existsSync(path.join(dist, 'index.js'))) {
    const distOldest = Math.min(statSync(distRuntime).mtimeMs, statSync(path.join(dist, 'index.js')).mtimeMs);
    if (newest(path.join(repoRoot, 'src'), '.ts') <= distOldest + 1) return { lib: dist, mode: 'dist' };
  }
  if (!builtLib) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'proxykit-test-build-'));
    symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'));
    const out = path.join(dir, 'dist');
    const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', path.join(repoRoot, 'tsconfig.build.json'), '--outDir', out], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (!existsSync(path.join(out, 'engine', 'runtime.js'))) {
      throw new Error(`could not compile src/ for the child process: ${r.stdout}${r.stderr}`);
    }
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    builtLib = out;
  }
  return { lib: builtLib, mode: 'temp-build' };
}

export interface ChildProxy {
  /** Which compiled proxykit runs: the repo's dist/, a temporary build of src/, or PK_CHILD_LIB. */
  mode: 'dist' | 'temp-build' | 'env';
  child: ChildProcess;
  pid: number;
  base: string;
  port: number;
  stderr(): string;
  /** VmRSS and VmHWM of the process, bytes. */
  memory(): { rss: number; hwm: number };
  /** Start sampling VmRSS every `everyMs`; returns a stop function giving the peak (bytes). */
  sample(everyMs?: number): () => number;
  stop(): Promise<void>;
}

export function readProcMemory(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(s);
    return m ? Number(m[1]) * 1024 : 0;
  };
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

export function startChildProxy(config: unknown, opts: { startTimeoutMs?: number; nodeArgs?: string[] } = {}): Promise<ChildProxy> {
  const { lib, mode } = compiledLib();
  const child = spawn(
    process.execPath,
    [...(opts.nodeArgs ?? []), path.join(here, 'proxy-child.mjs')],
    {
      cwd: repoRoot,
      env: {
        ...process.env,
        PK_CHILD_CONFIG: JSON.stringify(config),
        PK_CHILD_LIB: lib,
        NODE_OPTIONS: '',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stderr!.on('data', (c: Buffer) => {
    err += c.toString();
    if (err.length > 100_000) err = err.slice(-50_000);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`proxy child did not start within ${opts.startTimeoutMs ?? 20000} ms; stderr: ${err}`));
    }, opts.startTimeoutMs ?? 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`proxy child exited with ${code} before listening; stderr: ${err}`));
    });
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /PROXYKIT_URL=(\S+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      const base = m[1]!.replace(/\/$/, '');
      const pid = child.pid!;
      const proxy: ChildProxy = {
        mode,
        child,
        pid,
        base,
        port: Number(new URL(base).port),
        stderr: () => err,
        memory: () => readProcMemory(pid),
        sample(everyMs = 100) {
          let peak = 0;
          const tick = (): void => {
            try {
              peak = Math.max(peak, readProcMemory(pid).rss);
            } catch {
              /* exited */
            }
          };
          tick();
          const t = setInterval(tick, everyMs);
          return () => {
            clearInterval(t);
            tick();
            return peak;
          };
        },
        stop() {
          return new Promise<void>((res) => {
            if (child.exitCode !== null || child.signalCode !== null) return res();
            const hard = setTimeout(() => child.kill('SIGKILL'), 5000);
            child.once('exit', () => {
              clearTimeout(hard);
              res();
            });
            child.kill('SIGTERM');
          });
        },
      };
      child.removeAllListeners('exit');
      resolve(proxy);
    });
  });
}

export const MiB = 1024 * 1024;

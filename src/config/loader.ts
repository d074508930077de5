/**
 * Loads a `proxy.config.ts` into a ConfigSpec.
 *
 * esbuild `context()` (kept for the life of the loader, `rebuild()` per load) bundles the config to
 * CommonJS with an inline source map; the bundle runs through `vm.compileFunction` with a `require`
 * that hands out proxykit's own module for `'proxykit'`. This is the variant measured in
 * docs/dependencies.md §2: ~4 ms per reload and a flat heap (ESM `import()` and `vm.Script` both leak
 * per reload). Builder calls record raw stack positions (`at`) in bundle coordinates; after evaluation
 * every such `at` is mapped back to the original file:line:col through the bundle's source map.
 */
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { createRequire, SourceMap } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import * as esbuild from 'esbuild';
import * as proxykit from '../index.js';
import { isConfig } from './builder.js';
import { assertValidConfig } from './validate.js';
import { ConfigError, type ConfigProblem } from './errors.js';
import type { ConfigSpec, SourceLocation } from './spec.js';

export interface LoadResult {
  spec: ConfigSpec;
  /** Absolute paths of every file the bundle was built from (the entry and its local imports). */
  inputs: string[];
  /** Bundle + evaluate + validate, ms. */
  loadMs: number;
}

export interface ConfigLoader {
  /** Absolute path of the config entry file. */
  readonly configPath: string;
  /** Files of the last build, successful or not (at least the entry). */
  readonly inputs: string[];
  /** Epoch ms when the last load started reading files (0 before the first). */
  readonly lastLoadStartedAt: number;
  load(): Promise<LoadResult>;
  dispose(): Promise<void>;
}

const PARAMS = ['exports', 'require', 'module', '__filename', '__dirname'];
const TLA_HINT = 'wrap the config in an async function: `export default async () => { const x = await …; return defineConfig({…}); }`';

export interface ConfigLoaderOptions {
  /** Adjust the loaded spec before validation (e.g. `proxykit dev`'s defaults). */
  prepare?: (spec: ConfigSpec) => ConfigSpec;
}

export function createConfigLoader(configPath: string, options: ConfigLoaderOptions = {}): ConfigLoader {
  const entry = path.resolve(configPath);
  const dir = path.dirname(entry);
  const userRequire = createRequire(entry);
  const req = (id: string): unknown =>
    id === 'proxykit' || id.startsWith('proxykit/') ? proxykit : userRequire(id);
  let inputs: string[] = [entry];
  let ctxPromise: Promise<esbuild.BuildContext<{ write: false; metafile: true }>> | undefined;
  let disposed = false;
  let lastLoadStartedAt = 0;

  const context = () =>
    (ctxPromise ??= esbuild.context({
      entryPoints: [entry],
      outfile: `${entry}.cjs`, // never written; fixes where source map paths are relative to
      write: false,
      absWorkingDir: dir,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      sourcemap: 'inline',
      metafile: true,
      logLevel: 'silent',
      external: ['proxykit', 'proxykit/*'],
      define: {
        'import.meta.url': JSON.stringify(pathToFileURL(entry).href),
        'import.meta.filename': JSON.stringify(entry),
        'import.meta.dirname': JSON.stringify(dir),
      },
    }));

  async function load(): Promise<LoadResult> {
    if (disposed) throw new Error('config loader is disposed');
    const t0 = performance.now();
    lastLoadStartedAt = Date.now();
    if (!fs.existsSync(entry)) throw notFound(entry);
    let ctx;
    try {
      ctx = await context();
    } catch (err) {
      ctxPromise = undefined;
      throw buildError(err, dir, entry);
    }
    let res: esbuild.BuildResult<{ write: false; metafile: true }>;
    try {
      res = await ctx.rebuild();
    } catch (err) {
      throw buildError(err, dir, entry);
    }
    const code = res.outputFiles[0]!.text;
    inputs = Object.keys(res.metafile.inputs).map((p) => path.resolve(dir, p));
    const locate = makeLocator(code, entry);

    const module: { exports: Record<string, unknown> } = { exports: {} };
    let value: unknown;
    try {
      const fn = vm.compileFunction(code, PARAMS, { filename: entry });
      fn(module.exports, req, module, entry, dir);
      value = module.exports.default;
      if (value === undefined && isConfig(module.exports)) value = module.exports;
      if (typeof value === 'function') value = await (value as () => unknown)();
    } catch (err) {
      throw evalError(err, locate, entry, inputs);
    }
    if (value === undefined) {
      throw new ConfigError([
        { message: `${path.basename(entry)} has no default export`, at: { file: entry, line: 1, column: 1 }, hint: 'export default defineConfig({ … })' },
      ]);
    }
    if (!isConfig(value)) {
      throw new ConfigError([
        {
          message: `the default export of ${path.basename(entry)} is not a config (got ${describe(value)})`,
          at: { file: entry, line: 1, column: 1 },
          hint: "export default defineConfig({ … }) with defineConfig imported from 'proxykit'",
        },
      ]);
    }
    const loaded = remapLocations(value, locate, entry) as ConfigSpec;
    const spec = options.prepare ? options.prepare(loaded) : loaded;
    assertValidConfig(spec);
    return { spec, inputs, loadMs: performance.now() - t0 };
  }

  return {
    configPath: entry,
    get inputs() {
      return inputs;
    },
    get lastLoadStartedAt() {
      return lastLoadStartedAt;
    },
    load,
    async dispose() {
      disposed = true;
      const p = ctxPromise;
      ctxPromise = undefined;
      if (p) await p.then((c) => c.dispose(), () => {});
    },
  };
}

/** Maps a bundle location (1-based line and column, as in stack traces) to the original source. */
type Locator = (line: number, column: number) => SourceLocation | undefined;

function makeLocator(code: string, entry: string): Locator {
  let map: SourceMap | null | undefined;
  return (line, column) => {
    if (map === undefined) {
      const m = /\/\/# sourceMappingURL=data:application\/json;base64,(\S+)\s*$/.exec(code);
      map = m ? new SourceMap(JSON.parse(Buffer.from(m[1]!, 'base64').toString())) : null;
    }
    if (!map) return undefined;
    // Node 20 returns {} when there is no mapping (later versions undefined).
    const e = map.findEntry(line - 1, column - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number } | undefined;
    if (!e || !e.originalSource || e.originalLine === undefined || e.originalColumn === undefined) return undefined;
    const src = e.originalSource.startsWith('file:') ? fileURLToPath(e.originalSource) : path.resolve(path.dirname(entry), e.originalSource);
    return { file: src, line: e.originalLine + 1, column: e.originalColumn + 1 };
  };
}

function normFile(file: string): string {
  return file.startsWith('file:') ? fileURLToPath(file) : file;
}

function isLocation(v: object): v is SourceLocation {
  const o = v as Record<string, unknown>;
  return typeof o.file === 'string' && typeof o.line === 'number' && typeof o.column === 'number';
}

const OPAQUE = [Map, Set, WeakMap, WeakSet, Date, RegExp, Promise, Error, ArrayBuffer];

/**
 * Returns the spec with every `at` that points into the bundle mapped to the original source.
 * `at` objects are updated in place when they are writable; frozen parents are copied (keeping
 * their prototype and any symbol brands), sharing preserved (a pool used by two routes stays one object).
 */
export function remapLocations<T>(root: T, locate: Locator, entry?: string): T {
  const memo = new Map<object, unknown>();
  const mapLoc = (at: SourceLocation): SourceLocation | undefined => {
    const file = normFile(at.file);
    if (entry !== undefined && path.resolve(file) !== entry) return undefined;
    return locate(at.line, at.column);
  };
  const visit = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object') return v;
    if (memo.has(v)) return memo.get(v);
    memo.set(v, v);
    if (ArrayBuffer.isView(v) || OPAQUE.some((C) => v instanceof C)) return v;
    let changed: Map<PropertyKey, unknown> | undefined;
    for (const key of Reflect.ownKeys(v)) {
      const d = Object.getOwnPropertyDescriptor(v, key);
      if (!d || !('value' in d)) continue;
      let next: unknown;
      if (key === 'at' && d.value && typeof d.value === 'object' && isLocation(d.value)) {
        const to = mapLoc(d.value);
        if (!to) continue;
        if (!Object.isFrozen(d.value)) {
          Object.assign(d.value, to);
          continue;
        }
        next = to;
      } else {
        next = visit(d.value);
      }
      if (next !== d.value) (changed ??= new Map()).set(key, next);
    }
    if (!changed) return v;
    let out: object;
    if (!Object.isFrozen(v) && [...changed.keys()].every((k) => Object.getOwnPropertyDescriptor(v, k)?.writable)) {
      out = v;
      for (const [k, n] of changed) (v as Record<PropertyKey, unknown>)[k] = n;
    } else {
      const descs = Object.getOwnPropertyDescriptors(v) as Record<PropertyKey, PropertyDescriptor>;
      for (const [k, n] of changed) descs[k as string] = { ...descs[k as string], value: n };
      out = Array.isArray(v) ? Object.defineProperties([], descs) : Object.create(Object.getPrototypeOf(v), descs);
      if (Object.isFrozen(v)) Object.freeze(out);
    }
    memo.set(v, out);
    return out;
  };
  return visit(root) as T;
}

interface EsbuildMessage {
  text: string;
  location: { file: string; line: number; column: number; lineText?: string } | null;
  notes?: { text: string }[];
}

function buildError(err: unknown, dir: string, entry: string): unknown {
  const errors = (err as { errors?: EsbuildMessage[] } | null)?.errors;
  if (!Array.isArray(errors) || errors.length === 0) {
    const code = (err as NodeJS.ErrnoException)?.code;
    return code === 'ENOENT' ? notFound(entry) : err;
  }
  const problems: ConfigProblem[] = errors.map((e) => {
    const problem: ConfigProblem = { message: e.text };
    if (e.location) {
      problem.at = { file: path.resolve(dir, e.location.file), line: e.location.line, column: e.location.column + 1 };
    }
    if (/Top-level await/i.test(e.text)) problem.hint = TLA_HINT;
    else if (/Could not resolve/.test(e.text)) {
      problem.hint = /^Could not resolve "\.{0,2}\//.test(e.text)
        ? 'check the path of the import (relative to the importing file)'
        : 'install the package next to the config (npm install …) or fix the import name';
    } else if (e.notes?.[0]?.text) problem.hint = e.notes[0].text;
    return problem;
  });
  return new ConfigError(problems);
}

function notFound(entry: string): ConfigError {
  return new ConfigError([{ message: `config file not found: ${entry}`, hint: 'run `proxykit init` to create one, or pass -c PATH' }]);
}

function evalError(err: unknown, locate: Locator, entry: string, inputs: string[]): unknown {
  // A ConfigError thrown by the builder while the config ran: map its locations.
  if (err instanceof ConfigError) {
    const problems = err.problems.map((p) => (p.at ? { ...p, at: remapOne(p.at, locate, entry) } : p));
    return new ConfigError(problems);
  }
  const e = err instanceof Error ? err : new Error(String(err));
  if (e.stack) e.stack = remapStack(e.stack, locate, entry);
  const userFiles = new Set(inputs.filter((f) => !f.includes(`${path.sep}node_modules${path.sep}`)));
  userFiles.add(entry);
  let at: SourceLocation | undefined;
  for (const m of (e.stack ?? '').matchAll(/\(?((?:file:\/\/)?\/[^\s()]+?):(\d+):(\d+)\)?$/gm)) {
    const file = normFile(m[1]!);
    if (userFiles.has(file)) {
      at = { file, line: Number(m[2]), column: Number(m[3]) };
      break;
    }
  }
  const name = e.name && e.name !== 'Error' ? `${e.name}: ` : '';
  const ce = new ConfigError([
    {
      message: `the config threw while loading: ${name}${e.message}`,
      ...(at ? { at } : {}),
      hint: at ? 'fix the code at this line (the config runs top to bottom on every load)' : 'see the stack below',
    },
  ]);
  (ce as { cause?: unknown }).cause = e;
  return ce;
}

function remapOne(at: SourceLocation, locate: Locator, entry: string): SourceLocation {
  return path.resolve(normFile(at.file)) === entry ? (locate(at.line, at.column) ?? at) : at;
}

/** Node maps stacks only for modules it loads itself; map frames of the vm-compiled bundle by hand. */
export function remapStack(stack: string, locate: Locator, entry: string): string {
  const esc = entry.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return stack.replace(new RegExp(`${esc}:(\\d+):(\\d+)`, 'g'), (all, l: string, c: string) => {
    const o = locate(Number(l), Number(c));
    return o ? `${o.file}:${o.line}:${o.column}` : all;
  });
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'a plain object; was defineConfig() called?';
  return typeof v;
}

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createConfigLoader } from '../../../src/config/loader.js';
import { ConfigError } from '../../../src/config/errors.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A bare temp dir (no package.json, no node_modules) holding the given files. */
function project(files: Record<string, string>): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'pk-loader-')));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

async function loadError(dir: string, file = 'proxy.config.ts'): Promise<ConfigError> {
  const loader = createConfigLoader(path.join(dir, file));
  try {
    await loader.load();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String((err as Error)?.stack ?? err)}`);
    return err;
  } finally {
    await loader.dispose();
  }
  assert.fail('load() should have thrown');
}

const GOOD = `import { defineConfig, route, pool } from 'proxykit';

interface Shape { a: number }
type Alias = Shape | string;

const api = pool('api', ['http://127.0.0.1:3001']);

export default defineConfig({
  listen: ['http://127.0.0.1:8080'],
  routes: [route('/api/*').to(api), route('/health').respond(200, 'ok')],
});
`;

test("'proxykit' resolves in a bare temp dir and yields the host's own builder objects", async () => {
  const dir = project({ 'proxy.config.ts': GOOD });
  assert.equal(fs.existsSync(path.join(dir, 'node_modules')), false);
  const loader = createConfigLoader(path.join(dir, 'proxy.config.ts'));
  try {
    const { spec, inputs, loadMs } = await loader.load();
    const { isConfig } = await import('../../../src/config/builder.js');
    assert.equal(isConfig(spec), true);
    assert.equal(spec.routes.length, 2);
    assert.deepEqual(inputs, [path.join(dir, 'proxy.config.ts')]);
    assert.ok(loadMs >= 0);
    // `at` points at the .ts source, not the bundle.
    const r0 = spec.routes[0]!;
    assert.equal(r0.at?.file, path.join(dir, 'proxy.config.ts'));
    assert.equal(r0.at?.line, 10);
    if (r0.target?.kind === 'pool') assert.equal(r0.target.pool.at?.line, 6);
  } finally {
    await loader.dispose();
  }
});

test('a syntax error reports file:line:col', async () => {
  const dir = project({
    'proxy.config.ts': `import { defineConfig } from 'proxykit';\n\nconst x = ;\nexport default defineConfig({ listen: [], routes: [] });\n`,
  });
  const err = await loadError(dir);
  const p = err.problems[0]!;
  assert.deepEqual(p.at, { file: path.join(dir, 'proxy.config.ts'), line: 3, column: 11 });
  assert.match(p.message, /Unexpected ";"/);
  assert.match(err.message, /proxy\.config\.ts:3:11 /);
});

test('a throw while the config runs reports the .ts line', async () => {
  const dir = project({
    'proxy.config.ts': `import { defineConfig } from 'proxykit';
type A = { x: number };
interface B { y: string }
const f = (n: number): number => n;

if (f(1) === 1) throw new Error('boom from config');
export default defineConfig({ listen: [], routes: [] });
`,
  });
  const err = await loadError(dir);
  const p = err.problems[0]!;
  assert.match(p.message, /boom from config/);
  assert.equal(p.at?.file, path.join(dir, 'proxy.config.ts'));
  assert.equal(p.at?.line, 6);
  assert.match(String(((err as { cause?: Error }).cause)?.stack), /proxy\.config\.ts:6:/);
});

test('a throw inside an imported local file reports that file', async () => {
  const dir = project({
    'proxy.config.ts': `import { defineConfig } from 'proxykit';\nimport { make } from './lib.ts';\nexport default defineConfig({ listen: [], routes: make() });\n`,
    'lib.ts': `type T = number;\nexport function make(): never {\n  throw new TypeError('bad upstream list');\n}\n`,
  });
  const err = await loadError(dir);
  assert.equal(err.problems[0]!.at?.file, path.join(dir, 'lib.ts'));
  assert.equal(err.problems[0]!.at?.line, 3);
});

test('validation errors map to the .ts line of the builder call', async () => {
  const dir = project({
    'proxy.config.ts': `import { defineConfig, route, pool } from 'proxykit';

interface Pad1 { a: number }
interface Pad2 { b: string }
type Pad3 = Pad1 & Pad2;

const bad = pool('api', ['http//x']);

export default defineConfig({
  listen: ['http://127.0.0.1:8080'],
  routes: [route('/x').to(bad)],
});
`,
  });
  const err = await loadError(dir);
  const lines = err.problems.map((p) => p.at?.line);
  assert.ok(lines.includes(7), `expected a problem on line 7, got ${err.message}`);
  const p = err.problems.find((q) => q.at?.line === 7)!;
  assert.equal(p.at?.file, path.join(dir, 'proxy.config.ts'));
  assert.match(p.message, /http\/\/x/);
});

test('a local import works and is listed in inputs', async () => {
  const dir = project({
    'upstreams.ts': `export const upstreams: string[] = ['http://127.0.0.1:3001', 'http://127.0.0.1:3002'];\n`,
    'proxy.config.ts': `import { defineConfig, route, pool } from 'proxykit';
import { upstreams } from './upstreams.js';
export default defineConfig({ listen: ['http://127.0.0.1:8080'], routes: [route('/*').to(pool('api', upstreams))] });
`,
  });
  const loader = createConfigLoader(path.join(dir, 'proxy.config.ts'));
  try {
    const { spec, inputs } = await loader.load();
    assert.deepEqual(inputs.sort(), [path.join(dir, 'proxy.config.ts'), path.join(dir, 'upstreams.ts')].sort());
    const t = spec.routes[0]!.target;
    assert.equal(t?.kind, 'pool');
    if (t?.kind === 'pool') assert.deepEqual(t.pool.upstreams.map((u) => u.url), ['http://127.0.0.1:3001', 'http://127.0.0.1:3002']);
    // Edit and reload through the same loader: the change is seen.
    fs.writeFileSync(path.join(dir, 'upstreams.ts'), `export const upstreams: string[] = ['http://127.0.0.1:4000'];\n`);
    const again = await loader.load();
    const t2 = again.spec.routes[0]!.target;
    if (t2?.kind === 'pool') assert.deepEqual(t2.pool.upstreams.map((u) => u.url), ['http://127.0.0.1:4000']);
  } finally {
    await loader.dispose();
  }
});

test('an async function default export is awaited; import.meta.dirname is the config dir', async () => {
  const dir = project({
    'proxy.config.ts': `import { defineConfig, route } from 'proxykit';
export default async () => {
  const port = await Promise.resolve(8080);
  return defineConfig({ listen: ['http://127.0.0.1:' + port], routes: [route('/' + (import.meta.dirname === ${JSON.stringify('__DIR__')} ? 'ok' : 'bad')).respond(200, 'x')] });
};
`,
  });
  fs.writeFileSync(path.join(dir, 'proxy.config.ts'), fs.readFileSync(path.join(dir, 'proxy.config.ts'), 'utf8').replace('__DIR__', dir));
  const loader = createConfigLoader(path.join(dir, 'proxy.config.ts'));
  try {
    const { spec } = await loader.load();
    assert.deepEqual(spec.listen, ['http://127.0.0.1:8080']);
    assert.equal(spec.routes[0]!.match, '/ok');
    assert.equal(spec.routes[0]!.at?.line, 4);
  } finally {
    await loader.dispose();
  }
});

test('a missing or wrong default export says to export defineConfig', async () => {
  const none = await loadError(project({ 'proxy.config.ts': `export const x = 1;\n` }));
  assert.match(none.problems[0]!.message, /no default export/);
  assert.match(none.problems[0]!.hint ?? '', /export default defineConfig/);
  const plain = await loadError(project({ 'proxy.config.ts': `export default { listen: [], routes: [] };\n` }));
  assert.match(plain.problems[0]!.message, /not a config/);
  assert.match(plain.problems[0]!.hint ?? '', /export default defineConfig/);
});

test('top-level await gives a clear error with a hint', async () => {
  const err = await loadError(
    project({
      'proxy.config.ts': `import { defineConfig } from 'proxykit';\nconst n = await Promise.resolve(1);\nexport default defineConfig({ listen: [], routes: [] });\n`,
    }),
  );
  assert.equal(err.problems[0]!.at?.line, 2);
  assert.match(err.problems[0]!.hint ?? '', /async function/);
});

test('a missing config file is a ConfigError saying to run init', async () => {
  const dir = project({});
  const err = await loadError(dir);
  assert.match(err.message, /not found/);
  assert.match(err.problems[0]!.hint ?? '', /proxykit init/);
});

test('500 loads do not grow heapUsed (after gc) beyond a few MB', { timeout: 120_000 }, async () => {
  const dir = project({ 'proxy.config.ts': GOOD + `\nexport const pad = ${JSON.stringify('x'.repeat(64 * 1024))};\n` });
  const script = path.join(dir, 'leak.mts');
  fs.writeFileSync(
    script,
    `import { createConfigLoader } from ${JSON.stringify(pathToFileURL(path.join(ROOT, 'src/config/loader.ts')).href)};
const gc = (globalThis as { gc?: () => void }).gc!;
const loader = createConfigLoader(${JSON.stringify(path.join(dir, 'proxy.config.ts'))});
for (let i = 0; i < 50; i++) await loader.load();
gc(); gc();
const before = process.memoryUsage().heapUsed;
for (let i = 0; i < 500; i++) await loader.load();
gc(); gc();
const afterUsed = process.memoryUsage().heapUsed;
await loader.dispose();
process.stdout.write(JSON.stringify({ growthMB: (afterUsed - before) / 1048576 }));
`,
  );
  const out = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ['--expose-gc', '--import', 'tsx', script], { cwd: ROOT, timeout: 110_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
    ),
  );
  const { growthMB } = JSON.parse(out) as { growthMB: number };
  console.log(`# heapUsed growth after 500 loads of a 64 KB config: ${growthMB.toFixed(2)} MB`);
  assert.ok(growthMB < 4, `heap grew ${growthMB.toFixed(2)} MB`);
});

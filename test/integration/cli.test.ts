/**
 * The built CLI (`node bin/proxykit.js`, from dist/) as a child process, against real files in temp
 * dirs and real sockets on loopback.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin', 'proxykit.js');
const dirs: string[] = [];
const children = new Set<ChildProcess>();

before(() => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) {
    const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  }
});
after(() => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'pk-cli-')));
  dirs.push(d);
  return d;
}

function run(args: string[], cwd: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 30_000, env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Proc {
  child: ChildProcess;
  output(): string;
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
}

function start(args: string[], cwd: string): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => (children.delete(child), resolve(code))));
  return {
    child,
    output: () => out,
    exited,
    async waitFor(re, ms = 10_000) {
      const end = Date.now() + ms;
      let from = 0;
      while (Date.now() < end) {
        const m = re.exec(out.slice(from));
        if (m) return m;
        if (child.exitCode !== null) break;
        await sleep(10);
      }
      from = 0;
      throw new Error(`timed out waiting for ${re} in output:\n${out}`);
    },
  };
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
}

/** Poll until the body at url equals want; returns ms from `since`. */
async function until(url: string, want: string, since: number, ms = 5000): Promise<number> {
  const end = Date.now() + ms;
  let last = '';
  while (Date.now() < end) {
    try {
      last = (await get(url)).body;
      if (last === want) return performance.now() - since;
    } catch (e) {
      last = String(e);
    }
    await sleep(2);
  }
  throw new Error(`${url} never answered ${JSON.stringify(want)} (last: ${JSON.stringify(last)})`);
}

const respondConfig = (port: number, body: string, extra = '') => `import { defineConfig, route } from 'proxykit';
${extra}
export default defineConfig({
  listen: ['http://127.0.0.1:${port}'],
  routes: [route('/v').respond(200, ${body})],
});
`;

test('init writes proxy.config.ts, refuses to overwrite without --force', () => {
  const dir = tempDir();
  const first = run(['init'], dir);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /wrote proxy\.config\.ts/);
  assert.match(first.stdout, /proxykit dev/);
  const written = fs.readFileSync(path.join(dir, 'proxy.config.ts'), 'utf8');
  assert.equal(written, fs.readFileSync(path.join(ROOT, 'templates/basic/proxy.config.ts'), 'utf8'));

  fs.writeFileSync(path.join(dir, 'proxy.config.ts'), '// mine\n');
  const again = run(['init'], dir);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already exists.*--force/);
  assert.equal(fs.readFileSync(path.join(dir, 'proxy.config.ts'), 'utf8'), '// mine\n');

  const forced = run(['init', '--force', '--template', 'load-balancer'], dir);
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(fs.readFileSync(path.join(dir, 'proxy.config.ts'), 'utf8'), /least-conn/);

  const sub = run(['init', 'site', '-t', 'api-gateway'], dir);
  assert.equal(sub.code, 0, sub.stderr);
  assert.ok(fs.existsSync(path.join(dir, 'site', 'proxy.config.ts')));
  assert.match(sub.stdout, /cd site/);

  const bad = run(['init', 'x', '--template', 'nope'], dir);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /unknown template "nope"/);
});

test('check passes on the basic, load-balancer and static-cache templates, the quickstart and the caching example', () => {
  for (const t of ['basic', 'load-balancer', 'static-cache']) {
    const dir = tempDir();
    assert.equal(run(['init', '-t', t], dir).code, 0);
    const r = run(['check'], dir);
    assert.equal(r.code, 0, `${t}: ${r.stderr}`);
    assert.match(r.stdout, /^ok: \d+ routes?, \d+ pools?/);
  }
  const q = run(['check', '-c', 'examples/quickstart/proxy.config.ts'], ROOT);
  assert.equal(q.code, 0, q.stderr);
  assert.match(q.stdout, /ok: 4 routes, 1 pool/);
  const c = run(['check', '-c', 'examples/caching/proxy.config.ts'], ROOT);
  assert.equal(c.code, 0, c.stderr);
});

test('check exits 1 with file:line on a broken config, 0 on a good one', () => {
  const dir = tempDir();
  fs.writeFileSync(
    path.join(dir, 'proxy.config.ts'),
    `import { defineConfig, route, pool } from 'proxykit';

type Pad = { a: number };

const bad = pool('api', ['http//x']);

export default defineConfig({
  listen: ['http://127.0.0.1:8080'],
  routes: [route('/x').to(bad)],
});
`,
  );
  const r = run(['check'], dir);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^proxy\.config\.ts:5:\d+ .*http\/\/x/m);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');

  fs.writeFileSync(path.join(dir, 'proxy.config.ts'), `import { defineConfig } from 'proxykit';\nconst = 1;\n`);
  const syn = run(['check'], dir);
  assert.equal(syn.code, 1);
  assert.match(syn.stderr, /^proxy\.config\.ts:2:\d+ /m);

  fs.writeFileSync(path.join(dir, 'proxy.config.ts'), respondConfig(8080, "'ok'"));
  const good = run(['check'], dir);
  assert.equal(good.code, 0, good.stderr);
  assert.match(good.stdout, /ok: 1 route, 0 pools/);
});

test('a missing config is one clear line', () => {
  const dir = tempDir();
  for (const cmd of ['check', 'dev', 'start']) {
    const r = run([cmd], dir);
    assert.equal(r.code, 1, cmd);
    assert.match(r.stderr, /no proxy\.config\.ts here .*proxykit init/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  const r = run(['check', '-c', 'nope.ts'], dir);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /config file not found: nope\.ts/);
});

test('--version prints the package version', () => {
  const r = run(['--version'], ROOT);
  assert.equal(r.code, 0);
  assert.equal(r.stdout.trim(), JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
});

test('dev serves and hot-reloads; a broken edit keeps the old config; editing an imported file reloads', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  const port = await freePort();
  const file = path.join(dir, 'proxy.config.ts');
  const url = `http://127.0.0.1:${port}/v`;
  fs.writeFileSync(file, respondConfig(port, "'v0'"));
  const dev = start(['dev'], dir);
  try {
    await dev.waitFor(/serving http:\/\/127\.0\.0\.1:\d+/);
    assert.deepEqual(await get(url), { status: 200, body: 'v0' });

    // Edit the config: measure save-to-serving, as seen by a client and as logged.
    const client: number[] = [];
    for (let i = 1; i <= 8; i++) {
      await sleep(120); // > chokidar's 50 ms per-file throttle
      const t0 = performance.now();
      fs.writeFileSync(file, respondConfig(port, `'v${i}'`));
      client.push(await until(url, `v${i}`, t0));
    }
    const logged = [...dev.output().matchAll(/reloaded in (\d+) ms/g)].map((m) => Number(m[1]));
    const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
    console.log(`# save-to-serving (client view) ms: ${client.map((x) => x.toFixed(0)).join(' ')}; median ${med(client).toFixed(0)}`);
    console.log(`# "reloaded in N ms" logged: ${logged.join(' ')}; median ${med(logged)}`);
    assert.ok(logged.length >= 8, dev.output());
    assert.ok(med(client) < 500, `median save-to-serving ${med(client)} ms`);

    // Two saves 10 ms apart (inside chokidar's throttle window): the last one must win.
    await sleep(120);
    fs.writeFileSync(file, respondConfig(port, "'fast-1'"));
    await sleep(10);
    fs.writeFileSync(file, respondConfig(port, "'fast-2'"));
    await until(url, 'fast-2', performance.now(), 3000);

    // A broken edit: error with file:line:col printed, old config still serving.
    await sleep(120);
    const mark = dev.output().length;
    fs.writeFileSync(file, `import { defineConfig, route } from 'proxykit';\n\nexport default defineConfig({ routes: [route('/v').respond(200, 'x'] });\n`);
    await dev.waitFor(/proxy\.config\.ts:3:\d+/);
    // The error and the notice are two log lines; wait for the second too.
    await dev.waitFor(/kept the previous config serving/);
    assert.match(dev.output().slice(mark), /proxy\.config\.ts:3:\d+[\s\S]*kept the previous config serving/);
    assert.deepEqual(await get(url), { status: 200, body: 'fast-2' });

    // A runtime throw: also reported with its .ts line.
    await sleep(120);
    fs.writeFileSync(file, `import { defineConfig } from 'proxykit';\ntype T = 1;\nthrow new Error('kaboom');\n`);
    await dev.waitFor(/proxy\.config\.ts:3:\d+ .*kaboom/);
    assert.deepEqual(await get(url), { status: 200, body: 'fast-2' });

    // Fix it, importing a local file; then edit only the imported file.
    await sleep(120);
    fs.writeFileSync(path.join(dir, 'body.ts'), `export const body: string = 'from-import-1';\n`);
    fs.writeFileSync(file, respondConfig(port, 'body', `import { body } from './body.ts';`));
    await until(url, 'from-import-1', performance.now());
    await sleep(120);
    const t1 = performance.now();
    fs.writeFileSync(path.join(dir, 'body.ts'), `export const body: string = 'from-import-2';\n`);
    const ms = await until(url, 'from-import-2', t1);
    console.log(`# save-to-serving after editing an imported file: ${ms.toFixed(0)} ms`);
  } finally {
    dev.child.kill('SIGTERM');
    assert.equal(await dev.exited, 0, dev.output());
  }
});

test('start logs JSON, serves, and exits 0 on SIGTERM; SIGHUP reloads', { timeout: 30_000 }, async () => {
  const dir = tempDir();
  const port = await freePort();
  const file = path.join(dir, 'proxy.config.ts');
  fs.writeFileSync(file, respondConfig(port, "'one'"));
  const proc = start(['start', '--workers', '1'], dir);
  try {
    await proc.waitFor(/serving http/);
    assert.deepEqual(await get(`http://127.0.0.1:${port}/v`), { status: 200, body: 'one' });
    fs.writeFileSync(file, respondConfig(port, "'two'"));
    proc.child.kill('SIGHUP');
    await until(`http://127.0.0.1:${port}/v`, 'two', performance.now());
  } finally {
    proc.child.kill('SIGTERM');
  }
  assert.equal(await proc.exited, 0, proc.output());
  const lines = proc.output().trim().split('\n');
  for (const l of lines) assert.doesNotThrow(() => JSON.parse(l), `not JSON: ${l}`);
  assert.ok(lines.some((l) => /reloaded in \d+ ms/.test(l)));
});

test('start --workers 4 says only 1 is supported; a port in use is one clear line', { timeout: 30_000 }, async () => {
  const dir = tempDir();
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const { port } = blocker.address() as net.AddressInfo;
  try {
    fs.writeFileSync(path.join(dir, 'proxy.config.ts'), respondConfig(port, "'x'"));
    const r = run(['start', '--workers', '4'], dir);
    assert.match(r.stderr, /only|not supported/);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /already in use/);
    assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
    const d = run(['dev'], dir);
    assert.equal(d.code, 1);
    assert.match(d.stderr, /already in use/);
    assert.match(d.stderr, new RegExp(`:${port}\\b`));
  } finally {
    blocker.close();
  }
});

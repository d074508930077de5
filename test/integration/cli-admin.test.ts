/**
 * `proxykit status` and `proxykit reload` (the built CLI, `node bin/proxykit.js`, as a child
 * process) against a real admin server fronting a real runtime and config file, on loopback.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { createRuntime } from '../../src/engine/runtime.js';
import type { Runtime } from '../../src/engine/runtime-api.js';
import { createConfigLoader, type ConfigLoader } from '../../src/config/loader.js';
import type { ConfigSpec } from '../../src/config/spec.js';
import { createMetrics } from '../../src/observe/metrics.js';
import { LiveStats } from '../../src/observe/live-stats.js';
import { createSilentLogger } from '../../src/observe/logger.js';
import type { AdminContext } from '../../src/observe/contracts.js';
import { createAdminServer, summarizeConfig, type AdminServer } from '../../src/observe/admin.js';
import { deadPort, startBackend, type Backend } from '../helpers/backend.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin', 'proxykit.js');
const T = { timeout: 30_000 };
const TOKEN = 'cli-test-token-abcdefghijklmnop';

/** Build dist/ when the CLI files there are missing or older than their sources. */
function ensureBuilt(): void {
  const pairs = [
    ['src/cli/main.ts', 'dist/cli/main.js'],
    ['src/cli/status.ts', 'dist/cli/status.js'],
    ['src/cli/reload.ts', 'dist/cli/reload.js'],
    ['src/observe/admin-auth.ts', 'dist/observe/admin-auth.js'],
  ];
  const stale = pairs.some(([src, out]) => {
    const o = path.join(ROOT, out!);
    return !fs.existsSync(o) || fs.statSync(o).mtimeMs < fs.statSync(path.join(ROOT, src!)).mtimeMs;
  });
  if (!stale) return;
  const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the CLI without blocking this process's event loop (the admin server lives here). */
function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', PROXYKIT_ADMIN_TOKEN: '', PROXYKIT_ADMIN_URL: '' };
    for (const [k, v] of Object.entries(env)) {
      if (v === undefined) delete childEnv[k];
      else childEnv[k] = v;
    }
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function configSource(backend: string, version: string, broken = false): string {
  return [
    `import { defineConfig, route, pool } from 'proxykit';`,
    ``,
    `const be = pool('be', [${JSON.stringify(backend)}]);`,
    ``,
    `export default defineConfig({`,
    `  listen: 'http://127.0.0.1:0',`,
    `  routes: [`,
    `    route('/version').respond(200, ${JSON.stringify(version)}),`,
    broken ? `    route('/x/*').to(pool('be2', ['ftp://nope'])),` : `    route('/health').respond(204, ''),`,
    `    route('/*').to(be),`,
    `  ],`,
    `});`,
    ``,
  ].join('\n');
}

async function get(url: string): Promise<{ status: number; text: string }> {
  const r = await request(url);
  return { status: r.statusCode, text: await r.body.text() };
}

describe('proxykit status / reload', () => {
  let dir: string;
  let file: string;
  let be: Backend;
  let loader: ConfigLoader;
  let runtime: Runtime;
  let admin: AdminServer;
  let tokenAdmin: AdminServer;
  let adminUrl: string;
  let tokenUrl: string;
  let proxyBase: string;

  before(async () => {
    ensureBuilt();
    be = await startBackend();
    dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'pk-cli-admin-')));
    file = path.join(dir, 'proxy.config.ts');
    fs.writeFileSync(file, configSource(be.url, 'v1'));
    loader = createConfigLoader(file);
    const metrics = createMetrics({ collectDefault: false });
    const live = new LiveStats();
    runtime = createRuntime({ logger: createSilentLogger(), metrics, live });
    let spec: ConfigSpec = (await loader.load()).spec;
    await runtime.apply(spec);
    let loadedAt = new Date();
    proxyBase = runtime.listeners[0]!.url.replace(/\/$/, '');
    const ctx: AdminContext = {
      config: () => summarizeConfig(spec, { planId: runtime.planId, listeners: runtime.listeners.map((l) => l.url), loadedAt, file }),
      async reload() {
        const t0 = performance.now();
        const next = (await loader.load()).spec;
        const r = await runtime.apply(next);
        spec = next;
        loadedAt = new Date();
        return { planId: r.planId, ms: performance.now() - t0 };
      },
      pools: () => runtime.pools(),
      drain: (pool, url, draining) => runtime.drain(pool, url, draining),
      metrics,
      live: () => live.snapshot(runtime.pools()),
    };
    admin = createAdminServer({ listen: 'http://127.0.0.1:0', context: ctx, logger: createSilentLogger() });
    adminUrl = await admin.start();
    tokenAdmin = createAdminServer({ listen: 'http://127.0.0.1:0', token: TOKEN, context: ctx, logger: createSilentLogger() });
    tokenUrl = await tokenAdmin.start();
  });

  after(async () => {
    await admin?.close();
    await tokenAdmin?.close();
    await runtime?.close(0);
    await loader?.dispose();
    await be?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('--help lists status and reload', T, async () => {
    const r = await cli(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^\s+status\b/m);
    assert.match(r.stdout, /^\s+reload\b/m);
    const s = await cli(['status', '--help']);
    assert.match(s.stdout, /--admin <url>/);
    assert.match(s.stdout, /--token <token>/);
  });

  it('status prints plan, listeners, routes and each pool with upstream state, inflight and latency', T, async () => {
    assert.equal((await get(`${proxyBase}/hello`)).status, 200);
    const r = await cli(['status', '--admin', adminUrl]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const out = r.stdout;
    assert.match(out, new RegExp(`^proxykit at ${adminUrl.replace(/[.]/g, '\\.')}: serving plan ${runtime.planId}, loaded \\d+s ago from ${file.replace(/[.]/g, '\\.')}$`, 'm'));
    assert.match(out, new RegExp(`^listeners: ${runtime.listeners[0]!.url}$`, 'm'));
    assert.match(out, /^routes: 3$/m);
    assert.match(out, /^pools: 1$/m);
    assert.match(out, /^pool be \([a-z-]+\): 1 healthy$/m);
    assert.match(out, new RegExp(`^  ${be.url}\\s+healthy\\s+inflight\\s+0\\s+latency\\s+(\\d+(\\.\\d)? ms|-)\\s+weight 1$`, 'm'));
  });

  it('status shows a drained upstream, and --json prints the raw data', T, async () => {
    assert.ok(runtime.drain('be', be.url, true));
    try {
      const r = await cli(['status', '--admin', adminUrl]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^pool be \([a-z-]+\): 1 draining$/m);
      assert.match(r.stdout, new RegExp(`^  ${be.url}\\s+draining\\s`, 'm'));
      const j = await cli(['status', '--admin', adminUrl, '--json']);
      assert.equal(j.code, 0, j.stderr);
      const data = JSON.parse(j.stdout) as { config: { planId: number }; upstreams: Array<{ name: string; upstreams: Array<{ state: string }> }> };
      assert.equal(data.config.planId, runtime.planId);
      assert.equal(data.upstreams[0]!.upstreams[0]!.state, 'draining');
    } finally {
      runtime.drain('be', be.url, false);
    }
  });

  it('status with a token: from --token or PROXYKIT_ADMIN_TOKEN; missing or wrong → exit 1 with one line', T, async () => {
    const missing = await cli(['status', '--admin', tokenUrl]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, '');
    assert.equal(missing.stderr, `the admin API at ${tokenUrl} needs a token (401) — pass --token or set PROXYKIT_ADMIN_TOKEN\n`);

    const wrong = await cli(['status', '--admin', tokenUrl, '--token', 'not-the-token-at-all']);
    assert.equal(wrong.code, 1);
    assert.equal(wrong.stderr, `the admin API at ${tokenUrl} rejected the token (401) — check --token or PROXYKIT_ADMIN_TOKEN\n`);

    const flag = await cli(['status', '--admin', tokenUrl, '--token', TOKEN]);
    assert.equal(flag.code, 0, flag.stderr);
    assert.match(flag.stdout, /^pool be /m);

    const env = await cli(['status', '--admin', tokenUrl], { PROXYKIT_ADMIN_TOKEN: TOKEN });
    assert.equal(env.code, 0, env.stderr);
    assert.match(env.stdout, /serving plan \d+/);
  });

  it('status: unreachable admin API or a bad --admin → exit 1 with one clear line', T, async () => {
    const port = await deadPort();
    const r = await cli(['status', '--admin', `http://127.0.0.1:${port}`]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `cannot reach the admin API at http://127.0.0.1:${port}: connection refused — is proxykit running with admin.listen set to this address?\n`,
    );
    const bad = await cli(['status', '--admin', 'not a url']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^--admin "not a url" is not a URL — e\.g\. --admin http:\/\/127\.0\.0\.1:2019\n$/);
    // Something that is not the admin API.
    const other = await cli(['status', '--admin', proxyBase]);
    assert.equal(other.code, 1);
    assert.equal(other.stderr.trim().split('\n').length, 1, other.stderr);
  });

  it('the default address is http://127.0.0.1:2019 (PROXYKIT_ADMIN_URL overrides it)', T, async () => {
    const env = await cli(['status'], { PROXYKIT_ADMIN_URL: adminUrl });
    assert.equal(env.code, 0, env.stderr);
    const r = await cli(['status']);
    // Nothing of ours listens on 2019 here: either refused, or someone else's server.
    if (r.code !== 0) assert.match(r.stderr, /admin API at http:\/\/127\.0\.0\.1:2019/);
  });

  it('reload: "reloaded (plan N) in X ms" and the new config serves', T, async () => {
    fs.writeFileSync(file, configSource(be.url, 'v2'));
    const before = runtime.planId;
    const r = await cli(['reload', '--admin', tokenUrl, '--token', TOKEN]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^reloaded \\(plan ${before + 1}\\) in \\d+ ms\\n$`));
    assert.equal((await get(`${proxyBase}/version`)).text, 'v2');
  });

  it('reload of a broken config: the problems with file:line:col, exit 1, and the old config keeps serving', T, async () => {
    const source = configSource(be.url, 'v3', true);
    fs.writeFileSync(file, source);
    const line = source.split('\n').findIndex((l) => l.includes("pool('be2'")) + 1;
    const before = runtime.planId;
    const r = await cli(['reload', '--admin', adminUrl]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`proxy\\.config\\.ts:${line}:\\d+ pool "be2": upstream "ftp://nope"`));
    assert.match(r.stderr, /reload failed: the config has problems; the previous config keeps serving\n$/);
    assert.equal(runtime.planId, before);
    const v = await get(`${proxyBase}/version`);
    assert.equal(v.status, 200);
    assert.equal(v.text, 'v2');
    assert.equal((await get(`${proxyBase}/health`)).status, 204);
  });

  it('reload: unauthorised or unreachable → exit 1 with one line', T, async () => {
    const r = await cli(['reload', '--admin', tokenUrl]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^the admin API at .* needs a token \(401\)/);
    const port = await deadPort();
    const d = await cli(['reload', '--admin', `http://127.0.0.1:${port}`]);
    assert.equal(d.code, 1);
    assert.match(d.stderr, /^cannot reach the admin API at .*: connection refused/);
  });
});

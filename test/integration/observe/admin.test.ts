/**
 * The admin API against a real runtime (real listeners, a real backend, a real config file loaded
 * by the real loader), real metrics and live stats, over real sockets on loopback.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { Readable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { createRuntime } from '../../../src/engine/runtime.js';
import type { Runtime } from '../../../src/engine/runtime-api.js';
import { createConfigLoader, type ConfigLoader } from '../../../src/config/loader.js';
import { defineConfig, route } from '../../../src/index.js';
import { validateConfig } from '../../../src/config/validate.js';
import type { ConfigSpec } from '../../../src/config/spec.js';
import { createMetrics } from '../../../src/observe/metrics.js';
import { LiveStats } from '../../../src/observe/live-stats.js';
import { createSilentLogger } from '../../../src/observe/logger.js';
import type { AdminContext, LiveSnapshot, PoolStatus } from '../../../src/observe/contracts.js';
import {
  ADMIN_MAX_BODY,
  createAdminServer,
  isLoopbackAddress,
  isLoopbackHost,
  summarizeConfig,
  type AdminConfigSummary,
  type AdminServer,
} from '../../../src/observe/admin.js';
import { startBackend, sleep, type Backend } from '../../helpers/backend.js';

const T = { timeout: 20_000 };
const TOKEN = 'test-token-0123456789abcdef';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: () => any;
}

async function call(base: string, method: string, p: string, opts: { body?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const r = await request(`${base}${p}`, { method: method as 'GET', body: opts.body, headers: opts.headers });
  const text = await r.body.text();
  return { status: r.statusCode, headers: r.headers, text, json: () => JSON.parse(text) };
}

/** node:http, for headers undici would not let us set (Host). */
function rawGet(base: string, p: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}${p}`, { headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', reject);
  });
}

function configSource(backend: string, version: string, broken = false): string {
  return [
    `import { defineConfig, route, pool } from 'proxykit';`,
    ``,
    `const be = pool('be', [${JSON.stringify(backend)}]);`,
    `const spare = pool('spare', ['http://127.0.0.1:9']);`,
    ``,
    `export default defineConfig({`,
    `  listen: 'http://127.0.0.1:0',`,
    `  routes: [`,
    `    route('/version').respond(200, ${JSON.stringify(version)}),`,
    `    route('/spare/*').to(spare),`,
    broken ? `    route('/broken/*').to(pool('broken', ['not a url'])),` : `    route('/ok').respond(204, ''),`,
    `    route('/*').to(be),`,
    `  ],`,
    `});`,
    ``,
  ].join('\n');
}

describe('admin API', () => {
  let dir: string;
  let file: string;
  let be: Backend;
  let loader: ConfigLoader;
  let runtime: Runtime;
  let live: LiveStats;
  let ctx: AdminContext & { liveCalls: number };
  let admin: AdminServer;
  let base: string;
  let tokenAdmin: AdminServer;
  let tokenBase: string;
  let proxyBase: string;

  before(async () => {
    be = await startBackend();
    dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'pk-admin-')));
    file = path.join(dir, 'proxy.config.ts');
    fs.writeFileSync(file, configSource(be.url, 'v1'));
    loader = createConfigLoader(file);
    const metrics = createMetrics({ collectDefault: false });
    live = new LiveStats();
    runtime = createRuntime({ logger: createSilentLogger(), metrics, live });
    let spec: ConfigSpec = (await loader.load()).spec;
    await runtime.apply(spec);
    let loadedAt = new Date();
    proxyBase = runtime.listeners[0]!.url.replace(/\/$/, '');

    ctx = {
      liveCalls: 0,
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
      live() {
        ctx.liveCalls++;
        return live.snapshot(runtime.pools());
      },
    };

    admin = createAdminServer({ listen: 'http://127.0.0.1:0', context: ctx, logger: createSilentLogger() });
    base = await admin.start();
    tokenAdmin = createAdminServer({
      listen: 'http://127.0.0.1:0',
      token: TOKEN,
      context: ctx,
      logger: createSilentLogger(),
      dashboardHtml: () => '<!doctype html><title>dash</title><p>live</p>',
      dashboardCsp: () => "default-src 'none'",
    });
    tokenBase = await tokenAdmin.start();
  });

  after(async () => {
    await admin?.close();
    await tokenAdmin?.close();
    await runtime?.close(0);
    await loader?.dispose();
    await be?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('start() resolves with the bound URL and url reports it', () => {
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(admin.url, base);
    assert.notEqual(base, tokenBase);
  });

  describe('endpoints', () => {
    it('GET / serves a page (placeholder without a dashboard, the dashboard with its CSP when given)', T, async () => {
      const a = await call(base, 'GET', '/');
      assert.equal(a.status, 200);
      assert.match(String(a.headers['content-type']), /^text\/html/);
      assert.match(a.text, /proxykit admin/);
      assert.equal(a.headers['cache-control'], 'no-store');
      assert.equal(a.headers['x-frame-options'], 'DENY');

      const d = await call(tokenBase, 'GET', '/', { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(d.status, 200);
      assert.equal(d.text, '<!doctype html><title>dash</title><p>live</p>');
      assert.equal(d.headers['content-security-policy'], "default-src 'none'");
    });

    it('GET /metrics is Prometheus text from the metrics of real traffic', T, async () => {
      assert.equal((await call(proxyBase, 'GET', '/hello')).status, 200);
      const a = await call(base, 'GET', '/metrics');
      assert.equal(a.status, 200);
      assert.match(String(a.headers['content-type']), /^text\/plain; version=0\.0\.4/);
      assert.match(a.text, /^# HELP proxykit_/m);
      assert.match(a.text, /proxykit_requests_total\{[^}]*code="2xx"[^}]*\} [1-9]/);
    });

    it('GET /config is the summary of the serving config', T, async () => {
      const a = await call(base, 'GET', '/config');
      assert.equal(a.status, 200);
      assert.match(String(a.headers['content-type']), /^application\/json/);
      const c = a.json() as AdminConfigSummary;
      assert.equal(c.planId, runtime.planId);
      assert.deepEqual(c.listeners, [runtime.listeners[0]!.url]);
      assert.deepEqual(
        c.routes.map((r) => [r.match, r.target]),
        [
          ['/version', 'respond 200'],
          ['/spare/*', 'pool spare'],
          ['/ok', 'respond 204'],
          ['/*', 'pool be'],
        ],
      );
      assert.deepEqual(c.pools.sort(), ['be', 'spare']);
      assert.equal(c.file, file);
      assert.ok(!Number.isNaN(Date.parse(c.loadedAt!)));
    });

    it('GET /upstreams lists every pool and upstream with its state', T, async () => {
      const a = await call(base, 'GET', '/upstreams');
      assert.equal(a.status, 200);
      const pools = a.json() as PoolStatus[];
      const bePool = pools.find((p) => p.name === 'be');
      assert.ok(bePool, JSON.stringify(pools));
      assert.equal(bePool.upstreams.length, 1);
      const u = bePool.upstreams[0]!;
      assert.equal(u.url, be.url);
      assert.equal(u.state, 'healthy');
      assert.equal(typeof u.inflight, 'number');
      assert.equal(typeof u.latencyMs, 'number');
      assert.equal(u.weight, 1);
    });

    it('POST /upstreams/drain takes an upstream out and back (200), unknown upstream or pool is 404, a bad body 400', T, async () => {
      const drain = (body: unknown) =>
        call(base, 'POST', '/upstreams/drain', { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
      const stateOf = async () => ((await call(base, 'GET', '/upstreams')).json() as PoolStatus[]).find((p) => p.name === 'be')!.upstreams[0]!.state;

      const a = await drain({ pool: 'be', upstream: be.url });
      assert.equal(a.status, 200, a.text);
      assert.deepEqual(a.json(), { ok: true, pool: 'be', upstream: be.url, draining: true });
      assert.equal(await stateOf(), 'draining');
      assert.equal(ctx.pools().find((p) => p.name === 'be')!.upstreams[0]!.state, 'draining');

      const b = await drain({ pool: 'be', upstream: be.url, drain: false });
      assert.equal(b.status, 200, b.text);
      assert.equal(b.json().draining, false);
      assert.equal(await stateOf(), 'healthy');

      const c = await drain({ pool: 'be', upstream: 'http://127.0.0.1:1' });
      assert.equal(c.status, 404);
      assert.match(c.json().error, /no upstream "http:\/\/127\.0\.0\.1:1" in pool "be"/);
      assert.equal((await drain({ pool: 'nope', upstream: be.url })).status, 404);

      assert.equal((await drain({ pool: 'be' })).status, 400);
      assert.equal((await drain({ pool: 'be', upstream: be.url, drain: 'yes' })).status, 400);
      assert.equal((await call(base, 'POST', '/upstreams/drain')).status, 400);
      assert.equal(await stateOf(), 'healthy');
    });

    it('GET /certs is [] and POST /cache/purge 501 until features register theirs', T, async () => {
      const c = await call(base, 'GET', '/certs');
      assert.equal(c.status, 200);
      assert.deepEqual(c.json(), []);
      const p = await call(base, 'POST', '/cache/purge', { body: '{"url":"http://x/"}' });
      assert.equal(p.status, 501);
      assert.deepEqual(p.json(), { error: 'caching is not enabled' });
    });

    it('register() adds endpoints and replaces built-in ones', T, async () => {
      const server = createAdminServer({ listen: 'http://127.0.0.1:0', context: ctx, logger: createSilentLogger() });
      const url = await server.start();
      try {
        const cert = { names: ['example.com'], notAfter: '2030-01-01T00:00:00.000Z', daysLeft: 1000, issuer: 'test' };
        server.register({ method: 'GET', path: '/certs', handle: async () => ({ status: 200, body: [cert] }) });
        let purged: unknown;
        server.register({
          method: 'POST',
          path: '/cache/purge',
          handle: async (body) => {
            purged = body;
            return { status: 200, body: { purged: 1 } };
          },
        });
        server.register({ method: 'DELETE', path: '/cache/', handle: async () => ({ status: 202, body: { ok: true } }) });
        assert.deepEqual((await call(url, 'GET', '/certs')).json(), [cert]);
        const p = await call(url, 'POST', '/cache/purge', { body: '{"tag":"products"}' });
        assert.equal(p.status, 200);
        assert.deepEqual(purged, { tag: 'products' });
        assert.equal((await call(url, 'DELETE', '/cache')).status, 202);
        assert.throws(() => server.register({ method: 'PUT' as 'GET', path: '/x', handle: async () => ({ status: 200, body: null }) }));
      } finally {
        await server.close();
      }
    });

    it('unknown path 404, wrong method 405 with Allow, body over 64 KiB 413, bad JSON 400 — all JSON, no stacks', T, async () => {
      const nf = await call(base, 'GET', '/nope');
      assert.equal(nf.status, 404);
      assert.match(nf.json().error, /no admin endpoint \/nope/);

      assert.equal((await rawGet(base, '//config', {})).status, 404, '//config is a path, not a host');
      assert.equal((await call(base, 'GET', '/config/')).status, 200, 'a trailing slash is ignored');

      const m1 = await call(base, 'POST', '/config');
      assert.equal(m1.status, 405);
      assert.equal(m1.headers.allow, 'GET, HEAD');
      assert.match(m1.json().error, /POST is not allowed on \/config/);
      const m2 = await call(base, 'GET', '/reload');
      assert.equal(m2.status, 405);
      assert.equal(m2.headers.allow, 'POST');
      assert.equal((await call(base, 'PUT', '/upstreams')).status, 405);

      const big = JSON.stringify({ pool: 'be', upstream: 'x'.repeat(ADMIN_MAX_BODY) });
      const tl = await call(base, 'POST', '/upstreams/drain', { body: big });
      assert.equal(tl.status, 413);
      assert.match(tl.json().error, /larger than 65536 bytes/);
      // A chunked body (no Content-Length) is cut off at the limit too.
      const chunked = await request(`${base}/upstreams/drain`, {
        method: 'POST',
        body: Readable.from((function* () {
          for (let i = 0; i < 20; i++) yield Buffer.alloc(8192, 0x20);
        })()),
      }).then(
        async (r) => ({ status: r.statusCode, text: await r.body.text() }),
        (err: Error) => ({ status: 0, text: err.message }),
      );
      assert.equal(chunked.status, 413, chunked.text);
      // Exactly at the limit is fine (then 400/404 on content, not 413).
      const atLimit = JSON.stringify({ pool: 'be', upstream: 'y' }).padEnd(ADMIN_MAX_BODY, ' ');
      assert.equal((await call(base, 'POST', '/upstreams/drain', { body: atLimit })).status, 404);

      const bad = await call(base, 'POST', '/upstreams/drain', { body: '{"pool": ' });
      assert.equal(bad.status, 400);
      assert.deepEqual(bad.json(), { error: 'request body is not valid JSON' });

      for (const a of [nf, m1, tl, bad]) assert.doesNotMatch(a.text, /\bat .*\.(ts|js):\d+/);
    });

    it('a handler that throws is a 500 without the stack', T, async () => {
      const server = createAdminServer({ listen: 'http://127.0.0.1:0', context: ctx, logger: createSilentLogger() });
      const url = await server.start();
      try {
        server.register({
          method: 'GET',
          path: '/boom',
          handle: async () => {
            throw new Error('secret internal detail');
          },
        });
        const a = await call(url, 'GET', '/boom');
        assert.equal(a.status, 500);
        assert.deepEqual(a.json(), { error: 'internal error (see the proxykit log)' });
      } finally {
        await server.close();
      }
    });
  });

  describe('reload', () => {
    it('POST /reload applies the edited file: 200 {ok, planId, ms} and the new config serves', T, async () => {
      assert.equal((await call(proxyBase, 'GET', '/version')).text, 'v1');
      const before = runtime.planId;
      fs.writeFileSync(file, configSource(be.url, 'v2'));
      const a = await call(base, 'POST', '/reload');
      assert.equal(a.status, 200, a.text);
      const body = a.json();
      assert.equal(body.ok, true);
      assert.equal(body.planId, before + 1);
      assert.equal(typeof body.ms, 'number');
      assert.equal((await call(proxyBase, 'GET', '/version')).text, 'v2');
      assert.equal((await call(base, 'GET', '/config')).json().planId, body.planId);
    });

    it('a broken edit is 422 with file:line:col and the old config keeps serving', T, async () => {
      const planBefore = runtime.planId;
      const source = configSource(be.url, 'v3', true);
      fs.writeFileSync(file, source);
      const line = source.split('\n').findIndex((l) => l.includes("pool('broken'")) + 1;
      const a = await call(base, 'POST', '/reload');
      assert.equal(a.status, 422, a.text);
      const body = a.json();
      assert.equal(body.ok, false);
      assert.match(body.error, new RegExp(`proxy\\.config\\.ts:${line}:\\d+ pool "broken": upstream "not a url" is not a URL`));
      assert.match(body.error, /hint: /);
      assert.ok(Array.isArray(body.problems) && body.problems.length >= 1);
      assert.doesNotMatch(a.text, /\n\s+at /);

      // The proxy still serves the previous config.
      assert.equal(runtime.planId, planBefore);
      const v = await call(proxyBase, 'GET', '/version');
      assert.equal(v.status, 200);
      assert.equal(v.text, 'v2');
      assert.equal((await call(proxyBase, 'GET', '/ok')).status, 204);
      assert.equal((await call(proxyBase, 'GET', '/broken/x')).status, 200, 'falls through to /* on the old config');

      fs.writeFileSync(file, configSource(be.url, 'v4'));
      assert.equal((await call(base, 'POST', '/reload')).status, 200);
      assert.equal((await call(proxyBase, 'GET', '/version')).text, 'v4');
    });
  });

  describe('auth', () => {
    it('no token configured: loopback clients are allowed', T, async () => {
      assert.equal((await call(base, 'GET', '/config')).status, 200);
      assert.equal((await rawGet(base, '/upstreams', { host: `localhost:${new URL(base).port}` })).status, 200);
      assert.equal((await call(base, 'POST', '/upstreams/drain', { body: '{"pool":"be","upstream":"http://127.0.0.1:1"}' })).status, 404);
    });

    it('token configured: missing or wrong token is 401 with WWW-Authenticate, the right one works', T, async () => {
      for (const p of ['/config', '/metrics', '/', '/events', '/nope']) {
        const missing = await call(tokenBase, 'GET', p);
        assert.equal(missing.status, 401, p);
        assert.match(String(missing.headers['www-authenticate']), /^Bearer/);
        assert.match(missing.json().error, /needs a token/);
      }
      const wrong = ['wrong', TOKEN.slice(0, -1) + 'X', TOKEN + 'x', TOKEN.toUpperCase()];
      for (const t of wrong) {
        const a = await call(tokenBase, 'GET', '/config', { headers: { authorization: `Bearer ${t}` } });
        assert.equal(a.status, 401, t);
        assert.match(String(a.headers['www-authenticate']), /error="invalid_token"/);
        assert.deepEqual(a.json(), { error: 'invalid token' });
      }
      assert.equal((await call(tokenBase, 'GET', '/config', { headers: { authorization: `Basic ${TOKEN}` } })).status, 401);
      const reloadNoToken = await call(tokenBase, 'POST', '/reload');
      assert.equal(reloadNoToken.status, 401, 'a loopback client needs the token too once one is set');

      const ok = await call(tokenBase, 'GET', '/config', { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(ok.status, 200);
      assert.equal(ok.json().planId, runtime.planId);
      const ok2 = await call(tokenBase, 'GET', '/upstreams', { headers: { authorization: `bearer  ${TOKEN}` } });
      assert.equal(ok2.status, 200);
    });

    it('the dashboard link /?token= sets an HttpOnly cookie that then authenticates', T, async () => {
      assert.equal((await call(tokenBase, 'GET', '/?token=nope')).status, 401);
      const login = await call(tokenBase, 'GET', `/?token=${TOKEN}`);
      assert.equal(login.status, 303);
      assert.equal(login.headers.location, '/');
      const cookie = String(login.headers['set-cookie']);
      assert.match(cookie, /HttpOnly/);
      assert.match(cookie, /SameSite=Strict/);
      const pair = cookie.split(';')[0]!;
      const page = await call(tokenBase, 'GET', '/', { headers: { cookie: pair } });
      assert.equal(page.status, 200);
      assert.match(page.text, /dash/);
      assert.equal((await call(tokenBase, 'GET', '/upstreams', { headers: { cookie: pair } })).status, 200);
      assert.equal((await call(tokenBase, 'GET', '/upstreams', { headers: { cookie: 'proxykit_admin=wrong' } })).status, 401);
      // A stale cookie does not block logging in again.
      assert.equal((await call(tokenBase, 'GET', `/?token=${TOKEN}`, { headers: { cookie: 'proxykit_admin=old' } })).status, 303);
      assert.equal((await call(tokenBase, 'POST', `/?token=${TOKEN}`)).status, 401, 'the query token only logs in on GET /');
    });

    it('without a token, a non-loopback Host (DNS rebinding) or a foreign Origin is refused with 403', T, async () => {
      const rebound = await rawGet(base, '/config', { host: 'evil.example:2019' });
      assert.equal(rebound.status, 403);
      assert.match(rebound.text, /Host header/);
      assert.equal((await rawGet(base, '/config', { host: 'localhost:2019' })).status, 200);
      const port = new URL(base).port;
      const foreign = await call(base, 'POST', '/reload', { headers: { origin: 'http://evil.example' } });
      assert.equal(foreign.status, 403);
      assert.match(foreign.json().error, /cross-origin/);
      assert.equal((await call(base, 'GET', '/config', { headers: { origin: `http://127.0.0.1:${port}` } })).status, 200);
    });

    it('refuses to start on a non-loopback address without a token', T, async () => {
      const s = createAdminServer({ listen: 'http://0.0.0.0:0', context: ctx, logger: createSilentLogger() });
      await assert.rejects(s.start(), /refusing to listen on http:\/\/0\.0\.0\.0:0 without a token/);
      await s.close();
    });

    it('a non-loopback listen with a token serves, and a client on another interface needs the token', T, async () => {
      const s = createAdminServer({ listen: 'http://0.0.0.0:0', token: TOKEN, context: ctx, logger: createSilentLogger() });
      const url = await s.start();
      try {
        const port = new URL(url).port;
        const external = Object.values(os.networkInterfaces())
          .flat()
          .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
        const target = `http://${external ?? '127.0.0.1'}:${port}`;
        assert.equal((await call(target, 'GET', '/config')).status, 401);
        assert.equal((await call(target, 'GET', '/config', { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
      } finally {
        await s.close();
      }
    });

    it('loopback detection', () => {
      for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1', '[::1]']) assert.ok(isLoopbackAddress(a), a);
      for (const a of ['10.0.0.1', '0.0.0.0', '::', '::ffff:10.0.0.1', '128.0.0.1', 'fe80::1', '', undefined]) assert.ok(!isLoopbackAddress(a), String(a));
      for (const h of ['localhost', 'LOCALHOST', 'app.localhost', '127.0.0.1', '[::1]']) assert.ok(isLoopbackHost(h), h);
      for (const h of ['example.com', 'localhost.example.com', '0.0.0.0']) assert.ok(!isLoopbackHost(h), h);
    });
  });

  describe('config validation of admin', () => {
    const cfg = (admin: unknown) => validateConfig({ ...defineConfig({ routes: [route('/').respond(200, 'x')] }), admin } as ConfigSpec);

    it('loopback without token, or any listen with a good token, is valid', () => {
      assert.deepEqual(cfg({ listen: 'http://127.0.0.1:2019' }), []);
      assert.deepEqual(cfg({ listen: 'http://[::1]:2019' }), []);
      assert.deepEqual(cfg({ listen: 'http://localhost:2019' }), []);
      assert.deepEqual(cfg({ listen: 'http://0.0.0.0:2019', token: TOKEN }), []);
    });

    it('a non-loopback listen without a token is an error with a hint', () => {
      const p = cfg({ listen: 'http://0.0.0.0:2019' });
      assert.equal(p.length, 1);
      assert.match(p[0]!.message, /admin.listen "http:\/\/0\.0\.0\.0:2019" is reachable from other machines but admin has no token/);
      assert.match(p[0]!.hint!, /admin.token/);
      assert.match(p[0]!.hint!, /127\.0\.0\.1/);
    });

    it('listen must be an http URL; the token must be long enough and header-safe; unknown keys are named', () => {
      assert.match(cfg({ listen: 'https://127.0.0.1:2019' })[0]!.message, /uses https:, not http/);
      assert.match(cfg({ listen: '127.0.0.1:2019' })[0]!.message, /admin.listen/);
      assert.match(cfg({ listen: 'http://127.0.0.1:2019', token: 'short' })[0]!.message, /at least 16 characters/);
      assert.match(cfg({ listen: 'http://127.0.0.1:2019', token: 'has a space in it, long enough' })[0]!.message, /visible ASCII/);
      assert.match(cfg({ listen: 'http://127.0.0.1:2019', token: 42 })[0]!.message, /must be a string/);
      const typo = cfg({ listen: 'http://127.0.0.1:2019', tokn: TOKEN });
      assert.match(typo[0]!.message, /unknown option "tokn"/);
      assert.match(typo[0]!.hint!, /did you mean "token"/);
    });
  });

  describe('GET /events', () => {
    it('streams a snapshot at once and every second, and stops when the client goes', T, async () => {
      // Some traffic so that the snapshot has numbers.
      for (let i = 0; i < 3; i++) await call(proxyBase, 'GET', '/version');
      const callsBefore = ctx.liveCalls;
      const snapshots: LiveSnapshot[] = [];
      let raw = '';
      const req = http.get(`${base}/events`);
      const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
        req.on('response', resolve);
        req.on('error', reject);
      });
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /^text\/event-stream/);
      assert.equal(res.headers['cache-control'], 'no-store');
      res.setEncoding('utf8');
      const t0 = Date.now();
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${snapshots.length} snapshots in 5 s:\n${raw}`)), 5000);
        res.on('data', (chunk: string) => {
          raw += chunk;
          let end: number;
          while ((end = raw.indexOf('\n\n')) !== -1) {
            const frame = raw.slice(0, end);
            raw = raw.slice(end + 2);
            const lines = frame.split('\n');
            if (!lines.includes('event: snapshot')) continue;
            const data = lines.find((l) => l.startsWith('data: '))!.slice(6);
            snapshots.push(JSON.parse(data) as LiveSnapshot);
            if (snapshots.length >= 2) {
              clearTimeout(timer);
              resolve();
            }
          }
        });
      });
      const took = Date.now() - t0;
      assert.ok(took >= 700 && took < 3000, `the second snapshot came after ${took} ms (expected ~1 s)`);
      const [first, second] = snapshots as [LiveSnapshot, LiveSnapshot];
      assert.equal(first.seconds.length, 60);
      assert.ok(first.totals.requests >= 3, JSON.stringify(first.totals));
      assert.ok(first.pools.some((p) => p.name === 'be'));
      assert.ok(second.now > first.now);

      req.destroy();
      await sleep(200);
      const callsAtClose = ctx.liveCalls;
      assert.ok(callsAtClose - callsBefore >= 2);
      await sleep(2300);
      assert.equal(ctx.liveCalls, callsAtClose, 'no snapshots are taken once the only client is gone');
    });

    it('sends heartbeat comments, and close() ends open streams', T, async () => {
      const s = createAdminServer({
        listen: 'http://127.0.0.1:0',
        context: ctx,
        logger: createSilentLogger(),
        heartbeatIntervalMs: 100,
        snapshotIntervalMs: 60_000,
      });
      const url = await s.start();
      const req = http.get(`${url}/events`);
      const res = await new Promise<http.IncomingMessage>((resolve) => req.on('response', resolve));
      let raw = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (raw += c));
      const ended = new Promise<void>((resolve) => res.on('close', () => resolve()));
      await sleep(350);
      assert.match(raw, /^: heartbeat \d+$/m);
      assert.equal(raw.match(/event: snapshot/g)?.length, 1);
      const t0 = Date.now();
      await s.close();
      await ended;
      assert.ok(Date.now() - t0 < 1000, 'close() does not wait for the stream');
    });
  });
});

/**
 * The configuration surface of the HTTP cache: `.cache()` route options and the top-level `cache`
 * block — validation (messages, hints, locations) and what compile() resolves for the cache stage.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { defineConfig, pool, route, ConfigError, type CacheKeyRequest } from 'proxykit';
import type { ConfigProblem } from '../../../src/config/errors.js';
import type { ConfigSpec } from '../../../src/config/spec.js';
import { validateConfig } from '../../../src/config/validate.js';
import { compile, type CompileResources } from '../../../src/config/compile.js';
import { DispatcherRegistry } from '../../../src/balance/pool.js';
import { StateRegistry } from '../../../src/balance/state.js';
import { createSilentLogger } from '../../../src/observe/logger.js';
import { NOOP_METRICS } from '../../../src/observe/noop-metrics.js';
import type { Plan } from '../../../src/engine/plan.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- these tests play a plain-JS user */
type Loose = any;
const r = route as (m: string) => Loose;
const cfg = (opts: Loose): ConfigSpec => defineConfig(opts);

const origin = pool('origin', ['http://127.0.0.1:3000']);
/** A config with one caching route and `opts` as its `.cache()` options. */
const cached = (opts: unknown, extra: Record<string, unknown> = {}): ConfigSpec => cfg({ ...extra, routes: [r('/a').to(origin).cache(opts)] });

/** Validate and check that every problem has a location and a hint. */
function problems(spec: ConfigSpec): ConfigProblem[] {
  const list = validateConfig(spec);
  for (const pr of list) {
    assert.ok(pr.at, `problem has a location: ${pr.message}`);
    assert.ok(pr.hint && pr.hint.length > 0, `problem has a hint: ${pr.message}`);
  }
  return list;
}

/** Exactly one problem, matching `message` (and `hint`). */
function expectOnly(spec: ConfigSpec, message: RegExp, hint?: RegExp): ConfigProblem {
  const list = problems(spec);
  assert.equal(list.length, 1, `expected one problem matching ${message}, got:\n${list.map((x) => x.message).join('\n')}`);
  assert.match(list[0]!.message, message);
  if (hint) assert.match(list[0]!.hint!, hint, list[0]!.message);
  return list[0]!;
}

// ---- validation: route options -----------------------------------------------------------------

test('valid cache options have no problems', () => {
  assert.deepEqual(validateConfig(cached(undefined)), []);
  assert.deepEqual(validateConfig(cached({})), []);
  assert.deepEqual(
    validateConfig(
      defineConfig({
        cache: { maxSize: '1gb', maxObjectSize: '50mb', disk: { path: '.cache' }, name: 'edge-1' },
        routes: [
          route('/a')
            .to(origin)
            .cache({
              maxAge: '5m',
              staleWhileRevalidate: '30s',
              staleIfError: 3_600_000,
              key: { query: { exclude: ['utm_source'] }, headers: ['Accept-Language'], cookies: ['currency'] },
              bypass: { cookies: ['session'], headers: ['authorization'] },
              ignoreOriginNoCache: true,
              tagHeaders: ['surrogate-key'],
              lockTimeout: '250ms',
            }),
          route('/b').to(origin).cache({ key: (req) => req.path, bypass: (req) => req.method !== 'GET', heuristic: false }),
          route('/c').to(origin).cache({ key: { query: false }, heuristic: 0.05, tagHeaders: [] }),
          route('/d').to(origin).cache({ key: { query: { include: ['page'] } }, maxAge: 0 }),
        ],
      }),
    ),
    [],
  );
});

test('problems point at the .cache() call', () => {
  const spec = defineConfig({
    routes: [
      route('/a')
        .to(origin)
        .cache({ maxAge: '1 day' } as Loose),
    ],
  });
  const pr = expectOnly(spec, /^route "\/a": cache.maxAge: invalid duration "1 day"/);
  const call = spec.routes[0]!.calls!.cache!.at!;
  assert.deepEqual(pr.at, call);
  assert.match(pr.at!.file, /cache-options\.test\.ts$/);
  assert.notDeepEqual(pr.at, spec.routes[0]!.at, 'the .cache() call, not the route() call');
});

test('unknown options, with did-you-mean, at every level', () => {
  expectOnly(cached({ maxage: '60s' }), /^route "\/a": cache: unknown option "maxage"$/, /did you mean "maxAge"/);
  expectOnly(cached({ staleIfErorr: '1h' }), /cache: unknown option "staleIfErorr"/, /did you mean "staleIfError"/);
  expectOnly(cached({ ttl: '60s' }), /cache: unknown option "ttl"/, /^known options: maxAge, staleWhileRevalidate, staleIfError, key, bypass/);
  expectOnly(cached({ key: { querry: false } }), /cache.key: unknown option "querry"/, /did you mean "query"/);
  expectOnly(cached({ key: { query: { includes: ['a'] } } }), /cache.key.query: unknown option "includes"/, /did you mean "include"/);
  expectOnly(cached({ bypass: { cookie: ['session'] } }), /cache.bypass: unknown option "cookie"/, /did you mean "cookies"/);
  expectOnly(cfg({ cache: { maxsize: '1gb' }, routes: [] }), /^config: cache: unknown option "maxsize"$/, /did you mean "maxSize"/);
  const disk = problems(cfg({ cache: { disk: { dir: '.cache' } }, routes: [] }));
  assert.deepEqual(disk.map((p) => p.message), ['config: cache.disk: unknown option "dir"', 'config: cache.disk has no path']);
  assert.equal(disk[0]!.hint, 'known options: path');
});

test('durations: units, whole seconds, and numbers as milliseconds', () => {
  expectOnly(cached({ staleWhileRevalidate: 'soon' }), /cache.staleWhileRevalidate: invalid duration "soon"/, /'30s'/);
  expectOnly(cached({ maxAge: 60 }), /^route "\/a": cache.maxAge must be whole seconds, got 60$/, /a number is milliseconds; for 60 seconds write '60s'/);
  expectOnly(cached({ staleIfError: '1.5s' }), /cache.staleIfError must be whole seconds, got "1.5s"/, /whole seconds, e.g. '2s'/);
  expectOnly(cached({ maxAge: '500ms' }), /cache.maxAge must be whole seconds/, /'1s'/);
  expectOnly(cached({ lockTimeout: 0 }), /cache.lockTimeout must be longer than zero/);
  expectOnly(cached({ lockTimeout: '5 sec' }), /cache.lockTimeout: invalid duration "5 sec"/);
  assert.deepEqual(validateConfig(cached({ maxAge: 60_000, lockTimeout: 1500 })), []);
});

test('key: shape, query rules, header and cookie names', () => {
  expectOnly(cached({ key: 'path' }), /cache.key must be a function or \{ query, headers, cookies \}, got "path"/, /key: \{ query: false \}/);
  expectOnly(cached({ key: { query: { include: ['a'], exclude: ['b'] } } }), /cache.key.query has both include and exclude/, /use one/);
  expectOnly(cached({ key: { query: {} } }), /cache.key.query has neither include nor exclude/);
  expectOnly(cached({ key: { query: 'none' } }), /cache.key.query "none" is not valid/, /true .*false .*include.*exclude/);
  expectOnly(cached({ key: { query: { include: [] } } }), /cache.key.query.include lists no parameter/, /query: false/);
  expectOnly(cached({ key: { query: { exclude: [] } } }), /cache.key.query.exclude lists no parameter/, /leave query out/);
  expectOnly(cached({ key: { query: { exclude: 'utm_source' } } }), /cache.key.query.exclude must be an array of parameter names/);
  expectOnly(cached({ key: { query: { include: ['a=b'] } } }), /cache.key.query.include: parameter name "a=b" is not valid/);
  expectOnly(cached({ key: { headers: ['accept language'] } }), /cache.key.headers: header name "accept language" is not valid/);
  expectOnly(cached({ key: { headers: 'accept' } }), /cache.key.headers must be an array of header names/);
  expectOnly(cached({ key: { cookies: ['a;b'] } }), /cache.key.cookies: cookie name "a;b" is not valid/, /'session'/);
  expectOnly(cached({ key: { cookies: 'sid' } }), /cache.key.cookies must be an array of cookie names, got "sid"/);
});

test('bypass: a function or cookies/headers', () => {
  expectOnly(cached({ bypass: true }), /cache.bypass must be a function or \{ cookies, headers \}, got true/);
  expectOnly(cached({ bypass: {} }), /cache.bypass lists no cookie or header/, /leave bypass out/);
  expectOnly(cached({ bypass: { cookies: [], headers: [] } }), /cache.bypass lists no cookie or header/);
  expectOnly(cached({ bypass: { headers: ['x y'] } }), /cache.bypass.headers: header name "x y" is not valid/);
  expectOnly(cached({ bypass: { cookies: [5] } }), /cache.bypass.cookies: cookie name 5 is not valid/);
});

test('flags, tag headers, heuristic', () => {
  expectOnly(cached({ ignoreOriginNoCache: 'yes' }), /cache.ignoreOriginNoCache must be true or false, got "yes"/);
  expectOnly(cached({ tagHeaders: 'surrogate-key' }), /cache.tagHeaders must be an array of header names/);
  expectOnly(cached({ tagHeaders: ['cache:tag'] }), /cache.tagHeaders: header name "cache:tag" is not valid/);
  expectOnly(cached({ heuristic: true }), /cache.heuristic true is not a fraction in \(0, 1\] or false/, /on by default/);
  expectOnly(cached({ heuristic: 10 }), /cache.heuristic 10 is not a fraction/, /heuristic: 0.1/);
  expectOnly(cached({ heuristic: 0 }), /cache.heuristic 0 is not a fraction/);
  expectOnly(cached({ maxAge: '60s', heuristic: 0.2 }), /cache has both maxAge and heuristic/, /remove heuristic/);
});

test('.cache() needs a proxy target', () => {
  const spec = defineConfig({
    routes: [
      route('/r')
        .redirect('/s')
        .cache(),
      route('/h').cache({ maxAge: '1m' }).respond(200, 'ok'),
    ],
  });
  const list = problems(spec);
  assert.deepEqual(
    list.map((p) => p.message),
    [
      'route "/r": .cache() needs a proxy target, but the route answers with .redirect()',
      'route "/h": .cache() needs a proxy target, but the route answers with .respond()',
    ],
  );
  assert.match(list[0]!.hint!, /remove \.cache\(\) here, or send the route \.to\(pool\)/);
  assert.deepEqual(list[0]!.at, spec.routes[0]!.calls!.cache!.at);
  assert.deepEqual(list[1]!.at, spec.routes[1]!.calls!.cache!.at);
});

// ---- validation: the top-level block -----------------------------------------------------------

test('top-level cache block', () => {
  const c = (cache: unknown): ConfigSpec => cfg({ cache, routes: [] });
  const pr = expectOnly(c(true), /^config: cache must be an object, got true$/, /maxSize/);
  assert.match(pr.at!.file, /cache-options\.test\.ts$/);
  expectOnly(c({ maxSize: '1 gig' }), /^config: cache.maxSize: invalid size "1 gig"/, /'1gb'/);
  expectOnly(c({ maxSize: 0 }), /config: cache.maxSize must be larger than zero, got 0/);
  expectOnly(c({ maxObjectSize: '0mb' }), /config: cache.maxObjectSize must be larger than zero/);
  expectOnly(
    c({ maxSize: '64mb', maxObjectSize: '100mb' }),
    /^config: cache.maxObjectSize \(100mb\) is larger than cache.maxSize \(64mb\)$/,
    /at most maxSize/,
  );
  expectOnly(c({ maxObjectSize: '512mb' }), /cache.maxObjectSize \(512mb\) is larger than cache.maxSize \(256mb, the default\)/, /larger maxSize/);
  assert.deepEqual(validateConfig(c({ maxSize: '8mb' })), [], 'maxObjectSize then defaults to maxSize');
  expectOnly(c({ disk: '.cache' }), /config: cache.disk must be an object, got ".cache"/, /path: '.cache'/);
  expectOnly(c({ disk: { path: '' } }), /config: cache.disk.path must be a directory path, got ""/, /relative to the config/);
  expectOnly(c({ disk: {} }), /^config: cache.disk has no path$/, /path: '.cache'/);
  expectOnly(c({ name: 'edge 1' }), /config: cache.name "edge 1" is not valid/, /token/);
  expectOnly(c({ name: '' }), /config: cache.name "" is not valid/);
});

// ---- compile -----------------------------------------------------------------------------------

const registries: DispatcherRegistry[] = [];
after(async () => {
  for (const d of registries) await d.closeAll();
});

function resources(configDir?: string): CompileResources {
  const dispatchers = new DispatcherRegistry();
  registries.push(dispatchers);
  return {
    dispatchers,
    states: new StateRegistry(),
    logger: createSilentLogger(),
    metrics: NOOP_METRICS,
    ...(configDir !== undefined ? { configDir } : {}),
  };
}

function plan(spec: ConfigSpec, configDir?: string): Plan {
  assert.deepEqual(validateConfig(spec), [], 'the spec is valid');
  return compile(spec, resources(configDir), 1).plan;
}

/** A request as the cache stage shows it to key functions and bypass rules. */
function req(headers: Record<string, string> = {}, cookies: Record<string, string> = {}): CacheKeyRequest {
  return {
    method: 'GET',
    scheme: 'http',
    host: 'example.com',
    path: '/a',
    query: '',
    header: (n) => headers[n],
    cookie: (n) => cookies[n],
  };
}

test('compile: .cache() with no options gets the defaults; routes without it get null', () => {
  const p = plan(defineConfig({ routes: [route('/a').to(origin).cache(), route('/b').to(origin), route('/h').respond(200)] }));
  assert.deepEqual(p.routes[0]!.cache, {
    policy: {
      defaultMaxAge: null,
      staleWhileRevalidate: null,
      staleIfError: null,
      ignoreOriginNoCache: false,
      heuristicFraction: 0.1,
      heuristicMax: 86_400,
    },
    key: { fn: null, query: { mode: 'all' }, headers: [], cookies: [] },
    bypass: null,
    tagHeaders: ['surrogate-key', 'cache-tag'],
    lockTimeoutMs: 5_000,
  });
  assert.equal(p.routes[1]!.cache, null);
  assert.equal(p.routes[2]!.cache, null);
  assert.deepEqual(p.cacheStorage, { maxBytes: 256 * 1024 ** 2, maxObjectBytes: 16 * 1024 ** 2, disk: null, statusName: 'proxykit' });
});

test('compile: options resolve to seconds, milliseconds, sets and lower-case names', () => {
  const p = plan(
    defineConfig({
      routes: [
        route('/a')
          .to(origin)
          .cache({
            maxAge: '5m',
            staleWhileRevalidate: '30s',
            staleIfError: 7_200_000,
            key: { query: { exclude: ['utm_source', 'fbclid'] }, headers: ['Accept-Language', 'accept-language', 'X-Tenant'], cookies: ['currency'] },
            ignoreOriginNoCache: true,
            tagHeaders: ['Surrogate-Key'],
            lockTimeout: '1.5s',
          }),
        route('/b').to(origin).cache({ key: { query: false }, heuristic: false, tagHeaders: [] }),
        route('/c').to(origin).cache({ key: { query: { include: ['page'] } }, heuristic: 0.25 }),
      ],
    }),
  );
  const a = p.routes[0]!.cache!;
  assert.deepEqual(a.policy, {
    defaultMaxAge: 300,
    staleWhileRevalidate: 30,
    staleIfError: 7_200,
    ignoreOriginNoCache: true,
    heuristicFraction: 0.1,
    heuristicMax: 86_400,
  });
  assert.deepEqual(a.key, {
    fn: null,
    query: { mode: 'exclude', names: new Set(['utm_source', 'fbclid']) },
    headers: ['accept-language', 'x-tenant'],
    cookies: ['currency'],
  });
  assert.deepEqual(a.tagHeaders, ['surrogate-key']);
  assert.equal(a.lockTimeoutMs, 1_500);
  assert.equal(a.bypass, null);

  const b = p.routes[1]!.cache!;
  assert.deepEqual(b.key.query, { mode: 'none' });
  assert.equal(b.policy.heuristicFraction, 0);
  assert.deepEqual(b.tagHeaders, []);

  const c = p.routes[2]!.cache!;
  assert.deepEqual(c.key.query, { mode: 'include', names: new Set(['page']) });
  assert.equal(c.policy.heuristicFraction, 0.25);
});

test('compile: key and bypass functions pass through; the bypass object becomes a predicate', () => {
  const keyFn = (q: CacheKeyRequest): string => `${q.host}${q.path}`;
  const bypassFn = (q: CacheKeyRequest): boolean => q.method === 'POST';
  const p = plan(
    defineConfig({
      routes: [
        route('/f').to(origin).cache({ key: keyFn, bypass: bypassFn }),
        route('/o').to(origin).cache({ bypass: { cookies: ['session'], headers: ['Authorization'] } }),
      ],
    }),
  );
  const f = p.routes[0]!.cache!;
  assert.equal(f.key.fn, keyFn);
  assert.deepEqual(f.key.query, { mode: 'all' });
  assert.equal(f.bypass, bypassFn);

  const bypass = p.routes[1]!.cache!.bypass!;
  assert.equal(typeof bypass, 'function');
  assert.equal(bypass(req()), false);
  assert.equal(bypass(req({ authorization: 'Bearer x' })), true, 'header names are looked up lower-case');
  assert.equal(bypass(req({}, { session: 'abc' })), true);
  assert.equal(bypass(req({}, { session: '' })), true, 'present, even when empty');
  assert.equal(bypass(req({ 'x-other': '1' }, { other: '1' })), false);
});

test('compile: the store, with defaults, a relative disk path and the Cache-Status name', () => {
  const routes = [route('/a').to(origin).cache()];
  const dir = path.resolve('/srv/proxy');
  assert.deepEqual(plan(defineConfig({ cache: { maxSize: '1gb', maxObjectSize: '50mb', disk: { path: '.cache' }, name: 'edge-1' }, routes }), dir).cacheStorage, {
    maxBytes: 1024 ** 3,
    maxObjectBytes: 50 * 1024 ** 2,
    disk: { dir: path.join(dir, '.cache') },
    statusName: 'edge-1',
  });
  const abs = path.resolve('/var/cache/proxykit');
  assert.deepEqual(plan(defineConfig({ cache: { disk: { path: abs } }, routes }), dir).cacheStorage?.disk, { dir: abs });
  assert.deepEqual(plan(defineConfig({ cache: { disk: { path: 'c' } }, routes })).cacheStorage?.disk, { dir: path.resolve(process.cwd(), 'c') }, 'without a config dir: the working directory');
  const small = plan(defineConfig({ cache: { maxSize: '8mb' }, routes })).cacheStorage!;
  assert.equal(small.maxBytes, 8 * 1024 ** 2);
  assert.equal(small.maxObjectBytes, 8 * 1024 ** 2, 'maxObjectSize defaults to 16mb or maxSize, whichever is smaller');
});

test('compile: no caching route, no store (even with a cache block)', () => {
  assert.equal(plan(defineConfig({ routes: [route('/a').to(origin)] })).cacheStorage, null);
  assert.equal(plan(defineConfig({ cache: { maxSize: '1gb' }, routes: [route('/a').to(origin)] })).cacheStorage, null);
});

test('compile: .cache() on a route without a proxy target is refused even without validation', () => {
  const spec = defineConfig({ routes: [route('/h').respond(200).cache()] });
  assert.throws(
    () => compile(spec, resources(), 1),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.problems.length, 1);
      assert.match(err.problems[0]!.message, /^route "\/h": \.cache\(\) needs a proxy target, but the route answers with \.respond\(\)$/);
      return true;
    },
  );
});

test('compile: caching is no longer "not implemented"; other pending features still are', () => {
  assert.doesNotThrow(() => plan(defineConfig({ routes: [route('/a').to(origin).cache({ maxAge: '1m' })] })));
  assert.throws(
    () => compile(defineConfig({ routes: [route('/a').to(origin).cache().waf()] }), resources(), 1),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.problems.length, 1);
      assert.match(err.problems[0]!.message, /\.waf\(\) is not available in this version of proxykit \(the WAF is not implemented yet\)/);
      return true;
    },
  );
});

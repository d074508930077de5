import { test } from 'node:test';
import assert from 'node:assert/strict';
import vm from 'node:vm';
import { defineConfig, pool, route, ConfigError, type TargetedRoute } from 'proxykit';
import {
  DEFAULT_LISTEN,
  isConfig,
  isPool,
  isRoute,
  poolSpecOf,
  routeSpecOf,
} from '../../../src/config/builder.js';
import type { PoolSpec, RouteSpec } from '../../../src/config/spec.js';
import example from '../../types/config-api-example.js';

const api = pool('api', ['http://127.0.0.1:3001']);

/** Strip locations, to compare plain content. */
function content(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (k, v: unknown) => (k === 'at' || k === 'calls' ? undefined : v)));
}

test('defineConfig: defaults, plain frozen spec, brand', () => {
  const cfg = defineConfig({ routes: [route('/health').respond(200, 'ok')] });
  assert.equal(cfg.kind, 'config');
  assert.deepEqual(cfg.listen, [DEFAULT_LISTEN]);
  assert.deepEqual(cfg.listen, ['http://127.0.0.1:8080']);
  assert.ok(Object.isFrozen(cfg));
  assert.ok(Object.isFrozen(cfg.routes));
  assert.ok(Object.isFrozen(cfg.routes[0]));
  assert.ok(Object.isFrozen(cfg.routes[0]!.target));
  assert.ok(isConfig(cfg));
  assert.ok(isConfig(structuredClone(cfg)), 'a structured clone is still recognised as a config');
  assert.ok(!isConfig({ kind: 'route' }));
  assert.deepEqual(Object.keys(cfg).sort(), ['at', 'kind', 'listen', 'routes']);
  assert.deepEqual(content(cfg.routes[0]), {
    kind: 'route',
    match: '/health',
    target: { kind: 'respond', status: 200, body: 'ok', headers: {} },
  });
});

test('defineConfig: listen as a string; undefined options are dropped', () => {
  const cfg = defineConfig({ listen: 'http://0.0.0.0:80', redis: undefined, routes: [] });
  assert.deepEqual(cfg.listen, ['http://0.0.0.0:80']);
  assert.ok(!('redis' in cfg));
});

test('locations: `at` objects stay mutable for the loader, and are not shared between routes', () => {
  const base = route('/x');
  const cfg = defineConfig({ routes: [base.to(api), base.respond(200)] });
  const [a, b] = cfg.routes as [RouteSpec, RouteSpec];
  assert.ok(a.at && b.at);
  assert.notEqual(a.at, b.at, 'each route gets its own at object');
  assert.ok(!Object.isFrozen(a.at));
  a.at.line = 999;
  assert.equal(a.at.line, 999);
  assert.notEqual(b.at.line, 999);
  assert.ok(!Object.isFrozen(cfg.at));
  assert.ok(!Object.isFrozen(a.calls!.to!.at));
});

test('locations: route(), pool(), defineConfig() and chained methods record the caller', () => {
  // Run through vm with a filename, as the loader does, so positions are exact.
  const code = [
    "const p = pool('api', ['http://127.0.0.1:1'])",
    "  .retry({ attempts: 1 });",
    "return defineConfig({",
    "  routes: [",
    "    route('/a')",
    "      .to(p)",
    "      .stripPrefix('/a'),",
    "  ],",
    "});",
  ].join('\n');
  const fn = vm.compileFunction(code, ['route', 'pool', 'defineConfig'], { filename: '/virtual/proxy.config.js' });
  const cfg = fn(route, pool, defineConfig) as ReturnType<typeof defineConfig>;
  const r = cfg.routes[0]!;
  const file = '/virtual/proxy.config.js';
  assert.deepEqual(cfg.at, { file, line: 3, column: 8 });
  assert.deepEqual(r.at, { file, line: 5, column: 5 });
  assert.deepEqual(r.calls?.to?.at, { file, line: 6, column: 8 });
  assert.deepEqual(r.calls?.stripPrefix?.at, { file, line: 7, column: 8 });
  const p = (r.target as { pool: PoolSpec }).pool;
  assert.deepEqual(p.at, { file, line: 1, column: 11 });
  assert.deepEqual(p.calls?.retry?.at, { file, line: 2, column: 4 });
});

test('locations: a test file calling the builder gets its own path (file:// stripped)', () => {
  const r = routeSpecOf(route('/x'));
  assert.ok(r.at);
  assert.match(r.at.file, /builder\.test\.ts$/);
  assert.ok(!r.at.file.startsWith('file:'));
  assert.ok(r.at.line >= 1 && r.at.column >= 1);
});

test('immutability: a base route reused for two routes does not leak settings', () => {
  const p1 = pool('p1', ['http://127.0.0.1:1']);
  const p2 = pool('p2', ['http://127.0.0.1:2']);
  const base = route('/x');
  const a = base.to(p1);
  const b = base.methods('get').to(p2).stripPrefix('/x');
  const sBase = routeSpecOf(base);
  const sa = routeSpecOf(a);
  const sb = routeSpecOf(b);
  assert.equal(sBase.target, undefined);
  assert.equal(sBase.methods, undefined);
  assert.equal(sa.methods, undefined);
  assert.equal(sa.stripPrefix, undefined);
  assert.equal((sa.target as { pool: PoolSpec }).pool.name, 'p1');
  assert.deepEqual(sb.methods, ['GET']);
  assert.equal((sb.target as { pool: PoolSpec }).pool.name, 'p2');
  assert.equal(sb.stripPrefix, '/x');
  assert.notEqual(a, base);
});

test('immutability: pool methods return new pools; option objects are copied', () => {
  const opts = { path: '/h', interval: '2s' as const };
  const base = pool('p', ['http://127.0.0.1:1']);
  const healthy = base.health(opts);
  opts.path = '/changed';
  assert.equal(poolSpecOf(base).health, undefined);
  assert.equal(poolSpecOf(healthy).health?.path, '/h');
  assert.equal(poolSpecOf(base).balance, 'round-robin');
  const weighted = healthy.balance('weighted');
  assert.equal(poolSpecOf(healthy).balance, 'round-robin');
  assert.equal(poolSpecOf(weighted).balance, 'weighted');
});

test('immutability: defineConfig does not freeze or alias builder state', () => {
  const r = route('/x').to(api);
  const cfg1 = defineConfig({ routes: [r] });
  const cfg2 = defineConfig({ routes: [r] });
  assert.notEqual(cfg1.routes[0], cfg2.routes[0]);
  assert.ok(!Object.isFrozen(routeSpecOf(r)));
});

test('pool(): upstream strings become { url }; objects keep weight and region; default balance', () => {
  const p = poolSpecOf(pool('api', ['http://a:1', { url: 'http://b:2', weight: 2, region: 'eu-west' }]));
  assert.deepEqual(content(p), {
    kind: 'pool',
    name: 'api',
    upstreams: [{ url: 'http://a:1' }, { url: 'http://b:2', weight: 2, region: 'eu-west' }],
    balance: 'round-robin',
  });
});

test('pool(): every method records its option', () => {
  const p = poolSpecOf(
    pool('api', ['http://a:1'])
      .balance({ hash: 'header:x-user' })
      .sticky({ cookie: 'pk' })
      .health({ path: '/h', interval: '2s', timeout: '1s', healthy: 2, unhealthy: 3, expect: [200] })
      .passive({ failures: 5, ejectFor: '30s' })
      .retry({ attempts: 2, statuses: [502] })
      .timeouts({ connect: '2s', response: '30s', idle: '10s' })
      .maxConnections(16),
  );
  assert.deepEqual(content(p), {
    kind: 'pool',
    name: 'api',
    upstreams: [{ url: 'http://a:1' }],
    balance: { hash: 'header:x-user' },
    sticky: { cookie: 'pk' },
    health: { path: '/h', interval: '2s', timeout: '1s', healthy: 2, unhealthy: 3, expect: [200] },
    passive: { failures: 5, ejectFor: '30s' },
    retry: { attempts: 2, statuses: [502] },
    timeouts: { connect: '2s', response: '30s', idle: '10s' },
    maxConnections: 16,
  });
});

test('route(): .to(url) makes an anonymous pool named after the URL', () => {
  const r = routeSpecOf(route('/x').to('http://127.0.0.1:3000'));
  assert.deepEqual(content(r.target), {
    kind: 'pool',
    pool: { kind: 'pool', name: 'url:http://127.0.0.1:3000', upstreams: [{ url: 'http://127.0.0.1:3000' }], balance: 'round-robin' },
  });
  assert.ok((r.target as { pool: PoolSpec }).pool.at, 'the anonymous pool points at the .to() call');
});

test('route(): every method records its option', () => {
  const r = routeSpecOf(
    route('example.com/v1/*')
      .methods('get', 'POST')
      .to(api)
      .stripPrefix('/v1')
      .rewrite(/^\/a\/(.*)$/i, '/b/$1')
      .headers({ request: { set: { 'x-a': '1' }, add: { 'x-b': '2' }, remove: ['x-c'] }, response: { remove: ['server'] } })
      .hostHeader('upstream')
      .hideHeaders(['x-powered-by'])
      .bodyLimit('1mb')
      .timeouts({ response: '5s' })
      .waf({ mode: 'detect', paranoia: 2 })
      .rateLimit({ perIp: '10/s', burst: 20 })
      .cache({ maxAge: '60s' })
      .geo({ deny: ['KP'], nearest: true }),
  );
  assert.deepEqual(content(r), {
    kind: 'route',
    match: 'example.com/v1/*',
    methods: ['GET', 'POST'],
    target: content({ kind: 'pool', pool: poolSpecOf(api) }),
    stripPrefix: '/v1',
    rewrite: { from: '^\\/a\\/(.*)$', to: '/b/$1', flags: 'i' },
    headers: { request: { set: { 'x-a': '1' }, add: { 'x-b': '2' }, remove: ['x-c'] }, response: { remove: ['server'] } },
    hostHeader: 'upstream',
    hideHeaders: ['x-powered-by'],
    bodyLimit: '1mb',
    timeouts: { response: '5s' },
    features: {
      waf: { mode: 'detect', paranoia: 2 },
      rateLimit: { perIp: '10/s', burst: 20 },
      cache: { maxAge: '60s' },
      geo: { deny: ['KP'], nearest: true },
    },
  });
  assert.deepEqual(routeSpecOf(route('/x').to(api).waf()).features, { waf: {} });
  assert.equal(routeSpecOf(route('/x').rewrite('^/a', '/b')).rewrite?.from, '^/a');
  assert.equal(routeSpecOf(route('/x').to(api).bodyLimit(false)).bodyLimit, false);
});

test('route(): redirect and respond defaults', () => {
  assert.deepEqual(routeSpecOf(route('/x').redirect('https://example.com/')).target, {
    kind: 'redirect',
    location: 'https://example.com/',
    status: 302,
    keepPath: false,
  });
  assert.deepEqual(routeSpecOf(route('/x').redirect('/y', 308, { keepPath: true })).target, {
    kind: 'redirect',
    location: '/y',
    status: 308,
    keepPath: true,
  });
  assert.deepEqual(routeSpecOf(route('/x').respond(204)).target, { kind: 'respond', status: 204, body: '', headers: {} });
  assert.deepEqual(routeSpecOf(route('/x').respond(200, 'hi', { 'content-type': 'text/plain' })).target, {
    kind: 'respond',
    status: 200,
    body: 'hi',
    headers: { 'content-type': 'text/plain' },
  });
});

test('pools: routes using one pool builder share one PoolSpec; identical pools are merged', () => {
  const p = pool('shared', ['http://a:1']).retry({ attempts: 1 });
  const twin = pool('shared', ['http://a:1']).retry({ attempts: 1 });
  const cfg = defineConfig({ routes: [route('/a').to(p), route('/b').to(p), route('/c').to(twin), route('/d').to('http://x:1'), route('/e').to('http://x:1')] });
  const poolOf = (i: number) => (cfg.routes[i]!.target as { pool: PoolSpec }).pool;
  assert.equal(poolOf(0), poolOf(1));
  assert.equal(poolOf(0), poolOf(2));
  assert.equal(poolOf(3), poolOf(4));
  assert.ok(Object.isFrozen(poolOf(0)));
  // Different content, same name: both kept (validation reports it).
  const other = pool('shared', ['http://b:1']);
  const cfg2 = defineConfig({ routes: [route('/a').to(p), route('/b').to(other)] });
  assert.notEqual((cfg2.routes[0]!.target as { pool: PoolSpec }).pool, (cfg2.routes[1]!.target as { pool: PoolSpec }).pool);
});

test('geo pools become PoolSpecs, shared with .to() pools of the same builder', () => {
  const eu = pool('eu', ['http://eu:1']);
  const cfg = defineConfig({ routes: [route('/a').to(eu), route('/b').to(api).geo({ pools: { EU: eu } })] });
  const geo = cfg.routes[1]!.features!.geo as { pools: Record<string, PoolSpec> };
  assert.equal(geo.pools.EU, (cfg.routes[0]!.target as { pool: PoolSpec }).pool);
  assert.equal(geo.pools.EU!.kind, 'pool');
});

test('brands: isRoute / isPool recognise builders, also from another module copy', () => {
  assert.ok(isRoute(route('/x')));
  assert.ok(isPool(api));
  assert.ok(!isRoute(api));
  assert.ok(!isPool(route('/x')));
  assert.ok(!isRoute({ kind: 'route' }));
  const foreign = { [Symbol.for('proxykit.route')]: true, [Symbol.for('proxykit.spec')]: { kind: 'route', match: '/f', target: { kind: 'respond', status: 200, body: '', headers: {} } } };
  assert.ok(isRoute(foreign));
  const cfg = defineConfig({ routes: [foreign as unknown as TargetedRoute] });
  assert.equal(cfg.routes[0]!.match, '/f');
});

test('runtime misuse (plain JS, `as any`) throws ConfigError with a location and a hint', () => {
  const loose = route('/x') as unknown as Record<string, (...args: unknown[]) => Record<string, (...args: unknown[]) => unknown>>;
  const check = (fn: () => unknown, re: RegExp) => {
    assert.throws(fn, (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.problems[0]!.message, re);
      assert.ok(err.problems[0]!.at, 'has a location');
      assert.ok(err.problems[0]!.hint, 'has a hint');
      return true;
    });
  };
  check(() => loose.respond!(200).to!(api), /route "\/x": \.to\(\) after \.respond\(\)/);
  check(() => loose.methods!('GET').methods!('POST'), /\.methods\(\) is used twice/);
  check(() => loose.to!(42), /\.to\(\) takes a pool or a URL string/);
  check(() => defineConfig({ routes: [{ kind: 'route' }] } as never), /routes\[0\] is not a route/);
  check(() => (pool('p', ['http://a:1']) as unknown as Record<string, (a: unknown) => Record<string, (a: unknown) => unknown>>).balance!('random').balance!('random'), /pool "p": \.balance\(\) is used twice/);
});

test('the config-api.md example produces the expected spec', () => {
  assert.ok(isConfig(example));
  assert.deepEqual(content(example), {
    kind: 'config',
    listen: ['http://127.0.0.1:8080'],
    tls: { acme: { email: 'ops@example.com' } },
    trustProxies: ['10.0.0.0/8'],
    admin: { listen: 'http://127.0.0.1:2019' },
    ...(process.env.REDIS_URL ? { redis: process.env.REDIS_URL } : {}),
    routes: [
      {
        kind: 'route',
        match: 'api.example.com/v1/*',
        methods: ['GET', 'POST'],
        target: { kind: 'pool', pool: apiPoolContent() },
        stripPrefix: '/v1',
        headers: { request: { set: { 'x-env': 'prod' }, remove: ['x-debug'] }, response: { set: {} } },
        features: {
          waf: { mode: 'block', paranoia: 1 },
          rateLimit: { perIp: '100/s', burst: 200 },
          cache: { maxAge: '60s', staleWhileRevalidate: '30s' },
        },
      },
      {
        kind: 'route',
        match: 'example.com/*',
        target: { kind: 'pool', pool: apiPoolContent() },
        features: {
          geo: {
            deny: ['KP'],
            pools: {
              EU: {
                kind: 'pool',
                name: 'eu',
                upstreams: [{ url: 'http://10.1.0.1:3000' }, { url: 'http://10.1.0.2:3000', region: 'eu-west' }],
                balance: 'round-robin',
              },
            },
          },
        },
      },
      { kind: 'route', match: 'old.example.com/*', target: { kind: 'redirect', location: 'https://example.com/', status: 301, keepPath: false } },
      { kind: 'route', match: '/health', target: { kind: 'respond', status: 200, body: 'ok', headers: {} } },
    ],
  });
  // Both api routes share one PoolSpec.
  assert.equal((example.routes[0]!.target as { pool: PoolSpec }).pool, (example.routes[1]!.target as { pool: PoolSpec }).pool);
});

function apiPoolContent() {
  return {
    kind: 'pool',
    name: 'api',
    upstreams: [{ url: 'http://127.0.0.1:3001' }, { url: 'http://127.0.0.1:3002', weight: 2, region: 'eu-west' }],
    balance: 'round-robin',
    sticky: { cookie: 'pk_srv' },
    health: { path: '/healthz', interval: '2s', timeout: '1s', healthy: 2, unhealthy: 3 },
    passive: { failures: 5, ejectFor: '30s' },
    retry: { attempts: 2 },
    timeouts: { connect: '2s', response: '30s' },
  };
}

test('$dynamic(): same builder, still one call per method at runtime', () => {
  const r = route('/d').to(api);
  const d = r.$dynamic();
  assert.equal(routeSpecOf(d), routeSpecOf(r));
  const withPrefix = d.stripPrefix('/d');
  assert.equal(routeSpecOf(withPrefix).stripPrefix, '/d');
  assert.throws(() => withPrefix.stripPrefix('/e'), ConfigError);
  const p = pool('dp', ['http://a:1']).$dynamic().timeouts({ connect: '1s' });
  assert.deepEqual(poolSpecOf(p).timeouts, { connect: '1s' });
});

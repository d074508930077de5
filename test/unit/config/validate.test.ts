import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defineConfig, pool, route, ConfigError } from 'proxykit';
import type { ConfigProblem } from '../../../src/config/errors.js';
import type { ConfigSpec } from '../../../src/config/spec.js';
import { assertValidConfig, didYouMean, validateConfig } from '../../../src/config/validate.js';
import example from '../../types/config-api-example.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- these tests play a plain-JS user */
type Loose = any;
const r = route as (m: string) => Loose;
const p = pool as (n: string, u: unknown[]) => Loose;
const cfg = (opts: Loose): ConfigSpec => defineConfig(opts);

/** Validate and check that every problem has a location and a hint. */
function problems(spec: ConfigSpec): ConfigProblem[] {
  const list = validateConfig(spec);
  for (const pr of list) {
    assert.ok(pr.at, `problem has a location: ${pr.message}`);
    assert.equal(typeof pr.at.file, 'string');
    assert.ok(pr.hint && pr.hint.length > 0, `problem has a hint: ${pr.message}`);
  }
  return list;
}

/** Exactly one problem whose message matches `message` (and hint matches `hint`). */
function expectOne(spec: ConfigSpec, message: RegExp, hint?: RegExp): ConfigProblem {
  const list = problems(spec);
  const hits = list.filter((x) => message.test(x.message));
  assert.equal(hits.length, 1, `expected one problem matching ${message}, got:\n${list.map((x) => x.message).join('\n')}`);
  if (hint) assert.match(hits[0]!.hint!, hint);
  return hits[0]!;
}

const ok = pool('ok', ['http://127.0.0.1:3000']);

test('valid configs have no problems', () => {
  assert.deepEqual(validateConfig(example), []);
  assert.deepEqual(validateConfig(defineConfig({ routes: [] })), []);
  assert.deepEqual(
    validateConfig(
      defineConfig({
        listen: ['http://127.0.0.1:0', 'https://[::1]:8443', 'http://localhost'],
        trustProxies: ['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8'],
        via: true,
        limits: { maxHeaderSize: '16kb', headersTimeout: '10s', maxConnections: 100 },
        log: { level: 'debug', access: false },
        redis: 'redis://user:pw@localhost:6379/0',
        tls: { certs: [{ cert: 'a.pem', key: 'a.key' }] },
        routes: [
          route('/a').methods('GET', 'purge').to(ok.balance({ hash: 'cookie:sid' })).rewrite(/^\/a(.*)$/, '/b$1').hostHeader('api.internal:8080'),
          route('*.example.com/users/:id').redirect('/u', 307, { keepPath: true }),
          route('/h').respond(204, '', { 'x-a': 'b' }),
          route('/z').to('https://127.0.0.1:9000/').bodyLimit(false).timeouts({ idle: 100 }),
        ],
      }),
    ),
    [],
  );
});

test('every problem is reported, not only the first', () => {
  const spec = cfg({
    listen: ['http//bad'],
    trustProxies: ['nope'],
    routes: [r('/a').to(p('x', ['ftp://h:1'])), r('/b')],
  });
  assert.ok(problems(spec).length >= 4);
});

test('listen URLs', () => {
  const at = (spec: ConfigSpec, re: RegExp, hint?: RegExp) => assert.deepEqual(expectOne(spec, re, hint).at, spec.at);
  at(cfg({ listen: ['http//x'], routes: [] }), /^config: listen "http\/\/x" is not a URL$/, /expected http:\/\/host:port/);
  at(cfg({ listen: ['ftp://x:21'], routes: [] }), /listen "ftp:\/\/x:21" uses ftp:, not http or https/);
  at(cfg({ listen: ['http://x:70000'], routes: [] }), /listen "http:\/\/x:70000" has port 70000, out of range/, /0 to 65535/);
  at(cfg({ listen: ['http://x:80/api'], routes: [] }), /has a path \("\/api"\); only an origin is allowed/);
  at(cfg({ listen: [], routes: [] }), /`listen` has no listener URL/);
  at(cfg({ listen: ['http://a:1', 'http://a:1'], routes: [] }), /listed twice/);
});

test('upstream URLs, weights and regions', () => {
  const pl = p('api', ['http//x']);
  const pr = expectOne(cfg({ routes: [r('/a').to(pl)] }), /^pool "api": upstream "http\/\/x" is not a URL$/, /expected http:\/\/host:port/);
  assert.deepEqual(pr.at, (cfg({ routes: [r('/a').to(pl)] }).routes[0]!.target as Loose).pool.at);
  expectOne(cfg({ routes: [r('/a').to(p('api', ['http://x:1/v1']))] }), /upstream "http:\/\/x:1\/v1" has a path \("\/v1"\)/, /stripPrefix|rewrite/);
  expectOne(cfg({ routes: [r('/a').to(p('api', ['http://x:1/?a=1']))] }), /has a query/);
  expectOne(cfg({ routes: [r('/a').to(p('api', ['ws://x:1']))] }), /uses ws:, not http or https/);
  expectOne(cfg({ routes: [r('/a').to(p('api', [{ url: 'http://x:1', weight: 0 }]))] }), /weight 0/, /positive whole number/);
  expectOne(cfg({ routes: [r('/a').to(p('api', [{ url: 'http://x:1', weight: 1.5 }]))] }), /weight 1.5/);
  expectOne(cfg({ routes: [r('/a').to(p('api', [{ url: 'http://x:1', region: '' }]))] }), /region ""/);
  expectOne(cfg({ routes: [r('/a').to(p('api', []))] }), /^pool "api" has no upstreams$/);
  expectOne(cfg({ routes: [r('/a').to(p('api', ['http://x:1', 'http://x:1']))] }), /listed twice/);
  expectOne(cfg({ routes: [r('/a').to('http//oops')] }), /^pool "url:http\/\/oops": upstream "http\/\/oops" is not a URL$/);
});

test('unknown option keys get a did-you-mean suggestion', () => {
  expectOne(cfg({ routes: [r('/a').to(ok).rateLimit({ perIP: '1/s' })] }), /^route "\/a": rateLimit: unknown option "perIP"$/, /did you mean "perIp"\?/);
  expectOne(cfg({ routes: [r('/a').to(p('api', ['http://x:1']).health({ path: '/h', intervall: '2s' }))] }), /^pool "api": health: unknown option "intervall"$/, /did you mean "interval"/);
  expectOne(cfg({ listne: ['http://x:1'], routes: [] }), /^config: unknown option "listne"$/, /did you mean "listen"/);
  expectOne(cfg({ routes: [r('/a').to(p('api', [{ url: 'http://x:1', wieght: 2 }]))] }), /unknown option "wieght"/, /did you mean "weight"/);
  expectOne(cfg({ routes: [r('/a').to(ok).headers({ request: { sett: {} } })] }), /headers.request: unknown option "sett"/, /did you mean "set"/);
  expectOne(cfg({ routes: [r('/a').redirect('/b', 301, { keepPth: true })] }), /redirect: unknown option "keepPth"/, /did you mean "keepPath"/);
  expectOne(cfg({ limits: { zzzzzzzz: 1 }, routes: [] }), /limits: unknown option "zzzzzzzz"/, /^known options: maxHeaderSize/);
  expectOne(cfg({ routes: [r('/a').to(p('api', ['http://x:1']).balance('roundrobin'))] }), /balance "roundrobin" is not an algorithm/, /did you mean "round-robin"/);
  expectOne(cfg({ log: { level: 'warning' }, routes: [] }), /log.level "warning"/, /did you mean "warn"/);
});

test('did-you-mean: only close matches', () => {
  assert.equal(didYouMean('perIP', ['perIp', 'burst']), 'perIp');
  assert.equal(didYouMean('maxage', ['maxAge', 'staleWhileRevalidate']), 'maxAge');
  assert.equal(didYouMean('completelydifferent', ['perIp', 'burst']), undefined);
});

test('durations and sizes', () => {
  expectOne(cfg({ routes: [r('/a').to(p('api', ['http://x:1']).timeouts({ connect: '30 seconds' }))] }), /^pool "api": timeouts.connect: invalid duration "30 seconds"/, /'30s'/);
  expectOne(cfg({ routes: [r('/a').to(p('api', ['http://x:1']).passive({ ejectFor: 'soon' }))] }), /passive.ejectFor: invalid duration/);
  expectOne(cfg({ routes: [r('/a').to(ok).bodyLimit('10 megabytes')] }), /^route "\/a": bodyLimit: invalid size "10 megabytes"/, /'10mb'/);
  expectOne(cfg({ limits: { headersTimeout: 'x' }, routes: [] }), /limits.headersTimeout: invalid duration/);
  expectOne(cfg({ routes: [r('/a').to(ok).cache({ maxAge: '1 day' })] }), /cache.maxAge: invalid duration/);
  expectOne(cfg({ routes: [r('/a').to(ok).rateLimit({ perIp: '100' })] }), /rateLimit.perIp: invalid rate "100"/, /'100\/s'/);
});

test('methods, status codes, headers', () => {
  expectOne(cfg({ routes: [r('/a').methods('GE T').to(ok)] }), /method "GE T" is not an HTTP method/);
  expectOne(cfg({ routes: [r('/a').redirect('/b', 200)] }), /^route "\/a": redirect status 200 is not a redirect status$/, /301, 302, 303, 307 or 308/);
  expectOne(cfg({ routes: [r('/a').respond(600)] }), /status 600 is not an HTTP status code/, /100 to 599/);
  expectOne(cfg({ routes: [r('/a').respond(99.5)] }), /status 99.5/);
  expectOne(cfg({ routes: [r('/a').to(ok).headers({ request: { set: { 'bad name': 'x' } } })] }), /header name "bad name" is not valid/);
  expectOne(cfg({ routes: [r('/a').to(ok).headers({ response: { add: { 'x-a': 'a\r\nb' } } })] }), /header "x-a" value contains CR, LF or NUL/);
  expectOne(cfg({ routes: [r('/a').to(ok).headers({ request: { set: { 'x-n': 5 } } })] }), /header "x-n" has value 5, not a string/);
  expectOne(cfg({ routes: [r('/a').to(ok).headers({ request: { remove: ['a b'] } })] }), /header name "a b"/);
  expectOne(cfg({ routes: [r('/a').to(ok).hideHeaders(['x:y'])] }), /hideHeaders: header name "x:y"/);
  expectOne(cfg({ routes: [r('/a').respond(200, 'x', { 'x-a': 'a\nb' })] }), /respond headers: header "x-a" value contains/);
  expectOne(cfg({ routes: [r('/a').to(ok).hostHeader('a b')] }), /hostHeader "a b" is not valid/);
  expectOne(cfg({ routes: [r('/a').redirect('not a url')] }), /redirect location "not a url" is not a URL or a path/);
});

test('match patterns (parseMatch) and rewrite regex', () => {
  const pr = expectOne(cfg({ routes: [r('http://x.com/a').to(ok)] }), /^route "http:\/\/x.com\/a": match pattern .* has a scheme/, /\[host\]\[path\]/);
  assert.ok(pr.at);
  expectOne(cfg({ routes: [r('/a/*/b').to(ok)] }), /'\*' is only allowed as the last segment/);
  expectOne(cfg({ routes: [r('/a').to(ok).rewrite('(', '/b')] }), /rewrite pattern "\(" is not a valid regular expression/);
  expectOne(cfg({ routes: [r('/a').to(ok).stripPrefix('v1')] }), /stripPrefix "v1" is not a path prefix/, /starts with '\/'/);
});

test('problems point at the builder call that caused them', () => {
  const spec = cfg({ routes: [r('/a').to(ok).stripPrefix('v1')] });
  const pr = expectOne(spec, /stripPrefix/);
  assert.deepEqual(pr.at, spec.routes[0]!.calls!.stripPrefix!.at);
  assert.notDeepEqual(pr.at, spec.routes[0]!.at);
  const spec2 = cfg({ routes: [r('/a').to(p('api', ['http://x:1']).retry({ attempts: -1 }))] });
  const pr2 = expectOne(spec2, /retry.attempts/);
  assert.deepEqual(pr2.at, (spec2.routes[0]!.target as Loose).pool.calls.retry.at);
});

test('pools: one name, two different definitions', () => {
  const a = pool('api', ['http://x:1']);
  const b = pool('api', ['http://x:2']);
  const spec = defineConfig({ routes: [route('/a').to(a), route('/b').to(b)] });
  const pr = expectOne(spec, /^pool "api" is defined twice with different settings \(first at .*:\d+:\d+\)$/, /reuse one builder .*or give the other pool its own name/);
  assert.deepEqual(pr.at, (spec.routes[1]!.target as Loose).pool.at);
  // The same settings twice are one pool.
  assert.deepEqual(validateConfig(defineConfig({ routes: [route('/a').to(pool('api', ['http://x:1'])), route('/b').to(pool('api', ['http://x:1']))] })), []);
  // A derived builder with extra settings is a different pool.
  expectOne(defineConfig({ routes: [route('/a').to(a), route('/b').to(a.retry({ attempts: 1 }))] }), /defined twice/);
});

test('pool options: balance hash keys, sticky, health, counts', () => {
  const with_ = (pl: Loose) => cfg({ routes: [r('/a').to(pl)] });
  const base = () => p('api', ['http://x:1']);
  expectOne(with_(base().balance({ hash: 'query' })), /balance hash key "query" is not valid/, /'ip', 'path', 'header:<name>' or 'cookie:<name>'/);
  expectOne(with_(base().balance({ hash: 'header:' })), /balance hash key "header:"/);
  expectOne(with_(base().sticky({ cookie: 'a b' })), /sticky cookie name "a b"/);
  expectOne(with_(base().health({ path: 'healthz' })), /health path "healthz" is not a path/);
  expectOne(with_(base().health({ path: '/h', healthy: 0 })), /health.healthy must be a positive whole number/);
  expectOne(with_(base().health({ path: '/h', expect: [200, 700] })), /health.expect: status 700/);
  expectOne(with_(base().passive({ failures: 'many' })), /passive.failures must be a positive whole number/);
  expectOne(with_(base().maxConnections(0)), /maxConnections must be a positive whole number/);
  expectOne(with_(base().retry({ statuses: [1000] })), /retry.statuses: status 1000/);
});

test('trustProxies, admin, redis, tls, via', () => {
  expectOne(cfg({ trustProxies: ['10.0.0.0/33'], routes: [] }), /trustProxies entry "10.0.0.0\/33" is not an IP address or CIDR range/, /10\.0\.0\.0\/8/);
  expectOne(cfg({ trustProxies: ['example.com'], routes: [] }), /trustProxies entry "example.com"/);
  expectOne(cfg({ admin: { listen: 'localhost:2019' }, routes: [] }), /admin.listen "localhost:2019"/);
  expectOne(cfg({ redis: 'http://localhost:6379', routes: [] }), /redis "http:\/\/localhost:6379" uses http:, not redis or rediss/);
  expectOne(cfg({ tls: { acme: { emial: 'a@b.c' } }, routes: [] }), /tls.acme: unknown option "emial"/, /did you mean "email"/);
  expectOne(cfg({ tls: { acme: { email: 'a@b.c', challenges: ['http-02'] } }, routes: [] }), /"http-02" is not a challenge type/, /did you mean "http-01"/);
  expectOne(cfg({ tls: 'auto', routes: [] }), /tls "auto" is not valid/);
  expectOne(cfg({ via: 'a\nb', routes: [] }), /via "a\\nb" is not valid/);
});

test('a route with no target', () => {
  const spec = cfg({ routes: [r('/x').methods('GET')] });
  const pr = expectOne(spec, /^route "\/x" has no target$/, /\.to\(.*\.redirect\(.*\.respond\(/);
  assert.deepEqual(pr.at, spec.routes[0]!.at);
});

test('feature options: shape only (the engine decides whether they are implemented)', () => {
  assert.deepEqual(validateConfig(example), []);
  expectOne(cfg({ routes: [r('/a').to(ok).waf({ mode: 'deny' })] }), /waf mode "deny"/, /'block' or 'detect'/);
  expectOne(cfg({ routes: [r('/a').to(ok).geo({ deny: ['North Korea'] })] }), /geo deny "North Korea"/);
});

test('assertValidConfig throws ConfigError with every problem and a formatted message', () => {
  const spec = cfg({ listen: ['http//x'], routes: [r('/x')] });
  assert.throws(
    () => assertValidConfig(spec),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.problems.length, 2);
      assert.match(err.message, /:\d+:\d+ config: listen "http\/\/x" is not a URL\n {2}hint: expected http:\/\/host:port/);
      assert.match(err.message, /route "\/x" has no target/);
      return true;
    },
  );
  assert.doesNotThrow(() => assertValidConfig(example));
});

test('not a config at all', () => {
  const list = validateConfig({ kind: 'nope' } as unknown as ConfigSpec);
  assert.equal(list.length, 1);
  assert.match(list[0]!.message, /not a defineConfig\(\) result/);
});

/**
 * The cache end to end: a real proxy in front of a real origin that counts what reaches it.
 * Every path is used by one test only, so tests do not see each other's entries.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { defineConfig, route, pool } from '../../../src/index.js';
import { createRuntime } from '../../../src/engine/runtime.js';
import { createSilentLogger } from '../../../src/observe/logger.js';
import type { HttpCache } from '../../../src/cache/http-cache.js';
import type { Plan } from '../../../src/engine/plan.js';
import { startProxy, httpRequest, withTimeout, type Proxy } from '../../helpers/proxy.js';
import { sleep, waitUntil } from '../../helpers/backend.js';
import { gate, startOrigin, type Origin } from './origin.js';

const T = { timeout: 15_000 };
const cc = (v: string): [string, string] => ['cache-control', v];

/** Clients waiting (coalesced) on the fill in flight for `path`; -1 when no fill is in flight. */
function waitingOn(cache: HttpCache, path: string): number {
  for (const f of cache.fills.values()) if (f.key.endsWith(path)) return f.waiting;
  return -1;
}

/** A request on a raw connection that the test ends itself (a client leaving mid-request). */
function rawGet(port: number, path: string): { socket: net.Socket; received: () => number } {
  let bytes = 0;
  const socket = net.connect(port, '127.0.0.1');
  socket.on('data', (c: Buffer) => (bytes += c.length));
  socket.on('error', () => {});
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
  return { socket, received: () => bytes };
}

describe('cache', () => {
  let origin: Origin;
  let px: Proxy;

  before(async () => {
    origin = await startOrigin();
    const p = pool('origin', [origin.url]);
    px = await startProxy(
      defineConfig({
        listen: ['http://127.0.0.1:0'],
        cache: { maxSize: '8mb', maxObjectSize: '64kb' },
        routes: [
          route('/swr/*').to(p).cache({ staleWhileRevalidate: '30s' }),
          route('/sie/*').to(p).cache({ staleIfError: '1m' }),
          route('/default/*').to(p).cache({ maxAge: '60s' }),
          route('/bypass/*').to(p).cache({ bypass: { cookies: ['session'] } }),
          route('/q/*').to(p).cache({ key: { query: { exclude: ['utm_source'] } } }),
          route('/tags/*').to(p).cache({ tagHeaders: ['x-tags'] }),
          route('/*').to(p).cache(),
        ],
      }),
    );
  });
  after(async () => {
    await px?.close();
    await origin?.close();
  });

  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') => httpRequest(px.base + path, { headers, method });

  it('serves a fresh response from the cache without asking the origin again', T, async () => {
    origin.on('/fresh', () => ({ headers: [cc('max-age=60')], body: 'hello' }));
    const a = await get('/fresh');
    const b = await get('/fresh');
    assert.equal(a.text, 'hello');
    assert.equal(b.text, 'hello');
    assert.equal(origin.count('/fresh'), 1);
    assert.match(String(a.headers['cache-status']), /^proxykit; fwd=uri-miss; fwd-status=200; .*stored/);
    assert.match(String(b.headers['cache-status']), /^proxykit; hit/);
    assert.equal(b.headers['content-length'], '5');
  });

  it('computes Age from the origin Age and the time in cache', T, async () => {
    origin.on('/age', () => ({ headers: [cc('max-age=600'), ['age', '100']], body: 'x' }));
    const t0 = performance.now();
    await get('/age');
    await sleep(1100);
    const b = await get('/age');
    // Everything that can add to the age (the round trip to the origin, the time in cache) lies
    // within this window; +1 covers rounding.
    const elapsedS = (performance.now() - t0) / 1000;
    const age = Number(b.headers.age);
    assert.ok(age >= 101 && age <= 100 + Math.ceil(elapsedS) + 1, `age ${age} after ${elapsedS.toFixed(2)} s`);
  });

  it('never stores no-store or private responses', T, async () => {
    origin.on('/nostore', () => ({ headers: [cc('no-store')], body: 'a' }));
    origin.on('/private', () => ({ headers: [cc('private, max-age=60')], body: 'a' }));
    for (let i = 0; i < 2; i++) {
      await get('/nostore');
      await get('/private');
    }
    assert.equal(origin.count('/nostore'), 2);
    assert.equal(origin.count('/private'), 2);
  });

  it('stores a response to a request with Authorization only when the origin allows it (§3.5)', T, async () => {
    origin.on('/auth', () => ({ headers: [cc('max-age=60')], body: 'secret' }));
    origin.on('/auth-public', () => ({ headers: [cc('public, max-age=60')], body: 'shared' }));
    await get('/auth', { authorization: 'Bearer a' });
    await get('/auth', { authorization: 'Bearer b' });
    assert.equal(origin.count('/auth'), 2);
    await get('/auth-public', { authorization: 'Bearer a' });
    await get('/auth-public', { authorization: 'Bearer b' });
    assert.equal(origin.count('/auth-public'), 1);
  });

  it('keeps one variant per Vary value', T, async () => {
    origin.on('/vary', (req) => ({ headers: [cc('max-age=60'), ['vary', 'Accept-Language']], body: `lang=${req.headers['accept-language']}` }));
    const en1 = await get('/vary', { 'accept-language': 'en' });
    const de1 = await get('/vary', { 'accept-language': 'de' });
    const en2 = await get('/vary', { 'accept-language': 'en' });
    const de2 = await get('/vary', { 'accept-language': 'de' });
    assert.deepEqual([en1.text, de1.text, en2.text, de2.text], ['lang=en', 'lang=de', 'lang=en', 'lang=de']);
    assert.equal(origin.count('/vary'), 2);
    assert.match(String(de1.headers['cache-status']), /fwd=vary-miss/);
  });

  it('revalidates a stale response with its ETag and serves the stored body on 304', T, async () => {
    origin.on('/etag', (req, n) =>
      n === 1
        ? { headers: [cc('max-age=1'), ['etag', '"v1"'], ['x-version', 'first']], body: 'body-v1' }
        : req.headers['if-none-match'] === '"v1"'
          ? { status: 304, headers: [cc('max-age=60'), ['etag', '"v1"'], ['x-version', 'second']] }
          : { headers: [cc('max-age=60')], body: 'unexpected full response' },
    );
    await get('/etag');
    await sleep(2100);
    const b = await get('/etag');
    assert.equal(b.status, 200);
    assert.equal(b.text, 'body-v1');
    assert.equal(b.headers['x-version'], 'second', 'headers are updated from the 304 (RFC 9111 §3.2)');
    assert.match(String(b.headers['cache-status']), /fwd=stale; fwd-status=304/);
    const c = await get('/etag');
    assert.match(String(c.headers['cache-status']), /hit/);
    assert.equal(origin.count('/etag'), 2);
  });

  it('answers the client\'s If-None-Match from the cache', T, async () => {
    origin.on('/inm', () => ({ headers: [cc('max-age=60'), ['etag', '"abc"']], body: 'content' }));
    await get('/inm');
    const r = await get('/inm', { 'if-none-match': 'W/"abc"' });
    assert.equal(r.status, 304);
    assert.equal(r.text, '');
    assert.equal(r.headers.etag, '"abc"');
    const r2 = await get('/inm', { 'if-none-match': '"other"' });
    assert.equal(r2.status, 200);
    assert.equal(origin.count('/inm'), 1);
  });

  it('answers HEAD from a stored GET', T, async () => {
    origin.on('/head', () => ({ headers: [cc('max-age=60'), ['content-type', 'text/plain']], body: 'twelve bytes' }));
    await get('/head');
    const h = await get('/head', {}, 'HEAD');
    assert.equal(h.status, 200);
    assert.equal(h.headers['content-length'], '12');
    assert.equal(h.body.length, 0);
    assert.equal(origin.count('/head'), 1);
  });

  it('serves a byte range from a stored full response', T, async () => {
    origin.on('/range', () => ({ headers: [cc('max-age=60')], body: '0123456789' }));
    await get('/range');
    const r = await get('/range', { range: 'bytes=2-5' });
    assert.equal(r.status, 206);
    assert.equal(r.text, '2345');
    assert.equal(r.headers['content-range'], 'bytes 2-5/10');
    const bad = await get('/range', { range: 'bytes=50-60' });
    assert.equal(bad.status, 416);
    assert.equal(bad.headers['content-range'], 'bytes */10');
    assert.equal(origin.count('/range'), 1);
  });

  it('stale-while-revalidate serves stale at once and refreshes once in the background', T, async () => {
    // The refresh is held at the origin until the test opens the gate.
    const refresh = gate();
    origin.on('/swr/a', (_req, n) => (n === 1 ? { headers: [cc('max-age=1')], body: 'v1' } : { headers: [cc('max-age=60')], body: `v${n}`, gate: refresh.promise }));
    await get('/swr/a');
    await sleep(1100);
    const stale = await withTimeout(Promise.all([get('/swr/a'), get('/swr/a'), get('/swr/a')]), 4000, 'stale answers while the refresh is held');
    assert.equal(refresh.opened, false, 'stale answers do not wait for the origin');
    for (const s of stale) {
      assert.equal(s.text, 'v1');
      assert.match(String(s.headers['cache-status']), /hit/);
    }
    await waitUntil(() => origin.count('/swr/a') === 2, 5000, 'one background refresh');
    const cache = px.rt.httpCache();
    assert.ok(cache);
    const refreshing = (): boolean => [...cache.refreshing].some((k) => k.endsWith('/swr/a'));
    assert.ok(refreshing(), 'the refresh is still in flight');
    refresh.open();
    await waitUntil(() => !refreshing(), 5000, 'the background refresh to finish');
    const fresh = await get('/swr/a');
    assert.equal(fresh.text, 'v2');
    assert.equal(origin.count('/swr/a'), 2, 'exactly one refresh for three stale hits');
  });

  it('stale-if-error serves the stored response when the origin fails', T, async () => {
    origin.on('/sie/a', (_req, n) => (n === 1 ? { headers: [cc('max-age=1')], body: 'good' } : { status: 503, body: 'down' }));
    await get('/sie/a');
    await sleep(1100);
    const r = await get('/sie/a');
    assert.equal(r.status, 200);
    assert.equal(r.text, 'good');
    assert.match(String(r.headers['cache-status']), /fwd=stale; fwd-status=503/);
  });

  it('stale-if-error also covers an origin that resets the connection', T, async () => {
    origin.on('/sie/reset', (_req, n) => (n === 1 ? { headers: [cc('max-age=1')], body: 'kept' } : { reset: true }));
    await get('/sie/reset');
    await sleep(1100);
    const r = await get('/sie/reset');
    assert.equal(r.status, 200);
    assert.equal(r.text, 'kept');
  });

  it('coalesces concurrent misses into one origin request', T, async () => {
    const answer = gate();
    origin.on('/coalesce', () => ({ headers: [cc('max-age=60')], body: 'once', gate: answer.promise }));
    const cache = px.rt.httpCache();
    assert.ok(cache);
    const all = Promise.all(Array.from({ length: 10 }, () => get('/coalesce')));
    try {
      // One request went upstream; the other nine wait on its fill.
      await waitUntil(() => origin.count('/coalesce') === 1 && waitingOn(cache, '/coalesce') === 9, 4000, 'nine requests waiting on one fill');
    } finally {
      answer.open();
    }
    const rs = await all;
    for (const r of rs) assert.equal(r.text, 'once');
    assert.equal(origin.count('/coalesce'), 1);
  });

  it('coalesces per variant: a cold burst in two languages makes one origin request per language', T, async () => {
    const first = gate();
    origin.on('/vary-burst', (req, n) => {
      const lang = String(req.headers['accept-language']);
      // The first answer is held until every request has arrived; the rest answer at once.
      return { headers: [cc('max-age=60'), ['vary', 'accept-language'], ['content-language', lang]], body: `in ${lang}`, gate: n === 1 ? first.promise : undefined };
    });
    const cache = px.rt.httpCache();
    assert.ok(cache);
    const langs = ['en', 'fr', 'en', 'fr', 'fr', 'en', 'fr', 'fr'];
    const all = Promise.all(langs.map((lang) => get('/vary-burst', { 'accept-language': lang })));
    try {
      await waitUntil(() => origin.count('/vary-burst') === 1 && waitingOn(cache, '/vary-burst') === langs.length - 1, 4000, 'every request waiting on the first fill');
    } finally {
      first.open();
    }
    const rs = await all;
    rs.forEach((r, i) => assert.equal(r.text, `in ${langs[i]}`, `request ${i} (${langs[i]})`));
    assert.equal(origin.count('/vary-burst'), 2, 'one origin request per language');
    // The other language's requests coalesced on one fill of their own, and then hit.
    const collapsed = rs.filter((r) => /collapsed/.test(String(r.headers['cache-status']))).length;
    assert.ok(collapsed >= langs.length - 2, `${collapsed} collapsed hits: ${rs.map((r) => r.headers['cache-status']).join(' | ')}`);
  });

  it('finishes a fill others wait on even when the client that started it leaves', T, async () => {
    // A proxy of its own, to hear (through the live stats) when it has seen the leader leave.
    const statuses: number[] = [];
    const rt = createRuntime({ logger: createSilentLogger(), live: { record: (status) => void statuses.push(status), connections() {}, reload() {} } });
    const answer = gate();
    try {
      await rt.apply(defineConfig({ listen: ['http://127.0.0.1:0'], routes: [route('/*').to(pool('origin', [origin.url])).cache()] }));
      const base = rt.listeners[0]!.url.replace(/\/$/, '');
      const cache = rt.httpCache();
      assert.ok(cache);
      origin.on('/leader-leaves', () => ({ headers: [cc('max-age=60')], body: 'for the waiters', gate: answer.promise }));
      const leader = rawGet(Number(new URL(base).port), '/leader-leaves');
      await waitUntil(() => origin.count('/leader-leaves') === 1, 4000, 'the leader\'s request at the origin');
      const waiters = Promise.all(Array.from({ length: 3 }, () => httpRequest(base + '/leader-leaves', { timeoutMs: 10_000 })));
      waiters.catch(() => {});
      await waitUntil(() => waitingOn(cache, '/leader-leaves') === 3, 4000, 'three requests waiting on the leader\'s fill');
      leader.socket.destroy();
      await waitUntil(() => statuses.includes(499), 4000, 'the proxy to see the leader leave');
      assert.equal(leader.received(), 0, 'the leader left before any answer');
      answer.open();
      for (const w of await waiters) assert.equal(w.text, 'for the waiters');
      assert.equal(origin.count('/leader-leaves'), 1);
    } finally {
      answer.open();
      await withTimeout(rt.close(1000), 5000, 'rt.close()');
    }
  });

  it('finishes a fill others wait on when its client leaves while the body is held back by that client', T, async () => {
    // The leader reads nothing, so the proxy pauses the upstream body for it (backpressure); then
    // it leaves. No 'drain' will come from it: the fill must resume on its own for its waiter.
    const size = 40 * 1024 * 1024;
    const rt = createRuntime({ logger: createSilentLogger() });
    try {
      await rt.apply(
        defineConfig({
          listen: ['http://127.0.0.1:0'],
          cache: { maxSize: '128mb', maxObjectSize: '64mb' },
          routes: [route('/*').to(pool('origin', [origin.url])).cache()],
        }),
      );
      const base = rt.listeners[0]!.url.replace(/\/$/, '');
      const cache = rt.httpCache();
      assert.ok(cache);
      origin.on('/paused-leader', () => ({ headers: [cc('max-age=60')], body: Buffer.alloc(size, 120) }));
      const leader = rawGet(Number(new URL(base).port), '/paused-leader');
      leader.socket.pause();
      await waitUntil(() => origin.count('/paused-leader') === 1, 4000, "the leader's request at the origin");
      const waiter = httpRequest(base + '/paused-leader', { timeoutMs: 20_000 });
      waiter.catch(() => {});
      await waitUntil(() => waitingOn(cache, '/paused-leader') === 1, 4000, "a request waiting on the leader's fill");
      await sleep(300); // socket buffers full: the proxy has paused the upstream for the leader
      leader.socket.destroy();
      const w = await waiter;
      assert.equal(w.status, 200);
      assert.equal(w.text.length, size, 'the whole body');
      assert.equal(origin.count('/paused-leader'), 1, 'the waiter was served by the fill, not by a request of its own');
      const gateway = (rt as unknown as { gateway: { plan: Plan } }).gateway;
      const dispatcher = gateway.plan.pools.get('origin')!.upstreams[0]!.dispatcher;
      await waitUntil(() => dispatcher.stats.running === 0, 4000, 'no upstream request left running');
    } finally {
      await withTimeout(rt.close(1000), 5000, 'rt.close()');
    }
  });

  it('abandons a fill nobody waits on when its client leaves before the response', T, async () => {
    const first = gate();
    origin.on('/alone-leaves', (_req, n) => ({ headers: [cc('max-age=60')], body: 'late', gate: n === 1 ? first.promise : undefined }));
    const cache = px.rt.httpCache();
    assert.ok(cache);
    try {
      const alone = rawGet(px.port, '/alone-leaves');
      await waitUntil(() => origin.count('/alone-leaves') === 1, 4000, 'the request at the origin');
      assert.equal(waitingOn(cache, '/alone-leaves'), 0, 'a fill in flight, nobody waiting on it');
      alone.socket.destroy();
      await waitUntil(() => waitingOn(cache, '/alone-leaves') === -1, 4000, 'the fill to be abandoned');
    } finally {
      first.open();
    }
    const r = await get('/alone-leaves');
    assert.equal(r.text, 'late');
    assert.equal(origin.count('/alone-leaves'), 2, 'the first response was not stored');
  });

  it('does not hold coalesced requests when the response turns out uncacheable', T, async () => {
    origin.on('/coalesce-private', () => ({ headers: [cc('private')], body: 'mine', delayMs: 100 }));
    const rs = await Promise.all(Array.from({ length: 4 }, () => get('/coalesce-private')));
    for (const r of rs) assert.equal(r.text, 'mine');
    assert.equal(origin.count('/coalesce-private'), 4);
  });

  it('an unsafe request invalidates the URI and its same-origin Location (§4.4)', T, async () => {
    origin.on('/inv', () => ({ headers: [cc('max-age=60')], body: 'list' }));
    origin.on('/inv/item', () => ({ headers: [cc('max-age=60')], body: 'item' }));
    origin.on('/inv-post', () => ({ status: 201, headers: [['location', '/inv/item']], body: '' }));
    await get('/inv');
    await get('/inv/item');
    await httpRequest(px.base + '/inv', { method: 'POST', body: 'x' });
    await httpRequest(px.base + '/inv-post', { method: 'POST', body: 'x' });
    await get('/inv');
    await get('/inv/item');
    assert.equal(origin.count('/inv'), 3, 'POST to /inv reached the origin and the GET after it too');
    assert.equal(origin.count('/inv/item'), 2, 'Location was invalidated');
  });

  it('an error response to an unsafe request invalidates nothing', T, async () => {
    origin.on('/inv-err', (req) => (req.method === 'POST' ? { status: 500, body: 'no' } : { headers: [cc('max-age=60')], body: 'ok' }));
    await get('/inv-err');
    await httpRequest(px.base + '/inv-err', { method: 'POST', body: 'x' });
    await get('/inv-err');
    assert.equal(origin.count('/inv-err'), 2);
  });

  it('purges by URL and by surrogate key, and keeps surrogate keys from clients', T, async () => {
    origin.on('/tagged/1', () => ({ headers: [cc('max-age=60'), ['surrogate-key', 'product-1 all']], body: 'p1' }));
    origin.on('/tagged/2', () => ({ headers: [cc('max-age=60'), ['surrogate-key', 'product-2 all']], body: 'p2' }));
    const first = await get('/tagged/1');
    assert.equal(first.headers['surrogate-key'], undefined);
    await get('/tagged/2');
    const cache = px.rt.httpCache();
    assert.ok(cache);
    assert.equal(cache.purgeTag('product-1'), 1);
    await get('/tagged/1');
    await get('/tagged/2');
    assert.deepEqual([origin.count('/tagged/1'), origin.count('/tagged/2')], [2, 1]);
    assert.equal(cache.purgeUrl(`${px.base}/tagged/2`), 1);
    await get('/tagged/2');
    assert.equal(origin.count('/tagged/2'), 2);
    assert.equal(cache.purgeTag('all'), 2);
  });

  it('does not store a body over the per-object limit, and the client still gets all of it', T, async () => {
    const big = Buffer.alloc(200 * 1024, 7);
    origin.on('/big', () => ({ headers: [cc('max-age=60')], body: big }));
    const a = await get('/big');
    const b = await get('/big');
    assert.equal(a.body.length, big.length);
    assert.equal(b.body.length, big.length);
    assert.equal(origin.count('/big'), 2);
  });

  it('streams a chunked body over the object limit to the client while giving up storing it', T, async () => {
    const big = Buffer.alloc(150 * 1024, 3);
    origin.on('/big-chunked', () => ({ headers: [cc('max-age=60')], body: big, chunked: true }));
    const a = await get('/big-chunked');
    assert.equal(a.body.length, big.length);
    await get('/big-chunked');
    assert.equal(origin.count('/big-chunked'), 2);
  });

  it('only-if-cached answers 504 when nothing is stored', T, async () => {
    origin.on('/oic', () => ({ headers: [cc('max-age=60')], body: 'x' }));
    const r = await get('/oic', { 'cache-control': 'only-if-cached' });
    assert.equal(r.status, 504);
    assert.equal(origin.count('/oic'), 0);
  });

  it('a request with no-cache goes to the origin even when a fresh copy is stored', T, async () => {
    origin.on('/client-nocache', () => ({ headers: [cc('max-age=60'), ['etag', '"z"']], body: 'z' }));
    await get('/client-nocache');
    const r = await get('/client-nocache', { 'cache-control': 'no-cache' });
    assert.equal(r.text, 'z');
    assert.equal(origin.count('/client-nocache'), 2);
    assert.match(String(r.headers['cache-status']), /fwd=request/);
  });

  it('the route maxAge gives freshness to responses without any', T, async () => {
    origin.on('/default/plain', () => ({ body: 'plain' }));
    origin.on('/plain', () => ({ body: 'plain' }));
    await get('/default/plain');
    await get('/default/plain');
    assert.equal(origin.count('/default/plain'), 1);
    await get('/plain');
    await get('/plain');
    assert.equal(origin.count('/plain'), 2, 'no validator, no Last-Modified, no maxAge: nothing to store');
  });

  it('a bypass rule skips the cache', T, async () => {
    origin.on('/bypass/a', () => ({ headers: [cc('max-age=60')], body: 'a' }));
    await get('/bypass/a', { cookie: 'session=1' });
    await get('/bypass/a', { cookie: 'session=1' });
    assert.equal(origin.count('/bypass/a'), 2);
    await get('/bypass/a');
    await get('/bypass/a');
    assert.equal(origin.count('/bypass/a'), 3);
  });

  it('a key rule leaves excluded query parameters out of the key', T, async () => {
    origin.on('/q/a*', () => ({ headers: [cc('max-age=60')], body: 'a' }));
    await get('/q/a?x=1&utm_source=mail');
    await get('/q/a?x=1&utm_source=web');
    await get('/q/a?x=2');
    assert.equal(origin.seen.filter((s) => s.url.startsWith('/q/a')).length, 2);
  });

  it('takes surrogate keys from the configured tagHeaders, and keeps them from clients', T, async () => {
    origin.on('/tags/a', () => ({ headers: [cc('max-age=60'), ['x-tags', 'red, blue'], ['surrogate-key', 'ignored']], body: 'a' }));
    const r = await get('/tags/a');
    assert.equal(r.headers['x-tags'], undefined);
    assert.equal(r.headers['surrogate-key'], 'ignored', 'only the configured fields are ours');
    const cache = px.rt.httpCache();
    assert.ok(cache);
    assert.equal(cache.purgeTag('ignored'), 0);
    assert.equal(cache.purgeTag('blue'), 1);
  });

  it('a 304 that selects nothing stored is not passed to a client that did not ask: the request goes again', T, async () => {
    origin.on('/mismatch', (req, n) =>
      n === 1
        ? { headers: [cc('max-age=1'), ['etag', '"one"']], body: 'one' }
        : req.headers['if-none-match'] !== undefined
          ? { status: 304, headers: [cc('max-age=60'), ['etag', '"two"']] }
          : { headers: [cc('max-age=60'), ['etag', '"two"']], body: 'two' },
    );
    await get('/mismatch');
    await sleep(1100);
    const r = await get('/mismatch');
    assert.equal(r.status, 200);
    assert.equal(r.text, 'two');
    assert.equal(origin.count('/mismatch'), 3);
    const again = await get('/mismatch');
    assert.equal(again.text, 'two');
    assert.equal(origin.count('/mismatch'), 3, 'the refetched response was stored');
  });

  it('a HEAD miss fills the cache for the GET after it', T, async () => {
    origin.on('/head-first', () => ({ headers: [cc('max-age=60')], body: 'filled by HEAD' }));
    const h = await get('/head-first', {}, 'HEAD');
    assert.equal(h.status, 200);
    assert.equal(h.body.length, 0);
    const g = await get('/head-first');
    assert.equal(g.text, 'filled by HEAD');
    assert.equal(origin.count('/head-first'), 1);
  });

  it('a hit never touches the origin, even when it is gone', T, async () => {
    const o2 = await startOrigin();
    o2.on('/solo', () => ({ headers: [cc('max-age=60')], body: 'still here' }));
    const px2 = await startProxy(defineConfig({ listen: ['http://127.0.0.1:0'], routes: [route('/*').to(pool('o2', [o2.url])).cache()] }));
    try {
      await httpRequest(px2.base + '/solo');
      await o2.close();
      const r = await httpRequest(px2.base + '/solo');
      assert.equal(r.status, 200);
      assert.equal(r.text, 'still here');
    } finally {
      await px2.close();
    }
  });
});

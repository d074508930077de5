import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateResponse } from '../../../../src/cache/policy/index.js';
import { OPTS, S, T0, at, get, opts, stored } from './helpers.js';

const verdict = (headers: string[], status = 200, req = get(), o = OPTS) => evaluateResponse(req, status, headers, T0, T0, o);
const reason = (headers: string[], status = 200, req = get(), o = OPTS) => {
  const v = verdict(headers, status, req, o);
  return v.store ? 'stored' : v.reason;
};
const FRESH = ['Cache-Control', 'max-age=100', 'Date', at(0)];

test('only GET responses are stored (HEAD is answered from a stored GET)', () => {
  for (const method of ['HEAD', 'POST', 'PUT', 'OPTIONS']) {
    assert.equal(reason(FRESH, 200, { method, get: get().get }), 'method', method);
  }
  assert.equal(reason(FRESH), 'stored');
});

test('status codes with explicit freshness: every final status but 206 / 304 (RFC 9111 §3)', () => {
  for (const s of [200, 203, 204, 299, 301, 302, 303, 307, 308, 400, 404, 410, 499, 500, 502, 503, 504, 599]) {
    assert.equal(reason(FRESH, s), 'stored', String(s));
  }
  for (const s of [100, 101, 103, 206, 304, 600]) assert.equal(reason(FRESH, s), 'status', String(s));
});

test('heuristic freshness only for heuristically cacheable statuses or public (RFC 9111 §4.2.2)', () => {
  const lm = ['Last-Modified', at(-24 * 3600), 'Date', at(0)];
  for (const s of [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501]) {
    const v = verdict(lm, s);
    assert.ok(v.store, String(s));
    assert.equal(v.meta.lifetime, 8640, String(s)); // 10% of a day
    assert.equal(v.meta.heuristic, true);
  }
  for (const s of [201, 202, 302, 303, 307, 403, 500, 502, 503, 504, 599]) assert.equal(reason(lm, s), 'status', String(s));
  const pub = verdict([...lm, 'Cache-Control', 'public'], 599);
  assert.ok(pub.store);
  assert.equal(pub.meta.lifetime, 8640);
});

test('heuristic: fraction and cap from the options; none without Last-Modified or with a future one', () => {
  const lm = (secs: number) => ['Last-Modified', at(-secs), 'Date', at(0)];
  assert.equal(stored(lm(10 * 86400), { opts: opts({ heuristicMax: 3600 }) }).lifetime, 3600);
  assert.equal(stored(lm(1000), { opts: opts({ heuristicFraction: 0.5 }) }).lifetime, 500);
  assert.equal(stored(lm(5)).lifetime, 0); // stored for its validator, but never fresh
  assert.equal(stored([...lm(-100), 'ETag', '"x"']).lifetime, 0);
  assert.equal(reason(['Date', at(0)]), 'no-freshness'); // no LM, no validator: pointless
});

test('defaultMaxAge replaces the heuristic where one is allowed, never explicit expiration', () => {
  const o = opts({ defaultMaxAge: 300 });
  const m = stored(['Date', at(0)], { opts: o });
  assert.equal(m.lifetime, 300);
  assert.equal(m.heuristic, true);
  assert.equal(stored(['Last-Modified', at(-86400), 'Date', at(0)], { opts: o }).lifetime, 300);
  assert.equal(stored(FRESH, { opts: o }).lifetime, 100);
  assert.equal(reason(['Date', at(0)], 302, get(), o), 'status');
  assert.equal(stored(['Cache-Control', 'public'], { status: 302, opts: o }).lifetime, 300);
});

test('freshness lifetime (RFC 9111 §4.2.1): s-maxage > max-age > Expires − Date', () => {
  const cases: Array<[string[], number]> = [
    [['Cache-Control', 'max-age=3600'], 3600],
    [['Cache-Control', 'MaX-aGe=3600'], 3600],
    [['Cache-Control', 'max-age="3600"'], 3600],
    [['Cache-Control', 'max-age=003600'], 3600],
    [['Cache-Control', 'max-age=3600.0'], 3600],
    [['Cache-Control', 'max-age=2147483648'], 2147483648],
    [['Cache-Control', 'max-age=99999999999'], 2147483648],
    [['Cache-Control', 'foobar, max-age=3600'], 3600],
    [['Cache-Control', 'max-age=1800, max-age=1'], 1800],
    [['Cache-Control', 'max-age=1800', 'Cache-Control', 'max-age=1'], 1800],
    // invalid values: explicit but already stale
    [['Cache-Control', 'max-age=0'], 0],
    [['Cache-Control', 'max-age=a100'], 0],
    [['Cache-Control', 'max-age=100a'], 0],
    [['Cache-Control', 'max-age=-100'], 0],
    [['Cache-Control', "max-age='3600'"], 0],
    [['Cache-Control', 'max-age =100'], 0],
    [['Cache-Control', 'max-age= 100'], 0],
    [['Cache-Control', 'max-age'], 0],
    [['Cache-Control', 'extension="max-age=100", max-age=1'], 1],
    [['Cache-Control', 'max-age=1, extension="max-age=100"'], 1],
    // shared cache: s-maxage wins either way
    [['Cache-Control', 'max-age=3600, s-maxage=1'], 1],
    [['Cache-Control', 's-maxage=1, max-age=3600'], 1],
    [['Cache-Control', 'max-age=3600', 'Cache-Control', 's-maxage=1'], 1],
    [['Cache-Control', 'max-age=1, s-maxage=3600'], 3600],
    [['Cache-Control', 's-maxage=bad, max-age=3600'], 0],
    // Expires
    [['Expires', at(3600)], 3600],
    [['Expires', at(-3600)], 0],
    [['Expires', at(0)], 0],
    [['Expires', '0'], 0],
    [['Expires', 'foo'], 0],
    [['Expires', at(300)], 300],
    [['Expires', at(3600), 'Expires', at(10)], 0], // two lines: not one HTTP-date, so already expired
    [['Cache-Control', 'max-age=3600', 'Expires', at(-10000)], 3600],
    [['Cache-Control', 'max-age=3600', 'Expires', '0'], 3600],
    [['Cache-Control', 'max-age=0', 'Expires', at(10000)], 0],
    [['Cache-Control', 's-maxage=60', 'Expires', at(10000)], 60],
  ];
  for (const [h, want] of cases) {
    const v = verdict([...h, 'Date', at(0), 'ETag', '"v"']);
    assert.ok(v.store, h.join(' '));
    assert.equal(v.meta.lifetime, want, h.join(' '));
    assert.equal(v.meta.heuristic, false, h.join(' '));
  }
});

test('Expires is relative to the response Date, not the receipt time', () => {
  // Date 400 s in the future, Expires 300: already expired
  assert.equal(stored(['Expires', at(300), 'Date', at(400), 'ETag', '"x"']).lifetime, 0);
  // Date slow by 10 s: lifetime is still Expires − Date
  assert.equal(stored(['Expires', at(10), 'Date', at(-10)]).lifetime, 20);
  // an invalid Date: the receipt time stands in
  assert.equal(stored(['Expires', at(10), 'Date', 'foo']).lifetime, 10);
});

test('corrected initial age (RFC 9111 §4.2.3) includes the upstream Age and the response delay', () => {
  const age = (headers: string[], reqT = T0, resT = T0) => stored([...headers, 'Cache-Control', 'max-age=100000'], { requestTime: reqT, responseTime: resT }).initialAge;
  assert.equal(age(['Date', at(0)]), 0);
  assert.equal(age(['Date', at(0), 'Age', '15']), 15);
  assert.equal(age(['Date', at(0), 'Age', '15'], T0 - 2 * S), 17); // + response_delay
  assert.equal(age(['Date', at(-10)]), 10); // apparent age
  assert.equal(age(['Date', at(-10), 'Age', '25']), 25);
  assert.equal(age(['Date', at(10)]), 0); // a fast Date is no negative age
  assert.equal(age([]), 0);
  // RFC 9111 §5.1: first member of the first line; anything but a non-negative integer is ignored
  const parse: Array<[string[], number]> = [
    [['Age', 'abc'], 0],
    [['Age', '-7200'], 0],
    [['Age', '7200.0'], 0],
    [['Age', '7200,0'], 7200],
    [['Age', '0,7200'], 0],
    [['Age', '7200', 'Age', '0'], 7200],
    [['Age', '0', 'Age', '7200'], 0],
    [['Age', '7200, 7200'], 7200],
    [['Age', ' 30 '], 30],
    [['Age', '99999999999'], 2147483648],
  ];
  for (const [h, want] of parse) assert.equal(age(['Date', at(0), ...h]), want, h.join(' '));
});

test('no-store, private (shared cache), must-understand (RFC 9111 §5.2.2.3, .5, .7)', () => {
  assert.equal(reason(['Cache-Control', 'no-store']), 'no-store');
  assert.equal(reason(['Cache-Control', 'No-StOrE']), 'no-store');
  assert.equal(reason(['Cache-Control', 'max-age=10000, no-store', 'Expires', at(10000), 'Date', at(0)]), 'no-store');
  assert.equal(reason(['Cache-Control', 'private, max-age=3600']), 'private');
  assert.equal(reason(FRESH, 200, get('Cache-Control', 'no-store')), 'no-store'); // §5.2.1.5
  assert.equal(reason(FRESH, 200, get('Cache-Control', 'no-cache')), 'stored');
  assert.equal(reason(['Cache-Control', 'max-age=3600, no-store, must-understand'], 599), 'must-understand');
  assert.equal(reason(['Cache-Control', 'max-age=3600, must-understand'], 299), 'must-understand');
  assert.equal(reason(['Cache-Control', 'max-age=3600, no-store, must-understand'], 200), 'stored');
  assert.equal(reason(['Cache-Control', 'max-age=3600, no-store, must-understand'], 404), 'stored');
});

test('ignoreOriginNoCache stores despite no-store, private and no-cache', () => {
  const o = opts({ ignoreOriginNoCache: true });
  for (const cc of ['no-store, max-age=60', 'private, max-age=60', 'no-cache, max-age=60']) {
    const v = verdict(['Cache-Control', cc], 200, get(), o);
    assert.ok(v.store, cc);
    assert.equal(v.meta.noCache, false);
    assert.equal(v.meta.lifetime, 60);
  }
});

test('no-cache: stored but always validated; useless without a validator', () => {
  const m = stored(['Cache-Control', 'max-age=10000, no-cache', 'ETag', '"abcd"']);
  assert.equal(m.noCache, true);
  assert.equal(reason(['Cache-Control', 'max-age=10000, no-cache']), 'no-cache');
  assert.equal(stored(['Cache-Control', 'no-cache', 'Last-Modified', at(-100), 'Date', at(0)]).noCache, true);
});

test('qualified no-cache="…" / private="…": those fields are not stored, the rest is (shared cache)', () => {
  const m = stored(['Cache-Control', 'no-cache="a"', 'a', '1', 'b', '2', 'Cache-Control', 'max-age=3600', 'Date', at(0)]);
  assert.equal(m.noCache, false);
  assert.equal(m.lifetime, 3600);
  assert.deepEqual(m.headers, ['Cache-Control', 'no-cache="a"', 'b', '2', 'Cache-Control', 'max-age=3600', 'Date', at(0)]);
  const m2 = stored(['Cache-Control', 'no-cache="A, b", private="Set-Cookie", max-age=60', 'a', '1', 'B', '2', 'c', '3', 'Set-Cookie', 'x=y', 'Date', at(0)]);
  assert.deepEqual(m2.headers.filter((_, i) => i % 2 === 0), ['Cache-Control', 'c', 'Date']);
});

test('Authorization (RFC 9111 §3.5): only with public, s-maxage or must-revalidate', () => {
  const auth = get('Authorization', 'FOO');
  assert.equal(reason(['Cache-Control', 'max-age=100000', 'Expires', at(100000), 'Date', at(0)], 200, auth), 'authorization');
  for (const cc of ['max-age=3600, public', 'max-age=3600, must-revalidate', 's-maxage=3600']) {
    assert.equal(reason(['Cache-Control', cc, 'Date', at(0)], 200, auth), 'stored', cc);
  }
});

test('revalidation flags: must-revalidate, proxy-revalidate, s-maxage (shared cache)', () => {
  for (const [cc, want] of [['max-age=5', false], ['max-age=5, must-revalidate', true], ['max-age=5, proxy-revalidate', true], ['s-maxage=5', true]] as const) {
    assert.equal(stored(['Cache-Control', cc]).mustRevalidate, want, cc);
  }
});

test('stale-while-revalidate / stale-if-error: the origin first, the route default otherwise (RFC 5861)', () => {
  const m = stored(['Cache-Control', 'max-age=1, stale-while-revalidate=30, stale-if-error=600']);
  assert.equal(m.staleWhileRevalidate, 30);
  assert.equal(m.staleIfError, 600);
  const o = opts({ staleWhileRevalidate: 5, staleIfError: 50 });
  const d = stored(['Cache-Control', 'max-age=1'], { opts: o });
  assert.equal(d.staleWhileRevalidate, 5);
  assert.equal(d.staleIfError, 50);
  const z = stored(['Cache-Control', 'max-age=1, stale-while-revalidate=0'], { opts: o });
  assert.equal(z.staleWhileRevalidate, 0);
  const none = stored(['Cache-Control', 'max-age=1']);
  assert.equal(none.staleWhileRevalidate, 0);
  assert.equal(none.staleIfError, 0);
});

test('max-age=0 is stored only when something can use it (validator or stale window)', () => {
  assert.equal(reason(['Cache-Control', 'max-age=0']), 'no-freshness');
  assert.equal(reason(['Cache-Control', 'max-age=0', 'ETag', '"a"']), 'stored');
  assert.equal(reason(['Cache-Control', 'max-age=0, stale-while-revalidate=3600']), 'stored');
  assert.equal(reason(['Cache-Control', 'max-age=0, stale-if-error=3600']), 'stored');
  assert.equal(reason(['Cache-Control', 'max-age=0, must-revalidate, stale-if-error=3600']), 'no-freshness');
  assert.equal(reason(['Cache-Control', 'max-age=0'], 200, get(), opts({ staleIfError: 60 })), 'stored');
});

test('Vary: * never matches, so it is never stored (RFC 9111 §4.1)', () => {
  const lines: string[][] = [['Vary', '*'], ['Vary', '*, *'], ['Vary', '*', 'Vary', '*'], ['Vary', ', *'], ['Vary', '', 'Vary', '*'], ['Vary', '*, Foo'], ['Vary', 'Foo, *'], ['vary', 'Foo', 'VARY', '*']];
  for (const v of lines) assert.equal(reason([...FRESH, ...v]), 'vary-star', v.join(' '));
});

test('Vary: names lower-cased and de-duplicated, request values normalised', () => {
  const m = stored([...FRESH, 'Vary', 'Foo, Accept-Language', 'vary', 'foo, Bar'], { req: get('Foo', ' 1, 2 ', 'accept-language', 'en, DE') });
  assert.deepEqual(m.vary, ['foo', 'accept-language', 'bar']);
  assert.deepEqual(m.varyValues, ['1,2', 'de,en', null]);
  assert.deepEqual(stored(FRESH).vary, []);
  assert.deepEqual(stored([...FRESH, 'Vary', '']).vary, []);
});

test('stored header fields (RFC 9111 §3.1): hop-by-hop, Connection-listed, proxy fields and Age go; case kept', () => {
  const m = stored([
    'Cache-Control', 'max-age=60',
    'Date', at(0),
    'Connection', 'a, B',
    'a', '1',
    'b', '2',
    'c', '3',
    'Keep-Alive', 'timeout=5',
    'Proxy-Authenticate', 'Basic',
    'Proxy-Authentication-Info', 'x',
    'Proxy-Authorization', 'x',
    'Proxy-Connection', 'close',
    'TE', 'trailers',
    'Trailer', 'x',
    'Transfer-Encoding', 'chunked',
    'Upgrade', 'h2c',
    'Age', '5',
    'Set-Cookie', 'a=b',
    'Content-Length', '10',
    'X-Mixed-Case', 'v',
  ]);
  assert.deepEqual(m.headers, ['Cache-Control', 'max-age=60', 'Date', at(0), 'c', '3', 'Set-Cookie', 'a=b', 'Content-Length', '10', 'X-Mixed-Case', 'v']);
  assert.equal(m.initialAge, 5);
});

test('a missing Date is added from the receipt time (RFC 9110 §6.6.1); a present one is kept as is', () => {
  const m = stored(['Cache-Control', 'max-age=60'], { responseTime: T0 + 1500 });
  assert.deepEqual(m.headers, ['Cache-Control', 'max-age=60', 'Date', at(1)]);
  assert.deepEqual(stored(['Cache-Control', 'max-age=60', 'date', 'foo']).headers, ['Cache-Control', 'max-age=60', 'date', 'foo']);
});

test('validators and tags', () => {
  const m = stored([
    'Cache-Control', 'max-age=60',
    'ETag', ' W/"abc" ',
    'Last-Modified', 'Sun, 06 Nov 1994 08:49:37 GMT',
    'Surrogate-Key', 'a  b',
    'Surrogate-Key', 'c a',
    'Cache-Tag', 'x, y,,b',
  ]);
  assert.equal(m.etag, 'W/"abc"');
  assert.equal(m.lastModified, Date.UTC(1994, 10, 6, 8, 49, 37));
  assert.deepEqual(m.tags, ['a', 'b', 'c', 'x', 'y']);
  const none = stored(['Cache-Control', 'max-age=60', 'Last-Modified', 'bogus']);
  assert.equal(none.etag, null);
  assert.equal(none.lastModified, null);
  assert.deepEqual(none.tags, []);
});

test('CDN-Cache-Control governs this cache when valid (RFC 9213)', () => {
  const lifetime = (h: string[]) => {
    const v = verdict([...h, 'Date', at(0)]);
    return v.store ? v.meta.lifetime : v.reason;
  };
  assert.equal(lifetime(['CDN-Cache-Control', 'max-age=3600']), 3600);
  assert.equal(lifetime(['Cache-Control', 'max-age=1', 'CDN-Cache-Control', 'max-age=3600']), 3600);
  assert.equal(lifetime(['Cache-Control', 'max-age=3600', 'CDN-Cache-Control', 'max-age=1']), 1);
  assert.equal(lifetime(['Cache-Control', 'no-store', 'CDN-Cache-Control', 'max-age=10000']), 10000);
  assert.equal(lifetime(['CDN-Cache-Control', 'max-age=3600', 'Expires', at(-10000)]), 3600);
  assert.equal(lifetime(['CDN-Cache-Control', 'max-age=3600', 'Expires', '0']), 3600);
  assert.equal(lifetime(['Cache-Control', 'max-age=10000', 'CDN-Cache-Control', 'no-store']), 'no-store');
  assert.equal(lifetime(['Cache-Control', 'max-age=10000', 'CDN-Cache-Control', 'private']), 'private');
  assert.equal(lifetime(['Cache-Control', 'no-store', 'CDN-Cache-Control', 'max-age=10000, &&&&&']), 'no-store');
  assert.equal(lifetime(['Cache-Control', 'no-store', 'CDN-Cache-Control', 'max-age="10000"']), 'no-store');
  const nc = verdict(['Cache-Control', 'max-age=10000', 'CDN-Cache-Control', 'no-cache', 'ETag', '"x"']);
  assert.ok(nc.store && nc.meta.noCache);
  // a valid field without freshness: Cache-Control is still ignored (Expires is not Cache-Control)
  assert.equal(lifetime(['Cache-Control', 'max-age=10', 'CDN-Cache-Control', 'foo']), 'no-freshness');
  const kept = stored(['Cache-Control', 'max-age=10', 'CDN-Cache-Control', 'foo', 'Expires', at(60), 'Date', at(0)]);
  assert.equal(kept.lifetime, 60);
  // the field itself is kept for downstream caches
  assert.deepEqual(kept.headers.slice(2, 4), ['CDN-Cache-Control', 'foo']);
});

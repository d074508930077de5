import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freshen, notModifiedMatches, parseDirectives, refreshed, reuse, servedHeaders, validationHeaders } from '../../../../src/cache/policy/index.js';
import { OPTS, S, T0, at, get, meta, opts, stored } from './helpers.js';

const LM = 'Wed, 01 Jan 2020 00:00:00 GMT';
const LM_MS = Date.UTC(2020, 0, 1);

test('validationHeaders (RFC 9111 §4.3.1)', () => {
  assert.deepEqual(validationHeaders(meta()), []);
  assert.deepEqual(validationHeaders(meta({ etag: '"abc"' })), ['if-none-match', '"abc"']);
  assert.deepEqual(validationHeaders(meta({ etag: 'W/"abc"' })), ['if-none-match', 'W/"abc"']);
  assert.deepEqual(validationHeaders(meta({ etag: 'abcdef' })), ['if-none-match', '"abcdef"']); // quoted when bare
  // Last-Modified as received
  const m = stored(['Cache-Control', 'max-age=2', 'Last-Modified', 'Sunday, 06-Nov-94 08:49:37 GMT', 'ETag', '"x"']);
  assert.deepEqual(validationHeaders(m), ['if-none-match', '"x"', 'if-modified-since', 'Sunday, 06-Nov-94 08:49:37 GMT']);
  assert.deepEqual(validationHeaders(meta({ lastModified: LM_MS })), ['if-modified-since', LM]);
});

test('notModifiedMatches (RFC 9111 §4.3.4)', () => {
  const strong = meta({ etag: '"abc"', lastModified: LM_MS });
  const weak = meta({ etag: 'W/"abc"' });
  const lmOnly = meta({ lastModified: LM_MS });
  const table: Array<[typeof strong, string[], boolean, string]> = [
    [strong, ['ETag', '"abc"'], true, 'same strong ETag'],
    [strong, ['ETag', '"abd"'], false, 'other strong ETag'],
    [strong, ['ETag', '"abd"', 'Last-Modified', LM], false, 'strong ETag decides over LM'],
    [strong, ['ETag', 'W/"abc"'], true, 'weak ETag, weak match'],
    [weak, ['ETag', '"abc"'], false, 'strong in 304 never matches a weak stored tag'],
    [weak, ['ETag', 'W/"abc"'], true, 'weak matches weak'],
    [lmOnly, ['ETag', '"abc"'], false, 'ETag in 304, none stored'],
    [lmOnly, ['Last-Modified', LM], true, 'same Last-Modified'],
    [lmOnly, ['Last-Modified', 'Thu, 02 Jan 2020 00:00:00 GMT'], false, 'other Last-Modified'],
    [meta(), ['Last-Modified', LM], false, 'LM in 304, none stored'],
    [meta(), ['Date', at(0)], true, 'no validators anywhere'],
    [strong, ['Date', at(0)], true, 'no validator in the 304 (lenient)'],
  ];
  for (const [m, h, want, label] of table) assert.equal(notModifiedMatches(m, h), want, label);
});

test('freshen: fields from the 304 replace stored ones; Content-Length never (RFC 9111 §3.2)', () => {
  const m = stored(['Cache-Control', 'max-age=2', 'Date', at(0), 'Test-Header', 'A', 'Content-Length', '5', 'Content-Type', 'text/plain', 'ETag', '"e"', 'X-Keep', 'k']);
  const h304 = ['Date', at(10), 'Cache-Control', 'max-age=3600', 'Test-Header', 'B', 'Content-Length', '10', 'Content-Type', 'text/plain;charset=utf-8', 'ETag', '"e"', 'Connection', 'foo', 'Foo', 'x', 'Keep-Alive', '1', 'Set-Cookie', 'a=c'];
  const f = freshen(m, get(), h304, T0 + 9 * S, T0 + 10 * S, OPTS);
  const fields = Object.fromEntries(f.headers.reduce<Array<[string, string]>>((a, v, i, arr) => (i % 2 === 0 ? [...a, [v, arr[i + 1]]] : a), []));
  assert.deepEqual(fields, {
    'Content-Length': '5',
    'X-Keep': 'k',
    Date: at(10),
    'Cache-Control': 'max-age=3600',
    'Test-Header': 'B',
    'Content-Type': 'text/plain;charset=utf-8',
    ETag: '"e"',
    'Set-Cookie': 'a=c',
  });
  assert.equal(f.lifetime, 3600);
  assert.equal(f.responseTime, T0 + 10 * S);
  assert.equal(f.requestTime, T0 + 9 * S);
  assert.equal(f.initialAge, 1); // the round trip
  assert.equal(reuse(f, parseDirectives(undefined), T0 + 20 * S), 'fresh');
});

test('freshen: a 304 without Date is dated on receipt; its Age counts; stored Age never survives', () => {
  const m = stored(['Cache-Control', 'max-age=2', 'Date', at(0), 'Last-Modified', LM]);
  const f = freshen(m, get(), ['Last-Modified', LM, 'Age', '20'], T0 + 100 * S, T0 + 100 * S, OPTS);
  assert.deepEqual(f.headers, ['Cache-Control', 'max-age=2', 'Last-Modified', LM, 'Date', at(100)]);
  assert.equal(f.initialAge, 20);
  assert.deepEqual(servedHeaders(f, T0 + 101 * S).slice(-2), ['Age', '21']);
});

test('freshen: the stored ETag/validators and secondary key are updated or kept', () => {
  const m = stored(['Cache-Control', 'max-age=1', 'Vary', 'Foo', 'ETag', 'W/"1"', 'Surrogate-Key', 'a'], { req: get('Foo', 'x') });
  const f = freshen(m, get('Foo', 'x'), ['ETag', 'W/"1"', 'Cache-Control', 'max-age=60', 'Last-Modified', LM, 'Surrogate-Key', 'b'], T0, T0, OPTS);
  assert.equal(f.etag, 'W/"1"');
  assert.equal(f.lastModified, LM_MS);
  assert.deepEqual(f.vary, ['foo']);
  assert.deepEqual(f.varyValues, ['x']);
  assert.deepEqual(f.tags, ['b']);
  // freshening keeps the variant's stored secondary key even if this request's value differs
  const g = freshen(m, get('Foo', 'y'), ['Cache-Control', 'max-age=60'], T0, T0, OPTS);
  assert.deepEqual(g.varyValues, ['x']);
  // a 304 that changes Vary recomputes it from this request
  const h = freshen(m, get('Foo', 'y', 'Bar', 'z'), ['Vary', 'Foo, Bar'], T0, T0, OPTS);
  assert.deepEqual(h.vary, ['foo', 'bar']);
  assert.deepEqual(h.varyValues, ['y', 'z']);
});

test('freshen: a 304 that forbids storing leaves an entry that is never reused unvalidated', () => {
  const m = stored(['Cache-Control', 'max-age=60', 'ETag', '"a"']);
  const v = refreshed(m, get(), ['Cache-Control', 'no-store', 'ETag', '"a"'], T0, T0, OPTS);
  assert.deepEqual(v, { store: false, reason: 'no-store' });
  const f = freshen(m, get(), ['Cache-Control', 'no-store', 'ETag', '"a"'], T0, T0, OPTS);
  assert.equal(f.noCache, true);
  assert.equal(f.lifetime, 0);
  assert.equal(reuse(f, parseDirectives(undefined), T0), 'revalidate');
  // unless the route ignores the origin's no-store
  assert.equal(freshen(m, get(), ['Cache-Control', 'no-store, max-age=5'], T0, T0, opts({ ignoreOriginNoCache: true })).lifetime, 5);
});

test('freshen keeps the stored status', () => {
  const m = stored(['Cache-Control', 'max-age=1', 'ETag', '"a"'], { status: 404 });
  assert.equal(freshen(m, get(), ['ETag', '"a"', 'Cache-Control', 'max-age=9'], T0, T0, OPTS).status, 404);
});

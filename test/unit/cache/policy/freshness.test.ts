import { test } from 'node:test';
import assert from 'node:assert/strict';
import { currentAge, mayServeOnError, parseDirectives, reuse, servedHeaders } from '../../../../src/cache/policy/index.js';
import { S, T0, at, meta, stored } from './helpers.js';

const d = parseDirectives;
const NONE = d(undefined);

test('currentAge = corrected initial age + resident time, whole seconds (RFC 9111 §4.2.3)', () => {
  const m = meta({ initialAge: 30 });
  assert.equal(currentAge(m, T0), 30);
  assert.equal(currentAge(m, T0 + 2999), 32);
  assert.equal(currentAge(m, T0 - 5000), 30); // a clock step backwards is no negative residence
  assert.equal(currentAge(meta({ initialAge: 0.4 }), T0 + 700), 1);
  assert.equal(currentAge(meta({ initialAge: 2147483648 }), T0 + 10 * S), 2147483648);
});

test('servedHeaders: the stored fields plus a fresh Age, replacing any stored one', () => {
  const m = meta({ headers: ['Date', at(0), 'AGE', '999', 'X', '1'], initialAge: 30 });
  assert.deepEqual(servedHeaders(m, T0 + 3 * S), ['Date', at(0), 'X', '1', 'Age', '33']);
  // end to end: upstream Age 30 → served Age > 32 after 3 s (suite: other-age-update-*)
  const s = stored(['Expires', at(30 * 86400), 'Date', at(0), 'Age', '30']);
  assert.deepEqual(servedHeaders(s, T0 + 3 * S).slice(-2), ['Age', '33']);
  assert.equal(servedHeaders(s, T0).filter((v) => v === 'Age').length, 1);
  assert.deepEqual(s.headers.slice(0, 4), ['Expires', at(30 * 86400), 'Date', at(0)]); // Date / Expires untouched
});

test('reuse: fresh while lifetime > age (RFC 9111 §4.2)', () => {
  const m = meta({ lifetime: 10 });
  assert.equal(reuse(m, NONE, T0), 'fresh');
  assert.equal(reuse(m, NONE, T0 + 9999), 'fresh');
  assert.equal(reuse(m, NONE, T0 + 10 * S), 'revalidate');
  assert.equal(reuse(meta({ lifetime: 10, initialAge: 15 }), NONE, T0), 'revalidate'); // Age > max-age
  assert.equal(reuse(meta({ lifetime: 0 }), NONE, T0), 'revalidate');
});

test('reuse: a response no-cache always validates (§5.2.2.4)', () => {
  assert.equal(reuse(meta({ lifetime: 1e6, noCache: true }), NONE, T0), 'revalidate');
  assert.equal(reuse(meta({ lifetime: 0, noCache: true, staleWhileRevalidate: 100 }), d('max-stale'), T0), 'revalidate');
});

test('reuse: request directives (RFC 9111 §5.2.1)', () => {
  const m = meta({ lifetime: 3600, initialAge: 1800 });
  const table: Array<[string, string]> = [
    ['no-cache', 'revalidate'],
    ['No-Cache', 'revalidate'],
    ['max-age=0', 'revalidate'],
    ['max-age=600', 'revalidate'],
    ['max-age=1800', 'fresh'],
    ['max-age=2000', 'fresh'],
    ['max-age=bogus', 'fresh'],
    ['min-fresh=1000', 'fresh'],
    ['min-fresh=1801', 'revalidate'],
    ['max-stale=1000', 'fresh'],
    ['only-if-cached', 'fresh'],
    ['no-store', 'fresh'], // the stage decides about storing; reuse of a fresh response is fine
  ];
  for (const [cc, want] of table) assert.equal(reuse(m, d(cc), T0), want, cc);
  assert.equal(reuse(meta({ lifetime: 10 }), d('max-age=0'), T0), 'revalidate'); // even at age 0
});

test('reuse: max-stale lets a stale response through unless revalidation is required (§5.2.1.2, §4.2.4)', () => {
  const stale = meta({ lifetime: 1500, initialAge: 2000 }); // 500 s stale
  assert.equal(reuse(stale, d('max-stale=1000'), T0), 'stale-ok');
  assert.equal(reuse(stale, d('max-stale=500'), T0), 'stale-ok');
  assert.equal(reuse(stale, d('max-stale=499'), T0), 'revalidate');
  assert.equal(reuse(stale, d('max-stale'), T0), 'stale-ok');
  assert.equal(reuse(stale, d('max-stale=x'), T0), 'revalidate');
  assert.equal(reuse({ ...stale, mustRevalidate: true }, d('max-stale'), T0), 'revalidate');
  assert.equal(reuse(stale, d('max-stale, no-cache'), T0), 'revalidate');
  assert.equal(reuse(stale, d('max-stale, max-age=100'), T0), 'revalidate');
});

test('reuse: stale-while-revalidate window (RFC 5861 §3)', () => {
  const m = meta({ lifetime: 1, staleWhileRevalidate: 4 });
  assert.equal(reuse(m, NONE, T0 + 500), 'fresh');
  assert.equal(reuse(m, NONE, T0 + 3 * S), 'stale-while-revalidate');
  assert.equal(reuse(m, NONE, T0 + 4900), 'stale-while-revalidate');
  assert.equal(reuse(m, NONE, T0 + 5 * S), 'revalidate'); // window over
  assert.equal(reuse({ ...m, mustRevalidate: true }, NONE, T0 + 3 * S), 'revalidate');
  assert.equal(reuse(m, d('no-cache'), T0 + 3 * S), 'revalidate');
  // within the window it wins over max-stale (so the entry is refreshed)
  assert.equal(reuse(m, d('max-stale'), T0 + 3 * S), 'stale-while-revalidate');
  assert.equal(reuse(m, d('max-stale'), T0 + 60 * S), 'stale-ok');
});

test('mayServeOnError (RFC 5861 §4, RFC 9111 §4.2.4)', () => {
  const base = meta({ lifetime: 2 });
  const table: Array<[Partial<typeof base>, string | undefined, number, boolean]> = [
    [{}, undefined, 1, true], // still fresh
    [{}, undefined, 10, false], // stale, no stale-if-error anywhere
    [{ staleIfError: 60 }, undefined, 10, true],
    [{ staleIfError: 60 }, undefined, 62, true],
    [{ staleIfError: 60 }, undefined, 63, false],
    [{ staleIfError: 1 }, undefined, 5, false], // window elapsed
    [{}, 'stale-if-error=3600', 10, true], // the request's own
    [{}, 'stale-if-error=1', 10, false],
    [{ staleIfError: 60, mustRevalidate: true }, undefined, 10, false],
    [{ staleIfError: 60, mustRevalidate: true }, 'stale-if-error=60', 10, false],
    [{ staleIfError: 60, noCache: true }, undefined, 1, false],
    [{}, 'no-cache', 1, false], // the client demanded validation
    [{}, 'no-cache, stale-if-error=60', 10, true],
  ];
  for (const [m, cc, secs, want] of table) {
    assert.equal(mayServeOnError({ ...base, ...m }, d(cc), T0 + secs * S), want, `${JSON.stringify(m)} ${cc} ${secs}`);
  }
});

test('end to end: stored responses become stale as the suite expects', () => {
  // freshness-max-age-age: Age 15 > max-age 10
  assert.equal(reuse(stored(['Date', at(0), 'Cache-Control', 'max-age=10', 'Age', '15']), NONE, T0), 'revalidate');
  // freshness-expires-age-slow-date / fast-date
  assert.equal(reuse(stored(['Date', at(-10), 'Expires', at(10), 'Age', '25']), NONE, T0), 'revalidate');
  assert.equal(reuse(stored(['Date', at(10), 'Expires', at(20), 'Age', '15']), NONE, T0), 'revalidate');
  // freshness-expires-invalid-date: Expires 10 s ahead, Date garbage
  assert.equal(reuse(stored(['Date', 'foo', 'Expires', at(10)]), NONE, T0), 'fresh');
  // cc-resp-must-revalidate-stale
  const mr = stored(['Cache-Control', 'max-age=2, must-revalidate', 'ETag', '"abcd"']);
  assert.equal(reuse(mr, NONE, T0 + 1000), 'fresh');
  assert.equal(reuse(mr, d('max-stale'), T0 + 3000), 'revalidate');
  // stale-close-s-maxage=2: no stale use on error
  assert.equal(mayServeOnError(stored(['Cache-Control', 'max-age=2, s-maxage=2']), NONE, T0 + 3000), false);
  assert.equal(mayServeOnError(stored(['Cache-Control', 'max-age=2, proxy-revalidate', 'ETag', '"a"']), NONE, T0 + 3000), false);
  assert.equal(mayServeOnError(stored(['Cache-Control', 'max-age=2, stale-if-error=60']), NONE, T0 + 3000), true);
});

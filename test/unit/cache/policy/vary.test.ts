import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CacheEntry, EntryMeta } from '../../../../src/cache/contracts.js';
import { normaliseField, selectVariant, varyValues } from '../../../../src/cache/policy/index.js';
import { get, getter, meta, stored } from './helpers.js';

const FRESH = ['Cache-Control', 'max-age=5000'];
let n = 0;
const entry = (m: EntryMeta): CacheEntry => ({ id: String(++n), key: 'k', meta: m, size: 0, body: null });
/** An entry stored for a request with `reqHeaders`, with `Vary: vary`. */
const variant = (vary: string | null, reqHeaders: string[], extra: string[] = []) =>
  entry(stored([...FRESH, ...(vary === null ? [] : ['Vary', vary]), ...extra], { req: get(...reqHeaders) }));

test('normaliseField: any field — lines combined, OWS around members dropped (RFC 9111 §4.1)', () => {
  const cases: Array<[string, string, string]> = [
    ['foo', '1', '1'],
    ['foo', '1, 2', '1,2'],
    ['foo', ' 1, 2 ', '1,2'],
    ['foo', '1,,2', '1,2'],
    ['foo', '2, 1', '2,1'], // order matters for unknown fields
    ['foo', 'A', 'A'], // and case
    ['foo', '"a , b", c', '"a , b",c'], // quoted strings are left alone
    ['accept-language', 'en, de', 'de,en'],
    ['accept-language', ' en ,   de', 'de,en'],
    ['accept-language', 'eN, De', 'de,en'],
    ['accept-language', 'fr; q=0.5, de', 'de,fr;q=0.5'],
    ['accept-encoding', 'gzip, br', 'br,gzip'],
    ['accept-encoding', 'GZIP', 'gzip'],
    ['accept', 'text/html, application/json; q=0.9', 'application/json;q=0.9,text/html'],
  ];
  for (const [name, v, want] of cases) assert.equal(normaliseField(name, v), want, `${name}: ${v}`);
});

test('varyValues: null for absent fields, normalised otherwise', () => {
  assert.deepEqual(varyValues(['foo', 'bar', 'cookie'], getter('Foo', '1', 'foo', '2', 'Cookie', 'a=b')), ['1,2', null, 'a=b']);
  assert.deepEqual(varyValues([], getter()), []);
});

test('selectVariant: matching (suite: vary-*)', () => {
  const cases: Array<[string | null, string[], string[], boolean, string]> = [
    [null, ['Foo', '1'], [], true, 'no Vary matches anything'],
    ['Foo', ['Foo', '1'], ['Foo', '1'], true, 'vary-match'],
    ['Foo', ['Foo', '1'], ['Foo', '2'], false, 'vary-no-match'],
    ['Foo', [], ['Foo', '1'], false, 'vary-omit-stored'],
    ['Foo', ['Foo', '1'], [], false, 'vary-omit'],
    ['Foo', ['Foo', '1', 'Other', '2'], ['Foo', '1', 'Other', '3'], true, 'vary-cache-key'],
    ['Foo, Bar', ['Foo', '1', 'Bar', 'abc'], ['Foo', '1', 'Bar', 'abc'], true, 'vary-2-match'],
    ['Foo, Bar', ['Foo', '1', 'Bar', 'abc'], ['Foo', '2', 'Bar', 'abc'], false, 'vary-2-no-match'],
    ['Foo, Bar', ['Foo', '1', 'Bar', 'abc'], [], false, 'vary-2-match-omit'],
    ['Foo, Bar, Baz', ['Foo', '1', 'Bar', 'abc', 'Baz', '789'], ['Foo', '1', 'Bar', 'abc', 'Baz', '789'], true, 'vary-3-match'],
    ['Foo, Bar, Baz', ['Foo', '1', 'Bar', 'abc', 'Baz', '789'], ['Foo', '1', 'Baz', '789', 'Bar', 'abcde'], false, 'vary-3-order'],
    ['Foo, Bar, Baz', ['Foo', '1', 'Baz', '789'], ['Foo', '1', 'Baz', '789'], true, 'vary-3-omit'],
    ['Foo', ['Foo', '1, 2'], ['Foo', '1', 'Foo', '2'], true, 'vary-normalise-combine'],
    ['Foo', ['Foo', '1,2'], ['Foo', ' 1, 2 '], true, 'vary-normalise-space'],
    ['Accept-Language', ['Accept-Language', 'en, de'], ['Accept-Language', 'de, en'], true, 'lang order'],
    ['Accept-Language', ['Accept-Language', 'en, de'], ['Accept-Language', 'eN, De'], true, 'lang case'],
    ['Accept-Language', ['Accept-Language', 'en, de'], ['Accept-Language', ' en ,   de'], true, 'lang space'],
    ['Accept-Language', ['Accept-Language', 'en, de'], ['Accept-Language', 'fr'], false, 'lang differs'],
  ];
  for (const [vary, storedReq, req, want, label] of cases) {
    const e = variant(vary, storedReq);
    assert.equal(selectVariant([e], getter(...req)), want ? e : null, label);
  }
});

test('selectVariant: Accept-Language picks a stored Content-Language that is the unique top preference', () => {
  const e = variant('Accept-Language', ['Accept-Language', 'en, de'], ['Content-Language', 'de']);
  assert.equal(selectVariant([e], getter('Accept-Language', 'fr;q=0.5, de;q=1.0')), e);
  assert.equal(selectVariant([e], getter('Accept-Language', 'DE')), e);
  assert.equal(selectVariant([e], getter('Accept-Language', 'fr, de')), null); // tie
  assert.equal(selectVariant([e], getter('Accept-Language', 'fr;q=0.9, de;q=0.5')), null);
  assert.equal(selectVariant([e], getter('Accept-Language', 'de;q=0')), null);
  assert.equal(selectVariant([e], getter()), null);
  const multi = variant('Accept-Language', ['Accept-Language', 'en'], ['Content-Language', 'de, en']);
  assert.equal(selectVariant([multi], getter('Accept-Language', 'de')), null);
});

test('selectVariant: most recent first, the first match wins; two variants coexist', () => {
  const one = variant('Foo', ['Foo', '1']);
  const two = variant('Foo', ['Foo', '2']);
  const plain = variant(null, []);
  assert.equal(selectVariant([two, one], getter('Foo', '1')), one);
  assert.equal(selectVariant([two, one], getter('Foo', '2')), two);
  assert.equal(selectVariant([two, one], getter('Foo', '3')), null);
  assert.equal(selectVariant([two, plain, one], getter('Foo', '1')), plain);
  assert.equal(selectVariant([], getter()), null);
  // entries with differing Vary lists
  const bar = variant('Bar', ['Bar', 'x']);
  assert.equal(selectVariant([bar, one], getter('Foo', '1', 'Bar', 'y')), one);
  assert.equal(selectVariant([bar, one], getter('Foo', '1', 'Bar', 'x')), bar);
});

test('selectVariant reads each request field once per call', () => {
  const calls: string[] = [];
  const g = (name: string) => {
    calls.push(name);
    return name === 'foo' ? '3' : undefined;
  };
  const es = [1, 2, 3].map((i) => entry(meta({ vary: ['foo'], varyValues: [String(i)] })));
  assert.equal(selectVariant(es, g), es[2]);
  assert.deepEqual(calls, ['foo']);
});

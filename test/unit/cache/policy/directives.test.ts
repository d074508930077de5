import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDirectives, requestDirectives, responseDirectives, targetedDirectives } from '../../../../src/cache/policy/index.js';
import { getter } from './helpers.js';

const obj = (d: ReadonlyMap<string, string | true>) => Object.fromEntries(d);

test('parseDirectives: RFC 9111 §5.2 syntax', () => {
  const cases: Array<[string | undefined, Record<string, string | true>]> = [
    [undefined, {}],
    ['', {}],
    ['max-age=3600', { 'max-age': '3600' }],
    ['MaX-AgE=3600, No-StOrE', { 'max-age': '3600', 'no-store': true }],
    ['max-age="3600"', { 'max-age': '3600' }],
    ['public,max-age=60 , s-maxage=30', { public: true, 'max-age': '60', 's-maxage': '30' }],
    // quoted strings do not split, and are not directives
    ['extension="max-age=100", max-age=1', { extension: 'max-age=100', 'max-age': '1' }],
    ['max-age=1, extension="max-age=100"', { 'max-age': '1', extension: 'max-age=100' }],
    ['no-cache="a, b", max-age=5', { 'no-cache': 'a, b', 'max-age': '5' }],
    ['x="a\\"b", y', { x: 'a"b', y: true }],
    // duplicates: the first wins (§4.2.1)
    ['max-age=1800, max-age=1', { 'max-age': '1800' }],
    ['max-age=1, max-age=1800', { 'max-age': '1' }],
    // malformed members keep their name with an invalid argument
    ['max-age =100', { 'max-age': '' }],
    ['max-age= 100', { 'max-age': '' }],
    ['max-age=', { 'max-age': '' }],
    ["max-age='3600'", { 'max-age': "'3600'" }],
    ['max-age="1', { 'max-age': '' }],
    ['no-store junk, max-age=5', { 'no-store': '', 'max-age': '5' }],
    // stray separators and garbage members
    [' , ,max-age=5,, ', { 'max-age': '5' }],
    ['"quoted", =x, max-age=5', { 'max-age': '5' }],
  ];
  for (const [input, want] of cases) assert.deepEqual(obj(parseDirectives(input)), want, String(input));
});

test('parseDirectives: no-cache / private field lists merge the most restrictive way', () => {
  assert.deepEqual(obj(parseDirectives('no-cache="a", no-cache="b"')), { 'no-cache': 'a, b' });
  assert.deepEqual(obj(parseDirectives('no-cache="a", no-cache')), { 'no-cache': true });
  assert.deepEqual(obj(parseDirectives('private, private="a"')), { private: true });
  assert.deepEqual(obj(parseDirectives('no-cache=a')), { 'no-cache': 'a' });
  // an empty or garbled list reads as unqualified
  assert.deepEqual(obj(parseDirectives('no-cache=""')), { 'no-cache': true });
  assert.deepEqual(obj(parseDirectives('private =x')), { private: true });
});

test('responseDirectives: Cache-Control lines are combined', () => {
  assert.deepEqual(obj(responseDirectives(['Cache-Control', 'max-age=1800', 'cache-control', 'max-age=1, public'])), { 'max-age': '1800', public: true });
  assert.deepEqual(obj(responseDirectives([])), {});
});

test('responseDirectives: a valid CDN-Cache-Control replaces Cache-Control (RFC 9213 §2.1)', () => {
  const both = (cdn: string, cc = 'no-store') => obj(responseDirectives(['Cache-Control', cc, 'CDN-Cache-Control', cdn]));
  assert.deepEqual(both('max-age=10000'), { 'max-age': '10000' });
  assert.deepEqual(both('private'), { private: true });
  assert.deepEqual(both('MaX-aGe=3600'), { 'max-age': '3600' }); // keys case-insensitive (leniency)
  assert.deepEqual(both('foobar, max-age=3600'), { foobar: true, 'max-age': '3600' });
  assert.deepEqual(both('no-cache="set-cookie"'), { 'no-cache': 'set-cookie' });
  assert.deepEqual(both('no-store=?0, max-age=5'), { 'max-age': '5' });
  assert.deepEqual(both('max-age=5;x=1, s-maxage=2'), { 'max-age': '5', 's-maxage': '2' });
  assert.deepEqual(both('max-age=5, max-age=6'), { 'max-age': '6' }); // SF: the last one wins
  // invalid: falls back to Cache-Control
  for (const bad of ['max-age=10000, &&&&&', 'max-age="10000"', 'max-age=1.5', 'max-age =100', 'max-age= 100', 'max-age=5,', '', 'max-age=1234567890123456']) {
    assert.deepEqual(both(bad), { 'no-store': true }, bad);
  }
});

test('targetedDirectives: absent → null', () => {
  assert.equal(targetedDirectives(undefined), null);
  assert.deepEqual(obj(targetedDirectives('max-age=-5')!), { 'max-age': '-5' });
});

test('requestDirectives: Cache-Control, with Pragma only when Cache-Control is absent (§5.4)', () => {
  assert.deepEqual(obj(requestDirectives(getter())), {});
  assert.deepEqual(obj(requestDirectives(getter('Cache-Control', 'max-age=0'))), { 'max-age': '0' });
  assert.deepEqual(obj(requestDirectives(getter('Pragma', 'no-cache'))), { 'no-cache': true });
  assert.deepEqual(obj(requestDirectives(getter('Pragma', 'No-Cache, foo'))), { 'no-cache': true });
  assert.deepEqual(obj(requestDirectives(getter('Pragma', 'unrecognised-extension'))), {});
  assert.deepEqual(obj(requestDirectives(getter('Pragma', 'no-cache', 'Cache-Control', 'max-stale'))), { 'max-stale': true });
  // memoised: the same value gives the same map
  const a = requestDirectives(getter('Cache-Control', 'min-fresh=5'));
  const b = requestDirectives(getter('Cache-Control', 'min-fresh=5'));
  assert.equal(a, b);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSfDictionary } from '../../../../src/cache/policy/sf-dictionary.js';

test('parseSfDictionary: RFC 8941 §4.2.2', () => {
  const ok: Array<[string, Record<string, unknown>]> = [
    ['a=1, b=?0, c', { a: { t: 'int', v: 1 }, b: { t: 'bool', v: false }, c: { t: 'bool', v: true } }],
    ['a="x\\"y", b=tok/en:1, c=:AQI=:', { a: { t: 'str', v: 'x"y' }, b: { t: 'tok', v: 'tok/en:1' }, c: { t: 'bin', v: 'AQI=' } }],
    ['a=-1.25;p=1;q, b=(1 "x");z', { a: { t: 'dec', v: -1.25 }, b: { t: 'list', v: [{ t: 'int', v: 1 }, { t: 'str', v: 'x' }] } }],
    ['  a=1,\tb=2  ', { a: { t: 'int', v: 1 }, b: { t: 'int', v: 2 } }],
    ['a=1, a=2', { a: { t: 'int', v: 2 } }],
    ['*x=1', { '*x': { t: 'int', v: 1 } }],
    ['Max-Age=5', { 'max-age': { t: 'int', v: 5 } }],
  ];
  for (const [s, want] of ok) assert.deepEqual(Object.fromEntries(parseSfDictionary(s)!), want, s);
  for (const s of ['a=1,', 'a=1 b=2', '&&', 'a=', 'a=1.', 'a=1.2345', 'a=1234567890123456', 'a="x', 'a="\\x"', 'a=(1', 'a=?2', '1a=1', 'a = 1', 'a=:!:', 'a="é"']) {
    assert.equal(parseSfDictionary(s), null, s);
  }
  assert.deepEqual(Object.fromEntries(parseSfDictionary('')!), {});
});

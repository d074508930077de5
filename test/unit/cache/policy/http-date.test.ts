import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatHttpDate, parseHttpDate } from '../../../../src/cache/policy/index.js';
import { parseStrictHttpDate } from '../../../../src/cache/policy/http-date.js';

const D = Date.UTC(1994, 10, 6, 8, 49, 37);

test('parseHttpDate: the three RFC 9110 §5.6.7 formats', () => {
  assert.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT'), D);
  assert.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT'), D);
  assert.equal(parseHttpDate('Sun Nov  6 08:49:37 1994'), D);
});

test('parseHttpDate: tolerated damage', () => {
  const want = Date.UTC(2050, 7, 18, 2, 1, 18);
  for (const s of [
    'THU, 18 Aug 2050 02:01:18 GMT',
    'Thu, 18 AUG 2050 02:01:18 GMT',
    'Thu, 18 Aug 2050 02:01:18 gMT',
    'Thu, 18 Aug 2050 02:01:18 UTC',
    'Thu, 18 Aug 50 02:01:18 GMT',
    'Thu 18 Aug 2050 02:01:18 GMT',
    'Thu, 18  Aug  2050 02:01:18 GMT',
    'Thu, 18-Aug-2050 02:01:18 GMT',
    'Thu, 18 Aug 2050 02.01.18 GMT',
    'Thu, 18 Aug 2050 2:01:18 GMT',
    ' Thu, 18 Aug 2050 02:01:18 GMT ',
  ]) {
    assert.equal(parseHttpDate(s), want, s);
  }
});

test('parseHttpDate: invalid values are null', () => {
  for (const s of [undefined, '', '0', '-1', 'foo', 'Thu, 18 Aug 2050', 'Thu, 32 Aug 2050 02:01:18 GMT', 'Thu, 31 Feb 2050 02:01:18 GMT',
    'Thu, 18 Foo 2050 02:01:18 GMT', 'Thu, 18 Aug 2050 25:01:18 GMT', 'Thu, 18 Aug 2050 02:01:18 +0100', 'Thu, 18 Aug 2050 02:01:18 GMT extra',
    'Thu, 18 Aug 205 02:01:18 GMT', '1994-11-06T08:49:37Z']) {
    assert.equal(parseHttpDate(s), null, String(s));
  }
});

test('parseHttpDate: two-digit years (RFC 9110 §5.6.7: not more than 50 years ahead)', () => {
  const ref = Date.UTC(2024, 0, 1);
  assert.equal(new Date(parseHttpDate('Sunday, 06-Nov-74 08:49:37 GMT', ref)!).getUTCFullYear(), 2074);
  assert.equal(new Date(parseHttpDate('Sunday, 06-Nov-75 08:49:37 GMT', ref)!).getUTCFullYear(), 1975);
  assert.equal(new Date(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT')!).getUTCFullYear(), 1994);
});

test('formatHttpDate: IMF-fixdate, whole seconds', () => {
  assert.equal(formatHttpDate(D + 999), 'Sun, 06 Nov 1994 08:49:37 GMT');
  assert.equal(parseHttpDate(formatHttpDate(D)), D);
});

test('parseStrictHttpDate: the three formats, any case, nothing else', () => {
  const t = Date.UTC(1994, 10, 6, 8, 49, 37);
  assert.equal(parseStrictHttpDate('Sun, 06 Nov 1994 08:49:37 GMT'), t);
  assert.equal(parseStrictHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', Date.UTC(2000, 0, 1)), t);
  assert.equal(parseStrictHttpDate('Sun Nov  6 08:49:37 1994'), t);
  assert.equal(parseStrictHttpDate('sun, 06 NOV 1994 08:49:37 gmt'), t);
  for (const bad of [
    'Sun, 06 Nov 1994 08:49:37 UTC',
    'Sun, 06 Nov 94 08:49:37 GMT',
    'Sun 06 Nov 1994 08:49:37 GMT',
    'Sun,  06 Nov 1994 08:49:37 GMT',
    'Sun, 06-Nov-1994 08:49:37 GMT',
    'Sun, 06 Nov 1994 08.49.37 GMT',
    'Sun, 06 Nov 1994 8:49:37 GMT',
    'Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT',
    'Sun, 31 Feb 1994 08:49:37 GMT',
    '0',
  ]) {
    assert.equal(parseStrictHttpDate(bad), null, bad);
  }
});

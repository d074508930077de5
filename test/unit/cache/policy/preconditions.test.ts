import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientPrecondition } from '../../../../src/cache/policy/index.js';
import { T0, at, getter, meta, stored } from './helpers.js';

test('If-None-Match: weak comparison, lists, * (RFC 9110 §13.1.2)', () => {
  const table: Array<[string | null, string, 304 | null]> = [
    ['"abcdef"', '"abcdef"', 304],
    ['"abcdef"', '"abcdeg"', null],
    ['W/"abcdef"', 'W/"abcdef"', 304],
    ['"abcdef"', 'W/"abcdef"', 304],
    ['W/"abcdef"', '"abcdef"', 304],
    ['w/"abcdef"', 'w/"abcdef"', 304],
    ['W\\"abcdef"', 'W\\"abcdef"', 304],
    ['W"abcdef"', 'W"abcdef"', 304],
    ['"abcdef"', 'abcdef', 304],
    ['abcdef', 'abcdef', 304],
    ['abcdef', '"abcdef"', 304],
    ['"abcdefü"', '"abcdefü"', 304],
    ['"abcdef"', '"abcdef", "1234", "5678"', 304],
    ['"abcdef"', '"1234", "abcdef", "5678"', 304],
    ['"abcdef"', '"1234", "5678", "abcdef"', 304],
    ['"abcdef"', '"1234","5678"', null],
    ['"abcdef"', '*', 304],
    [null, '*', 304],
    [null, '"abcdef"', null],
  ];
  for (const [etag, inm, want] of table) {
    assert.equal(clientPrecondition('GET', getter('If-None-Match', inm), meta({ etag })), want, `${etag} vs ${inm}`);
  }
  assert.equal(clientPrecondition('HEAD', getter('If-None-Match', '*'), meta()), 304);
});

test('If-None-Match takes precedence over If-Modified-Since (§13.2.2)', () => {
  const m = meta({ etag: '"abcdef"', lastModified: T0 - 5000e3 });
  assert.equal(clientPrecondition('GET', getter('If-None-Match', '"abcdef"', 'If-Modified-Since', at(-10000)), m), 304);
  assert.equal(clientPrecondition('GET', getter('If-None-Match', '"other"', 'If-Modified-Since', at(0)), m), null);
});

test('If-Modified-Since: against Last-Modified, else Date, else receipt time (RFC 9111 §4.3.2)', () => {
  const lm = stored(['Cache-Control', 'max-age=100000', 'Last-Modified', at(-3000), 'Date', at(0)]);
  assert.equal(clientPrecondition('GET', getter('If-Modified-Since', at(-3000)), lm), 304);
  assert.equal(clientPrecondition('GET', getter('If-Modified-Since', at(-2000)), lm), 304);
  assert.equal(clientPrecondition('GET', getter('If-Modified-Since', at(-3001)), lm), null);
  assert.equal(clientPrecondition('GET', getter('If-Modified-Since', 'Sunday, 01-Jan-23 00:00:00 GMT'), lm), null);
  // the same instant as an rfc850-date (suite: conditional-lm-fresh-rfc850)
  assert.equal(at(-3000), 'Sun, 31 Dec 2023 23:10:00 GMT');
  assert.equal(clientPrecondition('GET', getter('If-Modified-Since', 'Sunday, 31-Dec-23 23:10:00 GMT'), lm), 304);
  assert.equal(clientPrecondition('GET', getter('If-Modified-Since', 'Sun Dec 31 23:10:00 2023'), lm), 304);
  assert.equal(clientPrecondition('GET', getter('If-Modified-Since', 'garbage'), lm), null);
  // no Last-Modified: Date
  const dated = stored(['Cache-Control', 'max-age=10000', 'Date', at(0)]);
  assert.equal(clientPrecondition('GET', getter('If-Modified-Since', at(-3000)), dated), null);
  assert.equal(clientPrecondition('GET', getter('If-Modified-Since', at(0)), dated), 304);
  // no Date either: receipt time (whole seconds)
  assert.equal(clientPrecondition('GET', getter('If-Modified-Since', at(0)), meta({ responseTime: T0 + 400 })), 304);
  assert.equal(clientPrecondition('GET', getter('If-Modified-Since', at(-1)), meta({ responseTime: T0 + 400 })), null);
  // only GET / HEAD
  assert.equal(clientPrecondition('POST', getter('If-Modified-Since', at(0)), lm), null);
});

test('If-Match: strong comparison, * → 412 otherwise (§13.1.1)', () => {
  const table: Array<[string | null, string, 412 | null]> = [
    ['"a"', '"a"', null],
    ['"a"', '"b", "a"', null],
    ['"a"', '"b"', 412],
    ['W/"a"', 'W/"a"', 412],
    ['"a"', 'W/"a"', 412],
    ['"a"', '*', null],
    [null, '*', null],
    [null, '"a"', 412],
  ];
  for (const [etag, im, want] of table) assert.equal(clientPrecondition('GET', getter('If-Match', im), meta({ etag })), want, `${etag} vs ${im}`);
  // If-Match passes, If-None-Match still evaluated
  assert.equal(clientPrecondition('GET', getter('If-Match', '"a"', 'If-None-Match', '"a"'), meta({ etag: '"a"' })), 304);
});

test('If-Unmodified-Since (§13.1.4): only without If-Match and with a Last-Modified', () => {
  const m = meta({ lastModified: T0 });
  assert.equal(clientPrecondition('GET', getter('If-Unmodified-Since', at(0)), m), null);
  assert.equal(clientPrecondition('GET', getter('If-Unmodified-Since', at(-1)), m), 412);
  assert.equal(clientPrecondition('GET', getter('If-Unmodified-Since', 'nonsense'), m), null);
  assert.equal(clientPrecondition('GET', getter('If-Unmodified-Since', at(-1)), meta()), null);
  assert.equal(clientPrecondition('GET', getter('If-Match', '*', 'If-Unmodified-Since', at(-1)), m), null);
});

test('preconditions are ignored for a stored non-2xx (§13.2.1) and absent ones serve', () => {
  assert.equal(clientPrecondition('GET', getter('If-None-Match', '*'), meta({ status: 404 })), null);
  assert.equal(clientPrecondition('GET', getter('If-Match', '"x"'), meta({ status: 301 })), null);
  assert.equal(clientPrecondition('GET', getter(), meta({ etag: '"a"' })), null);
});

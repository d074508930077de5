import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rangeFor, type RangeAnswer } from '../../../../src/cache/policy/index.js';
import { T0, at, getter, meta } from './helpers.js';

const full: RangeAnswer = { kind: 'full' };
const part = (start: number, end: number): RangeAnswer => ({ kind: 'partial', start, end });
const none: RangeAnswer = { kind: 'unsatisfiable' };

test('rangeFor: one byte range from a stored 200 (RFC 9110 §14.1.2)', () => {
  const m = meta();
  const table: Array<[string, number, RangeAnswer]> = [
    ['bytes=0-1', 11, part(0, 1)],
    ['bytes=1-', 11, part(1, 10)],
    ['bytes=-1', 11, part(10, 10)],
    ['bytes=-5', 3, part(0, 2)],
    ['bytes=5-100', 11, part(5, 10)],
    ['BYTES = 2-3', 11, part(2, 3)],
    ['bytes=10-10', 11, part(10, 10)],
    ['bytes=11-', 11, none],
    ['bytes=11-20', 11, none],
    ['bytes=-0', 11, none],
    ['bytes=0-', 0, none],
    ['bytes=-5', 0, none],
    ['bytes=3-2', 11, full], // invalid
    ['bytes=0-1, 4-5', 11, full], // several ranges
    ['items=0-1', 11, full],
    ['bytes=a-b', 11, full],
    ['bytes=', 11, full],
    ['bytes=-', 11, full],
    ['bytes 0-1', 11, full],
    ['bytes=99999999999999999999-', 11, none],
  ];
  for (const [r, size, want] of table) assert.deepEqual(rangeFor(getter('Range', r), m, size), want, `${r} / ${size}`);
  assert.deepEqual(rangeFor(getter(), m, 11), full);
  assert.deepEqual(rangeFor(getter('Range', 'bytes=0-1'), meta({ status: 404 }), 11), full);
});

test('rangeFor: If-Range (RFC 9110 §13.1.5)', () => {
  const etag = meta({ etag: '"v1"' });
  assert.deepEqual(rangeFor(getter('Range', 'bytes=0-1', 'If-Range', '"v1"'), etag, 10), part(0, 1));
  assert.deepEqual(rangeFor(getter('Range', 'bytes=0-1', 'If-Range', '"v2"'), etag, 10), full);
  assert.deepEqual(rangeFor(getter('Range', 'bytes=0-1', 'If-Range', 'W/"v1"'), etag, 10), full);
  assert.deepEqual(rangeFor(getter('Range', 'bytes=0-1', 'If-Range', '"v1"'), meta({ etag: 'W/"v1"' }), 10), full);
  assert.deepEqual(rangeFor(getter('Range', 'bytes=0-1', 'If-Range', '"v1"'), meta(), 10), full);
  // dates: exact match with a strong Last-Modified (at least 1 s before Date)
  const lm = meta({ lastModified: T0 - 60e3, headers: ['Date', at(0)] });
  assert.deepEqual(rangeFor(getter('Range', 'bytes=0-1', 'If-Range', at(-60)), lm, 10), part(0, 1));
  assert.deepEqual(rangeFor(getter('Range', 'bytes=0-1', 'If-Range', at(-59)), lm, 10), full);
  const weakLm = meta({ lastModified: T0, headers: ['Date', at(0)] });
  assert.deepEqual(rangeFor(getter('Range', 'bytes=0-1', 'If-Range', at(0)), weakLm, 10), full);
  assert.deepEqual(rangeFor(getter('Range', 'bytes=0-1', 'If-Range', 'junk'), lm, 10), full);
});

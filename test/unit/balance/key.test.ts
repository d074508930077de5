import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cookieValueEnd, cookieValueStart, hash32 } from '../../../src/balance/algorithms/key.js';

const cookie = (header: string, name: string): string | null => {
  const s = cookieValueStart(header, `${name}=`);
  return s < 0 ? null : header.slice(s, cookieValueEnd(header, s));
};

test('cookie scanner finds NAME= at a pair boundary only', () => {
  assert.equal(cookie('sid=abc', 'sid'), 'abc');
  assert.equal(cookie('a=1; sid=abc; b=2', 'sid'), 'abc');
  assert.equal(cookie('a=1;sid=abc ;b=2', 'sid'), 'abc');
  assert.equal(cookie('xsid=1; sid=2', 'sid'), '2');
  assert.equal(cookie('xsid=1', 'sid'), null);
  assert.equal(cookie('a=sid=3', 'sid'), null);
  assert.equal(cookie('sid=', 'sid'), '');
  assert.equal(cookie('', 'sid'), null);
  assert.equal(cookie('si', 'sid'), null);
});

test('hash32 is stable, unsigned, range-aware and spreads similar keys', () => {
  assert.equal(hash32('10.0.0.1'), hash32('10.0.0.1'));
  assert.equal(hash32('xx10.0.0.1yy', 2, 10), hash32('10.0.0.1'));
  const buckets = new Array(16).fill(0);
  for (let i = 0; i < 16_000; i++) {
    const h = hash32(`10.0.${i >> 8}.${i & 255}`);
    assert.ok(h >= 0 && h <= 0xffffffff && Number.isInteger(h));
    buckets[h >>> 28]++;
  }
  for (const n of buckets) assert.ok(n > 800 && n < 1200, `top-bit bucket ${n}`);
});

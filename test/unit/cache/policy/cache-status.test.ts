import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cacheStatus } from '../../../../src/cache/policy/index.js';

test('cacheStatus: RFC 9211 members', () => {
  const table: Array<[string, Parameters<typeof cacheStatus>[1], string]> = [
    ['proxykit', { hit: true, ttl: 42 }, 'proxykit; hit; ttl=42'],
    ['proxykit', { fwd: 'stale', fwdStatus: 304, ttl: 60 }, 'proxykit; fwd=stale; fwd-status=304; ttl=60'],
    ['proxykit', { fwd: 'uri-miss', stored: true }, 'proxykit; fwd=uri-miss; stored'],
    ['proxykit', { fwd: 'bypass', detail: 'no-store' }, 'proxykit; fwd=bypass; detail="no-store"'],
    ['proxykit', { hit: true, ttl: -3.6, collapsed: true }, 'proxykit; hit; ttl=-4; collapsed'],
    ['proxykit', { hit: false, stored: false, collapsed: false }, 'proxykit'],
    ['proxykit', { fwd: 'miss', key: 'https://a/"b"\\' }, 'proxykit; fwd=miss; key="https://a/\\"b\\"\\\\"'],
    ['edge-1.example:80/x', {}, 'edge-1.example:80/x'],
    ['Edge Cache', { hit: true }, '"Edge Cache"; hit'],
    ['1cache', {}, '"1cache"'],
    ['', {}, '""'],
    ['caché', {}, '"cach?"'],
    ['p', { ttl: 1e20 }, 'p; ttl=999999999999999'],
  ];
  for (const [name, parts, want] of table) assert.equal(cacheStatus(name, parts), want);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTarget } from '../../../src/engine/target.js';

test('origin-form passes through byte for byte', () => {
  assert.deepEqual(parseTarget('/a/b?x=1&y=%20'), { path: '/a/b', query: '?x=1&y=%20', authority: null });
  assert.deepEqual(parseTarget('/caf%C3%A9'), { path: '/caf%C3%A9', query: '', authority: null });
});

test('absolute-form becomes origin-form with its authority', () => {
  assert.deepEqual(parseTarget('http://example.com:8080/p?q'), { path: '/p', query: '?q', authority: 'example.com:8080' });
  assert.deepEqual(parseTarget('http://example.com'), { path: '/', query: '', authority: 'example.com' });
  assert.deepEqual(parseTarget('http://example.com?q'), { path: '/', query: '?q', authority: 'example.com' });
  assert.equal(parseTarget('http://user@example.com/'), null, 'userinfo is refused');
  assert.equal(parseTarget('ftp://example.com/'), null);
});

test('dot-segments are resolved, raw and encoded; escaping the root is refused', () => {
  assert.equal(parseTarget('/a/./b/../c')?.path, '/a/c');
  assert.equal(parseTarget('/a/%2e%2E/b')?.path, '/b');
  assert.equal(parseTarget('/public/../admin')?.path, '/admin');
  assert.equal(parseTarget('/a/b/..')?.path, '/a/');
  assert.equal(parseTarget('/../etc/passwd'), null);
  assert.equal(parseTarget('/%2e%2e/etc/passwd'), null);
  assert.equal(parseTarget('/a/%2e%2e/%2e%2e/x'), null);
  assert.equal(parseTarget('/a%00b'), null, 'NUL is refused');
  assert.equal(parseTarget('/a\\..\\b'), null, 'backslashes are refused');
  assert.equal(parseTarget('/a/..%2f..%2fetc'), null, 'encoded slashes beside dots are refused');
  assert.equal(parseTarget('/file.tar.gz')?.path, '/file.tar.gz', 'dots inside names are fine');
  assert.equal(parseTarget('/.well-known/acme')?.path, '/.well-known/acme');
  assert.equal(parseTarget('/p#frag'), null);
});

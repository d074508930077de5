import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostMatches, parseMatch, pathMatches } from '../../../src/engine/match.js';

test('host patterns: exact, wildcard, any, port', () => {
  const exact = parseMatch('api.example.com/v1/*').host;
  assert.ok(hostMatches(exact, 'api.example.com', ''));
  assert.ok(!hostMatches(exact, 'www.example.com', ''));
  const wild = parseMatch('*.example.com').host;
  assert.ok(hostMatches(wild, 'a.example.com', ''));
  assert.ok(hostMatches(wild, 'a.b.example.com', ''));
  assert.ok(!hostMatches(wild, 'example.com', ''), 'the apex is not a subdomain');
  assert.ok(!hostMatches(wild, 'badexample.com', ''));
  assert.ok(hostMatches(parseMatch('/x').host, 'anything', '1'));
  const withPort = parseMatch('example.com:8080/').host;
  assert.ok(hostMatches(withPort, 'example.com', '8080'));
  assert.ok(!hostMatches(withPort, 'example.com', '9090'));
  assert.equal(parseMatch('Example.COM').host.kind, 'exact');
});

test('path patterns: exact, prefix at a segment boundary, params, rest', () => {
  const exact = parseMatch('/health').path;
  assert.ok(pathMatches(exact, '/health'));
  assert.equal(pathMatches(exact, '/health/x'), null);
  const prefix = parseMatch('/api/*').path;
  assert.ok(pathMatches(prefix, '/api'));
  assert.ok(pathMatches(prefix, '/api/'));
  assert.ok(pathMatches(prefix, '/api/a/b'));
  assert.equal(pathMatches(prefix, '/apix'), null);
  const params = parseMatch('/users/:id').path;
  assert.deepEqual(pathMatches(params, '/users/42'), { id: '42' });
  assert.equal(pathMatches(params, '/users/'), null);
  assert.equal(pathMatches(params, '/users/42/posts'), null);
  const rest = parseMatch('/users/:id/*').path;
  assert.deepEqual(pathMatches(rest, '/users/7/posts/1'), { id: '7' });
  assert.deepEqual(pathMatches(rest, '/users/7'), { id: '7' });
  assert.ok(pathMatches(parseMatch('example.com').path, '/anything'));
});

test('bad patterns explain themselves', () => {
  assert.throws(() => parseMatch(''), /non-empty/);
  assert.throws(() => parseMatch('http://example.com/x'), /scheme/);
  assert.throws(() => parseMatch('/a/*/b'), /last segment/);
  assert.throws(() => parseMatch('ex*ample.com'), /wildcard/);
  assert.throws(() => parseMatch('/u/:1d'), /parameter name/);
  assert.throws(() => parseMatch('/u/:id/:id'), /twice/);
  assert.throws(() => parseMatch('/a?b'), /'\?'/);
  assert.throws(() => parseMatch('example.com:99999/'), /port/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { invalidationTargets } from '../../../../src/cache/policy/index.js';

const URI = 'https://example.com/a/b?x=1';

test('invalidationTargets: unsafe methods with a non-error status (RFC 9111 §4.4)', () => {
  for (const m of ['POST', 'PUT', 'DELETE', 'PATCH', 'M-SEARCH']) {
    assert.deepEqual(invalidationTargets(m, 200, URI, []), [URI], m);
    assert.deepEqual(invalidationTargets(m, 303, URI, []), [URI], m);
    assert.deepEqual(invalidationTargets(m, 500, URI, []), [], m);
    assert.deepEqual(invalidationTargets(m, 404, URI, []), [], m);
  }
  for (const m of ['GET', 'HEAD', 'OPTIONS', 'TRACE']) assert.deepEqual(invalidationTargets(m, 200, URI, []), [], m);
});

test('invalidationTargets: Location and Content-Location, same origin only, resolved', () => {
  const h = ['Location', 'location_target', 'Content-Location', '/c#frag'];
  assert.deepEqual(invalidationTargets('POST', 201, URI, h), [URI, 'https://example.com/a/location_target', 'https://example.com/c']);
  assert.deepEqual(invalidationTargets('PUT', 200, URI, ['Location', 'https://other.example/x', 'content-location', 'http://example.com/a/b']), [URI]);
  assert.deepEqual(invalidationTargets('PUT', 200, URI, ['Location', 'https://example.com:443/z']), [URI, 'https://example.com/z']);
  assert.deepEqual(invalidationTargets('PUT', 200, URI, ['Location', 'https://example.com:8443/z']), [URI]);
  // the target itself, or an empty reference, is not repeated; garbage is skipped
  assert.deepEqual(invalidationTargets('POST', 200, URI, ['Content-Location', '', 'Location', 'http://[bad']), [URI]);
  assert.deepEqual(invalidationTargets('POST', 200, 'not a uri', ['Location', '/x']), ['not a uri']);
});

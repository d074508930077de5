import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspectHead } from '../../../src/engine/gateway.js';

test('inspectHead: the conditional flag is set by any precondition or Range, in any case', () => {
  const plain = inspectHead(['Host', 'a', 'Accept', '*/*', 'Cache-Control', 'no-cache', 'X-Forwarded-Proto', 'https']);
  assert.equal(plain.conditional, false);
  assert.equal(plain.xfProto, 'https');
  for (const name of ['If-None-Match', 'if-modified-since', 'If-Match', 'IF-UNMODIFIED-SINCE', 'If-Range', 'Range']) {
    assert.equal(inspectHead(['Host', 'a', name, 'x']).conditional, true, name);
  }
  const both = inspectHead(['Transfer-Encoding', 'chunked', 'If-Modified-Since', 'x']);
  assert.equal(both.transferEncoding, true);
  assert.equal(both.conditional, true);
});

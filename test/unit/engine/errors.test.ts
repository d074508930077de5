import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERRORS, classifyUpstreamError, errorBody } from '../../../src/engine/errors.js';

const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');

test('docs/errors.md lists every error code with its status, and no stale ones', () => {
  const documented = new Map<string, number>();
  for (const m of doc.matchAll(/^\| `(PK_ERR_[A-Z_]+)` \| (\d{3}) \|/gm)) documented.set(m[1], Number(m[2]));
  const table = new Map(Object.values(ERRORS).map((e) => [e.code, e.status]));
  assert.deepEqual([...documented.keys()].sort(), [...table.keys()].sort());
  for (const [code, status] of table) assert.equal(documented.get(code), status, code);
});

test('each error name matches its code', () => {
  for (const [name, e] of Object.entries(ERRORS)) assert.equal(e.code, `PK_ERR_${name}`);
});

test('upstream failures map to 502 / 504', () => {
  assert.equal(classifyUpstreamError({ code: 'ECONNREFUSED' }).status, 502);
  assert.equal(classifyUpstreamError({ code: 'UND_ERR_SOCKET' }).status, 502);
  assert.equal(classifyUpstreamError({ code: 'UND_ERR_HEADERS_TIMEOUT' }).status, 504);
  assert.equal(classifyUpstreamError({ code: 'UND_ERR_CONNECT_TIMEOUT' }).status, 504);
  assert.equal(classifyUpstreamError({ code: 'HPE_INVALID_CONSTANT' }).status, 502);
  assert.equal(classifyUpstreamError(new Error('anything')).status, 502);
});

test('error bodies follow Accept and carry no detail', () => {
  const json = errorBody(ERRORS.UPSTREAM_CONNECT, 'application/json');
  assert.equal(json.type, 'application/json');
  assert.deepEqual(JSON.parse(json.body), { error: { status: 502, code: 'PK_ERR_UPSTREAM_CONNECT', message: 'Bad Gateway' } });
  const html = errorBody(ERRORS.UPSTREAM_CONNECT, 'text/html,application/xhtml+xml,application/json;q=0.9');
  assert.match(html.type, /text\/html/);
  assert.match(html.body, /502 Bad Gateway/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createPrettyLogger } from '../../../src/observe/logger-pretty.js';
import { createJsonLogger } from '../../../src/observe/logger-json.js';
import type { AccessRecord } from '../../../src/observe/logger.js';

function sink(): { stream: Writable & { isTTY?: boolean }; text: () => string } {
  let out = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out += chunk.toString();
      cb();
    },
  });
  return { stream, text: () => out };
}

const rec: AccessRecord = {
  time: new Date(2026, 0, 1, 12, 0, 1).getTime(),
  method: 'GET',
  host: 'example.com',
  path: '/api',
  status: 200,
  bytes: 1234,
  durationMs: 12.4,
  clientIp: '127.0.0.1',
  route: '0 /api/*',
  upstream: 'api/http://127.0.0.1:3001',
};

test('pretty access line', () => {
  const s = sink();
  const log = createPrettyLogger({ stream: s.stream, color: false });
  log.access(rec);
  assert.equal(s.text(), '12:00:01 GET example.com/api 200 12ms 1.2kB → api/127.0.0.1:3001\n');
  log.error('proxy.config.ts:3:5 bad\n  hint: fix');
  assert.match(s.text(), /error proxy\.config\.ts:3:5 bad\n\s+hint: fix\n$/);
});

test('pretty access line says what the cache did', () => {
  const s = sink();
  createPrettyLogger({ stream: s.stream, color: false }).access({ ...rec, upstream: undefined, cache: 'hit' });
  assert.equal(s.text(), '12:00:01 GET example.com/api 200 12ms 1.2kB cache hit\n');
});

test('pretty colours status when asked', () => {
  const s = sink();
  createPrettyLogger({ stream: s.stream, color: true }).access({ ...rec, status: 503, upstream: undefined, error: 'PK_ERR_UPSTREAM' });
  assert.match(s.text(), /\x1b\[31m503\x1b\[0m/);
  assert.match(s.text(), /PK_ERR_UPSTREAM/);
});

test('json logger writes one JSON object per access record', async () => {
  const s = sink();
  const log = createJsonLogger({ stream: s.stream });
  log.access(rec);
  log.info('reloaded in 20 ms', { loadMs: 5 });
  await new Promise((r) => setImmediate(r));
  const lines = s.text().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, 2);
  assert.equal(lines[0]!.type, 'access');
  assert.equal(lines[0]!.status, 200);
  assert.equal(lines[0]!.start, rec.time);
  assert.equal(lines[0]!.upstream, 'api/http://127.0.0.1:3001');
  assert.equal(lines[1]!.msg, 'reloaded in 20 ms');
  assert.equal(lines[1]!.loadMs, 5);
  assert.equal(lines[1]!.level, 'info');
  assert.equal(log.accessEnabled, true);
  assert.equal(createJsonLogger({ stream: s.stream, access: false }).accessEnabled, false);
});

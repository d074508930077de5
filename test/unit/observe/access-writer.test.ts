import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AccessWriter } from '../../../src/observe/access-writer.js';
import { accessLine } from '../../../src/observe/logger-json.js';
import type { AccessRecord } from '../../../src/observe/logger.js';

const record = (over: Partial<AccessRecord> = {}): AccessRecord => ({
  time: 1_700_000_000_000,
  method: 'GET',
  host: 'example.com',
  path: '/a?b=1',
  status: 200,
  bytes: 12,
  bytesIn: 0,
  durationMs: 1.25,
  clientIp: '127.0.0.1',
  requestId: 'rid-1',
  route: '/*',
  upstream: 'api/http://127.0.0.1:3001',
  attempts: 1,
  ...over,
});

test('access lines are valid JSON with every field, and escape what needs escaping', () => {
  const line = accessLine(record({ path: '/q"uo\\te\n', host: 'ünïcode.example' }), 42);
  assert.ok(line.endsWith('}\n'));
  const o = JSON.parse(line);
  assert.equal(o.type, 'access');
  assert.equal(o.level, 'info');
  assert.equal(o.pid, 42);
  assert.equal(o.start, 1_700_000_000_000);
  assert.equal(o.path, '/q"uo\\te\n');
  assert.equal(o.host, 'ünïcode.example');
  for (const k of ['method', 'status', 'bytes', 'bytesIn', 'durationMs', 'clientIp', 'requestId', 'route', 'upstream', 'attempts']) {
    assert.ok(k in o, k);
  }
  assert.ok(!('error' in o), 'absent fields are left out');
});

test('the writer batches lines, keeps them whole and in order, and flushes on demand', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pk-access-'));
  const file = path.join(dir, 'access.log');
  const fd = fs.openSync(file, 'a');
  const w = new AccessWriter(fd);
  const n = 5000; // > 64 KiB of lines: several buffers
  for (let i = 0; i < n; i++) w.write(accessLine(record({ status: 200 + (i % 3), requestId: `r${i}` }), 1));
  w.flush();
  await new Promise((r) => setTimeout(r, 300));
  w.flushSync();
  const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
  assert.equal(lines.length, n);
  lines.forEach((l, i) => assert.equal(JSON.parse(l).requestId, `r${i}`));
  fs.closeSync(fd);
  fs.rmSync(dir, { recursive: true });
});

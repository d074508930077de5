/** The memory store: the shared conformance suite, plus what only memory promises. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryStore, metaCost } from '../../../../src/cache/store/memory.js';
import { createStore } from '../../../../src/cache/store/index.js';
import { storeConformance } from './store-suite.js';
import { meta, put } from './fixtures.js';

storeConformance('memory', async (opts) => createMemoryStore(opts));

test('memory: every entry holds its body as one Buffer', async () => {
  const s = createMemoryStore({ maxBytes: 1 << 20, maxObjectBytes: 1 << 20 });
  const w = s.open('k', meta(), null)!;
  for (const part of ['a', 'b', 'c']) w.write(Buffer.from(part));
  const e = (await w.commit())!;
  assert.ok(Buffer.isBuffer(e.body));
  assert.equal(e.body.toString(), 'abc');
  assert.equal(s.kind, 'memory');
  assert.ok(Object.isFrozen(e), 'entries are immutable');
  assert.ok(Object.isFrozen(s.lookup('k')), 'the variant array handed out cannot be mutated');
});

test('memory: bytes are body plus the metadata estimate', async () => {
  const s = createMemoryStore({ maxBytes: 1 << 20, maxObjectBytes: 1 << 20 });
  const m = meta({ headers: ['X-Big', 'x'.repeat(5000)], tags: ['t'] });
  await put(s, 'key', 'body', m);
  assert.equal(s.stats().bytes, 4 + metaCost('key', m));
  assert.ok(metaCost('key', m) > 5000, 'header bytes count');
});

test('memory: headers alone can push a key out (tiny bodies, big headers)', async () => {
  const m = meta({ headers: ['X-Big', 'x'.repeat(2000)] });
  const s = createMemoryStore({ maxBytes: metaCost('k0', m) * 3, maxObjectBytes: 1000 });
  for (let i = 0; i < 5; i++) await put(s, `k${i}`, '', m);
  assert.equal(s.stats().entries, 3);
  assert.equal(s.stats().evictions, 2);
});

test('createStore: memory without a disk block', async () => {
  const s = await createStore({ maxBytes: 1000, maxObjectBytes: 100, disk: null });
  assert.equal(s.kind, 'memory');
  assert.equal(s.stats().maxBytes, 1000);
  await s.close();
});

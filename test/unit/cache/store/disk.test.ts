/**
 * The disk store: the shared conformance suite, then what only disk promises: persistence across
 * restarts (entries, metadata updates, purges, LRU order and bound), crash safety (temp files,
 * truncated bodies, corrupt or orphaned metadata are deleted at startup and never served), file
 * modes, hot copies of small bodies, and readers outliving an unlinked file.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { CacheStore, DiskStoreOptions } from '../../../../src/cache/contracts.js';
import { createDiskStore } from '../../../../src/cache/store/disk.js';
import { createStore } from '../../../../src/cache/store/index.js';
import { storeConformance } from './store-suite.js';
import { meta, present, put, readAll } from './fixtures.js';

const root = await fs.mkdtemp(path.join(os.tmpdir(), 'proxykit-disk-store-'));
const newDir = (): Promise<string> => fs.mkdtemp(path.join(root, 'd-'));

storeConformance('disk', async (opts) => createDiskStore({ ...opts, dir: await newDir() }));

after(() => fs.rm(root, { recursive: true, force: true }));

const BIG = { maxBytes: 10 * 1024 * 1024, maxObjectBytes: 1024 * 1024 };
const mode = async (p: string): Promise<number> => (await fs.stat(p)).mode & 0o777;
const files = async (dir: string): Promise<string[]> => (await fs.readdir(dir)).sort();

describe('disk store', () => {
  /** Opens a store on `dir`, closed when the test ends (closing twice is fine). */
  const open = async (t: { after(fn: () => Promise<void>): void }, dir: string, opts: Omit<DiskStoreOptions, 'dir'> = BIG): Promise<CacheStore> => {
    const s = await createDiskStore({ ...opts, dir });
    t.after(() => s.close());
    return s;
  };

  test('entries, variants, updates and tags survive a restart', async (t) => {
    const dir = await newDir();
    const s1 = await open(t, dir);
    const big = randomBytes(200 * 1024);
    const v = (x: string, tags: string[] = []) => meta({ vary: ['accept-language'], varyValues: [x], tags });
    const en = (await put(s1, 'k', 'english', v('en', ['t-en'])))!;
    const fr = (await put(s1, 'k', 'french', v('fr')))!;
    const b = (await put(s1, 'big', big, meta({ etag: '"big"' })))!;
    const updated = s1.update(en, { ...v('en', ['t-new']), lifetime: 1234 })!;
    const before = s1.stats();
    await s1.close();

    const s2 = await open(t, dir);
    assert.deepEqual(s2.stats(), { ...before, evictions: 0 });
    const k = s2.lookup('k');
    assert.deepEqual(
      k.map((e) => [e.id, e.meta.varyValues[0], e.size]),
      [
        [fr.id, 'fr', 6],
        [updated.id, 'en', 7],
      ],
      'same ids, same variant order',
    );
    assert.equal(k[1].meta.lifetime, 1234, 'the update was persisted');
    assert.deepEqual(k[1].meta, updated.meta);
    assert.equal(await readAll(s2, k[1]), 'english');
    const big2 = s2.lookup('big')[0];
    assert.equal(big2.id, b.id);
    assert.deepEqual(big2.meta, b.meta);
    const chunks: Buffer[] = [];
    for await (const c of s2.read(big2)) chunks.push(c);
    assert.ok(Buffer.concat(chunks).equals(big));
    assert.equal(s2.purgeTag('t-en'), 0, 'the tag index is rebuilt from the updated meta');
    assert.equal(s2.purgeTag('t-new'), 1);

    // New entries get fresh ids and sort as newer than everything recovered.
    const de = (await put(s2, 'k', 'german', v('de')))!;
    assert.ok(![fr.id, en.id, b.id].includes(de.id));
    assert.deepEqual(s2.lookup('k').map((e) => e.id), [de.id, fr.id]);
    await s2.close();
    const s3 = await open(t, dir);
    assert.deepEqual(s3.lookup('k').map((e) => e.id), [de.id, fr.id]);
  });

  test('deletes and purges are not undone by a restart', async (t) => {
    const dir = await newDir();
    const s1 = await open(t, dir);
    const a = (await put(s1, 'https://a.test/1', 'a'))!;
    await put(s1, 'https://a.test/2', 'b', meta({ tags: ['t'] }));
    await put(s1, 'https://b.test/1', 'c');
    await put(s1, 'https://b.test/2', 'd');
    s1.update(a, meta({ lifetime: 5 })); // queued meta write, then the delete must win
    s1.delete(a);
    s1.purgeTag('t');
    s1.deleteKey('https://b.test/1');
    await s1.close();
    const s2 = await open(t, dir);
    assert.deepEqual(present(s2, ['https://a.test/1', 'https://a.test/2', 'https://b.test/1', 'https://b.test/2']), ['https://b.test/2']);
    assert.equal(s2.stats().entries, 1);
    const names = await files(dir);
    assert.equal(names.filter((n) => n.endsWith('.meta')).length, 1);
    assert.equal(names.filter((n) => n.endsWith('.body')).length, 1, 'removed bodies were unlinked by close');
  });

  test('LRU order and the byte bound survive a restart', async (t) => {
    const size = 4000;
    const probe = await open(t, await newDir());
    await put(probe, 'key-x', randomBytes(size));
    const cost = probe.stats().bytes;
    await probe.close();

    const dir = await newDir();
    const opts = { maxBytes: Math.floor(cost * 3.5), maxObjectBytes: BIG.maxObjectBytes };
    const s1 = await open(t, dir, opts);
    for (const k of ['key-a', 'key-b', 'key-c']) await put(s1, k, randomBytes(size));
    s1.lookup('key-a'); // LRU → MRU: b, c, a
    await s1.close();

    const s2 = await open(t, dir, opts);
    assert.equal(s2.stats().entries, 3);
    await put(s2, 'key-d', randomBytes(size));
    assert.equal(s2.stats().evictions, 1);
    assert.deepEqual(present(s2, ['key-a', 'key-b', 'key-c', 'key-d']), ['key-a', 'key-c', 'key-d'], 'b was least recently used');
    await s2.close();

    // A smaller budget on restart trims least recently used keys first (order now a, c, d).
    const s3 = await open(t, dir, { ...opts, maxBytes: Math.floor(cost * 2.5) });
    assert.ok(s3.stats().bytes <= Math.floor(cost * 2.5));
    assert.deepEqual(present(s3, ['key-a', 'key-c', 'key-d']), ['key-c', 'key-d']);
    await s3.close();
    assert.equal((await files(dir)).filter((n) => n.endsWith('.body')).length, 2, 'trimmed entries were deleted');
  });

  test('a restart after a crash (no lru.json) orders by storage time', async (t) => {
    const dir = await newDir();
    const s1 = await open(t, dir);
    for (const k of ['key-a', 'key-b', 'key-c']) await put(s1, k, 'x');
    await s1.close();
    await fs.rm(path.join(dir, 'lru.json'));
    const s2 = await open(t, dir);
    await s2.close();
    const order = JSON.parse(await fs.readFile(path.join(dir, 'lru.json'), 'utf8')).order as string[];
    const s3 = await open(t, dir);
    assert.deepEqual(
      order,
      ['key-c', 'key-b', 'key-a'].map((k) => s3.lookup(k)[0].id),
      'newest stored is most recently used',
    );
  });

  test('crash leftovers are deleted at startup and never served', async (t) => {
    const dir = await newDir();
    const s1 = await open(t, dir);
    const good = (await put(s1, 'good', 'all of it'))!;
    const cut = (await put(s1, 'cut', randomBytes(100 * 1024)))!;
    const bad = (await put(s1, 'bad', 'fine body'))!;
    const lost = (await put(s1, 'lost', 'body'))!;
    await s1.close();

    const orphan = 'f'.repeat(32);
    await fs.truncate(path.join(dir, `${cut.id}.body`), 50 * 1024); // crash mid-body
    await fs.writeFile(path.join(dir, `${bad.id}.meta`), '{"v":1,"id":"'); // crash mid-meta
    await fs.rm(path.join(dir, `${lost.id}.body`)); // meta without a body
    await fs.writeFile(path.join(dir, `${orphan}.body`), 'no meta'); // body without meta
    await fs.writeFile(path.join(dir, `${'e'.repeat(32)}.body.tmp`), 'half');
    await fs.writeFile(path.join(dir, `${good.id}.meta.1234abcd.tmp`), '{');
    await fs.writeFile(path.join(dir, 'NOTES'), 'not ours'); // unknown names are left alone
    // A well-formed meta that claims another id (copied by hand) is not trusted either.
    const copied = 'd'.repeat(32);
    await fs.copyFile(path.join(dir, `${good.id}.meta`), path.join(dir, `${copied}.meta`));
    await fs.copyFile(path.join(dir, `${good.id}.body`), path.join(dir, `${copied}.body`));

    const s2 = await open(t, dir);
    assert.deepEqual(present(s2, ['good', 'cut', 'bad', 'lost']), ['good']);
    assert.equal(s2.stats().entries, 1);
    assert.equal(await readAll(s2, s2.lookup('good')[0]), 'all of it');
    assert.deepEqual(await files(dir), [`${good.id}.body`, `${good.id}.meta`, 'NOTES', 'lru.json'].sort());
  });

  test('an uncommitted write leaves nothing a restart would load', async (t) => {
    const dir = await newDir();
    const s1 = await open(t, dir);
    await put(s1, 'done', 'committed');
    const w = s1.open('k', meta(), null)!;
    w.write(randomBytes(10_000));
    // Wait for the temp file to get the bytes written so far (the writes are asynchronous).
    const tmpSizes = async (): Promise<number[]> => {
      const sizes: number[] = [];
      for (const n of (await files(dir)).filter((n) => n.endsWith('.tmp'))) sizes.push((await fs.stat(path.join(dir, n))).size);
      return sizes;
    };
    const deadline = Date.now() + 5000;
    let sizes = await tmpSizes();
    while (!(sizes.length === 1 && sizes[0] === 10_000) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
      sizes = await tmpSizes();
    }
    assert.deepEqual(sizes, [10_000], 'one temp file, holding the bytes written so far');
    // The process "dies" here: what a restart finds is the directory as it is now.
    const crashed = await newDir();
    await fs.cp(dir, crashed, { recursive: true });
    w.abort();
    const s2 = await open(t, crashed);
    assert.deepEqual(s2.lookup('k'), []);
    assert.equal(s2.lookup('done').length, 1);
    assert.equal((await files(crashed)).filter((n) => n.endsWith('.tmp')).length, 0, 'the temp file was deleted');
  });

  test('one store per directory at a time (within the process)', async (t) => {
    const dir = await newDir();
    const s1 = await open(t, dir);
    await assert.rejects(createDiskStore({ ...BIG, dir: path.join(dir, '.') }), /already open/);
    await s1.close();
    const s2 = await open(t, dir);
    assert.equal(s2.kind, 'disk');
  });

  test('close waits for commits in flight; they are there after a restart', async (t) => {
    const dir = await newDir();
    const s1 = await open(t, dir);
    const w = s1.open('k', meta(), null)!;
    for (let i = 0; i < 20; i++) w.write(randomBytes(16 * 1024));
    const committed = w.commit();
    await s1.close();
    const e = await committed;
    assert.ok(e);
    const s2 = await open(t, dir);
    assert.equal(s2.lookup('k')[0]?.id, e.id);
    assert.equal(s2.lookup('k')[0]?.size, 20 * 16 * 1024);
  });

  test('the directory is 0700 and every file 0600', async (t) => {
    const dir = await newDir();
    await fs.chmod(dir, 0o755);
    const s = await open(t, dir);
    assert.equal(await mode(dir), 0o700, 'an existing directory is narrowed');
    await put(s, 'k', 'x');
    const e = (await put(s, 'k2', 'y'))!;
    s.update(e, meta({ lifetime: 9 }));
    await s.close();
    const names = await files(dir);
    assert.ok(names.length >= 5);
    for (const n of names) assert.equal(await mode(path.join(dir, n)), 0o600, n);

    const nested = path.join(await newDir(), 'a', 'b');
    const s2 = await open(t, nested);
    assert.equal(await mode(nested), 0o700, 'created 0700');
    await s2.close();
  });

  test('small bodies keep a hot copy in memory (also after a restart); large ones are read from disk', async (t) => {
    const dir = await newDir();
    const s1 = await open(t, dir);
    const small = (await put(s1, 'small', 'tiny body'))!;
    const large = (await put(s1, 'large', randomBytes(65 * 1024)))!;
    assert.equal(small.body?.toString(), 'tiny body');
    assert.equal(large.body, null);
    await s1.close();
    const s2 = await open(t, dir);
    assert.equal(s2.lookup('small')[0].body?.toString(), 'tiny body');
    assert.equal(s2.lookup('large')[0].body, null);
  });

  test('hot copies are bounded (1/8 of maxBytes)', async (t) => {
    const s = await open(t, await newDir(), { maxBytes: 80 * 1024, maxObjectBytes: 64 * 1024 });
    const a = (await put(s, 'a', randomBytes(6 * 1024)))!;
    const b = (await put(s, 'b', randomBytes(6 * 1024)))!;
    assert.ok(a.body, 'fits the 10 KiB hot budget');
    assert.equal(b.body, null, 'over the hot budget: served from disk');
    s.delete(a);
    const c = (await put(s, 'c', randomBytes(6 * 1024)))!;
    assert.ok(c.body, 'deleting released the budget');
  });

  test('a reader keeps streaming after the body file is unlinked under it', async (t) => {
    const dir = await newDir();
    const s = await open(t, dir);
    const body = randomBytes(1024 * 1024);
    const e = (await put(s, 'k', body))!;
    const it = s.read(e)[Symbol.asyncIterator]();
    const parts: Buffer[] = [(await it.next()).value as Buffer];
    await fs.unlink(path.join(dir, `${e.id}.body`));
    for (let r = await it.next(); !r.done; r = await it.next()) parts.push(r.value);
    assert.ok(Buffer.concat(parts).equals(body));
  });

  test('createStore: disk when a directory is configured', async () => {
    const dir = await newDir();
    const s = await createStore({ maxBytes: 1000, maxObjectBytes: 100, disk: { dir } });
    assert.equal(s.kind, 'disk');
    await s.close();
  });
});

/**
 * The contract every `CacheStore` must keep (memory and disk run the same tests): visibility only
 * after commit, variant replacement and order, the per-object limit, the byte bound with LRU
 * eviction by primary key, update/purge/delete bookkeeping, ranged reads, stats and close.
 *
 * Byte costs differ between stores (the memory store estimates metadata, the disk store counts its
 * meta file), so bound tests first measure what one entry costs in the store under test.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { CacheStore, MemoryStoreOptions } from '../../../../src/cache/contracts.js';
import { meta, present, put, readAll } from './fixtures.js';

export type MakeStore = (opts: MemoryStoreOptions) => Promise<CacheStore>;

const BIG = { maxBytes: 10 * 1024 * 1024, maxObjectBytes: 1024 * 1024 };

export function storeConformance(name: string, makeStore: MakeStore, cleanup?: () => Promise<void> | void): void {
  describe(`${name} store conformance`, () => {
    if (cleanup) after(cleanup);

    /** A store closed when the test ends. */
    const fresh = async (t: { after(fn: () => Promise<void>): void }, opts: MemoryStoreOptions = BIG): Promise<CacheStore> => {
      const s = await makeStore(opts);
      t.after(() => s.close());
      return s;
    };

    /** What one entry with a `bodySize` body and key `key-?` costs in this store. */
    const costOf = async (bodySize: number, m = meta()): Promise<number> => {
      const s = await makeStore(BIG);
      await put(s, 'key-x', randomBytes(bodySize), m);
      const { bytes } = s.stats();
      await s.close();
      return bytes;
    };

    test('kind names the store', async (t) => {
      const s = await fresh(t);
      assert.ok(s.kind === 'memory' || s.kind === 'disk');
    });

    test('lookup after commit returns the entry; the body reads back whole', async (t) => {
      const s = await fresh(t);
      assert.deepEqual(s.lookup('k'), []);
      const m = meta({ etag: '"v1"', tags: ['a'] });
      const w = s.open('k', m, null)!;
      assert.equal(w.write(Buffer.from('hello ')), true);
      assert.equal(w.write(Buffer.alloc(0)), true);
      assert.equal(w.write(Buffer.from('world')), true);
      const entry = await w.commit();
      assert.ok(entry);
      assert.equal(typeof entry.id, 'string');
      assert.ok(entry.id.length > 0);
      assert.equal(entry.key, 'k');
      assert.equal(entry.size, 11);
      assert.deepEqual(entry.meta, m);
      if (entry.body) assert.equal(entry.body.toString(), 'hello world');
      const found = s.lookup('k');
      assert.equal(found.length, 1);
      assert.equal(found[0], entry);
      assert.equal(await readAll(s, entry), 'hello world');
      assert.equal(s.lookup('k'), found, 'an unchanged key hands back the same array');
      assert.equal(await w.commit(), entry, 'commit is idempotent');
      assert.equal(w.write(Buffer.from('x')), false, 'no writes after commit');
    });

    test('an empty body is a valid entry', async (t) => {
      const s = await fresh(t);
      const e = await put(s, 'empty', '');
      assert.ok(e);
      assert.equal(e.size, 0);
      assert.equal(await readAll(s, e), '');
    });

    test('nothing is visible before commit; the old variant stays until the new one commits', async (t) => {
      const s = await fresh(t);
      const w = s.open('k', meta(), null)!;
      w.write(Buffer.from('partial'));
      assert.deepEqual(s.lookup('k'), []);
      assert.equal(s.stats().entries, 0);
      const first = await w.commit();
      const w2 = s.open('k', meta({ etag: '"2"' }), null)!;
      w2.write(Buffer.from('second'));
      assert.deepEqual(s.lookup('k'), [first]);
      const second = await w2.commit();
      assert.deepEqual(s.lookup('k'), [second]);
      assert.equal(await readAll(s, second!), 'second');
    });

    test('abort discards (idempotent); commit after abort is null', async (t) => {
      const s = await fresh(t);
      const w = s.open('k', meta(), 10)!;
      w.write(Buffer.from('12345'));
      w.abort();
      w.abort();
      assert.equal(w.write(Buffer.from('67890')), false);
      assert.equal(await w.commit(), null);
      assert.deepEqual(s.lookup('k'), []);
      assert.deepEqual(s.stats(), { entries: 0, bytes: 0, maxBytes: BIG.maxBytes, evictions: 0 });
    });

    test('a body shorter or longer than its declared size is never stored', async (t) => {
      const s = await fresh(t);
      const short = s.open('short', meta(), 10)!;
      short.write(Buffer.from('12345'));
      assert.equal(await short.commit(), null);
      const long = s.open('long', meta(), 3)!;
      assert.equal(long.write(Buffer.from('12345')), false);
      assert.equal(await long.commit(), null);
      assert.equal(s.stats().entries, 0);
    });

    test('same Vary values replace a variant; different values add one, newest first', async (t) => {
      const s = await fresh(t);
      const vm = (lang: string | null, etag: string) => meta({ vary: ['accept-language'], varyValues: [lang], etag });
      const en = await put(s, 'k', 'en', vm('en', '"1"'));
      const fr = await put(s, 'k', 'fr', vm('fr', '"2"'));
      const none = await put(s, 'k', 'none', vm(null, '"3"'));
      assert.deepEqual(s.lookup('k'), [none, fr, en], 'most recently stored first');
      const en2 = await put(s, 'k', 'en2', vm('en', '"4"'));
      assert.deepEqual(s.lookup('k'), [en2, none, fr], 'the en variant was replaced, not added');
      assert.equal(s.stats().entries, 3);
      assert.equal(await readAll(s, en2!), 'en2');
      const none2 = await put(s, 'k', 'none2', vm(null, '"5"'));
      assert.deepEqual(s.lookup('k'), [none2, en2, fr], 'a missing header (null) is a value too');
    });

    test('Vary names compare as a set: order does not make a new variant', async (t) => {
      const s = await fresh(t);
      await put(s, 'k', 'a', meta({ vary: ['accept-language', 'accept-encoding'], varyValues: ['en', 'gzip'] }));
      const b = await put(s, 'k', 'b', meta({ vary: ['accept-encoding', 'accept-language'], varyValues: ['gzip', 'en'] }));
      assert.deepEqual(s.lookup('k'), [b]);
    });

    test('a response with a different Vary list supersedes every older variant of the key', async (t) => {
      const s = await fresh(t);
      await put(s, 'k', 'en', meta({ vary: ['accept-language'], varyValues: ['en'] }));
      await put(s, 'k', 'fr', meta({ vary: ['accept-language'], varyValues: ['fr'] }));
      const gz = await put(s, 'k', 'gz', meta({ vary: ['accept-encoding'], varyValues: ['gzip'] }));
      assert.deepEqual(s.lookup('k'), [gz]);
      const plain = await put(s, 'k', 'plain', meta());
      assert.deepEqual(s.lookup('k'), [plain], 'no Vary at all is a different list too');
      assert.equal(s.stats().entries, 1);
      assert.equal(s.stats().evictions, 0, 'replacement is not eviction');
    });

    test('per-object limit: declared size over it is refused; a streamed body over it is abandoned', async (t) => {
      const s = await fresh(t, { maxBytes: 1024 * 1024, maxObjectBytes: 1000 });
      assert.equal(s.open('k', meta(), 1001), null);
      const exact = s.open('k', meta(), 1000)!;
      assert.ok(exact);
      assert.equal(exact.write(Buffer.alloc(1000, 1)), true);
      assert.ok(await exact.commit());

      const w = s.open('big', meta(), null)!;
      assert.equal(w.write(Buffer.alloc(600)), true);
      assert.equal(w.write(Buffer.alloc(600)), false, 'the running size passed the limit');
      assert.equal(w.write(Buffer.alloc(1)), false, 'stays abandoned');
      assert.equal(await w.commit(), null);
      assert.deepEqual(s.lookup('big'), []);
      assert.equal(s.stats().entries, 1);
    });

    test('an entry that alone exceeds maxBytes is not stored', async (t) => {
      const s = await fresh(t, { maxBytes: 1000, maxObjectBytes: 5000 });
      assert.equal(await put(s, 'k', Buffer.alloc(2000)), null);
      assert.deepEqual(s.stats(), { entries: 0, bytes: 0, maxBytes: 1000, evictions: 0 });
    });

    test('bounded by bytes: the least recently used key goes first; a lookup counts as a use', async (t) => {
      const size = 2000;
      const cost = await costOf(size);
      assert.ok(cost > size, 'metadata is counted on top of the body');
      const maxBytes = Math.floor(cost * 3.5);
      const s = await fresh(t, { maxBytes, maxObjectBytes: BIG.maxObjectBytes });
      for (const k of ['key-a', 'key-b', 'key-c']) assert.ok(await put(s, k, randomBytes(size)));
      assert.equal(s.stats().entries, 3);
      assert.equal(s.lookup('key-a').length, 1); // a is now the most recently used
      await put(s, 'key-d', randomBytes(size));
      assert.equal(s.stats().evictions, 1);
      assert.deepEqual(present(s, ['key-a', 'key-b', 'key-c', 'key-d']), ['key-a', 'key-c', 'key-d']);
      // Order is now a, c, d (d most recent); storing e evicts a.
      await put(s, 'key-e', randomBytes(size));
      assert.deepEqual(present(s, ['key-a', 'key-b', 'key-c', 'key-d', 'key-e']), ['key-c', 'key-d', 'key-e']);
      const st = s.stats();
      assert.ok(st.bytes <= maxBytes, `${st.bytes} <= ${maxBytes}`);
      assert.equal(st.entries, 3);
      assert.equal(st.evictions, 2);
    });

    test('eviction takes a key with all its variants; a key too big for the budget sheds its oldest variants', async (t) => {
      const size = 2000;
      const cost = await costOf(size, meta({ vary: ['x'], varyValues: ['1'] }));
      const s = await fresh(t, { maxBytes: Math.floor(cost * 2.5), maxObjectBytes: BIG.maxObjectBytes });
      const v = (x: string) => meta({ vary: ['x'], varyValues: [x] });
      await put(s, 'key-a', randomBytes(size), v('1'));
      await put(s, 'key-a', randomBytes(size), v('2'));
      await put(s, 'key-b', randomBytes(size), v('1'));
      assert.deepEqual(s.lookup('key-a'), [], 'both variants of the LRU key went together');
      assert.equal(s.stats().evictions, 2);
      const b2 = await put(s, 'key-b', randomBytes(size), v('2'));
      const b3 = await put(s, 'key-b', randomBytes(size), v('3'));
      assert.deepEqual(s.lookup('key-b'), [b3, b2], 'the oldest variant made room');
      assert.equal(s.stats().entries, 2);
    });

    test('update replaces meta and tags, keeps the body; stale objects still address the entry', async (t) => {
      const s = await fresh(t);
      const e = (await put(s, 'k', 'body', meta({ tags: ['old'], lifetime: 10 })))!;
      const m2 = meta({ tags: ['new'], lifetime: 99, headers: ['Content-Type', 'text/plain', 'X-Extra', 'yes'] });
      const u = s.update(e, m2);
      assert.ok(u);
      assert.notEqual(u, e, 'entries are immutable: update returns a new object');
      assert.equal(e.meta.lifetime, 10, 'the old object is untouched');
      assert.deepEqual(u.meta, m2);
      assert.equal(u.size, 4);
      assert.deepEqual(s.lookup('k'), [u]);
      assert.equal(await readAll(s, u), 'body');
      assert.equal(s.purgeTag('old'), 0, 'the old tag no longer selects it');
      const u2 = s.update(e, meta({ tags: ['new'], lifetime: 5 }));
      assert.ok(u2, 'the pre-update object still names the entry');
      assert.equal(s.lookup('k')[0], u2);
      assert.equal(s.purgeTag('new'), 1);
      assert.equal(s.update(u2, m2), null, 'gone');
      assert.equal(s.stats().entries, 0);
      assert.equal(s.stats().bytes, 0);
    });

    test('update keeps variant order', async (t) => {
      const s = await fresh(t);
      const v = (x: string) => meta({ vary: ['x'], varyValues: [x] });
      const a = (await put(s, 'k', 'a', v('a')))!;
      const b = (await put(s, 'k', 'b', v('b')))!;
      const a2 = s.update(a, { ...v('a'), lifetime: 1 });
      assert.deepEqual(s.lookup('k'), [b, a2]);
    });

    test('purgeTag, purgePrefix, deleteKey and delete: counts and effects', async (t) => {
      const s = await fresh(t);
      const v = (x: string, tags: string[]) => meta({ vary: ['x'], varyValues: [x], tags });
      await put(s, 'https://a.test/one', '1', v('1', ['t1', 'shared']));
      await put(s, 'https://a.test/one', '2', v('2', ['t2', 'shared']));
      await put(s, 'https://a.test/two', '3', v('1', ['shared']));
      await put(s, 'https://b.test/one', '4', v('1', ['t1']));
      await put(s, 'https://b.test/two', '5', v('1', []));
      assert.equal(s.stats().entries, 5);

      assert.equal(s.purgeTag('nope'), 0);
      assert.equal(s.purgeTag('t1'), 2);
      assert.equal(s.lookup('https://a.test/one').length, 1);
      assert.deepEqual(s.lookup('https://b.test/one'), []);
      assert.equal(s.purgeTag('t1'), 0, 'the tag index forgot them');

      assert.equal(s.purgePrefix('https://a.test/'), 2);
      assert.deepEqual(s.lookup('https://a.test/two'), []);
      assert.equal(s.purgeTag('shared'), 0, 'purged by prefix: gone from the tag index too');
      assert.equal(s.purgePrefix('https://zzz'), 0);

      const again = await put(s, 'https://b.test/two', '6', v('2', []));
      assert.equal(s.deleteKey('https://b.test/two'), 2);
      assert.equal(s.deleteKey('https://b.test/two'), 0);
      assert.equal(s.stats().entries, 0);
      assert.equal(s.stats().bytes, 0);

      const e = (await put(s, 'k', 'x'))!;
      s.delete(e);
      s.delete(e); // already gone: fine
      s.delete(again!);
      assert.deepEqual(s.lookup('k'), []);
      assert.equal(s.stats().entries, 0);
      assert.equal(s.stats().evictions, 0, 'purges and deletes are not evictions');
    });

    test('a purge or delete of the key cancels a writer still filling it', async (t) => {
      const s = await fresh(t);
      const w1 = s.open('https://a.test/x', meta(), null)!;
      const w2 = s.open('https://a.test/y', meta({ tags: ['t'] }), null)!;
      const w3 = s.open('https://a.test/z', meta(), null)!;
      const other = s.open('https://b.test/z', meta(), null)!;
      for (const w of [w1, w2, w3, other]) w.write(Buffer.from('pre-purge'));
      assert.equal(s.deleteKey('https://a.test/x'), 0);
      assert.equal(s.purgeTag('t'), 0);
      assert.equal(w1.write(Buffer.from('more')), false);
      // Already committing when the purge arrives: the purge wins, whether the store had published
      // it (then it is purged) or not yet (then it is never published).
      const c3 = w3.commit();
      assert.ok(s.purgePrefix('https://a.test/') <= 1);
      assert.equal(await w1.commit(), null);
      assert.equal(await w2.commit(), null);
      await c3;
      assert.deepEqual(s.lookup('https://a.test/z'), []);
      assert.ok(await other.commit(), 'unrelated writers are untouched');
      assert.equal(s.stats().entries, 1);
    });

    test('read: inclusive ranges, clamped to the body', async (t) => {
      const s = await fresh(t);
      const e = (await put(s, 'k', 'hello world'))!;
      assert.equal(await readAll(s, e), 'hello world');
      assert.equal(await readAll(s, e, 0, 4), 'hello');
      assert.equal(await readAll(s, e, 6), 'world');
      assert.equal(await readAll(s, e, 6, 100), 'world');
      assert.equal(await readAll(s, e, 10, 10), 'd');
      assert.equal(await readAll(s, e, 11), '');
    });

    test('read: large bodies stream whole and in ranges', async (t) => {
      const s = await fresh(t);
      const body = randomBytes(300 * 1024);
      const e = (await put(s, 'big', body))!;
      const all: Buffer[] = [];
      for await (const c of s.read(e)) all.push(c);
      assert.ok(Buffer.concat(all).equals(body));
      const part: Buffer[] = [];
      for await (const c of s.read(e, 1000, 200_000)) part.push(c);
      assert.ok(Buffer.concat(part).equals(body.subarray(1000, 200_001)));
    });

    test('a reader survives the entry being deleted or evicted mid-stream', async (t) => {
      const s = await fresh(t);
      const body = randomBytes(512 * 1024);
      const e = (await put(s, 'big', body))!;
      const pending = s.read(e); // looked up and read() called, not yet iterated
      s.delete(e);
      const got: Buffer[] = [];
      for await (const c of pending) got.push(c);
      assert.ok(Buffer.concat(got).equals(body));

      const e2 = (await put(s, 'big2', body))!;
      const it = s.read(e2)[Symbol.asyncIterator]();
      const first = await it.next();
      assert.equal(s.deleteKey('big2'), 1);
      const rest: Buffer[] = [first.value as Buffer];
      for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value);
      assert.ok(Buffer.concat(rest).equals(body));
    });

    test('stats: entries, bytes (body plus metadata), maxBytes, evictions', async (t) => {
      const s = await fresh(t);
      assert.deepEqual(s.stats(), { entries: 0, bytes: 0, maxBytes: BIG.maxBytes, evictions: 0 });
      const a = (await put(s, 'a', Buffer.alloc(1000)))!;
      await put(s, 'b', Buffer.alloc(3000));
      const st = s.stats();
      assert.equal(st.entries, 2);
      assert.ok(st.bytes > 4000);
      assert.ok(st.bytes < 4000 + 4096, 'metadata estimate stays sane');
      s.delete(a);
      assert.ok(s.stats().bytes > 3000 && s.stats().bytes < st.bytes - 1000);
    });

    test('close refuses writes, cancels unfinished writers and keeps commits already running', async () => {
      const s = await makeStore(BIG);
      const unfinished = s.open('u', meta(), null)!;
      unfinished.write(Buffer.from('half'));
      const running = s.open('r', meta(), null)!;
      running.write(Buffer.from('whole'));
      const committed = running.commit();
      const e = (await put(s, 'k', 'x'))!;
      await s.close();
      assert.ok(await committed, 'a commit in flight completes');
      assert.equal(await unfinished.commit(), null);
      assert.equal(s.open('k2', meta(), null), null);
      assert.equal(s.open('k2', meta(), 1), null);
      assert.equal(s.update(e, meta({ lifetime: 1 })), null);
      await s.close(); // idempotent
    });

    test('rejects nonsense limits', async () => {
      await assert.rejects(async () => makeStore({ maxBytes: 0, maxObjectBytes: 1 }), RangeError);
      await assert.rejects(async () => makeStore({ maxBytes: 10, maxObjectBytes: -1 }), RangeError);
    });
  });
}

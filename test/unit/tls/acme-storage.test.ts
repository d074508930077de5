/**
 * FileStorage (src/tls/acme/storage.ts) and the key builder (keys.ts): atomic writes, modes,
 * listing, locks (exclusive, refreshed while held, taken over when stale, abortable).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FileStorage, atomicWriteFile } from '../../../src/tls/acme/storage.js';
import { StorageKeys, issuerKey, safeKeyPart } from '../../../src/tls/acme/keys.js';

let dir: string;
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'proxykit-storage-'));
});
after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const mode = async (p: string) => (await fs.stat(p)).mode & 0o777;

describe('FileStorage', () => {
  test('store / load / exists / list / delete', async () => {
    const s = new FileStorage(path.join(dir, 'kv'));
    assert.equal(await s.load('a/b.txt'), null);
    assert.equal(await s.exists('a/b.txt'), false);
    await s.store('a/b.txt', 'one');
    await s.store('a/c/d.txt', Buffer.from('two'));
    await s.store('e.txt', 'three');
    assert.equal((await s.load('a/b.txt'))!.toString(), 'one');
    assert.equal(await s.exists('a/c/d.txt'), true);
    assert.deepEqual(await s.list('a'), ['a/b.txt', 'a/c/d.txt']);
    assert.deepEqual(await s.list(''), ['a/b.txt', 'a/c/d.txt', 'e.txt']);
    assert.deepEqual(await s.list('nope'), []);
    await s.store('a/b.txt', 'uno');
    assert.equal((await s.load('a/b.txt'))!.toString(), 'uno');
    await s.delete('a/b.txt');
    await s.delete('a/b.txt'); // missing: fine
    assert.equal(await s.load('a/b.txt'), null);
  });

  test('secrets are 0600, other files 0644, directories 0700', async () => {
    const s = new FileStorage(path.join(dir, 'modes'));
    await s.store('x/key.pem', 'k', { secret: true });
    await s.store('x/cert.pem', 'c');
    assert.equal(await mode(path.join(dir, 'modes/x/key.pem')), 0o600);
    assert.equal(await mode(path.join(dir, 'modes/x/cert.pem')), 0o644);
    assert.equal(await mode(path.join(dir, 'modes/x')), 0o700);
    // Replacing a secret keeps it owner-only (the temp file gets the mode before any byte).
    await s.store('x/key.pem', 'k2', { secret: true });
    assert.equal(await mode(path.join(dir, 'modes/x/key.pem')), 0o600);
  });

  test('keys cannot escape the data directory', async () => {
    const s = new FileStorage(path.join(dir, 'esc'));
    for (const k of ['../x', 'a/../../x', '/etc/passwd', '', 'a//b', 'a\\b']) {
      await assert.rejects(s.store(k, 'x'), /invalid storage key/, k);
    }
  });

  test('writes are atomic: concurrent readers see an old or a new value, never a torn one; no temp files remain', async () => {
    const s = new FileStorage(path.join(dir, 'atomic'));
    const big = (c: string) => c.repeat(512 * 1024);
    await s.store('f', big('a'));
    let stop = false;
    const seen = new Set<string>();
    const reader = (async () => {
      while (!stop) {
        const v = (await s.load('f'))!.toString();
        seen.add(v.length === 512 * 1024 && /^(a+|b+|c+)$/.test(v) ? v[0]! : `torn(${v.length})`);
      }
    })();
    await Promise.all([s.store('f', big('b')), s.store('f', big('c'))]);
    for (let i = 0; i < 5; i++) await s.store('f', big(i % 2 ? 'b' : 'c'));
    stop = true;
    await reader;
    assert.deepEqual([...seen].filter((v) => v.startsWith('torn')), []);
    assert.deepEqual((await fs.readdir(path.join(dir, 'atomic'))).sort(), ['f']);
  });

  test('a failed write leaves the old value and no temp file', async () => {
    const d = path.join(dir, 'fail');
    await fs.mkdir(d);
    const file = path.join(d, 'f');
    await atomicWriteFile(file, 'old', 0o600);
    // Renaming a file over a directory fails: the target must keep its content.
    await fs.mkdir(path.join(d, 'adir'));
    await assert.rejects(atomicWriteFile(path.join(d, 'adir'), 'new', 0o600));
    assert.equal(await fs.readFile(file, 'utf8'), 'old');
    assert.deepEqual((await fs.readdir(d)).sort(), ['adir', 'f']);
  });
});

describe('FileStorage locks', () => {
  test('exclusive: a second locker waits for unlock', async () => {
    const s = new FileStorage(path.join(dir, 'locks1'));
    const order: string[] = [];
    const unlockA = await s.lock('issue_cert_x', 20_000);
    const b = s.lock('issue_cert_x', 20_000, { pollMs: 20 }).then((u) => {
      order.push('b');
      return u;
    });
    await new Promise((r) => setTimeout(r, 150));
    order.push('a-release');
    await unlockA();
    const unlockB = await b;
    assert.deepEqual(order, ['a-release', 'b']);
    await unlockB();
    await unlockB(); // idempotent
    assert.deepEqual(await fs.readdir(path.join(dir, 'locks1/locks')), []);
  });

  test('two storages on one directory (two processes) exclude each other', async () => {
    const a = new FileStorage(path.join(dir, 'locks2'));
    const b = new FileStorage(path.join(dir, 'locks2'));
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const unlock = await (i % 2 ? a : b).lock('l', 20_000, { pollMs: 10 });
        inside++;
        maxInside = Math.max(maxInside, inside);
        await new Promise((r) => setTimeout(r, 15));
        inside--;
        await unlock();
      }),
    );
    assert.equal(maxInside, 1);
  });

  test('a held lock is refreshed, so it outlives its TTL', async () => {
    // The TTL is 20 refresh periods: only a stall of ~1 s (not mere scheduling noise) could let
    // the waiter see the lock as stale.
    const s = new FileStorage(path.join(dir, 'locks3'), { lockRefreshMs: 50 });
    const unlock = await s.lock('held', 1000);
    let got = false;
    const waiter = s.lock('held', 1000, { pollMs: 20 }).then((u) => ((got = true), u));
    await new Promise((r) => setTimeout(r, 3000)); // 3 × TTL
    assert.equal(got, false, 'not taken over while its holder refreshes it');
    await unlock();
    await (await waiter)();
  });

  test('a stale lock (holder crashed) is taken over', async () => {
    const s = new FileStorage(path.join(dir, 'locks4'));
    await fs.mkdir(path.join(dir, 'locks4/locks'), { recursive: true });
    const file = path.join(dir, 'locks4/locks/crashed.lock');
    await fs.writeFile(file, JSON.stringify({ token: 'dead', pid: 1, host: 'h', updated: Date.now() - 21_000, ttlMs: 20_000 }));
    const t0 = Date.now();
    const unlock = await s.lock('crashed', 20_000);
    // At once, not after waiting out anything like the 20 s TTL.
    assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms to take over a stale lock`);
    assert.notEqual(JSON.parse(await fs.readFile(file, 'utf8')).token, 'dead');
    await unlock();
    // Fresh one (updated 1 s ago) is not taken over.
    await fs.writeFile(file, JSON.stringify({ token: 'alive', pid: 1, host: 'h', updated: Date.now() - 1000, ttlMs: 20_000 }));
    await assert.rejects(s.lock('crashed', 20_000, { signal: AbortSignal.timeout(300), pollMs: 20 }));
    assert.equal(JSON.parse(await fs.readFile(file, 'utf8')).token, 'alive');
  });

  test('a garbage lock file counts as fresh for one TTL from its mtime, then stale', async () => {
    const s = new FileStorage(path.join(dir, 'locks5'));
    await fs.mkdir(path.join(dir, 'locks5/locks'), { recursive: true });
    const file = path.join(dir, 'locks5/locks/g.lock');
    await fs.writeFile(file, '{"tok');
    const old = new Date(Date.now() - 60_000);
    await fs.utimes(file, old, old);
    const unlock = await s.lock('g', 20_000, { signal: AbortSignal.timeout(5000) });
    await unlock();
  });

  test('invalid lock names are rejected', async () => {
    const s = new FileStorage(path.join(dir, 'locks6'));
    await assert.rejects(s.lock('../x'), /invalid lock name/);
  });
});

describe('StorageKeys', () => {
  test('layout', () => {
    const le = 'https://acme-v02.api.letsencrypt.org/directory';
    assert.equal(StorageKeys.siteCert(le, 'Example.COM'), 'certificates/acme-v02.api.letsencrypt.org-directory/example.com/cert.pem');
    assert.equal(StorageKeys.sitePrivateKey(le, '*.example.com'), 'certificates/acme-v02.api.letsencrypt.org-directory/wildcard_.example.com/key.pem');
    assert.equal(StorageKeys.siteMeta(le, 'a.example.com'), 'certificates/acme-v02.api.letsencrypt.org-directory/a.example.com/meta.json');
    assert.equal(StorageKeys.account(le, 'ops@example.com'), 'acme/acme-v02.api.letsencrypt.org-directory/accounts/ops@example.com.json');
    assert.equal(issuerKey('https://127.0.0.1:14000/dir'), '127.0.0.1-14000-dir');
    assert.equal(StorageKeys.issueLock(le, 'a.example.com'), 'issue_cert_acme-v02.api.letsencrypt.org-directory_a.example.com');
  });

  test('components are safe file names', () => {
    assert.equal(safeKeyPart('../../etc'), '____etc');
    assert.equal(safeKeyPart('a/b'), 'a_b');
    assert.equal(safeKeyPart(''), '_');
    assert.equal(safeKeyPart('..'), '_');
  });
});

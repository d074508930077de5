import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import tls, { type SecureContext } from 'node:tls';
import { ConfigError } from '../../../src/config/errors.js';
import type { AcmeSpec, ConfigSpec } from '../../../src/config/spec.js';
import type { Logger } from '../../../src/observe/logger.js';
import {
  createTlsService,
  qualifiesForPublicCert,
  type AcmeIssuerDeps,
  type AcmeIssuerLike,
} from '../../../src/tls/manager.js';
import { certInfo } from '../../../src/tls/store.js';
import { handshake, sniServer, tempDir, testCa } from '../../helpers/tls-certs.js';

function capture(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (level: string) => (msg: string) => void lines.push(`${level} ${msg}`);
  return { lines, debug: push('debug'), info: push('info'), warn: push('warn'), error: push('error'), access: () => {}, accessEnabled: false };
}

function config(tls: ConfigSpec['tls']): ConfigSpec {
  return { kind: 'config', listen: ['https://127.0.0.1:0'], routes: [], tls, at: { file: 'proxy.config.ts', line: 3, column: 1 } };
}

const fp = (pem: string): string => new X509Certificate(pem).fingerprint256;

test('file certificates: paths relative to configDir, SNI picks by name, default for clients without SNI', async (t) => {
  const dir = await tempDir(t);
  const ca = await testCa(t);
  const a = await ca.issue(['a.example.com', 'www.a.example.com']);
  const b = await ca.issue(['*.b.example.com']);
  await mkdir(join(dir, 'certs'));
  await writeFile(join(dir, 'certs', 'a.pem'), a.certPem);
  await writeFile(join(dir, 'certs', 'a.key'), a.keyPem);
  await writeFile(join(dir, 'b.pem'), b.certPem);
  await writeFile(join(dir, 'b.key'), b.keyPem);
  const log = capture();
  const svc = createTlsService({ dataDir: join(dir, 'data'), logger: log, configDir: dir });
  t.after(() => svc.close());

  await svc.reconcile(config({ certs: [{ cert: 'certs/a.pem', key: 'certs/a.key' }, { cert: join(dir, 'b.pem'), key: 'b.key' }] }), ['a.example.com']);
  const srv = await sniServer(t, (n) => svc.sni(n), svc.defaultKeyPair());

  const ra = await handshake({ port: srv.port, servername: 'www.a.example.com', ca: ca.caPem() });
  assert.equal(ra.authorized, true, ra.authorizationError ?? ra.error);
  assert.equal(ra.fingerprint, fp(a.certPem));
  const rb = await handshake({ port: srv.port, servername: 'x.b.example.com', ca: ca.caPem() });
  assert.equal(rb.fingerprint, fp(b.certPem));
  const unknown = await handshake({ port: srv.port, servername: 'unknown.example.org', ca: ca.caPem() });
  assert.equal(unknown.fingerprint, fp(a.certPem), 'unknown names get the default (first file) certificate');
  const noSni = await handshake({ port: srv.port, ca: ca.caPem() });
  assert.equal(noSni.fingerprint, fp(a.certPem));

  assert.equal(svc.manages('a.example.com'), false, 'file certificates are not managed (no redirect)');
  assert.deepEqual(
    svc.certificates().map((c) => c.names.join(' ')).sort(),
    ['*.b.example.com', 'a.example.com www.a.example.com'],
  );
  assert.ok(log.lines.some((l) => /certificate for a\.example\.com, www\.a\.example\.com loaded from file, valid until/.test(l)));
  assert.equal(svc.httpChallenge('token'), null);
});

test('unreadable certificate files: ConfigError naming each file, nothing changes', async (t) => {
  const dir = await tempDir(t);
  const ca = await testCa(t);
  const a = await ca.issue(['a.test']);
  const other = await ca.issue(['other.test']);
  await writeFile(join(dir, 'a.pem'), a.certPem);
  await writeFile(join(dir, 'a.key'), a.keyPem);
  await writeFile(join(dir, 'wrong.key'), other.keyPem);
  const svc = createTlsService({ dataDir: join(dir, 'data'), logger: capture(), configDir: dir });
  t.after(() => svc.close());
  await svc.reconcile(config({ certs: [{ cert: 'a.pem', key: 'a.key' }] }), []);

  const err = await svc
    .reconcile(config({ certs: [{ cert: 'missing.pem', key: 'a.key' }, { cert: 'a.pem', key: 'wrong.key' }] }), [])
    .then(() => null, (e: unknown) => e);
  assert.ok(err instanceof ConfigError, String(err));
  assert.equal(err.problems.length, 2);
  assert.match(err.problems[0]!.message, new RegExp(`tls.certs\\[0\\]: cannot read the certificate file ${join(dir, 'missing.pem')} \\(no such file\\)`));
  assert.match(err.problems[1]!.message, /tls.certs\[1\]: .*wrong\.key: the private key does not belong to the certificate/);
  assert.deepEqual(err.problems[0]!.at, { file: 'proxy.config.ts', line: 3, column: 1 });
  // The previous certificate still serves.
  assert.ok(await svc.sni('a.test'));
  assert.equal(svc.certificates().length, 1);

  if (process.getuid?.() !== 0) {
    await chmod(join(dir, 'a.key'), 0o000);
    await assert.rejects(svc.reconcile(config({ certs: [{ cert: 'a.pem', key: 'a.key' }] }), []), /permission denied/);
  }
});

test("tls: 'internal': CA in the data dir, certs for configured names, IPs and localhost, on the fly for unknown names", async (t) => {
  const dir = await tempDir(t);
  const dataDir = join(dir, 'data');
  const log = capture();
  let changes = 0;
  const svc = createTlsService({ dataDir, logger: log, onChange: () => changes++ });
  t.after(() => svc.close());
  await svc.reconcile(config('internal'), ['app.localhost', 'api.test', '*.wild.test', '127.0.0.1']);
  assert.ok(changes >= 1);
  const caPem = await readFile(join(dataDir, 'internal', 'ca.pem'), 'utf8');
  assert.ok(log.lines.some((l) => l.includes('NODE_EXTRA_CA_CERTS=') && l.includes('update-ca-certificates')), 'trust instructions logged at creation');

  const srv = await sniServer(t, (n) => svc.sni(n), svc.defaultKeyPair());
  for (const servername of ['app.localhost', 'api.test', 'x.wild.test', 'localhost']) {
    const r = await handshake({ port: srv.port, servername, ca: caPem });
    assert.equal(r.authorized, true, `${servername}: ${r.authorizationError ?? r.error}`);
  }
  // No SNI, by IP: the loopback certificate (localhost, 127.0.0.1, ::1) is the default.
  const byIp = await handshake({ port: srv.port, ca: caPem });
  assert.equal(byIp.authorized, true, byIp.authorizationError);
  await new Promise<void>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: srv.port, ca: caPem }, () => (s.end(), resolve()));
    s.on('error', reject);
  });

  // Unknown name: issued during the handshake (development convenience).
  const before = svc.certificates().length;
  const fresh = await handshake({ port: srv.port, servername: 'brand-new.test', ca: caPem });
  assert.equal(fresh.authorized, true, fresh.authorizationError);
  assert.equal(svc.certificates().length, before + 1);
  assert.equal(svc.manages('api.test'), true);
  assert.equal(svc.manages('API.test'), true);
  assert.equal(svc.manages('unknown.example.org'), false);
  assert.ok(svc.certificates().every((c) => c.daysLeft >= 6 && /proxykit Local CA/.test(c.issuer)));

  // A restart reuses the CA: same root, certificates still verify against the same ca.pem.
  const log2 = capture();
  const svc2 = createTlsService({ dataDir, logger: log2 });
  t.after(() => svc2.close());
  await svc2.reconcile(config({ internal: true }), ['api.test']);
  assert.equal(svc2.internalCa?.fingerprint, svc.internalCa?.fingerprint);
  assert.ok(!log2.lines.some((l) => l.includes('update-ca-certificates')), 'full instructions only when created');
  assert.ok(log2.lines.some((l) => l.includes('using the local CA')));
});

test('internal leaves renew at two thirds of their lifetime', async (t) => {
  let now = Date.now();
  const svc = createTlsService({ dataDir: await tempDir(t), logger: capture(), now: () => now });
  t.after(() => svc.close());
  await svc.reconcile(config('internal'), ['r.test']);
  const first = svc.store.lookup('r.test')!;
  now += 5 * 24 * 3600 * 1000; // past 2/3 of 7 days
  await svc.reconcile(config('internal'), ['r.test']);
  const second = svc.store.lookup('r.test')!;
  assert.notEqual(second.fingerprint, first.fingerprint, 'reissued when due');
  await svc.reconcile(config('internal'), ['r.test']);
  assert.equal(svc.store.lookup('r.test')!.fingerprint, second.fingerprint, 'not reissued while fresh');
});

class FakeIssuer implements AcmeIssuerLike {
  managed: string[][] = [];
  closed = false;
  challenges = new Map<string, SecureContext>();
  tokens = new Map<string, string>();
  constructor(readonly deps: AcmeIssuerDeps, private readonly certs: Map<string, { certPem: string; keyPem: string }>) {}
  async manage(names: string[]): Promise<void> {
    this.managed.push([...names]);
    for (const n of names) {
      const c = this.certs.get(n);
      if (c) this.deps.onCertificate([n], c.certPem, c.keyPem, { issuer: 'fake' });
    }
  }
  httpChallenge(token: string): string | null {
    return this.tokens.get(token) ?? null;
  }
  alpnChallengeContext(servername: string): SecureContext | null {
    return this.challenges.get(servername) ?? null;
  }
  async onDemand(servername: string): Promise<boolean> {
    if (!(await this.deps.spec.onDemand!.ask(servername))) return false;
    const c = this.certs.get(servername);
    if (!c) return false;
    this.deps.onCertificate([servername], c.certPem, c.keyPem, { issuer: 'fake' });
    return true;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

test('ACME: names handed to the issuer, certificates installed live, non-public names internal, removal', async (t) => {
  const dir = await tempDir(t);
  const ca = await testCa(t);
  const certs = new Map<string, { certPem: string; keyPem: string }>();
  for (const n of ['a.example.com', 'b.example.com', 'ondemand.example.com']) certs.set(n, await ca.issue([n]));
  const issuers: FakeIssuer[] = [];
  const log = capture();
  const svc = createTlsService({
    dataDir: join(dir, 'data'),
    logger: log,
    acmeFactory: (deps) => {
      const f = new FakeIssuer(deps, certs);
      issuers.push(f);
      return f;
    },
  });
  t.after(() => svc.close());
  const asked: string[] = [];
  const acme = (ask: (n: string) => boolean): ConfigSpec =>
    config({ acme: { email: 'ops@example.com', onDemand: { ask: (n) => (asked.push(n), ask(n)) } }, domains: ['b.example.com'] });

  await svc.reconcile(acme(() => false), ['a.example.com', 'localhost', 'A.example.com']);
  assert.equal(issuers.length, 1);
  assert.deepEqual(issuers[0]!.managed.at(-1)!.sort(), ['a.example.com', 'b.example.com']);
  assert.ok(log.lines.some((l) => /certificate for a\.example\.com installed, valid until/.test(l)));
  assert.equal(svc.manages('a.example.com'), true);
  assert.equal(svc.manages('localhost'), true, 'localhost got an internal certificate');
  assert.equal(svc.store.lookup('localhost')?.source, 'internal');

  const srv = await sniServer(t, (n) => svc.sni(n));
  const r = await handshake({ port: srv.port, servername: 'a.example.com', ca: ca.caPem() });
  assert.equal(r.authorized, true, r.authorizationError ?? r.error);

  // On demand: refused by ask → no certificate; a reload that only changes `ask` keeps the issuer.
  assert.equal((await handshake({ port: srv.port, servername: 'ondemand.example.com', ca: ca.caPem() })).ok, false);
  await svc.reconcile(acme((n) => n === 'ondemand.example.com'), ['a.example.com']);
  assert.equal(issuers.length, 1, 'same plain ACME options: same issuer');
  const od = await handshake({ port: srv.port, servername: 'ondemand.example.com', ca: ca.caPem() });
  assert.equal(od.authorized, true, od.authorizationError ?? od.error);
  assert.equal(od.fingerprint, certInfo(certs.get('ondemand.example.com')!.certPem).fingerprint);
  assert.deepEqual(asked, ['ondemand.example.com', 'ondemand.example.com']);
  assert.deepEqual(issuers[0]!.managed.at(-1)!.sort(), ['a.example.com', 'b.example.com'], 'dropped names leave management');

  // TLS-ALPN-01: with the client's ALPN known, only acme-tls/1 clients get the challenge.
  const challengeCtx = tls.createSecureContext(await ca.issue(['c.example.com']).then((c) => ({ cert: c.certPem, key: c.keyPem })));
  issuers[0]!.challenges.set('a.example.com', challengeCtx);
  issuers[0]!.challenges.set('new.example.com', challengeCtx);
  assert.equal(await svc.sni('a.example.com', ['acme-tls/1']), challengeCtx);
  assert.notEqual(await svc.sni('a.example.com', ['h2', 'http/1.1']), challengeCtx);
  assert.notEqual(await svc.sni('a.example.com'), challengeCtx, 'ALPN unknown and a cert exists: the cert');
  assert.equal(await svc.sni('new.example.com'), challengeCtx, 'ALPN unknown and no cert yet: the challenge');
  issuers[0]!.tokens.set('tok', 'tok.thumb');
  assert.equal(svc.httpChallenge('tok'), 'tok.thumb');

  // A changed email makes a new issuer; the old one is closed and its late certificates ignored.
  await svc.reconcile(config({ acme: { email: 'new@example.com' } }), ['a.example.com']);
  assert.equal(issuers.length, 2);
  assert.equal(issuers[0]!.closed, true);
  issuers[0]!.deps.onCertificate(['b.example.com'], certs.get('b.example.com')!.certPem, certs.get('b.example.com')!.keyPem, {});

  // ACME off: the issuer closes and its certificates stop being served.
  await svc.reconcile(config({ certs: [] as never }), []);
  assert.equal(issuers[1]!.closed, true);
  assert.equal(svc.manages('a.example.com'), false);
  assert.equal(svc.store.lookup('a.example.com'), null);
});

test('acme and internal together are refused; qualifiesForPublicCert', async (t) => {
  const svc = createTlsService({ dataDir: await tempDir(t), logger: capture() });
  t.after(() => svc.close());
  await assert.rejects(svc.reconcile(config({ internal: true, acme: { email: 'a@b.co' } }), []), ConfigError);
  for (const n of ['example.com', 'a.example.com', '*.example.com', 'xn--bcher-kva.example.org']) assert.equal(qualifiesForPublicCert(n), true, n);
  for (const n of ['localhost', 'a.localhost', '127.0.0.1', '::1', 'printer.local', 'x.internal', 'nas.home.arpa', 'single', '*.com', 'a.test'])
    assert.equal(qualifiesForPublicCert(n), false, n);
});

test('the real AcmeIssuer is loaded lazily and failures do not throw from reconcile', async (t) => {
  const dir = await tempDir(t);
  const log = capture();
  const svc = createTlsService({ dataDir: dir, logger: log });
  const spec: AcmeSpec = { email: 'ops@example.com', directory: 'https://127.0.0.1:9/directory' };
  await svc.reconcile(config({ acme: spec }), ['a.example.com']);
  assert.equal(await svc.sni('a.example.com'), null, 'no certificate yet, no default');
  assert.equal(svc.manages('a.example.com'), false);
  // The issuer tries in the background and reports the failure in plain words.
  for (let i = 0; i < 100 && !log.lines.some((l) => /^(warn|error) /.test(l)); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(log.lines.some((l) => /^(warn|error) .*a\.example\.com/.test(l)), log.lines.join('\n'));
  await svc.close();
});

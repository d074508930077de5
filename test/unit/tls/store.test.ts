import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { CertStore, certInfo, normalizeName, parseSubjectAltName } from '../../../src/tls/store.js';
import { echo, handshake, sniServer, testCa } from '../../helpers/tls-certs.js';

const DAY = 24 * 3600 * 1000;

test('parseSubjectAltName: DNS and IP entries, quoted values, other types ignored', () => {
  assert.deepEqual(parseSubjectAltName('DNS:a.example.com, DNS:*.Example.com, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1'), [
    'a.example.com',
    '*.example.com',
    '127.0.0.1',
    '::1',
  ]);
  assert.deepEqual(parseSubjectAltName('email:x@y.z, DNS:"weird,name.example", URI:http://x'), ['weird,name.example']);
  assert.deepEqual(parseSubjectAltName(undefined), []);
  assert.equal(normalizeName('WWW.Example.COM.'), 'www.example.com');
  assert.equal(normalizeName('[::1]'), '::1');
});

test('exact, wildcard one label up (never two), case-insensitive, else null', async (t) => {
  const ca = await testCa(t);
  const store = new CertStore();
  const exact = await ca.issue(['a.example.com']);
  const wild = await ca.issue(['*.example.com']);
  store.set(exact.certPem, exact.keyPem, 'file');
  store.set(wild.certPem, wild.keyPem, 'acme');
  const fp = (pem: string): string => new X509Certificate(pem).fingerprint256;

  assert.equal(store.lookup('a.example.com')?.fingerprint, fp(exact.certPem));
  assert.equal(store.lookup('A.EXAMPLE.COM')?.fingerprint, fp(exact.certPem), 'case-insensitive');
  assert.equal(store.lookup('a.example.com.')?.fingerprint, fp(exact.certPem), 'trailing dot');
  assert.equal(store.lookup('b.example.com')?.fingerprint, fp(wild.certPem), 'wildcard one label up');
  assert.equal(store.lookup('B.Example.Com')?.fingerprint, fp(wild.certPem));
  assert.equal(store.lookup('x.b.example.com'), null, 'a wildcard covers one label, not two');
  assert.equal(store.lookup('example.com'), null, '*.example.com does not cover the apex');
  assert.equal(store.lookup('other.test'), null);
  assert.equal(store.lookup(''), null);
  assert.equal(store.contextFor('nope.example.org'), null);
  assert.ok(store.contextFor('b.example.com'));
  // IDNA names arrive as A-labels.
  const idn = await ca.issue(['xn--bcher-kva.example']);
  store.set(idn.certPem, idn.keyPem, 'file');
  assert.ok(store.contextFor('XN--BCHER-KVA.example'));
});

test('set replaces per name within a source; remove(); default() is the first file cert', async (t) => {
  const ca = await testCa(t);
  const store = new CertStore();
  assert.equal(store.default(), null);
  const one = await ca.issue(['a.test', 'b.test']);
  const two = await ca.issue(['a.test']);
  store.set(one.certPem, one.keyPem, 'acme');
  store.set(two.certPem, two.keyPem, 'acme');
  assert.equal(store.lookup('a.test')?.fingerprint, certInfo(two.certPem).fingerprint, 'a.test now has the new cert');
  assert.equal(store.lookup('b.test')?.fingerprint, certInfo(one.certPem).fingerprint, 'b.test keeps the old one');
  assert.equal(store.default(), null, 'ACME certs are not the default');

  const file = CertStore.build(one.certPem, one.keyPem, 'file');
  store.replaceFiles([file]);
  assert.equal(store.default(), file.context);
  store.remove(['a.test']);
  assert.equal(store.lookup('a.test'), null);
  store.remove(['B.test'], 'acme');
  assert.equal(store.lookup('b.test')?.source, 'file', 'only the acme cert for b.test went');
  assert.throws(() => store.set(one.certPem, two.keyPem, 'file'), /does not belong/);
  assert.throws(() => store.set('nonsense', one.keyPem, 'file'), /not a PEM certificate/);
});

test('prefers the newest valid certificate when two sources cover a name', async (t) => {
  let now = Date.now() - DAY;
  const ca = await testCa(t, () => now);
  const store = new CertStore();
  const older = await ca.issue(['n.test']);
  now = Date.now();
  const newer = await ca.issue(['n.test']);
  store.set(newer.certPem, newer.keyPem, 'acme');
  store.set(older.certPem, older.keyPem, 'file');
  assert.equal(store.lookup('n.test')?.fingerprint, certInfo(newer.certPem).fingerprint, 'newest wins over insertion order');

  // An expired certificate loses to a valid older-issued one.
  now = Date.now() - 30 * DAY;
  const expired = await ca.issue(['e.test'], 2 * DAY);
  now = Date.now() - 60 * DAY;
  const valid = await ca.issue(['e.test'], 365 * DAY);
  store.set(expired.certPem, expired.keyPem, 'acme');
  store.set(valid.certPem, valid.keyPem, 'file');
  assert.equal(store.lookup('e.test')?.fingerprint, certInfo(valid.certPem).fingerprint);
});

test('list(): names, notAfter ISO, daysLeft, issuer; soonest expiry first', async (t) => {
  const ca = await testCa(t);
  const store = new CertStore();
  const a = await ca.issue(['a.test', '127.0.0.1'], 3 * DAY);
  const b = await ca.issue(['b.test']);
  store.set(b.certPem, b.keyPem, 'internal');
  store.set(a.certPem, a.keyPem, 'internal');
  const list = store.list();
  assert.equal(list.length, 2);
  assert.deepEqual(list[0]!.names, ['a.test', '127.0.0.1']);
  assert.equal(list[0]!.notAfter, new Date(new X509Certificate(a.certPem).validTo).toISOString());
  assert.ok(list[0]!.daysLeft === 2 || list[0]!.daysLeft === 3, `daysLeft ${list[0]!.daysLeft}`);
  assert.equal(list[1]!.daysLeft, 6);
  assert.match(list[0]!.issuer, /^proxykit Local CA/);
  assert.deepEqual(Object.keys(list[0]!).sort(), ['daysLeft', 'issuer', 'names', 'notAfter'], 'no key material');
});

test('live swap over real TLS: new handshakes get the new cert, open connections keep theirs', async (t) => {
  const ca = await testCa(t);
  const store = new CertStore();
  const first = await ca.issue(['swap.test', '*.wild.test']);
  store.set(first.certPem, first.keyPem, 'acme');
  const srv = await sniServer(t, (name) => store.contextFor(name));

  const a = await handshake({ port: srv.port, servername: 'swap.test', ca: ca.caPem(), keep: true });
  assert.ok(a.ok, a.error);
  assert.equal(a.authorized, true, a.authorizationError);
  assert.equal(a.fingerprint, certInfo(first.certPem).fingerprint);

  const w = await handshake({ port: srv.port, servername: 'X.Wild.Test', ca: ca.caPem() });
  assert.equal(w.authorized, true, w.authorizationError);
  const deep = await handshake({ port: srv.port, servername: 'a.b.wild.test', ca: ca.caPem() });
  assert.equal(deep.ok, false, 'no certificate two labels down: the handshake fails');

  const second = await ca.issue(['swap.test']);
  store.set(second.certPem, second.keyPem, 'acme');
  const b = await handshake({ port: srv.port, servername: 'swap.test', ca: ca.caPem() });
  assert.equal(b.authorized, true, b.authorizationError);
  assert.equal(b.fingerprint, certInfo(second.certPem).fingerprint, 'new handshake, new cert');

  // The connection opened before the swap still works, with the certificate it negotiated.
  assert.equal(await echo(a.socket!, 'still here'), 'still here');
  assert.equal(a.socket!.getPeerCertificate().fingerprint256, certInfo(first.certPem).fingerprint);
  a.socket!.end();
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, stat, writeFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { InternalCa, LEAF_LIFETIME_MS, writeFileAtomic } from '../../../src/tls/internal-ca.js';
import { CertStore } from '../../../src/tls/store.js';
import { handshake, sniServer, tempDir } from '../../helpers/tls-certs.js';

test('created once under <dataDir>/internal (key 0600), reused on restart with the same fingerprint', async (t) => {
  const dataDir = join(await tempDir(t), 'data');
  const ca = await InternalCa.open(dataDir);
  assert.equal(ca.created, true);
  assert.equal(ca.keyPath, join(dataDir, 'internal', 'ca.key'));
  assert.equal(ca.certPath, join(dataDir, 'internal', 'ca.pem'));
  assert.equal((await stat(ca.keyPath)).mode & 0o777, 0o600);
  assert.equal((await stat(join(dataDir, 'internal'))).mode & 0o777, 0o700);
  assert.equal(await readFile(ca.certPath, 'utf8'), ca.caPem());
  assert.deepEqual((await readdir(dataDir)).sort(), ['internal'], 'no temp files left behind');

  const root = new X509Certificate(ca.caPem());
  assert.equal(root.ca, true);
  assert.equal(root.subject, root.issuer, 'self-signed');
  assert.equal(root.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  const years = (Date.parse(root.validTo) - Date.parse(root.validFrom)) / (365 * 24 * 3600 * 1000);
  assert.ok(years > 9.9 && years < 10.1, `root lifetime ${years} years`);

  const again = await InternalCa.open(dataDir);
  assert.equal(again.created, false);
  assert.equal(again.fingerprint, ca.fingerprint);
});

test('two instances starting at once end up with one CA', async (t) => {
  const dataDir = await tempDir(t);
  const [a, b, c] = await Promise.all([InternalCa.open(dataDir), InternalCa.open(dataDir), InternalCa.open(dataDir)]);
  assert.equal(a.fingerprint, b.fingerprint);
  assert.equal(b.fingerprint, c.fingerprint);
  assert.equal([a, b, c].filter((x) => x.created).length, 1, 'exactly one created it');
});

test('a damaged CA is refused, not silently replaced', async (t) => {
  const dataDir = await tempDir(t);
  await InternalCa.open(dataDir);
  const other = await InternalCa.open(await tempDir(t));
  await writeFile(join(dataDir, 'internal', 'ca.pem'), other.caPem());
  await assert.rejects(InternalCa.open(dataDir), /ca\.key does not belong to ca\.pem; move the directory away/);

  const half = await tempDir(t);
  await mkdir(join(half, 'internal'));
  await writeFile(join(half, 'internal', 'ca.pem'), other.caPem());
  await assert.rejects(InternalCa.open(half), /incomplete \(ca\.key is missing\)/);

  // An empty internal/ directory is simply filled.
  const empty = await tempDir(t);
  await mkdir(join(empty, 'internal'));
  assert.equal((await InternalCa.open(empty)).created, true);
});

test('leaf: ECDSA P-256, 7 days, serverAuth, SAN with DNS and IPs, SKI/AKI, signed by the root', async (t) => {
  const ca = await InternalCa.open(await tempDir(t));
  const leaf = await ca.issue(['Localhost', '127.0.0.1', '::1', '*.app.test', 'localhost']);
  const x = new X509Certificate(leaf.certPem);
  const root = new X509Certificate(ca.caPem());
  assert.equal(x.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:*.app.test');
  assert.ok(x.checkIssued(root));
  assert.ok(x.verify(root.publicKey));
  assert.equal(x.ca, false);
  assert.equal(x.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.equal(Date.parse(x.validTo) - Date.parse(x.validFrom), LEAF_LIFETIME_MS);
  assert.equal(leaf.notAfter.getTime(), Date.parse(x.validTo));
  assert.deepEqual(x.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'extended key usage serverAuth');

  const px = new x509.X509Certificate(leaf.certPem);
  const proot = new x509.X509Certificate(ca.caPem());
  const aki = px.getExtension(x509.AuthorityKeyIdentifierExtension);
  const ski = proot.getExtension(x509.SubjectKeyIdentifierExtension);
  assert.ok(aki?.keyId && ski?.keyId);
  assert.equal(aki.keyId, ski.keyId, 'AKI of the leaf is the SKI of the root');
  assert.ok(px.getExtension(x509.SubjectKeyIdentifierExtension));
  assert.equal(px.getExtension(x509.KeyUsagesExtension)?.usages, x509.KeyUsageFlags.digitalSignature);

  await assert.rejects(ca.issue([]), /no names/);
});

test('real handshakes verify against ca.pem: by name, and by IP 127.0.0.1 without SNI', async (t) => {
  const ca = await InternalCa.open(await tempDir(t));
  const leaf = await ca.issue(['localhost', '127.0.0.1', '::1', 'app.test']);
  const store = new CertStore();
  store.set(leaf.certPem, leaf.keyPem, 'internal');
  const srv = await sniServer(t, (name) => store.contextFor(name), { cert: leaf.certPem, key: leaf.keyPem });
  const caPem = await readFile(ca.certPath, 'utf8');

  for (const servername of ['localhost', 'app.test']) {
    const r = await handshake({ port: srv.port, servername, ca: caPem });
    assert.equal(r.authorized, true, `${servername}: ${r.authorizationError ?? r.error}`);
  }
  // No SNI to an IP: node verifies the IP SAN itself (rejectUnauthorized would fail otherwise).
  const byIp = await handshake({ port: srv.port, host: '127.0.0.1', ca: caPem });
  assert.equal(byIp.authorized, true, byIp.authorizationError);
  const { checkServerIdentity, connect } = await import('node:tls');
  assert.equal(checkServerIdentity('127.0.0.1', new X509Certificate(leaf.certPem).toLegacyObject() as never), undefined);
  // Strict client: rejectUnauthorized true, hostname 127.0.0.1.
  await new Promise<void>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: srv.port, ca: caPem }, () => {
      s.end();
      resolve();
    });
    s.on('error', reject);
  });
  // Without the root, the chain is not trusted.
  const untrusted = await handshake({ port: srv.port, servername: 'localhost' });
  assert.equal(untrusted.authorized, false);
});

test('trustInstructions names ca.pem, NODE_EXTRA_CA_CERTS, update-ca-certificates and curl --cacert', async (t) => {
  const ca = await InternalCa.open(await tempDir(t));
  const text = ca.trustInstructions();
  assert.match(text, new RegExp(`NODE_EXTRA_CA_CERTS=${ca.certPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  assert.match(text, /sudo cp .*ca\.pem \/usr\/local\/share\/ca-certificates\/.* && sudo update-ca-certificates/);
  assert.match(text, /curl --cacert .*ca\.pem/);
  assert.ok(text.includes(ca.fingerprint));
});

test('writeFileAtomic: mode, content, replaces in place', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'f.txt');
  await writeFileAtomic(file, 'one', 0o600);
  await writeFileAtomic(file, 'two', 0o600);
  assert.equal(await readFile(file, 'utf8'), 'two');
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.deepEqual(await readdir(dir), ['f.txt']);
});

/**
 * Renewal of a short-lived certificate from a real CA (Pebble, 30 s certificates, ports
 * 21120-21125): the ticker finds it due, a new one is ordered and replaces it, and a TLS server
 * swapping certificates live keeps verifying for a client load running throughout.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { AcmeIssuer, type AcmeEvent } from '../../../src/tls/acme/issuer.js';
import { FileStorage } from '../../../src/tls/acme/storage.js';
import { StorageKeys } from '../../../src/tls/acme/keys.js';
import { createSilentLogger } from '../../../src/observe/logger.js';
import { startPebble, startResponders, verifyTls, type Pebble, type Responders } from '../../helpers/pebble.js';

let pebble: Pebble;
let responders: Responders;
let issuer: AcmeIssuer | null = null;
let dataDir: string;

before(async () => {
  pebble = await startPebble({ basePort: 21120, validitySeconds: 30 });
  responders = await startResponders(pebble, () => issuer);
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'proxykit-acme-renew-'));
});

after(async () => {
  await issuer?.close();
  await responders?.close();
  await pebble?.stop();
  if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
});

test('a short-lived certificate is renewed by the ticker and swapped in live, with no failed handshake', async () => {
  const name = 'renew.localhost';
  let ctx: tls.SecureContext | null = null;
  const certs: Array<{ certPem: string; notBefore: Date; notAfter: Date }> = [];
  const events: AcmeEvent[] = [];
  const eventTimes: number[] = [];
  issuer = new AcmeIssuer({
    spec: { email: 'ops@example.test', directory: pebble.directory, challenges: ['http-01'] },
    storage: new FileStorage(dataDir),
    logger: createSilentLogger(),
    onCertificate(_names, certPem, keyPem, meta) {
      ctx = tls.createSecureContext({ cert: certPem, key: keyPem });
      certs.push({ certPem, notBefore: meta.notBefore, notAfter: meta.notAfter });
    },
    onEvent: (e) => {
      events.push(e);
      eventTimes.push(Date.now());
    },
    // Due in the last 75 % of 30 s: about 7.5 s after issuance. Checked every 250 ms.
    renewalWindowRatio: 0.75,
    renewCheckIntervalMs: 250,
    poll: { minMs: 50, maxMs: 500, attempts: 20 },
  });

  // The "listener": SNI picks whatever certificate is current.
  const srv = tls.createServer({ SNICallback: (_n, cb) => (ctx ? cb(null, ctx) : cb(new Error('no certificate yet'))) }, (s) => s.end('ok'));
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as { port: number }).port;

  try {
    await issuer.manage([name]);
    const deadline = Date.now() + 15_000;
    while (certs.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(certs.length, 1, 'first certificate');
    const first = certs[0]!;
    assert.ok(first.notAfter.getTime() - first.notBefore.getTime() <= 30_000);

    // Bounded load: sequential verified handshakes until the renewal has landed (plus a few).
    let ok = 0;
    const failures: string[] = [];
    const serials = new Set<string>();
    const loadDeadline = Date.now() + 25_000;
    let afterRenewal = 0;
    while (Date.now() < loadDeadline && afterRenewal < 20) {
      try {
        const peer = await verifyTls(port, name, pebble.rootPem);
        serials.add(peer.serialNumber);
        ok++;
      } catch (err) {
        failures.push((err as Error).message);
      }
      if (certs.length >= 2) afterRenewal++;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(certs.length >= 2, `renewed (events: ${events.map((e) => e.type).join(', ')})`);
    assert.deepEqual(failures, [], 'no handshake failed during renewal');
    assert.ok(serials.size >= 2, 'clients saw the old and then the new certificate');
    assert.ok(ok > 20);
    const renewed = certs[1]!;
    assert.notEqual(renewed.certPem, first.certPem);
    assert.ok(renewed.notAfter > first.notAfter);
    const ev = events.find((e): e is Extract<AcmeEvent, { type: 'cert_obtained' }> => e.type === 'cert_obtained' && e.renewal);
    assert.ok(ev, 'a cert_obtained event with renewal: true');
    // The renewal started once the window opened (after 1/4 of the lifetime here), not before.
    const renewStart = eventTimes[events.findIndex((e) => e.type === 'cert_obtaining' && e.renewal)]!;
    const due = first.notBefore.getTime() + 0.25 * (first.notAfter.getTime() - first.notBefore.getTime());
    assert.ok(renewStart >= due - 50, `renewal started ${due - renewStart} ms before it was due`);

    // The stored certificate is the renewed one.
    const stored = await fs.readFile(path.join(dataDir, StorageKeys.siteCert(pebble.directory, name)), 'utf8');
    assert.equal(stored, certs[certs.length - 1]!.certPem);
  } finally {
    await issuer.close();
    issuer = null;
    srv.close();
  }
});

/**
 * ACME issuance against a real CA (Debian's Pebble on loopback, ports 21100-21105): HTTP-01,
 * TLS-ALPN-01, DNS-01 (wildcard), chain verification against Pebble's root, restart without
 * re-ordering, failed challenges (classified, retried, old certificate kept), an unreachable CA,
 * and two issuers sharing one data directory ordering once.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { AcmeIssuer, type AcmeEvent, type AcmeIssuerOptions, type CertificateMeta } from '../../../src/tls/acme/issuer.js';
import { FileStorage } from '../../../src/tls/acme/storage.js';
import { StorageKeys } from '../../../src/tls/acme/keys.js';
import type { AcmeSpec } from '../../../src/config/spec.js';
import type { Logger, LogFields } from '../../../src/observe/logger.js';
import { startPebble, startResponders, verifyTls, type Pebble, type Responders } from '../../helpers/pebble.js';

interface Line {
  level: string;
  msg: string;
  fields?: LogFields;
}

function captureLogger(): Logger & { lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (msg: string, fields?: LogFields) => void lines.push({ level, msg, fields });
  return { lines, debug: () => {}, info: at('info'), warn: at('warn'), error: at('error'), access: () => {}, accessEnabled: false };
}

interface Installed {
  names: string[];
  certPem: string;
  keyPem: string;
  meta: CertificateMeta;
}

/** An issuer plus what it installed and emitted. */
function makeIssuer(pebble: Pebble, dataDir: string, spec: Partial<AcmeSpec> = {}, extra: Partial<AcmeIssuerOptions> = {}) {
  const installed: Installed[] = [];
  const events: AcmeEvent[] = [];
  const logger = captureLogger();
  const waiters: Array<() => void> = [];
  const issuer = new AcmeIssuer({
    spec: { email: 'ops@example.test', directory: pebble.directory, ...spec },
    storage: new FileStorage(dataDir),
    logger,
    onCertificate(names, certPem, keyPem, meta) {
      installed.push({ names, certPem, keyPem, meta });
      waiters.splice(0).forEach((w) => w());
    },
    onEvent: (e) => {
      events.push(e);
      waiters.splice(0).forEach((w) => w());
    },
    poll: { minMs: 50, maxMs: 500, attempts: 20 },
    ...extra,
  });
  /** Resolves once `pred` holds (checked after every install/event), or fails after `ms`. */
  const until = async (pred: () => boolean, ms = 15_000, what = 'condition'): Promise<void> => {
    const deadline = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}; log:\n${logger.lines.map((l) => `${l.level} ${l.msg}`).join('\n')}`);
      }
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 100).unref();
      });
    }
  };
  return { issuer, installed, events, logger, until };
}

/** Serves `certPem`/`keyPem` on an ephemeral port and verifies it like a client trusting only Pebble's root. */
async function serveAndVerify(pebble: Pebble, name: string, certPem: string, keyPem: string): Promise<tls.PeerCertificate> {
  const srv = tls.createServer({ cert: certPem, key: keyPem }, (s) => s.end());
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  try {
    return await verifyTls((srv.address() as { port: number }).port, name, pebble.rootPem);
  } finally {
    srv.close();
  }
}

let pebble: Pebble;
let responders: Responders;
/** The issuer whose challenges the responders answer. */
let current: AcmeIssuer | null = null;
let dataDir: string;

before(async () => {
  pebble = await startPebble({ basePort: 21100, validitySeconds: 300 });
  responders = await startResponders(pebble, () => current);
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'proxykit-acme-'));
});

after(async () => {
  await current?.close();
  await responders?.close();
  await pebble?.stop();
  if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
});

describe('ACME issuance against Pebble', () => {
  test('HTTP-01: issues, stores (0600 secrets, 0700 dirs) and the chain verifies against Pebble’s root', async () => {
    const t = makeIssuer(pebble, dataDir, { challenges: ['http-01'] });
    current = t.issuer;
    const orders0 = await pebble.orderCount();
    await t.issuer.manage(['web.localhost']);
    await t.until(() => t.installed.length === 1, 15_000, 'certificate');
    const c = t.installed[0]!;
    assert.deepEqual(c.names, ['web.localhost']);
    assert.match(c.meta.issuer, /Pebble Intermediate CA/);
    assert.ok(c.meta.notAfter.getTime() - c.meta.notBefore.getTime() <= 300_000);
    assert.match(c.keyPem, /BEGIN PRIVATE KEY/);
    assert.equal((await import('node:crypto')).createPrivateKey(c.keyPem).asymmetricKeyType, 'ec');
    assert.ok(responders.httpHits.filter((h) => h === 'web.localhost').length >= 1, 'Pebble fetched the HTTP-01 token from us');
    assert.equal((await pebble.orderCount()) - orders0, 1);

    const peer = await serveAndVerify(pebble, 'web.localhost', c.certPem, c.keyPem);
    assert.match(peer.subjectaltname ?? '', /DNS:web\.localhost/);
    // A client without Pebble's root does not trust it.
    await assert.rejects(serveAndVerify({ ...pebble, rootPem: pebble.listenerCaPem }, 'web.localhost', c.certPem, c.keyPem));

    const mode = async (p: string) => (await fs.stat(path.join(dataDir, p))).mode & 0o777;
    assert.equal(await mode(StorageKeys.sitePrivateKey(pebble.directory, 'web.localhost')), 0o600);
    assert.equal(await mode(StorageKeys.account(pebble.directory, 'ops@example.test')), 0o600);
    assert.equal(await mode(StorageKeys.siteDir(pebble.directory, 'web.localhost')), 0o700);
    assert.equal(await mode('certificates'), 0o700);
    const meta = JSON.parse(await fs.readFile(path.join(dataDir, StorageKeys.siteMeta(pebble.directory, 'web.localhost')), 'utf8'));
    assert.deepEqual(meta.names, ['web.localhost']);
    assert.equal(t.issuer.httpChallenge('anything'), null, 'no token left once the order is done');
    await t.issuer.close();
    current = null;
  });

  test('TLS-ALPN-01: the challenge context is served during the order, the cert verifies', async () => {
    const t = makeIssuer(pebble, dataDir, { challenges: ['tls-alpn-01'] });
    current = t.issuer;
    await t.issuer.manage(['alpn.localhost']);
    await t.until(() => t.installed.length === 1, 15_000, 'certificate');
    assert.ok(responders.alpnHits.includes('alpn.localhost'), 'Pebble validated over TLS-ALPN-01');
    assert.equal(t.issuer.alpnChallengeContext('alpn.localhost'), null, 'challenge context withdrawn after the order');
    const c = t.installed[0]!;
    const peer = await serveAndVerify(pebble, 'alpn.localhost', c.certPem, c.keyPem);
    assert.match(peer.subjectaltname ?? '', /DNS:alpn\.localhost/);
    await t.issuer.close();
    current = null;
  });

  test('restart: a new issuer on the same data dir installs the stored cert and orders nothing', async () => {
    const orders0 = await pebble.orderCount();
    const t = makeIssuer(pebble, dataDir, { challenges: ['http-01'] });
    current = t.issuer;
    await t.issuer.manage(['web.localhost', 'alpn.localhost']);
    // Installed before manage() resolved.
    assert.deepEqual(t.installed.map((c) => c.names[0]).sort(), ['alpn.localhost', 'web.localhost']);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await pebble.orderCount()) - orders0, 0);
    assert.equal(t.events.filter((e) => e.type === 'order_created' || e.type === 'account_registered').length, 0);
    assert.equal(t.events.filter((e) => e.type === 'cert_loaded').length, 2);
    // manage() takes the whole set: a name left out is no longer managed.
    await t.issuer.manage(['web.localhost']);
    assert.equal(t.issuer.has('alpn.localhost'), false);
    assert.equal(t.issuer.has('web.localhost'), true);
    await t.issuer.close();
    current = null;
  });

  test('failed challenge: classified error logged, nothing installed, retry scheduled', async () => {
    responders.sabotage.add('bad.localhost');
    try {
      const t = makeIssuer(pebble, dataDir, { challenges: ['http-01'] }, { retryIntervalsMs: [300, 600] });
      current = t.issuer;
      await t.issuer.manage(['bad.localhost']);
      await t.until(() => t.events.filter((e) => e.type === 'cert_failed').length >= 2, 15_000, 'two failed attempts');
      assert.equal(t.installed.length, 0);
      const fails = t.events.filter((e): e is Extract<AcmeEvent, { type: 'cert_failed' }> => e.type === 'cert_failed');
      assert.equal(fails[0]!.failure.kind, 'challenge');
      assert.deepEqual(fails.slice(0, 2).map((f) => f.attempt), [1, 2], 'the retry ran');
      assert.ok(fails[0]!.retryAt instanceof Date);
      const line = t.logger.lines.find((l) => l.level === 'error' && l.msg.includes('bad.localhost'));
      assert.ok(line, 'an error was logged');
      assert.match(line.msg, /could not obtain certificate for bad\.localhost \[challenge\]: http-01 challenge for bad\.localhost failed: .+; retrying in 300 ms/);
      assert.match(line.msg, /urn:ietf:params:acme:error:unauthorized|incorrectResponse/);
      assert.equal(line.fields?.kind, 'challenge');
      assert.equal(t.issuer.status()[0]!.lastError?.kind, 'challenge');
      assert.equal(t.issuer.httpChallenge('x'), null);
      await t.issuer.close();
      current = null;
    } finally {
      responders.sabotage.delete('bad.localhost');
    }
  });

  test('failed renewal keeps serving the current certificate', async () => {
    responders.sabotage.add('web.localhost');
    try {
      // Ratio 1: every certificate is due, so the stored one is installed and renewed at once.
      // A new account: Pebble reuses the first account's valid authorization for web.localhost
      // 1 % of the time even with PEBBLE_AUTHZREUSE=0 (`rand.Intn(100) > 0`), skipping the challenge.
      const t = makeIssuer(pebble, dataDir, { challenges: ['http-01'], email: 'renewal-fails@example.test' }, { renewalWindowRatio: 1, retryIntervalsMs: [60_000] });
      current = t.issuer;
      await t.issuer.manage(['web.localhost']);
      assert.equal(t.installed.length, 1, 'the stored certificate is served right away');
      await t.until(() => t.events.some((e) => e.type === 'cert_failed'), 15_000, 'failed renewal');
      const line = t.logger.lines.find((l) => l.level === 'error')!;
      assert.match(line.msg, /could not renew certificate for web\.localhost \[challenge\].*still serving the current certificate \(expires .*\); retrying in 1 min/);
      assert.equal(t.installed.length, 1, 'nothing replaced it');
      assert.ok(t.issuer.status()[0]!.notAfter, 'status still shows the served certificate');
      await t.issuer.close();
      current = null;
    } finally {
      responders.sabotage.delete('web.localhost');
    }
  });

  test('wildcard without a DNS provider: clear error, no order, no retry', async () => {
    const orders0 = await pebble.orderCount();
    const t = makeIssuer(pebble, dataDir, {});
    await t.issuer.manage(['*.nodns.localhost']);
    await t.until(() => t.events.some((e) => e.type === 'cert_failed'), 5000, 'failure');
    const line = t.logger.lines.find((l) => l.level === 'error')!;
    assert.match(line.msg, /\*\.nodns\.localhost is a wildcard name, which ACME only validates with the DNS-01 challenge: configure a DNS provider \(tls\.acme\.dns\); not retrying/);
    assert.equal((await pebble.orderCount()) - orders0, 0);
    await t.issuer.close();
  });

  test('DNS-01 through the config’s provider issues a wildcard certificate', async () => {
    const published: string[] = [];
    const dns = {
      set: async (name: string, value: string) => {
        published.push(name);
        await pebble.setTxt(`_acme-challenge.${name}.`, value);
      },
      remove: async (name: string) => pebble.clearTxt(`_acme-challenge.${name}.`),
    };
    const t = makeIssuer(pebble, dataDir, { dns });
    await t.issuer.manage(['*.wild.localhost']);
    await t.until(() => t.installed.length === 1, 15_000, 'wildcard certificate');
    assert.deepEqual(published, ['wild.localhost']);
    const c = t.installed[0]!;
    const peer = await serveAndVerify(pebble, 'a.wild.localhost', c.certPem, c.keyPem);
    assert.match(peer.subjectaltname ?? '', /DNS:\*\.wild\.localhost/);
    assert.ok(await fs.stat(path.join(dataDir, StorageKeys.siteCert(pebble.directory, '*.wild.localhost'))));
    assert.match(StorageKeys.siteCert(pebble.directory, '*.wild.localhost'), /wildcard_\.wild\.localhost\/cert\.pem$/);
    await t.issuer.close();
  });

  test('two issuers sharing a data directory order the certificate once', async () => {
    const orders0 = await pebble.orderCount();
    const a = makeIssuer(pebble, dataDir, { challenges: ['http-01'] });
    const b = makeIssuer(pebble, dataDir, { challenges: ['http-01'] });
    // Both answer challenges (whichever is ordering).
    current = {
      httpChallenge: (tok: string) => a.issuer.httpChallenge(tok) ?? b.issuer.httpChallenge(tok),
      alpnChallengeContext: () => null,
    } as unknown as AcmeIssuer;
    await Promise.all([a.issuer.manage(['shared.localhost']), b.issuer.manage(['shared.localhost'])]);
    await a.until(() => a.installed.length === 1, 15_000, 'a installed');
    await b.until(() => b.installed.length === 1, 15_000, 'b installed');
    assert.equal(a.installed[0]!.certPem, b.installed[0]!.certPem, 'the same certificate');
    assert.equal((await pebble.orderCount()) - orders0, 1, 'one order at the CA');
    assert.equal([...a.events, ...b.events].filter((e) => e.type === 'order_created').length, 1);
    await Promise.all([a.issuer.close(), b.issuer.close()]);
    current = null;
  });

  test('unreachable CA: classified as ca-unreachable, retried', async () => {
    const dir2 = await fs.mkdtemp(path.join(os.tmpdir(), 'proxykit-acme-'));
    try {
      const t = makeIssuer({ ...pebble, directory: 'https://127.0.0.1:21199/dir' }, dir2, {}, { retryIntervalsMs: [60_000] });
      await t.issuer.manage(['down.localhost']);
      await t.until(() => t.events.some((e) => e.type === 'cert_failed'), 5000, 'failure');
      const line = t.logger.lines.find((l) => l.level === 'error')!;
      assert.match(line.msg, /could not obtain certificate for down\.localhost \[ca-unreachable\]: CA unreachable: .*ECONNREFUSED.*; retrying in 1 min/);
      await t.issuer.close();
    } finally {
      await fs.rm(dir2, { recursive: true, force: true });
    }
  });

  test('a CA that forgot the account (Pebble restarted): the stored key is registered again, the order goes through', async () => {
    await pebble.stop();
    pebble = await startPebble({ basePort: 21100, validitySeconds: 300 });
    const t = makeIssuer(pebble, dataDir, { challenges: ['http-01'] });
    current = t.issuer;
    const keyBefore = JSON.parse(await fs.readFile(path.join(dataDir, StorageKeys.account(pebble.directory, 'ops@example.test')), 'utf8')).keyPem;
    await t.issuer.manage(['again.localhost']);
    await t.until(() => t.installed.length === 1, 15_000, 'certificate after re-registration');
    assert.ok(t.logger.lines.some((l) => l.level === 'warn' && /does not know the stored ACME account/.test(l.msg)));
    const acct = JSON.parse(await fs.readFile(path.join(dataDir, StorageKeys.account(pebble.directory, 'ops@example.test')), 'utf8'));
    assert.equal(acct.keyPem, keyBefore, 'same account key');
    assert.ok(acct.url);
    await serveAndVerify(pebble, 'again.localhost', t.installed[0]!.certPem, t.installed[0]!.keyPem);
    await t.issuer.close();
    current = null;
  });
});

/**
 * ACME Renewal Information (RFC 9773) with a real CA: Debian's Pebble 2.4.0 (ports 21160-21165,
 * 60 s certificates) has no `renewalInfo` in its directory, so:
 *
 * 1. against Pebble itself, the issuer notices there is no ARI and renews by the lifetime rule
 *    (the fallback), sending no `replaces`;
 * 2. through a small fake directory (Pebble's, plus `renewalInfo` pointing at a fake endpoint,
 *    as acme-testing.md suggests), the issuer asks about each new certificate by its RFC 9773
 *    identifier, renews inside the suggested window (here long before the lifetime rule would),
 *    names the replaced certificate in the renewal order, and Pebble issues it;
 * 3. a failing or invalid renewalInfo answer is logged and the lifetime rule applies.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import acme from 'acme-client';
import { AcmeIssuer, type CertificateMeta } from '../../../src/tls/acme/issuer.js';
import { ariCertId } from '../../../src/tls/acme/ari.js';
import { renewalTime } from '../../../src/tls/acme/renewal.js';
import { FileStorage } from '../../../src/tls/acme/storage.js';
import { recordingLogger } from '../../helpers/recording-logger.js';
import { startPebble, startResponders, type Pebble, type Responders } from '../../helpers/pebble.js';


interface Installed {
  name: string;
  certPem: string;
  meta: CertificateMeta;
  at: number;
}

let pebble: Pebble;
let responders: Responders;
let current: AcmeIssuer | null = null;
const dirs: string[] = [];

/** newOrder payloads sent to Pebble (decoded from the JWS), to see `replaces`. */
const orders: Array<{ identifiers: Array<{ value: string }>; replaces?: string }> = [];
let interceptor = -1;

/** The fake ARI side: Pebble's directory plus `renewalInfo`, and the renewalInfo endpoint. */
let fake: http.Server;
let fakeDirectory = '';
const ariRequests: string[] = [];
let respond: (certId: string) => { status: number; body?: unknown; retryAfter?: string } = () => ({ status: 404 });

function getJson(url: string, ca: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        let b = '';
        res.on('data', (d) => (b += d));
        res.on('end', () => resolve(JSON.parse(b) as Record<string, unknown>));
      })
      .on('error', reject);
  });
}

async function tempDir(): Promise<string> {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), 'proxykit-acme-ari-'));
  dirs.push(d);
  return d;
}

function makeIssuer(directory: string, dataDir: string, extra: Partial<ConstructorParameters<typeof AcmeIssuer>[0]> = {}) {
  const installed: Installed[] = [];
  const log = recordingLogger();
  const issuer = new AcmeIssuer({
    spec: { email: 'ari@example.test', directory, challenges: ['http-01'] },
    storage: new FileStorage(dataDir),
    logger: log,
    onCertificate: (names, certPem, _keyPem, meta) => void installed.push({ name: names[0]!, certPem, meta, at: Date.now() }),
    poll: { minMs: 50, maxMs: 500, attempts: 20 },
    ...extra,
  });
  current = issuer;
  const until = async (pred: () => boolean, ms: number, what: string): Promise<void> => {
    const deadline = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; log:\n${log.dump()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { issuer, installed, log, until };
}

before(async () => {
  pebble = await startPebble({ basePort: 21160, validitySeconds: 60 });
  responders = await startResponders(pebble, () => current);
  interceptor = acme.axios.interceptors.request.use((cfg) => {
    if (cfg.method === 'post' && String(cfg.url).endsWith('/order-plz')) {
      const jws = (typeof cfg.data === 'string' ? JSON.parse(cfg.data) : cfg.data) as { payload: string };
      orders.push(JSON.parse(Buffer.from(jws.payload, 'base64url').toString('utf8')));
    }
    return cfg;
  });
  fake = http.createServer((req, res) => {
    void (async () => {
      if (req.url === '/dir') {
        const dir = await getJson(pebble.directory, pebble.listenerCaPem);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ...dir, renewalInfo: `${fakeDirectory.replace(/\/dir$/, '')}/ari` }));
        return;
      }
      const m = /^\/ari\/([^/]+)$/.exec(req.url ?? '');
      if (!m) return void res.writeHead(404).end();
      ariRequests.push(m[1]!);
      const a = respond(m[1]!);
      res.writeHead(a.status, { 'content-type': 'application/json', ...(a.retryAfter ? { 'retry-after': a.retryAfter } : {}) });
      res.end(a.body === undefined ? '' : typeof a.body === 'string' ? a.body : JSON.stringify(a.body));
    })().catch((err: unknown) => res.writeHead(500).end(String(err)));
  });
  fake.listen(0, '127.0.0.1');
  await once(fake, 'listening');
  fakeDirectory = `http://127.0.0.1:${(fake.address() as { port: number }).port}/dir`;
});

after(async () => {
  await current?.close();
  if (interceptor >= 0) acme.axios.interceptors.request.eject(interceptor);
  fake?.close();
  await responders?.close();
  await pebble?.stop();
  await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
});

describe('ARI (RFC 9773)', () => {
  test('Pebble 2.4.0 has no renewalInfo: the lifetime rule renews, no `replaces` is sent', { timeout: 60_000 }, async () => {
    const name = 'fallback.localhost';
    const dir = await getJson(pebble.directory, pebble.listenerCaPem);
    assert.equal(dir.renewalInfo, undefined, 'Debian’s Pebble 2.4.0 directory has no renewalInfo');
    // Due in the last 75 % of 60 s (15 s after issuance), checked every 250 ms.
    const t = makeIssuer(pebble.directory, await tempDir(), { renewalWindowRatio: 0.75, renewCheckIntervalMs: 250 });
    try {
      await t.issuer.manage([name]);
      await t.until(() => t.installed.length === 1, 15_000, 'the first certificate');
      await t.until(() => t.log.lines.some((l) => l.level === 'debug' && /offers no renewal information/.test(l.msg)), 5000, 'the directory check');
      const first = t.installed[0]!;
      const st = t.issuer.status()[0]!;
      assert.equal(st.renewalSource, 'lifetime');
      assert.equal(st.renewAt?.getTime(), Math.trunc(renewalTime(first.meta.notBefore, first.meta.notAfter, 0.75)));
      assert.equal(st.ariWindow, undefined);

      await t.until(() => t.installed.length >= 2, 30_000, 'the renewal by the lifetime rule');
      const due = renewalTime(first.meta.notBefore, first.meta.notAfter, 0.75);
      assert.ok(t.installed[1]!.at >= due, `renewed ${due - t.installed[1]!.at} ms before the lifetime rule said`);
      const mine = orders.filter((o) => o.identifiers.some((i) => i.value === name));
      assert.equal(mine.length, 2);
      assert.ok(mine.every((o) => !('replaces' in o)), 'no replaces without ARI');
      assert.ok(!t.log.lines.some((l) => l.level === 'warn' || l.level === 'error'), t.log.dump());
    } finally {
      await t.issuer.close();
      current = null;
    }
  });

  test('with renewalInfo: asked by certificate id, renewed in the suggested window with `replaces`', { timeout: 60_000 }, async () => {
    const name = 'ari.localhost';
    const firstSeen = new Map<string, number>();
    // The first certificate: renew 6-8 s after it was asked about (the lifetime rule: 40 s).
    // Later ones: a window near the end of their life, and no further renewal in this test.
    respond = (id) => {
      const seen = firstSeen.get(id) ?? Date.now();
      firstSeen.set(id, seen);
      const first = firstSeen.size === 1;
      const start = seen + (first ? 6000 : 45_000);
      return {
        status: 200,
        retryAfter: '3600',
        body: { suggestedWindow: { start: new Date(start).toISOString(), end: new Date(start + (first ? 2000 : 5000)).toISOString() }, explanationURL: 'https://ca.example/why' },
      };
    };
    ariRequests.length = 0;
    const t = makeIssuer(fakeDirectory, await tempDir());
    try {
      await t.issuer.manage([name]);
      await t.until(() => t.installed.length === 1, 15_000, 'the first certificate');
      const first = t.installed[0]!;
      const firstId = ariCertId(first.certPem)!;
      assert.ok(firstId);
      await t.until(() => t.issuer.status()[0]?.renewalSource === 'ari', 5000, 'the renewal information');
      assert.deepEqual(ariRequests, [firstId], 'asked once, right after issuance, by the RFC 9773 id');
      const st = t.issuer.status()[0]!;
      const askedAt = firstSeen.get(firstId)!;
      assert.ok(st.renewAt!.getTime() >= askedAt + 6000 && st.renewAt!.getTime() < askedAt + 8000, 'a time inside the window');
      assert.deepEqual(st.ariWindow, { start: new Date(askedAt + 6000), end: new Date(askedAt + 8000) });
      assert.ok(t.log.lines.some((l) => l.level === 'info' && l.msg.startsWith(`renewal window for ${name} from the CA`)), t.log.dump());

      // The renewal comes from the window (the lifetime rule would wait until 40 s).
      await t.until(() => t.installed.length >= 2, 20_000, 'the renewal in the ARI window');
      const renewedAt = t.installed[1]!.at;
      assert.ok(renewedAt >= st.renewAt!.getTime(), 'not before the chosen time');
      assert.ok(renewedAt < renewalTime(first.meta.notBefore, first.meta.notAfter), 'well before the lifetime rule');
      const mine = orders.filter((o) => o.identifiers.some((i) => i.value === name));
      assert.equal(mine.length, 2);
      assert.equal(mine[0]!.replaces, undefined, 'a first issuance replaces nothing');
      assert.equal(mine[1]!.replaces, firstId, 'the renewal names the certificate it replaces');

      // The new certificate is asked about at once; its window is later: nothing more happens.
      const secondId = ariCertId(t.installed[1]!.certPem)!;
      await t.until(() => ariRequests.includes(secondId), 5000, 'renewal information for the new certificate');
      await t.until(() => t.issuer.status()[0]?.ariWindow?.start.getTime() === firstSeen.get(secondId)! + 45_000, 5000, 'the new window');
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(t.installed.length, 2);
      assert.ok(!t.log.lines.some((l) => l.level === 'warn' || l.level === 'error'), t.log.dump());
    } finally {
      await t.issuer.close();
      current = null;
    }
  });

  test('renewalInfo failing (HTTP 500) or invalid (end before start): logged, the lifetime rule applies', { timeout: 30_000 }, async () => {
    const seen: string[] = [];
    respond = (id) => {
      if (!seen.includes(id)) seen.push(id);
      return seen.indexOf(id) === 0
        ? { status: 500, body: { type: 'urn:ietf:params:acme:error:serverInternal' } }
        : { status: 200, body: { suggestedWindow: { start: '2030-01-02T00:00:00Z', end: '2030-01-01T00:00:00Z' } } };
    };
    const t = makeIssuer(fakeDirectory, await tempDir());
    try {
      await t.issuer.manage(['err1.localhost', 'err2.localhost']);
      await t.until(() => t.installed.length === 2, 20_000, 'both certificates');
      await t.until(() => t.log.lines.filter((l) => l.level === 'warn' && /could not get renewal information/.test(l.msg)).length === 2, 5000, 'two warnings');
      const warns = t.log.lines.filter((l) => l.level === 'warn').map((l) => l.msg);
      assert.ok(warns.some((w) => /HTTP 500; renewing by its lifetime/.test(w)), warns.join('\n'));
      assert.ok(warns.some((w) => /no valid suggestedWindow; renewing by its lifetime/.test(w)), warns.join('\n'));
      for (const st of t.issuer.status()) {
        const c = t.installed.find((i) => i.name === st.name)!;
        assert.equal(st.renewalSource, 'lifetime', st.name);
        assert.equal(st.renewAt?.getTime(), Math.trunc(renewalTime(c.meta.notBefore, c.meta.notAfter)), st.name);
        assert.equal(st.ariWindow, undefined);
      }
      assert.ok(!t.log.lines.some((l) => l.level === 'error'), t.log.dump());
    } finally {
      await t.issuer.close();
      current = null;
    }
  });
});

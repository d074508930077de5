import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test, type TestContext } from 'node:test';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { OCSPRequest } from '@peculiar/asn1-ocsp';
import * as x509 from '@peculiar/x509';
import { request } from 'undici';
import type { Logger, LogFields } from '../../../src/observe/logger.js';
import { buildOcspRequest, checkOcspResponse, OcspStapler, splitChain } from '../../../src/tls/ocsp.js';
import { certInfo } from '../../../src/tls/store.js';
import { makeTestPki, startOcspResponder, type OcspResponder, type TestPki } from '../../helpers/ocsp-responder.js';

interface Captured extends Logger {
  lines: { level: string; msg: string; fields?: LogFields }[];
}
function captureLogger(): Captured {
  const lines: Captured['lines'] = [];
  const at = (level: string) => (msg: string, fields?: LogFields) => void lines.push({ level, msg, ...(fields ? { fields } : {}) });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), access: () => {}, accessEnabled: false };
}
const warnsOf = (l: Captured) => l.lines.filter((x) => x.level === 'warn');

async function setup(t: TestContext): Promise<{ pki: TestPki; responder: OcspResponder }> {
  const responder = await startOcspResponder(t);
  const pki = await makeTestPki({ ocspUrl: responder.url });
  responder.setPki(pki);
  return { pki, responder };
}

/** The raw DER OCSP response the responder gives for the leaf right now. */
async function fetchRaw(responder: OcspResponder, certDer: Buffer, issuerDer: Buffer): Promise<Buffer> {
  const res = await request(responder.url, {
    method: 'POST',
    headers: { 'content-type': 'application/ocsp-request' },
    body: buildOcspRequest(certDer, issuerDer),
  });
  return Buffer.from(await res.body.arrayBuffer());
}

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('splitChain', () => {
  test('splits a bundle into PEM blocks, leaf first, ignoring text around them', async (t) => {
    const { pki } = await setup(t);
    assert.deepEqual(splitChain(''), []);
    const one = splitChain(pki.leaf.certPem);
    assert.equal(one.length, 1);
    const chain = splitChain(`subject=whatever\n${pki.leaf.chainPem}\n# trailing`);
    assert.equal(chain.length, 2);
    assert.equal(new x509.X509Certificate(chain[0]!).serialNumber.toLowerCase(), pki.leaf.serial);
    assert.equal(new x509.X509Certificate(chain[1]!).subject, 'CN=proxykit OCSP test CA');
  });
});

describe('OCSP request and response checks', () => {
  test('the leaf carries the OCSP URL that the store reads from its AIA', async (t) => {
    const { pki, responder } = await setup(t);
    assert.equal(certInfo(pki.leaf.certPem).ocspUrl, responder.url);
    assert.equal(certInfo(pki.plainLeaf.certPem).ocspUrl, null);
  });

  test('the request has an RFC 6960 CertID: SHA-1 of the issuer name and key, and the serial', async (t) => {
    const { pki } = await setup(t);
    const req = AsnConvert.parse(buildOcspRequest(pki.leaf.der, pki.caDer), OCSPRequest);
    assert.equal(req.tbsRequest.requestList.length, 1);
    const id = req.tbsRequest.requestList[0]!.reqCert;
    assert.equal(id.hashAlgorithm.algorithm, '1.3.14.3.2.26');
    const ca = new x509.X509Certificate(new Uint8Array(pki.caDer));
    const caAsn = AsnConvert.parse(pki.caDer, Certificate);
    const sha1 = (b: ArrayBuffer | Uint8Array) => createHash('sha1').update(new Uint8Array(b)).digest('hex');
    assert.equal(Buffer.from(id.issuerNameHash.buffer).toString('hex'), sha1(ca.subjectName.toArrayBuffer()));
    assert.equal(Buffer.from(id.issuerKeyHash.buffer).toString('hex'), sha1(caAsn.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey));
    assert.equal(Buffer.from(id.serialNumber).toString('hex'), pki.leaf.serial);
  });

  test('good, revoked and unknown statuses are reported with their validity', async (t) => {
    const { pki, responder } = await setup(t);
    const good = checkOcspResponse(await fetchRaw(responder, pki.leaf.der, pki.caDer), pki.leaf.der, pki.caDer);
    assert.equal(good.status, 'good');
    assert.equal(good.signer, 'issuer');
    assert.ok(good.thisUpdate.getTime() <= Date.now());
    assert.ok(good.nextUpdate && good.nextUpdate.getTime() > Date.now());

    responder.statuses.set(pki.leaf.serial, 'revoked');
    const revoked = checkOcspResponse(await fetchRaw(responder, pki.leaf.der, pki.caDer), pki.leaf.der, pki.caDer);
    assert.equal(revoked.status, 'revoked');
    assert.ok(revoked.revocationTime instanceof Date);

    responder.statuses.set(pki.leaf.serial, 'unknown');
    const unknown = checkOcspResponse(await fetchRaw(responder, pki.leaf.der, pki.caDer), pki.leaf.der, pki.caDer);
    assert.equal(unknown.status, 'unknown');
  });

  test('a bad signature, another certificate, another issuer or an error status are refused', async (t) => {
    const { pki, responder } = await setup(t);
    const raw = await fetchRaw(responder, pki.leaf.der, pki.caDer);
    // CertID of another certificate.
    assert.throws(() => checkOcspResponse(raw, pki.plainLeaf.der, pki.caDer), /CertID mismatch/);
    // Same serial and names from an unrelated CA: the issuer key hash differs.
    const other = await makeTestPki({ ocspUrl: responder.url });
    assert.throws(() => checkOcspResponse(raw, other.leaf.der, other.caDer), /CertID mismatch/);

    responder.mode = 'badSignature';
    const bad = await fetchRaw(responder, pki.leaf.der, pki.caDer);
    assert.throws(() => checkOcspResponse(bad, pki.leaf.der, pki.caDer), /signature does not verify/);

    responder.mode = 'tryLater';
    const later = await fetchRaw(responder, pki.leaf.der, pki.caDer);
    assert.throws(() => checkOcspResponse(later, pki.leaf.der, pki.caDer), /tryLater/);
  });

  test('a delegated responder must be issued by the issuer and have id-kp-OCSPSigning', async (t) => {
    const { pki, responder } = await setup(t);
    responder.delegated = true;
    const ok = checkOcspResponse(await fetchRaw(responder, pki.leaf.der, pki.caDer), pki.leaf.der, pki.caDer);
    assert.equal(ok.signer, 'delegated');
    // A server certificate of the same CA (no OCSPSigning EKU) signing responses: refused.
    const serverCert = await pki.issue({ serial: '0e55' });
    responder.setPki({ ...pki, delegated: serverCert });
    assert.throws(() => checkOcspResponse(Buffer.alloc(0), pki.leaf.der, pki.caDer));
    const raw = await fetchRaw(responder, pki.leaf.der, pki.caDer);
    assert.throws(() => checkOcspResponse(raw, pki.leaf.der, pki.caDer), /signature does not verify/);
    // An OCSPSigning certificate from another CA: refused.
    const other = await makeTestPki({ ocspUrl: responder.url });
    responder.setPki({ ...pki, delegated: other.delegated });
    const raw2 = await fetchRaw(responder, pki.leaf.der, pki.caDer);
    assert.throws(() => checkOcspResponse(raw2, pki.leaf.der, pki.caDer), /signature does not verify/);
  });
});

describe('OcspStapler', () => {
  test('no OCSP URL: null, no network, no log', async (t) => {
    const { pki } = await setup(t);
    const logger = captureLogger();
    let calls = 0;
    const fetch = (() => {
      calls++;
      throw new Error('no network expected');
    }) as unknown as typeof request;
    const stapler = new OcspStapler({ logger, fetch });
    await stapler.prefetch({ certPem: pki.plainLeaf.chainPem, ocspUrl: null });
    assert.equal(stapler.responseFor(pki.plainLeaf.chainPem, null), null);
    assert.equal(stapler.responseFromDer(pki.plainLeaf.der, pki.caDer), null);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(calls, 0);
    assert.equal(logger.lines.filter((l) => l.level !== 'debug').length, 0);
  });

  test('PEM and DER lookups share one cache; one request serves many handshakes', async (t) => {
    const { pki, responder } = await setup(t);
    const stapler = new OcspStapler({ logger: captureLogger() });
    await stapler.prefetch({ certPem: pki.leaf.certPem, chainPem: pki.caPem, ocspUrl: responder.url });
    const a = stapler.responseFor(pki.leaf.chainPem, null);
    const b = stapler.responseFromDer(pki.leaf.der, pki.caDer);
    const c = stapler.responseFor(pki.leaf.certPem, pki.caPem);
    assert.ok(a);
    assert.equal(a, b);
    assert.equal(a, c);
    for (let i = 0; i < 50; i++) stapler.responseFromDer(pki.leaf.der, null);
    assert.equal(responder.requests.length, 1);
    stapler.close();
    assert.equal(stapler.responseFromDer(pki.leaf.der, pki.caDer), null);
  });

  test('a miss starts one background fetch (concurrent misses share it)', async (t) => {
    const { pki, responder } = await setup(t);
    const stapler = new OcspStapler({ logger: captureLogger() });
    t.after(() => stapler.close());
    for (let i = 0; i < 10; i++) assert.equal(stapler.responseFromDer(pki.leaf.der, pki.caDer), null);
    await waitFor(() => stapler.responseFromDer(pki.leaf.der, pki.caDer) !== null);
    assert.equal(responder.requests.length, 1);
  });

  test('refreshes after refreshRatio of the window, keeps stapling meanwhile, never staples after nextUpdate', async (t) => {
    const { pki, responder } = await setup(t);
    // thisUpdate = now - 60 s, nextUpdate = now + 1 h: window 3660 s, refresh at 1830 s after thisUpdate.
    let now = Date.now();
    const t0 = now;
    const logger = captureLogger();
    const stapler = new OcspStapler({ logger, now: () => now });
    t.after(() => stapler.close());
    await stapler.prefetch({ certPem: pki.leaf.chainPem, ocspUrl: responder.url });
    const first = stapler.responseFromDer(pki.leaf.der, pki.caDer);
    assert.ok(first);

    now = t0 + 1700_000;
    assert.equal(stapler.responseFromDer(pki.leaf.der, pki.caDer), first);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(responder.requests.length, 1, 'not yet due');

    now = t0 + 1800_000;
    responder.mode = 'http500';
    assert.equal(stapler.responseFromDer(pki.leaf.der, pki.caDer), first, 'still valid: stapled while refreshing');
    await waitFor(() => warnsOf(logger).length === 1);
    assert.match(String(warnsOf(logger)[0]!.fields?.err), /HTTP 500/);
    assert.equal(stapler.responseFromDer(pki.leaf.der, pki.caDer), first, 'refresh failed, old response still valid');

    now = t0 + 3700_000; // past nextUpdate
    assert.equal(stapler.responseFromDer(pki.leaf.der, pki.caDer), null);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(warnsOf(logger).length, 1, 'warned once per certificate, not per attempt');

    // Recovery (after the backoff): a new response, an info line.
    responder.mode = 'ok';
    responder.thisUpdateMs = 3600_000;
    responder.nextUpdateMs = 10_800_000;
    now = t0 + 3700_000 + 61 * 60_000;
    assert.equal(stapler.responseFromDer(pki.leaf.der, pki.caDer), null);
    await waitFor(() => stapler.responseFromDer(pki.leaf.der, pki.caDer) !== null);
    assert.ok(logger.lines.some((l) => l.level === 'info' && /available again/.test(l.msg)));
  });

  test('refreshRatio is honoured', async (t) => {
    const { pki, responder } = await setup(t);
    let now = Date.now();
    const t0 = now;
    const stapler = new OcspStapler({ logger: captureLogger(), refreshRatio: 0.9, now: () => now });
    t.after(() => stapler.close());
    await stapler.prefetch({ certPem: pki.leaf.chainPem, ocspUrl: responder.url });
    now = t0 + 2000_000; // past 0.5, before 0.9 of 3660 s
    stapler.responseFromDer(pki.leaf.der, pki.caDer);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(responder.requests.length, 1);
    now = t0 + 3300_000; // past 0.9
    stapler.responseFromDer(pki.leaf.der, pki.caDer);
    await waitFor(() => responder.requests.length === 2);
  });

  test('a good response that turns revoked stops being stapled at once', async (t) => {
    const { pki, responder } = await setup(t);
    let now = Date.now();
    const t0 = now;
    const logger = captureLogger();
    const stapler = new OcspStapler({ logger, now: () => now });
    t.after(() => stapler.close());
    await stapler.prefetch({ certPem: pki.leaf.chainPem, ocspUrl: responder.url });
    assert.ok(stapler.responseFromDer(pki.leaf.der, pki.caDer));
    responder.statuses.set(pki.leaf.serial, 'revoked');
    now = t0 + 1900_000;
    stapler.responseFromDer(pki.leaf.der, pki.caDer);
    await waitFor(() => warnsOf(logger).length === 1);
    assert.equal(stapler.responseFromDer(pki.leaf.der, pki.caDer), null);
    assert.match(String(warnsOf(logger)[0]!.fields?.err), /revoked/);
  });

  test('expired, unknown and unverifiable responses are not stapled', async (t) => {
    for (const bad of ['expired', 'unknown', 'badSignature', 'tryLater'] as const) {
      const { pki, responder } = await setup(t);
      if (bad === 'expired') {
        responder.thisUpdateMs = -7200_000;
        responder.nextUpdateMs = -3600_000;
      } else if (bad === 'unknown') responder.defaultStatus = 'unknown';
      else responder.mode = bad;
      const logger = captureLogger();
      const stapler = new OcspStapler({ logger });
      await stapler.prefetch({ certPem: pki.leaf.chainPem, ocspUrl: responder.url });
      assert.equal(stapler.responseFromDer(pki.leaf.der, pki.caDer), null, bad);
      assert.equal(warnsOf(logger).length, 1, bad);
      stapler.close();
    }
  });

  test('without the issuer certificate: null, a warning, no request', async (t) => {
    const { pki, responder } = await setup(t);
    const logger = captureLogger();
    const stapler = new OcspStapler({ logger });
    t.after(() => stapler.close());
    await stapler.prefetch({ certPem: pki.leaf.certPem, ocspUrl: responder.url });
    assert.equal(stapler.responseFromDer(pki.leaf.der, null), null);
    assert.equal(responder.requests.length, 0);
    assert.equal(warnsOf(logger).length, 1);
    assert.match(String(warnsOf(logger)[0]!.fields?.err), /issuer/);
  });
});

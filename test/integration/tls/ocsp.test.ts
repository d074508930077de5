/**
 * OCSP stapling end to end: a real OCSP responder on loopback, a real TLS server whose
 * 'OCSPRequest' handler asks the OcspStapler, and a client handshake with `requestOCSP: true`.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import tls from 'node:tls';
import { AsnConvert } from '@peculiar/asn1-schema';
import { BasicOCSPResponse, OCSPResponse, OCSPResponseStatus } from '@peculiar/asn1-ocsp';
import { request } from 'undici';
import type { Logger, LogFields } from '../../../src/observe/logger.js';
import { checkOcspResponse, OcspStapler } from '../../../src/tls/ocsp.js';
import { makeTestPki, startOcspResponder, type Issued, type TestPki } from '../../helpers/ocsp-responder.js';

interface Captured extends Logger {
  lines: { level: string; msg: string; fields?: LogFields }[];
}

function captureLogger(): Captured {
  const lines: Captured['lines'] = [];
  const at = (level: string) => (msg: string, fields?: LogFields) => void lines.push({ level, msg, ...(fields ? { fields } : {}) });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), access: () => {}, accessEnabled: false };
}

function countingFetch(): { fetch: typeof request; calls: string[] } {
  const calls: string[] = [];
  const fetch = ((url: Parameters<typeof request>[0], opts?: Parameters<typeof request>[1]) => {
    calls.push(String(url));
    return request(url, opts);
  }) as typeof request;
  return { fetch, calls };
}

type OcspHandler = (cert: Buffer, issuer: Buffer | null, cb: (err: Error | null, resp?: Buffer) => void) => void;

/** A TLS server on 127.0.0.1 serving `leaf` (with the CA in its chain) that staples via `stapler`. */
async function stapledServer(t: TestContext, leaf: Issued, stapler: OcspStapler, kind: 'tls' | 'h2' = 'tls'): Promise<{ port: number; ocspRequests: number }> {
  const state = { port: 0, ocspRequests: 0 };
  const handler: OcspHandler = (certificate, issuer, cb) => {
    state.ocspRequests++;
    cb(null, stapler.responseFromDer(certificate, issuer) ?? undefined);
  };
  const opts = { cert: leaf.chainPem, key: leaf.keyPem, minVersion: 'TLSv1.2' as const };
  const server =
    kind === 'tls'
      ? tls.createServer(opts, (s) => s.end('hello\n'))
      : http2.createSecureServer({ ...opts, allowHTTP1: true }, (_req, res) => res.end('hello\n'));
  server.on('OCSPRequest', handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as AddressInfo).port;
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return state;
}

interface HandshakeResult {
  authorized: boolean;
  /** The stapled response, null when the server stapled none. */
  staple: Buffer | null;
  protocol: string | null;
}

function handshake(port: number, caPem: string, maxVersion?: tls.SecureVersion): Promise<HandshakeResult> {
  return new Promise((resolve, reject) => {
    let staple: Buffer | null = null;
    // `requestOCSP` is a documented tls.connect option that @types/node leaves out of ConnectionOptions.
    const opts: tls.ConnectionOptions & { requestOCSP: boolean } = {
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ca: caPem,
      requestOCSP: true,
      ...(maxVersion ? { maxVersion } : {}),
    };
    const sock = tls.connect(opts);
    sock.on('OCSPResponse', (resp: Buffer | null | undefined) => {
      if (resp && resp.length > 0) staple = resp;
    });
    sock.once('secureConnect', () => {
      const res = { authorized: sock.authorized, staple, protocol: sock.getProtocol() };
      sock.destroy();
      resolve(res);
    });
    sock.once('error', reject);
  });
}

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function setup(t: TestContext): Promise<{ pki: TestPki; responder: Awaited<ReturnType<typeof startOcspResponder>> }> {
  const responder = await startOcspResponder(t);
  const pki = await makeTestPki({ ocspUrl: responder.url });
  responder.setPki(pki);
  return { pki, responder };
}

describe('OCSP stapling over a real TLS handshake', () => {
  test('a prefetched good response is stapled, and parses as good for the leaf (TLS 1.3 and 1.2)', async (t) => {
    const { pki, responder } = await setup(t);
    const logger = captureLogger();
    const stapler = new OcspStapler({ logger });
    t.after(() => stapler.close());
    await stapler.prefetch({ certPem: pki.leaf.chainPem, ocspUrl: responder.url });
    assert.equal(responder.requests.length, 1);
    assert.deepEqual(responder.requests[0], [pki.leaf.serial]);

    const srv = await stapledServer(t, pki.leaf, stapler);
    for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
      const r = await handshake(srv.port, pki.caPem, maxVersion);
      assert.equal(r.protocol, maxVersion);
      assert.equal(r.authorized, true);
      assert.ok(r.staple, `a staple over ${maxVersion}`);
      // Parse it independently of the stapler...
      const outer = AsnConvert.parse(r.staple, OCSPResponse);
      assert.equal(outer.responseStatus, OCSPResponseStatus.successful);
      const basic = AsnConvert.parse(outer.responseBytes!.response.buffer, BasicOCSPResponse);
      const single = basic.tbsResponseData.responses[0]!;
      assert.equal(single.certStatus.good, null);
      assert.equal(Buffer.from(single.certID.serialNumber).toString('hex').replace(/^0+/, ''), pki.leaf.serial.replace(/^0+/, ''));
      // ...and with the signature and CertID checks.
      const v = checkOcspResponse(r.staple, pki.leaf.der, pki.caDer);
      assert.equal(v.status, 'good');
      assert.equal(v.signer, 'issuer');
    }
    assert.equal(srv.ocspRequests, 2);
    // Served from the cache: no more requests to the responder.
    assert.equal(responder.requests.length, 1);
    assert.equal(logger.lines.filter((l) => l.level === 'warn').length, 0);
  });

  test('works on an http2 secure server (the listener kind), with a delegated responder signature', async (t) => {
    const { pki, responder } = await setup(t);
    responder.delegated = true;
    const stapler = new OcspStapler({ logger: captureLogger() });
    t.after(() => stapler.close());
    await stapler.prefetch({ certPem: pki.leaf.chainPem, ocspUrl: responder.url });
    const srv = await stapledServer(t, pki.leaf, stapler, 'h2');
    const r = await handshake(srv.port, pki.caPem);
    assert.ok(r.staple);
    const v = checkOcspResponse(r.staple, pki.leaf.der, pki.caDer);
    assert.equal(v.status, 'good');
    assert.equal(v.signer, 'delegated');
  });

  test('cold cache: the first handshake is not held up and gets no staple; later ones do', async (t) => {
    const { pki, responder } = await setup(t);
    const stapler = new OcspStapler({ logger: captureLogger() });
    t.after(() => stapler.close());
    const srv = await stapledServer(t, pki.leaf, stapler);
    const first = await handshake(srv.port, pki.caPem);
    assert.equal(first.authorized, true);
    assert.equal(first.staple, null);
    await waitFor(() => responder.requests.length === 1);
    await waitFor(() => stapler.responseFromDer(pki.leaf.der, pki.caDer) !== null);
    const second = await handshake(srv.port, pki.caPem);
    assert.ok(second.staple);
    assert.equal(checkOcspResponse(second.staple, pki.leaf.der, pki.caDer).status, 'good');
    assert.equal(responder.requests.length, 1);
  });

  test('a revoked status is not stapled (and is warned about once)', async (t) => {
    const { pki, responder } = await setup(t);
    responder.statuses.set(pki.leaf.serial, 'revoked');
    const logger = captureLogger();
    const stapler = new OcspStapler({ logger });
    t.after(() => stapler.close());
    await stapler.prefetch({ certPem: pki.leaf.chainPem, ocspUrl: responder.url });
    assert.equal(responder.requests.length, 1);
    const srv = await stapledServer(t, pki.leaf, stapler);
    for (let i = 0; i < 3; i++) {
      const r = await handshake(srv.port, pki.caPem);
      assert.equal(r.authorized, true);
      assert.equal(r.staple, null);
    }
    const warns = logger.lines.filter((l) => l.level === 'warn');
    assert.equal(warns.length, 1);
    assert.match(String(warns[0]!.fields?.err), /revoked/);
    // Backoff: handshakes do not hammer the responder.
    assert.equal(responder.requests.length, 1);
  });

  test('a certificate without an OCSP URL: no staple and no network at all', async (t) => {
    const { pki, responder } = await setup(t);
    const logger = captureLogger();
    const { fetch, calls } = countingFetch();
    const stapler = new OcspStapler({ logger, fetch });
    t.after(() => stapler.close());
    await stapler.prefetch({ certPem: pki.plainLeaf.chainPem, ocspUrl: null });
    const srv = await stapledServer(t, pki.plainLeaf, stapler);
    for (let i = 0; i < 2; i++) {
      const r = await handshake(srv.port, pki.caPem);
      assert.equal(r.authorized, true);
      assert.equal(r.staple, null);
    }
    assert.equal(srv.ocspRequests, 2);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(calls, []);
    assert.equal(responder.requests.length, 0);
    assert.equal(logger.lines.filter((l) => l.level === 'warn' || l.level === 'error').length, 0);
  });

  test('responder down: no staple, handshakes still succeed, one warning logged', async (t) => {
    const { pki } = await setup(t);
    // A port that was just closed: connection refused.
    const dead = http.createServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}/ocsp`;
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    const leaf = await pki.issue({ ocspUrl: deadUrl, serial: '0d44' });

    const logger = captureLogger();
    const { fetch, calls } = countingFetch();
    const stapler = new OcspStapler({ logger, fetch });
    t.after(() => stapler.close());
    const srv = await stapledServer(t, leaf, stapler);
    for (let i = 0; i < 4; i++) {
      const r = await handshake(srv.port, pki.caPem);
      assert.equal(r.authorized, true);
      assert.equal(r.staple, null);
      await new Promise((r) => setTimeout(r, 30));
    }
    await waitFor(() => logger.lines.some((l) => l.level === 'warn'));
    assert.equal(srv.ocspRequests, 4);
    assert.equal(calls.length, 1, 'one attempt, then backoff');
    const warns = logger.lines.filter((l) => l.level === 'warn');
    assert.equal(warns.length, 1);
    assert.equal(warns[0]!.fields?.url, deadUrl);
  });

  test('responder hanging: the request times out, the handshake is never delayed', async (t) => {
    const { pki, responder } = await setup(t);
    responder.mode = 'hang';
    const logger = captureLogger();
    const { fetch, calls } = countingFetch();
    const stapler = new OcspStapler({ logger, fetch, timeoutMs: 5000 });
    t.after(() => stapler.close());
    const srv = await stapledServer(t, pki.leaf, stapler);
    const warned = (): boolean => logger.lines.some((l) => l.level === 'warn');
    const r = await handshake(srv.port, pki.caPem);
    assert.equal(r.staple, null);
    // The handshake is done while the request to the responder is still pending: it has not
    // timed out (that is what the warning would say), so the handshake never waited for it.
    await waitFor(() => calls.length === 1);
    assert.equal(warned(), false, 'handshake does not wait for the responder');
    await waitFor(warned, 8000);
    assert.equal(calls.length, 1);
  });
});

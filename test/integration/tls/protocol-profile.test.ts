/**
 * The TLS protocol profile of HTTPS listeners, checked with real handshakes from clients that
 * offer only one kind of suite: TLS 1.2 accepts ECDHE + AEAD suites only (no CBC, no static-RSA
 * key exchange), TLS 1.0/1.1 never, TLS 1.3 always; `tls.minVersion: '1.3'` refuses TLS 1.2 and a
 * reload switches it on the same listener. Session tickets resume across reloads (node would draw
 * a new ticket key at each) until the ticket key rotates. An RSA certificate, so that the RSA
 * suites are in play.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import http2 from 'node:http2';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { defineConfig, route } from '../../../src/index.js';
import type { ConfigSpec } from '../../../src/config/spec.js';
import { createRuntime } from '../../../src/engine/runtime.js';
import type { Runtime } from '../../../src/engine/runtime-api.js';
import { createSilentLogger } from '../../../src/observe/logger.js';

const T = { timeout: 20_000 };
x509.cryptoProvider.set(webcrypto as unknown as Crypto);

/** A self-signed RSA-2048 certificate for localhost, PEM. */
async function rsaCertificate(): Promise<{ cert: string; key: string }> {
  const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=localhost',
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 86_400_000),
    keys,
    signingAlgorithm: alg,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'localhost' }])],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`;
  return { cert: cert.toString('pem') + '\n', key };
}

interface Handshake {
  ok: boolean;
  protocol?: string | null;
  cipher?: string;
  error?: string;
}

/** One handshake as a client offering only `opts` (versions, suites, groups); never throws. */
function handshake(port: number, ca: string, opts: tls.ConnectionOptions): Promise<Handshake> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca, ...opts });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ ok: false, error: 'no handshake within 5 s' });
    }, 5000);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      resolve({ ok: true, protocol: socket.getProtocol(), cipher: socket.getCipher().standardName });
      socket.destroy();
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ ok: false, error: err.code ?? err.message });
    });
  });
}

/** A full TLS connection that reads the server's ticket; resolves with the session to resume. */
function connectForSession(port: number, ca: string, opts: tls.ConnectionOptions = {}): Promise<{ reused: boolean; session: Buffer | null }> {
  return new Promise((resolve, reject) => {
    let session: Buffer | null = null;
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca, ...opts });
    const timer = setTimeout(() => socket.destroy(new Error('no session within 5 s')), 5000);
    socket.on('session', (s: Buffer) => (session = s));
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once('secureConnect', () => {
      // TLS 1.3 sends its tickets after the handshake: an HTTP exchange makes sure they arrived.
      socket.write('GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n');
      socket.resume();
      socket.once('end', () => {
        clearTimeout(timer);
        resolve({ reused: socket.isSessionReused(), session });
        socket.destroy();
      });
    });
  });
}

describe('TLS protocol profile of https listeners', () => {
  let dir: string;
  let rt: Runtime;
  let port: number;
  let ca: string;
  const config = (minVersion?: '1.2' | '1.3'): ConfigSpec =>
    defineConfig({
      listen: ['https://127.0.0.1:0'],
      tls: { certs: [{ cert: 'rsa.pem', key: 'rsa.key' }], ...(minVersion ? { minVersion } : {}) },
      routes: [route('/*').respond(200, 'ok')],
    });

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pk-tls-profile-'));
    const { cert, key } = await rsaCertificate();
    fs.writeFileSync(path.join(dir, 'rsa.pem'), cert);
    fs.writeFileSync(path.join(dir, 'rsa.key'), key, { mode: 0o600 });
    ca = cert;
    rt = createRuntime({ logger: createSilentLogger(), dataDir: dir, configDir: dir });
    await rt.apply(config());
    port = Number(new URL(rt.listeners[0]!.url).port);
  });
  after(async () => {
    await rt?.close(1000);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('TLS 1.3 by default; TLS 1.2 with ECDHE and an AEAD cipher', T, async () => {
    const best = await handshake(port, ca, {});
    assert.equal(best.protocol, 'TLSv1.3', JSON.stringify(best));
    for (const suite of ['ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-CHACHA20-POLY1305']) {
      const h = await handshake(port, ca, { maxVersion: 'TLSv1.2', ciphers: suite });
      assert.ok(h.ok, `${suite}: ${h.error}`);
      assert.equal(h.protocol, 'TLSv1.2');
    }
  });

  it('refuses CBC suites, static-RSA key exchange and TLS 1.0/1.1', T, async () => {
    const refused: Array<[string, tls.ConnectionOptions]> = [
      ['CBC with ECDHE (LUCKY13-class, RFC 9113 §9.2.2)', { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA384' }],
      ['static RSA key exchange (no forward secrecy)', { maxVersion: 'TLSv1.2', ciphers: 'AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA:AES256-SHA256' }],
      ['ARIA and CCM suites', { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ARIA128-GCM-SHA256:ECDHE-ARIA256-GCM-SHA384:AES128-CCM:AES256-CCM8' }],
      // SECLEVEL=0: let the client itself offer TLS 1.0/1.1, so that it is the server refusing.
      ['TLS 1.1', { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }],
      ['TLS 1.0', { minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' }],
    ];
    for (const [what, opts] of refused) {
      const h = await handshake(port, ca, opts);
      assert.equal(h.ok, false, `${what} was accepted: ${h.protocol} ${h.cipher}`);
    }
  });

  it('offers the fast key-exchange groups only (X25519, P-256, P-384)', T, async () => {
    for (const curve of ['X25519', 'prime256v1', 'secp384r1']) {
      const h = await handshake(port, ca, { ecdhCurve: curve });
      assert.ok(h.ok, `${curve}: ${h.error}`);
    }
    for (const curve of ['secp521r1', 'X448']) {
      const h = await handshake(port, ca, { ecdhCurve: curve });
      assert.equal(h.ok, false, `${curve} was accepted`);
    }
  });

  it('HTTP/2 over TLS 1.2 negotiates a suite HTTP/2 allows', T, async () => {
    const client = http2.connect(`https://127.0.0.1:${port}`, { ca, servername: 'localhost', maxVersion: 'TLSv1.2' });
    try {
      const req = client.request({ ':path': '/' });
      const head = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        req.once('response', resolve);
        req.once('error', reject);
      });
      req.resume();
      await new Promise((r) => req.once('end', r));
      assert.equal(head[':status'], 200);
      const socket = client.socket as tls.TLSSocket;
      assert.equal(socket.getProtocol(), 'TLSv1.2');
      assert.match(socket.getCipher().standardName, /^TLS_ECDHE_RSA_WITH_(AES_\d+_GCM|CHACHA20_POLY1305)_SHA\d+$/);
    } finally {
      client.close();
    }
  });

  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    it(`${version} sessions resume across reloads; a ticket-key rotation ends them`, T, async () => {
      const opts: tls.ConnectionOptions = { maxVersion: version };
      const first = await connectForSession(port, ca, opts);
      assert.equal(first.reused, false);
      assert.ok(first.session, 'a session ticket');
      const resumed = await connectForSession(port, ca, { ...opts, session: first.session });
      assert.equal(resumed.reused, true, 'resumed with the ticket');

      // A reload replaces the listener's context (node's setSecureContext): tickets stay valid.
      await rt.apply(config());
      const afterReload = await connectForSession(port, ca, { ...opts, session: resumed.session ?? first.session });
      assert.equal(afterReload.reused, true, 'resumed after a reload');

      const listener = (rt as unknown as { listenersByUrl: Map<string, { rotateTicketKeys(): void }> }).listenersByUrl.values().next().value!;
      listener.rotateTicketKeys();
      const afterRotation = await connectForSession(port, ca, { ...opts, session: afterReload.session ?? first.session });
      assert.equal(afterRotation.reused, false, 'a ticket from before the rotation still resumed');
      assert.ok(afterRotation.session, 'a new ticket after the rotation');
      const fresh = await connectForSession(port, ca, { ...opts, session: afterRotation.session });
      assert.equal(fresh.reused, true, 'a ticket from after the rotation resumes');
    });
  }

  it("tls.minVersion '1.3' refuses TLS 1.2 on the same listener after a reload, and back", T, async () => {
    await rt.apply(config('1.3'));
    assert.equal(Number(new URL(rt.listeners[0]!.url).port), port, 'the same listener');
    const tls12 = await handshake(port, ca, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' });
    assert.equal(tls12.ok, false, 'TLS 1.2 accepted with minVersion 1.3');
    const tls13 = await handshake(port, ca, {});
    assert.equal(tls13.protocol, 'TLSv1.3');

    await rt.apply(config());
    const again = await handshake(port, ca, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' });
    assert.ok(again.ok, `TLS 1.2 after going back: ${again.error}`);
    // The profile survives the context being replaced (node resets unset options to its defaults).
    const cbc = await handshake(port, ca, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-SHA' });
    assert.equal(cbc.ok, false, 'a CBC suite accepted after a reload');
  });
});

/**
 * TLS-ALPN-01 on the https listener itself (src/engine/listener.ts + tls-peek.ts), with a fake
 * TlsService: while a challenge is pending, `acme-tls/1` handshakes for the name get the challenge
 * certificate from a dedicated TLS server and every other client the normal one, with the
 * listener's limits (HTTP/1 header deadline, maxConnections) and the client's address unchanged.
 * With nothing pending, connections are not read before TLS. The real CA run is acme-e2e test 7.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls, { type SecureContext } from 'node:tls';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Listener } from '../../../src/engine/listener.js';
import type { Gateway } from '../../../src/engine/gateway.js';
import type { ResolvedLimits } from '../../../src/engine/plan.js';
import type { TunnelSet } from '../../../src/engine/upgrade.js';
import type { TlsService } from '../../../src/tls/contracts.js';
import { InternalCa } from '../../../src/tls/internal-ca.js';
import { createSilentLogger } from '../../../src/observe/logger.js';
import { handshake } from '../../helpers/tls-certs.js';

const NAME = 'renew.example.com';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
let ca: InternalCa;
let otherCa: InternalCa;
let normal: { certPem: string; keyPem: string; ctx: SecureContext; fp: string };
let challenge: { ctx: SecureContext; fp: string };
let pending = false;
let pendingChecks = 0;
const challenges = new Map<string, SecureContext>();

const svc: TlsService = {
  sni: async (name) => (name === NAME ? normal.ctx : null),
  alpnChallengePending: () => (pendingChecks++, pending),
  alpnChallengeContext: (name) => challenges.get(name) ?? null,
  httpChallenge: () => null,
  manages: () => false,
  reconcile: async () => {},
  defaultKeyPair: () => null,
  ocspResponse: () => null,
  certificates: () => [],
  close: async () => {},
};

/** Answers every request with the client address it saw. */
const gateway = {
  logger: createSilentLogger(),
  telemetry: { metrics: null, live: null },
  handle(req: IncomingMessage, res: ServerResponse) {
    res.end(JSON.stringify({ addr: req.socket.remoteAddress, v: req.httpVersion }));
  },
} as unknown as Gateway;

const LIMITS: ResolvedLimits = {
  maxHeaderSize: 16384,
  headersTimeoutMs: 600,
  requestTimeoutMs: 5000,
  keepAliveTimeoutMs: 5000,
  maxConnections: 100,
  drainTimeoutMs: 1000,
};

async function startListener(limits: Partial<ResolvedLimits> = {}): Promise<{ l: Listener; port: number }> {
  const l = new Listener({ url: 'https://127.0.0.1:0', protocol: 'https', host: '127.0.0.1', port: 0 }, { ...LIMITS, ...limits }, gateway, {} as TunnelSet, svc);
  await l.listen();
  return { l, port: Number(new URL(l.url).port) };
}

async function stopListener(l: Listener): Promise<void> {
  l.destroy();
  await l.close();
}

function get(port: number, servername = NAME): Promise<{ status: number; body: string; fp: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, servername, headers: { host: servername }, ca: ca.caPem(), agent: false }, (res) => {
      const fp = (res.socket as tls.TLSSocket).getPeerCertificate().fingerprint256;
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, fp }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
  });
}

function getH2(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const s = http2.connect(`https://${NAME}:${port}`, {
      createConnection: () => tls.connect({ host: '127.0.0.1', port, servername: NAME, ca: ca.caPem(), ALPNProtocols: ['h2'] }),
    });
    s.on('error', reject);
    const req = s.request({ ':path': '/' });
    let body = '';
    let status = 0;
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      s.close();
      resolve({ status, body });
    });
    req.on('error', reject);
  });
}

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pk-listener-alpn-'));
  ca = await InternalCa.open(path.join(dir, 'ca'));
  otherCa = await InternalCa.open(path.join(dir, 'other'));
  const n = await ca.issue([NAME]);
  const c = await otherCa.issue([NAME]);
  normal = { ...n, ctx: tls.createSecureContext({ cert: n.certPem, key: n.keyPem }), fp: new (await import('node:crypto')).X509Certificate(n.certPem).fingerprint256 };
  challenge = { ctx: tls.createSecureContext({ cert: c.certPem, key: c.keyPem }), fp: new (await import('node:crypto')).X509Certificate(c.certPem).fingerprint256 };
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('TLS-ALPN-01 on the https listener', () => {
  test('nothing pending: no peek, acme-tls/1 clients get the normal certificate', async () => {
    const { l, port } = await startListener();
    try {
      pending = false;
      challenges.set(NAME, challenge.ctx); // a context without "pending" is never used
      const checks0 = pendingChecks;
      const r = await handshake({ port, servername: NAME, alpn: ['acme-tls/1'] });
      assert.equal(r.fingerprint, normal.fp);
      assert.equal(pendingChecks - checks0, 1, 'one boolean check per connection');
      const g = await get(port);
      assert.equal(g.status, 200);
      assert.equal(JSON.parse(g.body).addr, '127.0.0.1');
    } finally {
      challenges.clear();
      await stopListener(l);
    }
  });

  test('pending: acme-tls/1 gets the challenge certificate and is closed; everyone else the normal one, with their address', async () => {
    const { l, port } = await startListener();
    try {
      pending = true;
      challenges.set(NAME, challenge.ctx);
      // The CA's validation handshake.
      const v = await handshake({ port, servername: NAME, alpn: ['acme-tls/1'], keep: true });
      assert.equal(v.fingerprint, challenge.fp, 'challenge certificate');
      assert.equal(v.socket!.alpnProtocol, 'acme-tls/1');
      await once(v.socket!, 'close'); // the server closes after the handshake
      // Upper case SNI: names are compared case-insensitively by the service.
      challenges.set('other.example.com', challenge.ctx);
      // Regular clients during the challenge: HTTP/1.1, HTTP/2, other ALPN lists, no ALPN.
      const g = await get(port);
      assert.equal(g.fp, normal.fp);
      assert.deepEqual(JSON.parse(g.body), { addr: '127.0.0.1', v: '1.1' });
      assert.deepEqual(JSON.parse((await getH2(port)).body), { addr: '127.0.0.1', v: '2.0' });
      assert.equal((await handshake({ port, servername: NAME, alpn: ['h2', 'http/1.1'] })).fingerprint, normal.fp);
      assert.equal((await handshake({ port, servername: NAME })).fingerprint, normal.fp);
      // acme-tls/1 for a name with no challenge: the normal server (which has no certificate for it).
      assert.equal((await handshake({ port, servername: 'nothing.example.com', alpn: ['acme-tls/1'] })).ok, false);
      // Garbage on the TLS port while peeking: refused by the normal server as always.
      const raw = net.connect({ host: '127.0.0.1', port });
      raw.on('error', () => {});
      raw.end('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
      await once(raw, 'close');
      // Back to normal once the challenge is withdrawn.
      pending = false;
      challenges.clear();
      assert.equal((await handshake({ port, servername: NAME, alpn: ['acme-tls/1'] })).fingerprint, normal.fp);
    } finally {
      pending = false;
      challenges.clear();
      await stopListener(l);
    }
  });

  test('pending: a peeked HTTP/1.1 connection keeps the header deadline (408), as an unpeeked one', async () => {
    const { l, port } = await startListener({ headersTimeoutMs: 600 });
    try {
      for (const p of [false, true]) {
        pending = p;
        if (p) challenges.set(NAME, challenge.ctx);
        const t0 = Date.now();
        const s = tls.connect({ host: '127.0.0.1', port, servername: NAME, ca: ca.caPem(), ALPNProtocols: ['http/1.1'] });
        await once(s, 'secureConnect');
        s.write(`GET / HTTP/1.1\r\nhost: ${NAME}\r\nx-slow: 1\r\n`); // never finished
        let got = '';
        s.on('data', (d) => (got += d));
        await once(s, 'close');
        const ms = Date.now() - t0;
        assert.match(got, /^HTTP\/1\.1 408 /, `pending=${p}: ${got}`);
        assert.ok(ms < 3000, `pending=${p}: closed after ${ms} ms`);
      }
    } finally {
      pending = false;
      challenges.clear();
      await stopListener(l);
    }
  });

  test('pending: connections being peeked count for maxConnections, and destroy() cuts them', async () => {
    const { l, port } = await startListener({ maxConnections: 2 });
    try {
      pending = true;
      challenges.set(NAME, challenge.ctx);
      // Two silent connections: accepted, waiting for a ClientHello.
      const silent = [net.connect({ host: '127.0.0.1', port }), net.connect({ host: '127.0.0.1', port })];
      for (const s of silent) {
        s.on('error', () => {});
        await once(s, 'connect');
      }
      await sleep(100);
      // A third is over the limit: node closes it at once.
      const r = await handshake({ port, servername: NAME });
      assert.equal(r.ok, false, 'third connection refused');
      // destroy() (the drain deadline) also cuts the connections still being peeked.
      const closed = silent.map((s) => once(s, 'close'));
      l.destroy();
      await Promise.race([Promise.all(closed), sleep(2000).then(() => assert.fail('peeked connections not destroyed'))]);
    } finally {
      pending = false;
      challenges.clear();
      await stopListener(l);
    }
  });
});

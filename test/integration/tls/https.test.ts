/**
 * TLS termination in the engine with real handshakes: HTTPS over HTTP/1.1 and HTTP/2 (ALPN) with
 * certificates from proxykit's internal CA, request bodies over HTTP/2, the HTTP→HTTPS redirect
 * for managed hosts, HSTS, WebSocket over TLS, and https upstreams verified against a custom CA.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http2 from 'node:http2';
import https from 'node:https';
import http from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import { defineConfig, route, pool } from '../../../src/index.js';
import { createRuntime } from '../../../src/engine/runtime.js';
import type { Runtime } from '../../../src/engine/runtime-api.js';
import { createSilentLogger } from '../../../src/observe/logger.js';
import { InternalCa } from '../../../src/tls/internal-ca.js';
import { startBackend, type Backend } from '../../helpers/backend.js';

const T = { timeout: 20_000 };

function h1(url: string, opts: https.RequestOptions & { body?: string } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, opts, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.end(opts.body);
  });
}

describe('https listeners (TLS, HTTP/2, HTTP/1.1)', () => {
  let dataDir: string;
  let be: Backend;
  let rt: Runtime;
  let httpsUrl: string;
  let httpUrl: string;
  let ca: string;
  let wss: WebSocketServer;
  let wsPort: number;

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pk-https-'));
    be = await startBackend({ respond: () => ({ headers: { 'set-cookie': ['a=1', 'b=2'] } }) });
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`echo:${m.toString()}`)));
    await new Promise<void>((r) => wss.once('listening', () => r()));
    wsPort = (wss.address() as { port: number }).port;
    rt = createRuntime({ logger: createSilentLogger(), dataDir });
    await rt.apply(
      defineConfig({
        listen: ['https://127.0.0.1:0', 'http://127.0.0.1:0'],
        tls: { internal: true, hsts: true, domains: ['app.localhost'] },
        routes: [
          route('/ws').to(`http://127.0.0.1:${wsPort}`),
          route('app.localhost/*').to(pool('be', [be.url])),
          route('/*').to(pool('be', [be.url])),
        ],
      }),
    );
    httpsUrl = rt.listeners.find((l) => l.url.startsWith('https'))!.url;
    httpUrl = rt.listeners.find((l) => l.url.startsWith('http:'))!.url;
    ca = fs.readFileSync(path.join(dataDir, 'internal', 'ca.pem'), 'utf8');
  });
  after(async () => {
    await rt?.close(1000);
    await be?.close();
    wss?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves HTTPS over HTTP/1.1 with a certificate that verifies against the internal CA', T, async () => {
    const r = await h1(`${httpsUrl}/x`, { ca });
    assert.equal(r.status, 200);
    const rec = be.requests[be.requests.length - 1]!;
    assert.equal(rec.headers['x-forwarded-proto'], 'https');
    assert.deepEqual(r.headers['set-cookie'], ['a=1', 'b=2']);
    assert.match(String(r.headers['strict-transport-security']), /^max-age=31536000/);
  });

  it('serves HTTP/2 by ALPN: GET, and POST with a streamed body', T, async () => {
    const client = http2.connect(httpsUrl, { ca });
    try {
      const get = client.request({ ':path': '/h2?q=1', ':method': 'GET' });
      const head = await new Promise<http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader>((r) => get.on('response', r));
      get.resume();
      await new Promise((r) => get.on('end', r));
      assert.equal(head[':status'], 200);
      assert.deepEqual(head['set-cookie'], ['a=1', 'b=2']);
      assert.equal(be.requests[be.requests.length - 1]!.url, '/h2?q=1');

      const post = client.request({ ':path': '/upload', ':method': 'POST' });
      post.write('hello ');
      post.end('h2');
      const ph = await new Promise<http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader>((r) => post.on('response', r));
      post.resume();
      await new Promise((r) => post.on('end', r));
      assert.equal(ph[':status'], 200);
      const rec = be.requests[be.requests.length - 1]!;
      assert.equal(rec.method, 'POST');
      assert.equal(rec.bodyBytes, 8);
      assert.ok(!rec.rawHeaders.some((h) => h.startsWith(':')), 'no pseudo-headers upstream');
      assert.equal(rec.headers.host, new URL(httpsUrl).host);
    } finally {
      client.close();
    }
  });

  it('redirects plain HTTP to HTTPS for a managed host, and serves others as is', T, async () => {
    const r = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get(`${httpUrl}/p?x=1`, { headers: { host: 'app.localhost' } }, resolve).on('error', reject);
    });
    r.resume();
    assert.equal(r.statusCode, 308);
    assert.equal(r.headers.location, `https://app.localhost:${new URL(httpsUrl).port}/p?x=1`);
    const plain = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get(`${httpUrl}/p`, { headers: { host: 'other.test' } }, resolve).on('error', reject);
    });
    plain.resume();
    assert.equal(plain.statusCode, 200);
  });

  it('tunnels WebSocket over TLS (HTTP/1.1 upgrade on the https listener)', T, async () => {
    const ws = new WebSocket(`${httpsUrl.replace('https', 'wss')}/ws`, { ca });
    await new Promise((r, j) => {
      ws.once('open', r);
      ws.once('error', j);
    });
    const reply = new Promise<string>((r) => ws.once('message', (m) => r(m.toString())));
    ws.send('hi');
    assert.equal(await reply, 'echo:hi');
    ws.close();
  });

  it('refuses TLS 1.1 and older', T, async () => {
    await assert.rejects(h1(`${httpsUrl}/x`, { ca, maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }));
  });
});

describe('https upstreams', () => {
  let dataDir: string;
  let upstream: https.Server;
  let upstreamUrl: string;
  let caFile: string;
  let rt: Runtime;
  let base: string;

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pk-upstream-tls-'));
    const internal = await InternalCa.open(path.join(dataDir, 'upstream-ca'));
    const leaf = await internal.issue(['127.0.0.1', 'localhost']);
    caFile = path.join(dataDir, 'upstream-ca.pem');
    fs.writeFileSync(caFile, internal.caPem());
    upstream = https.createServer({ cert: leaf.certPem, key: leaf.keyPem }, (_req, res) => res.end('secure upstream'));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    upstreamUrl = `https://127.0.0.1:${(upstream.address() as { port: number }).port}`;
    rt = createRuntime({ logger: createSilentLogger(), dataDir, configDir: dataDir });
    await rt.apply(
      defineConfig({
        listen: ['http://127.0.0.1:0'],
        routes: [
          route('/verified/*').to(pool('verified', [upstreamUrl]).tls({ ca: 'upstream-ca.pem' })),
          route('/untrusted/*').to(pool('untrusted', [upstreamUrl])),
        ],
      }),
    );
    base = rt.listeners[0]!.url;
  });
  after(async () => {
    await rt?.close(1000);
    upstream?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('verifies an https upstream against the configured CA', T, async () => {
    const r = await fetch(`${base}/verified/x`);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'secure upstream');
  });

  it('refuses an https upstream whose certificate does not verify (502, no detail leaked)', T, async () => {
    const r = await fetch(`${base}/untrusted/x`);
    assert.equal(r.status, 502);
    assert.doesNotMatch(await r.text(), /127\.0\.0\.1|certificate/i);
  });
});

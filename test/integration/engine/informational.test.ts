/**
 * Interim responses (RFC 9110 §15.2): an upstream's 103 Early Hints and 102 Processing reach
 * HTTP/1.1 and HTTP/2 clients before the final response, never HTTP/1.0 clients.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import { createRuntime } from '../../../src/engine/runtime.js';
import { createSilentLogger } from '../../../src/observe/logger.js';
import { defineConfig, route, pool } from '../../../src/index.js';
import { startRawBackend, replyWhenHeadComplete, type RawBackend } from '../../helpers/backend.js';
import { startProxy, httpRequest, type Proxy } from '../../helpers/proxy.js';
import { rawRequest } from '../../helpers/raw.js';

const T = { timeout: 10_000 };
const UPSTREAM =
  'HTTP/1.1 102 Processing\r\n\r\n' +
  'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\nConnection: keep-alive\r\n\r\n' +
  'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nfinal';

describe('interim (1xx) responses', () => {
  let be: RawBackend;
  let px: Proxy;
  before(async () => {
    be = await startRawBackend(replyWhenHeadComplete(UPSTREAM));
    px = await startProxy(defineConfig({ listen: ['http://127.0.0.1:0'], routes: [route('/*').to(pool('be', [be.url]))] }));
  });
  after(async () => {
    await px?.close();
    await be?.close();
  });

  it('relays 102 and 103 (with its Link, without hop-by-hop fields) to an HTTP/1.1 client', T, async () => {
    const r = await httpRequest(px.base + '/page');
    assert.deepEqual(r.informational, [102, 103]);
    assert.equal(r.status, 200);
    assert.equal(r.text, 'final');
    const raw = await rawRequest(px.port, 'GET /page HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    const text = raw.text;
    const hints = text.slice(text.indexOf('HTTP/1.1 103'), text.indexOf('HTTP/1.1 200'));
    assert.match(hints, /^HTTP\/1\.1 103 Early Hints\r\nLink: <\/style\.css>; rel=preload; as=style\r\n\r\n$/);
  });

  it('sends no interim response to an HTTP/1.0 client', T, async () => {
    const raw = await rawRequest(px.port, 'GET /page HTTP/1.0\r\nHost: a\r\n\r\n');
    const text = raw.text;
    assert.match(text, /^HTTP\/1\.1 200 /);
    assert.doesNotMatch(text, / 10[23] /);
  });
});

describe('interim responses over HTTP/2', () => {
  it('relays 103 as an informational HEADERS frame', T, async () => {
    const be = await startRawBackend(replyWhenHeadComplete(UPSTREAM));
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pk-1xx-'));
    const rt = createRuntime({ logger: createSilentLogger(), dataDir });
    await rt.apply(defineConfig({ listen: ['https://127.0.0.1:0'], tls: 'internal', routes: [route('/*').to(pool('be', [be.url]))] }));
    const px = { base: rt.listeners[0]!.url.replace(/\/$/, ''), close: () => rt.close(1000) };
    const client = http2.connect(px.base, { rejectUnauthorized: false });
    try {
      const statuses: number[] = [];
      const req = client.request({ ':path': '/page' });
      req.on('headers', (h) => statuses.push(Number(h[':status'])));
      const final = await new Promise<number>((resolve, reject) => {
        req.on('response', (h) => resolve(Number(h[':status'])));
        req.on('error', reject);
      });
      let body = '';
      req.setEncoding('utf8');
      for await (const c of req) body += c;
      assert.ok(statuses.includes(103), `interim statuses ${statuses}`);
      assert.equal(final, 200);
      assert.equal(body, 'final');
    } finally {
      client.close();
      await px.close();
      await be.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

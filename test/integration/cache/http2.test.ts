/**
 * The cache behind an HTTP/2 listener: node's compat response differs from HTTP/1.1's in ways
 * that matter here (a HEAD stream ends with its head; a reset stream reports itself finished).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import { defineConfig, route, pool } from '../../../src/index.js';
import { createRuntime } from '../../../src/engine/runtime.js';
import type { Runtime } from '../../../src/engine/runtime-api.js';
import type { Plan } from '../../../src/engine/plan.js';
import { createSilentLogger } from '../../../src/observe/logger.js';
import { startOrigin, type Origin } from './origin.js';
import { waitUntil } from '../../helpers/backend.js';

const T = { timeout: 15_000 };
const BIG = Buffer.alloc(200 * 1024, 97); // over HTTP/2's initial flow-control window

describe('cache over HTTP/2', () => {
  let origin: Origin;
  let rt: Runtime;
  let dataDir: string;
  let client: http2.ClientHttp2Session;

  before(async () => {
    origin = await startOrigin();
    origin.on('/big', () => ({ headers: [['cache-control', 'max-age=60']], body: BIG }));
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pk-h2-cache-'));
    rt = createRuntime({ logger: createSilentLogger(), dataDir });
    await rt.apply(
      defineConfig({ listen: ['https://127.0.0.1:0'], tls: 'internal', cache: { maxSize: '8mb', maxObjectSize: '1mb' }, routes: [route('/*').to(pool('o', [origin.url])).cache()] }),
    );
    client = http2.connect(rt.listeners[0]!.url, { rejectUnauthorized: false });
  });
  after(async () => {
    client?.close();
    await rt?.close(1000);
    await origin?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const request = async (method: string, p: string, extra: http2.OutgoingHttpHeaders = {}) => {
    const r = client.request({ ':method': method, ':path': p, ...extra });
    let bytes = 0;
    r.on('data', (d: Buffer) => (bytes += d.length));
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      r.on('response', resolve);
      r.on('error', reject);
    });
    await new Promise((resolve) => r.on('close', resolve));
    return { status: Number(headers[':status']), headers, bytes };
  };

  it('a HEAD miss fills the cache (fetched as a GET) and frees its upstream request', T, async () => {
    const h = await request('HEAD', '/big');
    assert.equal(h.status, 200);
    assert.equal(h.bytes, 0);
    assert.equal(h.headers['content-length'], String(BIG.length));
    const plan = (rt as unknown as { gateway: { plan: Plan } }).gateway.plan;
    const dispatcher = plan.pools.get('o')!.upstreams[0]!.dispatcher;
    const deadline = Date.now() + 3000;
    while (dispatcher.stats.running > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(dispatcher.stats.running, 0);
    const g = await request('GET', '/big');
    assert.equal(g.bytes, BIG.length);
    assert.match(String(g.headers['cache-status']), /hit/);
    assert.equal(origin.count('/big'), 1);
  });

  it('serves a byte range from the store', T, async () => {
    const r = await request('GET', '/big', { range: 'bytes=100-199' });
    assert.equal(r.status, 206);
    assert.equal(r.bytes, 100);
    assert.equal(origin.count('/big'), 1);
  });
});

it('HTTP/2 clients resetting streams on cached and uncached paths leave nothing in flight', { timeout: 30_000 }, async () => {
  const origin = await startOrigin();
  origin.on('/h2churn/*', (req, n) => ({
    headers: [['cache-control', Number((req.url ?? '').split('/')[2]) % 2 === 0 ? 'max-age=1' : 'no-store']],
    body: Buffer.alloc(100 * 1024 + (n % 5) * 1000, 98),
    delayMs: n % 3 === 0 ? 20 : 0,
  }));
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pk-h2-churn-'));
  const rt = createRuntime({ logger: createSilentLogger(), dataDir });
  await rt.apply(defineConfig({ listen: ['https://127.0.0.1:0'], tls: 'internal', routes: [route('/*').to(pool('o', [origin.url])).cache()] }));
  try {
    for (let round = 0; round < 10; round++) {
      const client = http2.connect(rt.listeners[0]!.url, { rejectUnauthorized: false });
      client.on('error', () => {});
      const streams = Array.from({ length: 30 }, (_, i) => {
        const s = client.request({ ':method': i % 4 === 0 ? 'HEAD' : 'GET', ':path': `/h2churn/${i % 6}` });
        s.on('error', () => {});
        if (i % 3 === 0) s.once('data', () => s.close(http2.constants.NGHTTP2_CANCEL));
        else s.resume();
        return new Promise<void>((resolve) => s.on('close', () => resolve()));
      });
      if (round % 2 === 0) {
        await new Promise((r) => setTimeout(r, 10));
        client.destroy(); // the whole connection goes, mid-flight
      } else {
        await Promise.all(streams);
        client.close();
      }
    }
    const gateway = (rt as unknown as { gateway: { inflight: number; plan: Plan } }).gateway;
    const dispatcher = gateway.plan.pools.get('o')!.upstreams[0]!.dispatcher;
    await waitUntil(() => gateway.inflight === 0 && dispatcher.stats.running === 0, 5000, 'nothing in flight, no upstream request running');
    assert.equal(gateway.inflight, 0, 'nothing left in flight');
    assert.equal(dispatcher.stats.running, 0, 'no upstream request left running');
    const t0 = performance.now();
    await rt.close(2000);
    assert.ok(performance.now() - t0 < 2500, 'shutdown was not held up');
  } finally {
    await rt.close(0).catch(() => {});
    await origin.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

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

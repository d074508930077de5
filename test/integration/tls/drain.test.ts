/**
 * Shutdown of an https listener: at the drain deadline the connections still open are cut (node
 * 20's HTTP/2 server cannot do it for us), so a stuck request cannot hold the process.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import { defineConfig, route, pool } from '../../../src/index.js';
import { createRuntime } from '../../../src/engine/runtime.js';
import { createSilentLogger } from '../../../src/observe/logger.js';
import { startBackend, waitUntil } from '../../helpers/backend.js';

it('cuts https connections still open at the drain deadline', { timeout: 15_000 }, async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pk-drain-'));
  const be = await startBackend({ respond: { hang: true } });
  const rt = createRuntime({ logger: createSilentLogger(), dataDir });
  try {
    await rt.apply(defineConfig({ listen: ['https://127.0.0.1:0'], tls: 'internal', routes: [route('/*').to(pool('be', [be.url]))] }));
    const client = http2.connect(rt.listeners[0]!.url, { rejectUnauthorized: false });
    client.on('error', () => {});
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    const req = client.request({ ':path': '/stuck' });
    req.on('error', () => {});
    await be.waitForRequests(1, 5000);
    const t0 = performance.now();
    await rt.close(300);
    await closed;
    const ms = performance.now() - t0;
    assert.ok(ms < 3000, `connection cut ${Math.round(ms)} ms after close(300)`);
  } finally {
    await rt.close(0).catch(() => {});
    await be.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

it('an HTTP/2 client that goes away while the upstream answers frees the upstream request (no stuck connection)', { timeout: 15_000 }, async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pk-drain-'));
  // The client goes while the upstream is still thinking: the compat response then says its
  // writes are finished, the upstream answer arrives for a dead stream, and a write to it returns
  // false, which pauses the upstream request for a 'drain' that can never come.
  const be = await startBackend({ respond: { delayMs: 300, streamBytes: 256 * 1024 } });
  const rt = createRuntime({ logger: createSilentLogger(), dataDir });
  try {
    await rt.apply(defineConfig({ listen: ['https://127.0.0.1:0'], tls: 'internal', routes: [route('/*').to(pool('be', [be.url]))] }));
    const client = http2.connect(rt.listeners[0]!.url, { rejectUnauthorized: false });
    client.on('error', () => {});
    for (let i = 0; i < 5; i++) client.request({ ':path': `/big/${i}` }).on('error', () => {}); // never read
    await be.waitForRequests(5, 5000);
    client.destroy();
    const plan = (rt as unknown as { gateway: { plan: import('../../../src/engine/plan.js').Plan } }).gateway.plan;
    const dispatcher = plan.pools.get('be')!.upstreams[0]!.dispatcher;
    await waitUntil(() => dispatcher.stats.running === 0, 3000, 'every upstream request ended with its client');
    assert.equal(dispatcher.stats.running, 0, 'every upstream request ended with its client');
    const t0 = performance.now();
    await rt.close(2000);
    assert.ok(performance.now() - t0 < 2500, 'shutdown did not wait for a stuck upstream request');
  } finally {
    await rt.close(0).catch(() => {});
    await be.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

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
import { startBackend } from '../../helpers/backend.js';

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

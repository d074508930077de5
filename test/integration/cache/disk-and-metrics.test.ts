/**
 * The disk store through the whole proxy (entries survive a restart and a hit then never asks the
 * origin), and the cache's Prometheus metrics as a scrape sees them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { defineConfig, route, pool } from '../../../src/index.js';
import { registerCacheMetrics } from '../../../src/cache/metrics.js';
import { startProxy, httpRequest } from '../../helpers/proxy.js';
import { startOrigin } from './origin.js';

const T = { timeout: 15_000 };

describe('disk cache', () => {
  it('serves entries stored before a restart without asking the origin', T, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pk-disk-cache-'));
    const origin = await startOrigin();
    origin.on('/persist', () => ({ headers: [['cache-control', 'max-age=600'], ['etag', '"p"']], body: 'kept on disk' }));
    const config = defineConfig({
      listen: ['http://127.0.0.1:0'],
      cache: { maxSize: '4mb', disk: { path: dir } },
      routes: [route('/*').to(pool('o', [origin.url])).cache()],
    });
    try {
      const px1 = await startProxy(config);
      // One Host for both runs: the key is the URI, and each run listens on a new port.
      const host = { host: 'example.test' };
      assert.equal((await httpRequest(px1.base + '/persist', { headers: host })).text, 'kept on disk');
      await px1.close();
      const px2 = await startProxy(config);
      try {
        const host = { host: 'example.test' };
        const r = await httpRequest(px2.base + '/persist', { headers: host });
        assert.equal(r.text, 'kept on disk');
        assert.match(String(r.headers['cache-status']), /hit/);
        const ranged = await httpRequest(px2.base + '/persist', { headers: { ...host, range: 'bytes=5-6' } });
        assert.equal(ranged.status, 206);
        assert.equal(ranged.text, 'on');
        assert.equal(origin.count('/persist'), 1);
      } finally {
        await px2.close();
      }
    } finally {
      await origin.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('cache metrics', () => {
  it('exposes hits, misses and store size', T, async () => {
    const origin = await startOrigin();
    origin.on('/m', () => ({ headers: [['cache-control', 'max-age=60']], body: '12345' }));
    const px = await startProxy(defineConfig({ listen: ['http://127.0.0.1:0'], routes: [route('/*').to(pool('o', [origin.url])).cache()] }));
    try {
      const registry = new Registry();
      registerCacheMetrics(registry, () => px.rt.httpCache());
      for (let i = 0; i < 3; i++) await httpRequest(px.base + '/m');
      const text = await registry.metrics();
      assert.match(text, /proxykit_cache_requests_total\{result="hit"\} 2/);
      assert.match(text, /proxykit_cache_requests_total\{result="miss"\} 1/);
      assert.match(text, /proxykit_cache_entries 1/);
      assert.match(text, /proxykit_cache_bytes [1-9]/);
    } finally {
      await px.close();
      await origin.close();
    }
  });
});

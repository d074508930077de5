/**
 * The cache's operations surface as `proxykit start` wires it (serve(), a config file, the admin
 * listener): purge by tag and URL over HTTP, stats, Prometheus series, the live snapshot.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { serve } from '../../../src/cli/serve.js';
import { createAdminContext } from '../../../src/cli/admin-context.js';
import { recordingLogger } from '../../helpers/recording-logger.js';
import { httpRequest } from '../../helpers/proxy.js';
import { startOrigin } from './origin.js';

it('purges over the admin API and reports the cache in /cache, /metrics and the live snapshot', { timeout: 20_000 }, async () => {
  const origin = await startOrigin();
  origin.on('/p/*', () => ({ headers: [['cache-control', 'max-age=60'], ['surrogate-key', 'products']], body: 'product' }));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pk-cache-admin-'));
  const configPath = path.join(dir, 'proxy.config.ts');
  fs.writeFileSync(
    configPath,
    `import { defineConfig, route, pool } from 'proxykit';
export default defineConfig({
  listen: ['http://127.0.0.1:0'],
  admin: { listen: 'http://127.0.0.1:0' },
  log: { access: false },
  routes: [route('/*').to(pool('origin', ['${origin.url}'])).cache()],
});
`,
  );
  const logger = recordingLogger();
  const server = await serve({ configPath, mode: 'start', makeLogger: () => logger, dataDir: path.join(dir, 'data') });
  try {
    const adminLine = logger.lines.find((l) => l.msg.startsWith('admin API and dashboard on '));
    assert.ok(adminLine, logger.dump());
    const admin = adminLine.msg.slice('admin API and dashboard on '.length).replace(/\/$/, '');
    const base = server.runtime.listeners[0]!.url.replace(/\/$/, '');
    const host = { host: 'shop.test' };
    for (const p of ['/p/1', '/p/2', '/p/1']) await httpRequest(base + p, { headers: host });
    assert.equal(origin.count('/p/1'), 1);

    const purge = async (body: unknown) => {
      const r = await httpRequest(admin + '/cache/purge', { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
      return { status: r.status, body: JSON.parse(r.text) as Record<string, unknown> };
    };
    assert.deepEqual(await purge({ url: 'http://shop.test/p/2' }), { status: 200, body: { ok: true, url: 'http://shop.test/p/2', purged: 1 } });
    assert.deepEqual((await purge({ tag: 'products' })).body.purged, 1);
    assert.equal((await purge({ nothing: true })).status, 400);
    await httpRequest(base + '/p/1', { headers: host });
    assert.equal(origin.count('/p/1'), 2, 'purged by tag: the origin was asked again');

    const stats = JSON.parse((await httpRequest(admin + '/cache')).text) as Record<string, number>;
    assert.equal(stats.entries, 1);
    assert.equal(stats.hits, 1);
    assert.equal(stats.misses, 3);
    const metrics = (await httpRequest(admin + '/metrics')).text;
    assert.match(metrics, /proxykit_cache_requests_total\{result="hit"\} 1/);
    assert.match(metrics, /proxykit_cache_entries 1/);
    const live = createAdminContext(server).live();
    assert.deepEqual(live.cache, { hits: 1, misses: 3, ratio: 0.25 });
  } finally {
    await server.close();
    await origin.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

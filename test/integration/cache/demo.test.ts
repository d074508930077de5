/**
 * The quickstart's cached route against the real demo backends: what `npm run demo` shows a new
 * user (the second request is a hit with the first one's body).
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { defineConfig, route, pool } from '../../../src/index.js';
import { startDemoBackend } from '../../../src/cli/demo.js';
import { startProxy, httpRequest } from '../../helpers/proxy.js';

it('the demo backends mark /cached/* cacheable and the quickstart route caches it', { timeout: 10_000 }, async () => {
  const backends = [await startDemoBackend('backend-1', 0), await startDemoBackend('backend-2', 0)];
  const urls = backends.map((b) => `http://127.0.0.1:${(b.address() as AddressInfo).port}`);
  const api = pool('api', urls).balance('round-robin');
  const px = await startProxy(
    defineConfig({
      listen: ['http://127.0.0.1:0'],
      routes: [route('/api/cached/*').to(api).stripPrefix('/api').cache(), route('/api/*').to(api).stripPrefix('/api')],
    }),
  );
  try {
    const a = await httpRequest(px.base + '/api/cached/now');
    const b = await httpRequest(px.base + '/api/cached/now');
    assert.match(String(a.headers['cache-status']), /stored/);
    assert.match(String(b.headers['cache-status']), /hit/);
    assert.equal(b.text, a.text, 'the same generatedAt and backend: served from the cache');
    const plain = await httpRequest(px.base + '/api/hello');
    assert.equal(plain.headers['cache-status'], undefined);
  } finally {
    await px.close();
    await Promise.all(backends.map((s) => new Promise((r) => s.close(r))));
  }
});

/**
 * Circuit breaking: per-upstream max connections and max pending requests. Beyond them the proxy
 * fails fast with 503 and `Retry-After` instead of queueing without bound; once the load is gone,
 * requests succeed again.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { defineConfig, route, pool } from '../../../src/index.js';
import { startBackend, waitUntil, type Backend, type RespondSpec } from '../../helpers/backend.js';
import { startProxy, httpRequest, type HttpResult, type Proxy } from '../../helpers/proxy.js';

const T = { timeout: 20_000 };
const SLOW_MS = 1500;

describe('circuit breaker', () => {
  let be: Backend;
  let px: Proxy;

  before(async () => {
    be = await startBackend({ respond: (rec): RespondSpec => (rec.url.startsWith('/slow') ? { delayMs: SLOW_MS, body: 'slow' } : { body: 'fast' }) });
    px = await startProxy(
      defineConfig({
        listen: ['http://127.0.0.1:0'],
        routes: [route('/*').to(pool('cb', [be.url]).circuitBreaker({ maxConnections: 2, maxPending: 2 }))],
      }),
    );
  });
  after(async () => {
    await px?.close();
    await be?.close();
  });

  it('6 concurrent requests to a slow backend: 2 connected + 2 pending are served, 2 get a fast 503 with Retry-After', T, async () => {
    const t0 = Date.now();
    const timed = Array.from({ length: 6 }, (_, i) =>
      httpRequest(`${px.base}/slow/${i}`, { timeoutMs: 10_000 }).then((r): [HttpResult, number] => [r, Date.now() - t0]),
    );
    // The backend never sees more than 2 at once.
    await waitUntil(() => be.requests.length >= 2, 3000, 'two requests at the backend');
    const results = await Promise.all(timed);
    const ok = results.filter(([r]) => r.status === 200);
    const rejected = results.filter(([r]) => r.status === 503);
    const shown = results.map(([r, ms]) => `${r.status}@${ms}ms`).join(' ');
    assert.equal(ok.length, 4, `expected 4 served: ${shown}`);
    assert.equal(rejected.length, 2, `expected 2 rejected with 503: ${shown}`);
    for (const [r, ms] of rejected) {
      assert.ok(ms < SLOW_MS / 2, `a 503 took ${ms} ms: the breaker must fail fast (${shown})`);
      const ra = r.headers['retry-after'];
      assert.ok(ra !== undefined && /^\d+$/.test(String(ra)), `503 without a numeric Retry-After: ${JSON.stringify(r.headers)}`);
    }
    // Two waited for a connection: they finish after about two backend delays.
    const slowest = Math.max(...ok.map(([, ms]) => ms));
    assert.ok(slowest >= 2 * SLOW_MS - 200, `the pending requests should have waited for a free connection (slowest ${slowest} ms)`);
    assert.equal(be.requests.length, 4, 'the rejected requests never reached the backend');
    assert.ok(be.connections <= 2, `the backend saw ${be.connections} connections (max 2)`);
  });

  it('once the burst is over, new requests succeed', T, async () => {
    for (let i = 0; i < 5; i++) {
      const r = await httpRequest(`${px.base}/fast/${i}`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.text, 'fast');
    }
    const again = await Promise.all(Array.from({ length: 4 }, (_, i) => httpRequest(`${px.base}/slow/again-${i}`, { timeoutMs: 10_000 })));
    assert.deepEqual(
      again.map((r) => r.status),
      [200, 200, 200, 200],
      '4 concurrent = maxConnections + maxPending: all served',
    );
  });
});

/**
 * Slow clients and connection caps: headersTimeout, requestTimeout, limits.maxConnections.
 * node:http checks these timeouts on `connectionsCheckingInterval` (30 s by default); proxykit
 * must enforce them close to the configured value.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { defineConfig, route, pool } from '../../../src/index.js';
import { createRuntime } from '../../../src/engine/runtime.js';
import type { Runtime } from '../../../src/engine/runtime-api.js';
import { createSilentLogger } from '../../../src/observe/logger.js';
import { startBackend, waitUntil, sleep, type Backend } from '../../helpers/backend.js';
import { startProxy, httpRequest, withTimeout, type Proxy } from '../../helpers/proxy.js';
import { rawRequest, rawConnect, type RawConn } from '../../helpers/raw.js';

const T = { timeout: 10_000 };
/**
 * Allowed lateness over a configured limit: well below node's 30 s default check, well above the
 * proxy's checking interval plus a busy machine's timer delays.
 */
const SLACK_MS = 1000;

describe('slow clients', () => {
  let be: Backend;
  let px: Proxy;

  before(async () => {
    be = await startBackend();
    px = await startProxy(
      defineConfig({
        listen: ['http://127.0.0.1:0'],
        limits: { headersTimeout: '500ms', requestTimeout: '1000ms' },
        routes: [route('/*').to(pool('be', [be.url]))],
      }),
    );
  });
  after(async () => {
    await px?.close();
    await be?.close();
  });

  it('half a head then silence: 408 or close within headersTimeout + slack', T, async () => {
    const r = await rawRequest(px.port, 'GET /echo/slow HTTP/1.1\r\nHost: slow.test\r\n', { timeoutMs: 4000 });
    assert.ok(r.closed, `connection still open after ${r.elapsedMs} ms`);
    assert.ok(r.status === 408 || r.status === 0, `expected 408 or a bare close, got ${r.status}: ${r.text.slice(0, 200)}`);
    assert.ok(r.elapsedMs >= 400, `closed too early (${r.elapsedMs} ms): the limit is 500 ms`);
    assert.ok(r.elapsedMs <= 500 + SLACK_MS, `closed after ${r.elapsedMs} ms, limit 500 ms`);
  });

  it('a slowloris trickling header bytes is cut at headersTimeout (total, not idle)', T, async () => {
    const c = await rawConnect(px.port);
    const t0 = Date.now();
    try {
      c.write('GET /echo/loris HTTP/1.1\r\nHost: slow.test\r\n');
      for (let i = 0; i < 40 && !c.closed; i++) {
        c.write(`X-${i}: y\r\n`);
        await sleep(100);
      }
      assert.ok(c.closed, 'connection still open after 4 s of trickling');
      const ms = Date.now() - t0;
      assert.ok(ms <= 500 + SLACK_MS + 100, `cut after ${ms} ms, limit 500 ms`);
      assert.match(c.received(), /^(HTTP\/1\.1 408 |$)/);
    } finally {
      c.destroy();
    }
  });

  it('a client that sends the head then stalls the body: 408 or close within requestTimeout + slack', T, async () => {
    const before = be.requests.length;
    const t0 = Date.now();
    const r = await rawRequest(
      px.port,
      'POST /echo/stall HTTP/1.1\r\nHost: slow.test\r\nContent-Length: 100\r\n\r\n0123456789',
      { timeoutMs: 5000 },
    );
    const ms = Date.now() - t0;
    assert.ok(r.closed, `connection still open after ${ms} ms`);
    assert.ok(r.status === 408 || r.status === 0, `expected 408 or a bare close, got ${r.status}: ${r.text.slice(0, 200)}`);
    assert.ok(ms >= 800, `closed too early (${ms} ms): requestTimeout is 1000 ms`);
    assert.ok(ms <= 1000 + SLACK_MS, `closed after ${ms} ms, limit 1000 ms`);
    // If the head was forwarded, the upstream request must have been aborted, never completed.
    for (const q of be.requests.slice(before)) {
      await waitUntil(() => q.closedEarly, 2000, 'the upstream request of the stalled body aborted');
      assert.equal(q.complete, false);
    }
  });

  it('a slow but steady request that finishes inside the limits is served', T, async () => {
    const r = await rawRequest(px.port, 'POST /echo/steady HTTP/1.1\r\nHost: slow.test\r\nContent-Length: 4\r\nConnection: close\r\n\r\n', {
      timeoutMs: 4000,
      pieces: ['POST /echo/steady HTTP/1.1\r\nHost: slow.test\r\n', 'Content-Length: 4\r\nConnection: close\r\n\r\n', 'ab', 'cd'],
      gapMs: 100,
    });
    assert.equal(r.status, 200, r.text.slice(0, 200));
  });

  it('an idle keep-alive connection is not counted against headersTimeout while a request is served', T, async () => {
    // Two requests 300 ms apart on one connection: each head arrives promptly, so no 408.
    const c = await rawConnect(px.port);
    try {
      c.write('GET /echo/ka1 HTTP/1.1\r\nHost: slow.test\r\n\r\n');
      await c.waitFor(/HTTP\/1\.1 200/, 2000);
      await sleep(300);
      c.write('GET /echo/ka2 HTTP/1.1\r\nHost: slow.test\r\nConnection: close\r\n\r\n');
      const text = await c.waitFor(/HTTP\/1\.1 200[\s\S]*HTTP\/1\.1 200/, 2000);
      assert.doesNotMatch(text, / 408 /);
    } finally {
      c.destroy();
    }
  });
});

describe('connection cap', () => {
  let be: Backend;
  let rt: Runtime;
  let px: { base: string; port: number };
  /** Client connections the proxy holds open now (from its live connection counts). */
  let connections = 0;
  const N = 3;

  before(async () => {
    be = await startBackend();
    rt = createRuntime({ logger: createSilentLogger(), live: { record() {}, connections: (d) => void (connections += d), reload() {} } });
    await rt.apply(
      defineConfig({
        listen: ['http://127.0.0.1:0'],
        limits: { maxConnections: N },
        routes: [route('/*').to(pool('be', [be.url]))],
      }),
    );
    const base = rt.listeners[0]!.url.replace(/\/$/, '');
    px = { base, port: Number(new URL(base).port) };
  });
  after(async () => {
    if (rt) await withTimeout(rt.close(1000), 5000, 'rt.close()');
    await be?.close();
  });

  it(`limits.maxConnections: ${N} refuses connection ${N + 1} and accepts again after one closes`, T, async () => {
    const open: RawConn[] = [];
    try {
      for (let i = 0; i < N; i++) {
        const c = await rawConnect(px.port);
        open.push(c);
        c.write(`GET /echo/cap${i} HTTP/1.1\r\nHost: cap.test\r\n\r\n`);
        await c.waitFor(/HTTP\/1\.1 200/, 2000);
      }
      const extra = await rawRequest(px.port, 'GET /echo/over HTTP/1.1\r\nHost: cap.test\r\n\r\n', { timeoutMs: 1500 });
      assert.ok(
        extra.status === 503 || (extra.status === 0 && extra.closed),
        `connection ${N + 1} should be refused (503 or closed), got ${extra.status} closed=${extra.closed}`,
      );
      assert.ok(!be.requests.some((q) => q.url === '/echo/over'), 'the over-cap request must not be forwarded');

      assert.equal(connections, N);
      open.shift()!.destroy();
      await waitUntil(() => connections < N, 3000, 'the proxy to see a connection close');
      const again = await httpRequest(`${px.base}/echo/again`, { timeoutMs: 2000 });
      assert.equal(again.status, 200, 'a slot freed by a closed connection is usable again');
    } finally {
      for (const c of open) c.destroy();
    }
  });
});

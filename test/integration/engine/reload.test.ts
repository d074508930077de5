/**
 * Reload and shutdown: in-flight requests finish on the old Plan, a config that fails validation
 * leaves the old Plan serving, 500 applies do not grow the heap, graceful close drains.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { defineConfig, route, pool } from '../../../src/index.js';
import type { ConfigSpec } from '../../../src/config/spec.js';
import { startBackend, sleep, waitUntil, type Backend, type RespondSpec } from '../../helpers/backend.js';
import { startProxy, httpRequest, echoOf, withTimeout, type Proxy } from '../../helpers/proxy.js';

const T = { timeout: 20_000 };

/** A backend that holds every request until the test calls `release()`, then answers a JSON echo. */
interface HeldBackend {
  url: string;
  /** Requests received so far. */
  received: number;
  release(): void;
  close(): Promise<void>;
}

async function startHeldBackend(): Promise<HeldBackend> {
  let released = false;
  const held: Array<() => void> = [];
  const server = http.createServer((req, res) => {
    hb.received++;
    const answer = (): void => {
      const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, rawHeaders: req.rawHeaders, bodyBytes: 0 });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    req.resume();
    req.on('end', () => (released ? answer() : held.push(answer)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const hb: HeldBackend = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received: 0,
    release() {
      released = true;
      for (const a of held.splice(0)) a();
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  return hb;
}

describe('reload', () => {
  let be: Backend;
  let px: Proxy;

  const v1 = (): ConfigSpec =>
    defineConfig({
      listen: ['http://127.0.0.1:0'],
      routes: [route('/version').respond(200, 'v1'), route('/*').to(pool('be', [be.url]))],
    });
  const v2 = (): ConfigSpec =>
    defineConfig({
      listen: ['http://127.0.0.1:0'],
      routes: [route('/version').respond(200, 'v2'), route('/slow/*').respond(200, 'new-plan'), route('/*').to(pool('be', [be.url]))],
    });

  before(async () => {
    be = await startBackend({
      respond: (rec): RespondSpec => (rec.url.startsWith('/slow') ? { delayMs: 800 } : rec.url.startsWith('/hang') ? { hang: true } : {}),
    });
    px = await startProxy(v1());
  });
  after(async () => {
    await px?.close();
    await be?.close();
  });

  it('apply returns a new plan id and the new routes serve', T, async () => {
    assert.equal((await httpRequest(`${px.base}/version`)).text, 'v1');
    const a = await px.rt.apply(v2());
    const b = await px.rt.apply(v1());
    assert.ok(b.planId > a.planId, `plan ids must increase (${a.planId} then ${b.planId})`);
    assert.equal((await httpRequest(`${px.base}/version`)).text, 'v1');
    await px.rt.apply(v2());
    assert.equal((await httpRequest(`${px.base}/version`)).text, 'v2');
    await px.rt.apply(v1());
  });

  it('an in-flight request started on the old plan completes after a reload', T, async () => {
    // The request is held at the backend until the test releases it, so "apply does not wait for
    // it" is shown by order, not by timing. The 'held' pool is in both plans (unchanged by the reload).
    const held = await startHeldBackend();
    const withHeld = (spec: ConfigSpec, path: string): ConfigSpec => {
      const heldRoute = defineConfig({ routes: [route(path).to(pool('held', [held.url]))] }).routes[0]!;
      return { ...spec, routes: [heldRoute, ...spec.routes] };
    };
    try {
      await px.rt.apply(withHeld(v1(), '/slow/*'));
      let settled = false;
      const inflight = httpRequest(`${px.base}/slow/x`, { timeoutMs: 10_000 }).finally(() => (settled = true));
      inflight.catch(() => {});
      await waitUntil(() => held.received === 1, 3000, 'the request at the backend');
      await withTimeout(px.rt.apply(withHeld(v2(), '/held-elsewhere/*')), 5000, 'apply with a request in flight');
      assert.equal(settled, false, 'apply should not wait for in-flight requests');
      assert.equal((await httpRequest(`${px.base}/slow/y`)).text, 'new-plan', 'new requests use the new plan');
      held.release();
      const r = await inflight;
      assert.equal(r.status, 200);
      assert.equal(echoOf(r).url, '/slow/x', 'the in-flight request was served by the old plan (the backend)');
    } finally {
      held.release();
      await px.rt.apply(v1());
      await held.close();
    }
  });

  it('keep-alive connections of an unchanged pool survive a reload', T, async () => {
    const get = (): Promise<void> =>
      new Promise((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: px.port, path: '/echo/pooled', agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve());
        }).on('error', reject);
      });
    await get();
    await get();
    const conns = be.connections;
    await px.rt.apply(v1()); // a new spec object, same pool name and upstreams
    await get();
    await get();
    assert.equal(be.connections, conns, `the upstream saw ${be.connections - conns} new connection(s) after a reload that kept the pool`);
  });

  it('a long-running response stream survives a reload that removes its pool', T, async () => {
    const total = 64 * 1024 * 1024;
    const streamBe = await startBackend({ respond: { streamBytes: total } });
    try {
      await px.rt.apply(
        defineConfig({
          listen: ['http://127.0.0.1:0'],
          routes: [route('/stream/*').to(pool('streamer', [streamBe.url])), route('/*').to(pool('be', [be.url]))],
        }),
      );
      const got = await new Promise<number>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port: px.port, path: '/stream/x', agent: false });
        const timer = setTimeout(() => req.destroy(new Error('stream did not finish in 15 s')), 15_000);
        req.on('error', (e) => {
          clearTimeout(timer);
          reject(e);
        });
        req.on('response', (res) => {
          let n = 0;
          let reloaded = false;
          res.on('data', (c: Buffer) => {
            n += c.length;
            if (!reloaded && n > 4 * 1024 * 1024) {
              reloaded = true;
              res.pause();
              // The new config no longer has the 'streamer' pool at all.
              px.rt.apply(v1()).then(
                () => setTimeout(() => res.resume(), 50),
                (e: Error) => reject(e),
              );
            }
          });
          res.on('aborted', () => reject(new Error(`stream cut after ${n} bytes`)));
          res.on('error', (e) => reject(e));
          res.on('end', () => {
            clearTimeout(timer);
            resolve(n);
          });
        });
      });
      assert.equal(got, total, 'the whole stream arrived across the reload');
    } finally {
      await px.rt.apply(v1());
      await streamBe.close();
    }
  });

  it('a config that fails validation throws and the old plan keeps serving', T, async () => {
    assert.equal((await httpRequest(`${px.base}/version`)).text, 'v1');
    const bad = structuredClone(v2()) as ConfigSpec & { routes: Array<{ match: string }> };
    bad.routes[0]!.match = 'not a valid pattern';
    await assert.rejects(px.rt.apply(bad), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'PK_ERR_CONFIG', `expected a ConfigError, got ${e.name}: ${e.message}`);
      return true;
    });
    const badPool = structuredClone(v2()) as unknown as { routes: Array<{ target?: { pool?: { upstreams: Array<{ url: string }> } } }> };
    badPool.routes[2]!.target!.pool!.upstreams[0]!.url = 'http//missing-colon';
    await assert.rejects(px.rt.apply(badPool as unknown as ConfigSpec));
    assert.equal((await httpRequest(`${px.base}/version`)).text, 'v1', 'the old plan still serves');
    const r = await httpRequest(`${px.base}/echo/still`);
    assert.equal(r.status, 200);
  });

  it('500 applies do not grow the heap by more than a few MB', { timeout: 60_000 }, async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const big = (i: number): ConfigSpec =>
      defineConfig({
        listen: ['http://127.0.0.1:0'],
        routes: [
          ...Array.from({ length: 20 }, (_, k) => route(`/r${k}/*`).to(pool(`p${k % 5}`, [be.url])).stripPrefix(`/r${k}`)),
          route('/version').respond(200, `v${i}`),
          route('/*').to(pool('be', [be.url])),
        ],
      });
    for (let i = 0; i < 50; i++) await px.rt.apply(big(i));
    await httpRequest(`${px.base}/r1/echo`);
    const settle = async (): Promise<number> => {
      for (let i = 0; i < 4; i++) {
        gc();
        await sleep(20);
      }
      return process.memoryUsage().heapUsed;
    };
    const h0 = await settle();
    const t0 = Date.now();
    for (let i = 0; i < 500; i++) {
      await px.rt.apply(big(i));
      if (i % 50 === 0) assert.equal((await httpRequest(`${px.base}/r3/echo`)).status, 200);
    }
    const perApply = (Date.now() - t0) / 500;
    const h1 = await settle();
    const grew = (h1 - h0) / (1024 * 1024);
    assert.ok(grew < 4, `heap grew ${grew.toFixed(2)} MiB over 500 applies (${(h0 / 1048576).toFixed(1)} → ${(h1 / 1048576).toFixed(1)} MiB)`);
    assert.equal((await httpRequest(`${px.base}/version`)).text, 'v499');
    assert.ok(perApply < 50, `apply took ${perApply.toFixed(1)} ms on average`);
    await px.rt.apply(v1());
  });
});

describe('graceful close', () => {
  let be: Backend;

  before(async () => {
    be = await startBackend({
      respond: (rec): RespondSpec => (rec.url.startsWith('/slow') ? { delayMs: 600 } : rec.url.startsWith('/hang') ? { hang: true } : {}),
    });
  });
  after(async () => {
    await be?.close();
  });

  it('close() lets in-flight requests finish, refuses new ones, then resolves', T, async () => {
    // The request is held at the backend until the test releases it: close() cannot be done before.
    const held = await startHeldBackend();
    const px: Proxy = await startProxy(defineConfig({ listen: ['http://127.0.0.1:0'], routes: [route('/*').to(pool('be', [held.url]))] }));
    try {
      const inflight = httpRequest(`${px.base}/slow/drain`, { timeoutMs: 15_000 });
      inflight.catch(() => {});
      await waitUntil(() => held.received === 1, 3000, 'the request at the backend');
      let closed = false;
      const closing = px.rt.close(10_000).then(() => {
        closed = true;
      });
      await sleep(100); // time for a close() that (wrongly) does not wait to resolve
      assert.equal(closed, false, 'close must wait for the in-flight request');
      await assert.rejects(httpRequest(`${px.base}/echo/new`, { timeoutMs: 1500 }), 'new connections are refused while draining');
      assert.equal(closed, false, 'close must wait for the in-flight request');
      const t0 = Date.now();
      held.release();
      const r = await inflight;
      assert.equal(r.status, 200);
      assert.equal(echoOf(r).url, '/slow/drain');
      await withTimeout(closing, 3000, 'close() after the last request');
      const ms = Date.now() - t0;
      assert.ok(ms < 2000, `close resolved ${ms} ms after the only request was answered`);
    } finally {
      held.release();
      await px.close();
      await held.close();
    }
  });

  it('close(deadline) gives up on a hung request at the deadline', T, async () => {
    const px: Proxy = await startProxy(defineConfig({ listen: ['http://127.0.0.1:0'], routes: [route('/*').to(pool('be', [be.url]))] }));
    const before = be.requests.length;
    const req = http.get({ host: '127.0.0.1', port: px.port, path: '/hang/forever', agent: false });
    const clientDone = new Promise<string>((resolve) => {
      req.on('error', (e) => resolve(`error ${e.message}`));
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(`response ${res.statusCode}`));
        res.on('error', (e) => resolve(`error ${e.message}`));
      });
    });
    await be.waitForRequests(before + 1, 3000);
    const t0 = Date.now();
    await withTimeout(px.rt.close(400), 3000, 'close(400) with a hung request');
    const ms = Date.now() - t0;
    assert.ok(ms >= 350 && ms < 1500, `close(400) resolved after ${ms} ms`);
    const outcome = await withTimeout(clientDone, 2000, 'the client of the hung request to be released');
    assert.ok(outcome.startsWith('error') || /response 5\d\d/.test(outcome), outcome);
    await waitUntil(() => be.requests[before]!.closedEarly, 2000, 'the upstream request was cancelled');
  });

  it('keep-alive idle connections do not hold close() up', T, async () => {
    const px: Proxy = await startProxy(defineConfig({ listen: ['http://127.0.0.1:0'], routes: [route('/*').to(pool('be', [be.url]))] }));
    const agent = new http.Agent({ keepAlive: true });
    await new Promise<void>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: px.port, path: '/echo/ka', agent }, (res) => {
        res.resume();
        res.on('end', resolve);
      }).on('error', reject);
    });
    const t0 = Date.now();
    await withTimeout(px.rt.close(5000), 3000, 'close() with only idle keep-alive connections');
    assert.ok(Date.now() - t0 < 1000, `close took ${Date.now() - t0} ms with only idle connections`);
    agent.destroy();
  });
});

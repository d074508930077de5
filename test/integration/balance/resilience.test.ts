/**
 * Upstream resilience with real backends on loopback: a backend killed under load (retries hide
 * it, passive checks eject it within the configured failures, it rejoins after `ejectFor`), the
 * retry budget under a full outage, which requests may be retried (POST after its body was sent:
 * never; POST refused at connect: yes; configured statuses), and panic mode.
 */
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { defineConfig, route, pool, type AnyPool } from '../../../src/index.js';
import type { ConfigSpec } from '../../../src/config/spec.js';
import { createRuntime } from '../../../src/engine/runtime.js';
import type { Logger, LogFields } from '../../../src/observe/logger.js';
import { startBackend, deadPort, sleep, waitUntil, type Backend, type RespondSpec } from '../../helpers/backend.js';
import { startProxy, httpRequest, withTimeout, type Proxy } from '../../helpers/proxy.js';

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => {});
  cleanup = [];
});

const config = (p: AnyPool): ConfigSpec => defineConfig({ listen: ['http://127.0.0.1:0'], routes: [route('/*').to(p)] });

async function proxy(spec: ConfigSpec, logger?: Logger): Promise<Proxy> {
  let px: Proxy;
  if (logger === undefined) px = await startProxy(spec);
  else {
    const rt = createRuntime({ logger });
    await rt.apply(spec);
    const base = rt.listeners[0]!.url.replace(/\/$/, '');
    px = { rt, base, port: Number(new URL(base).port), close: (d = 1000) => withTimeout(rt.close(d), d + 4000, 'rt.close()') };
  }
  cleanup.unshift(() => px.close());
  return px;
}

async function named(name: string, extra: RespondSpec = {}): Promise<Backend> {
  const be = await startBackend({ respond: { body: name, ...extra } });
  cleanup.push(() => be.close());
  return be;
}

/** A logger that keeps every line as `level msg {fields}`, and when it was logged (`times[i]`, epoch ms). */
function capturingLogger(): Logger & { lines: string[]; times: number[] } {
  const lines: string[] = [];
  const times: number[] = [];
  const rec =
    (level: string) =>
    (msg: string, fields?: LogFields): void => {
      lines.push(`${level} ${msg}${fields ? ' ' + JSON.stringify(fields) : ''}`);
      times.push(Date.now());
    };
  return { lines, times, debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error'), access: () => {}, accessEnabled: false };
}

/** A plain node:http server on a given port that answers 200 with `name`; counts connections and requests. */
async function httpOnPort(port: number, name: string): Promise<{ requests: number; connections: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    s.requests++;
    req.resume();
    req.on('end', () => res.end(name));
  });
  const s = {
    requests: 0,
    connections: 0,
    async close() {
      server.close();
      for (const so of sockets) so.destroy();
    },
  };
  server.on('connection', (so: Socket) => {
    s.connections++;
    sockets.add(so);
    so.on('close', () => sockets.delete(so));
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  cleanup.push(() => s.close());
  return s;
}

/**
 * A TCP listener that accepts every connection and destroys it at once (a backend that is "up" at
 * the TCP level but resets everything), counting connections. On `port`, or a fresh one.
 */
async function resetter(port = 0): Promise<{ port: number; url: string; connections: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = net.createServer((so) => {
    r.connections++;
    so.on('error', () => {});
    so.resetAndDestroy?.() ?? so.destroy();
  });
  const r = {
    port: 0,
    url: '',
    connections: 0,
    async close() {
      server.close();
      for (const so of sockets) so.destroy();
    },
  };
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  r.port = (server.address() as AddressInfo).port;
  r.url = `http://127.0.0.1:${r.port}`;
  cleanup.push(() => r.close());
  return r;
}

/**
 * A backend that can be killed without a gap: a TCP listener handing connections to node:http.
 * `kill()` destroys every open connection (in-flight requests are reset) and from then on resets
 * each new connection at once, counting them in `attemptsSinceKill`. `close()` stops listening.
 */
async function killable(name: string, delayMs: number): Promise<{
  port: number;
  url: string;
  requests: number;
  /** Requests being answered right now. */
  inflight: number;
  attemptsSinceKill: number;
  kill(): void;
  close(): Promise<void>;
}> {
  const sockets = new Set<Socket>();
  let dead = false;
  const web = http.createServer((req, res) => {
    k.requests++;
    k.inflight++;
    res.on('close', () => k.inflight--);
    req.resume();
    req.on('end', () => setTimeout(() => res.end(name), delayMs));
  });
  const tcp = net.createServer((so) => {
    so.on('error', () => {});
    if (dead) {
      k.attemptsSinceKill++;
      so.resetAndDestroy?.() ?? so.destroy();
      return;
    }
    sockets.add(so);
    so.on('close', () => sockets.delete(so));
    web.emit('connection', so);
  });
  const k = {
    port: 0,
    url: '',
    requests: 0,
    inflight: 0,
    attemptsSinceKill: 0,
    kill() {
      dead = true;
      for (const so of sockets) so.resetAndDestroy?.() ?? so.destroy();
    },
    async close() {
      dead = true;
      tcp.close();
      for (const so of sockets) so.destroy();
      await new Promise<void>((r) => setTimeout(r, 0));
    },
  };
  tcp.listen(0, '127.0.0.1');
  await once(tcp, 'listening');
  k.port = (tcp.address() as AddressInfo).port;
  k.url = `http://127.0.0.1:${k.port}`;
  cleanup.push(() => k.close());
  return k;
}

/**
 * A TCP backend that reads a request (head + Content-Length body) completely, records its path,
 * then resets the connection without answering: the request body was sent, then the upstream died.
 */
async function readThenReset(): Promise<{ url: string; paths: string[]; connections: number }> {
  const server = net.createServer((so) => {
    rb.connections++;
    let buf = '';
    so.on('error', () => {});
    so.on('data', (c: Buffer) => {
      buf += c.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const cl = Number(/\r\ncontent-length:\s*(\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
      if (buf.length - end - 4 < cl) return;
      rb.paths.push(buf.slice(0, buf.indexOf('\r\n')).split(' ')[1] ?? '');
      so.resetAndDestroy?.() ?? so.destroy();
    });
  });
  const rb = { url: '', paths: [] as string[], connections: 0 };
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  rb.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cleanup.push(async () => void server.close());
  return rb;
}

interface LoadResult {
  statuses: Map<number, number>;
  errors: string[];
  done: number;
}

/** `workers` loops of GETs until `stop()` is called or `maxRequests` / `maxMs` is reached. */
function load(base: string, workers: number, maxRequests: number, maxMs: number): { result: LoadResult; stop(): void; finished: Promise<LoadResult> } {
  const result: LoadResult = { statuses: new Map(), errors: [], done: 0 };
  let stopped = false;
  const end = Date.now() + maxMs;
  let issued = 0;
  const worker = async (w: number): Promise<void> => {
    while (!stopped && issued < maxRequests && Date.now() < end) {
      const i = issued++;
      try {
        const r = await httpRequest(`${base}/load/${w}/${i}`, { timeoutMs: 5000 });
        result.statuses.set(r.status, (result.statuses.get(r.status) ?? 0) + 1);
        if (r.status !== 200) result.errors.push(`#${i}: ${r.status} ${r.text.slice(0, 120)}`);
      } catch (e) {
        result.errors.push(`#${i}: ${(e as Error).message}`);
      }
      result.done++;
      await sleep(2);
    }
  };
  const finished = Promise.all(Array.from({ length: workers }, (_, w) => worker(w))).then(() => result);
  return { result, stop: () => void (stopped = true), finished };
}

// ---------------------------------------------------------------------------------------------

describe('a backend dies under load', () => {
  it('retries hide it, passive checks eject it within the configured failures, it rejoins after ejectFor', { timeout: 90_000 }, async (t) => {
    const a = await named('a');
    const b = await named('b');
    const victim = await killable('victim', 5); // 5 ms: a request or two in flight when it dies
    const failures = 3;
    const workers = 4;
    const ejectForMs = 3000;
    const logger = capturingLogger();
    const px = await proxy(
      config(pool('res', [a.url, b.url, victim.url]).balance('round-robin').retry({ attempts: 2 }).passive({ failures, ejectFor: `${ejectForMs}ms` })),
      logger,
    );
    // Bounded either way: stopped below once the victim rejoined, at the latest after 60 s / 100k requests.
    const run = load(px.base, workers, 100_000, 60_000);
    await waitUntil(() => victim.requests >= 20, 10_000, 'the victim served 20 requests');

    // Kill it: every open connection is reset (in-flight requests too), and from now on every
    // connection attempt is accepted and reset at once, and counted.
    const inflightAtKill = victim.inflight;
    victim.kill();

    const isEjection = (l: string): boolean => l.startsWith('warn upstream ejected');
    await waitUntil(() => logger.lines.some(isEjection), 10_000, 'the victim is ejected');
    const ejectedAt = logger.times[logger.lines.findIndex(isEjection)]!;
    // Requests that picked the victim before the ejection may still be trying it: wait until the
    // proxy has none left on it (each failed one was reset by the victim, so counted, first), and
    // a little more for good measure.
    const victimStatus = () => px.rt.pools().find((p) => p.name === 'res')!.upstreams.find((u) => u.url.includes(`:${victim.port}`))!;
    await waitUntil(() => victimStatus().inflight === 0, 5000, 'no request on the victim any more');
    await sleep(100);
    const atEjection = victim.attemptsSinceKill;
    // Ejected once, after `failures` consecutive failures. Those are the in-flight resets plus new
    // connection attempts, and also a request written onto a kept-alive connection just before the
    // kill that the backend had not read yet: seen by neither counter here, so the lower bound is
    // the proxy's own account of it (the threshold itself is unit-tested in passive.test.ts).
    const ejections = logger.lines.filter(isEjection);
    assert.equal(ejections.length, 1, `one ejection expected:\n${ejections.join('\n')}`);
    const ejected = JSON.parse(ejections[0]!.slice('warn upstream ejected '.length)) as { upstream: string; failures: number; forMs: number };
    assert.ok(ejected.upstream.includes(`:${victim.port}`), `ejected ${ejected.upstream}, not the victim`);
    assert.equal(ejected.failures, failures, 'failures in a row at the ejection');
    assert.equal(ejected.forMs, ejectForMs, 'a first ejection lasts ejectFor');
    // A few more may have been picked concurrently before the ejection, never many.
    assert.ok(atEjection <= failures + workers, `${atEjection} connection attempts to the dead backend before ejection (failures ${failures}, ${workers} workers)`);
    // While ejected, nothing reaches it: watch for a good part of ejectFor, all of it inside the ejection.
    await sleep(1000);
    const watchedUntil = Date.now();
    assert.ok(watchedUntil - ejectedAt < ejectForMs, `test too slow: the ejection window was missed (${watchedUntil - ejectedAt} ms after the ejection)`);
    assert.equal(victim.attemptsSinceKill, atEjection, 'connection attempts to an ejected backend (within ejectFor)');
    assert.deepEqual(run.result.errors, [], 'client-visible errors while the backend died');

    // Recover: a working backend on the same port, put there while the victim is still ejected
    // (nothing can have tried the port in between). It rejoins once ejectFor has passed.
    await victim.close();
    const back = await httpOnPort(victim.port, 'victim');
    const recoveredAt = Date.now();
    assert.ok(recoveredAt - ejectedAt < ejectForMs, `test too slow: recovered ${recoveredAt - ejectedAt} ms after the ejection, not within ejectFor`);
    await waitUntil(() => back.requests >= 5, ejectForMs + 10_000, 'the recovered backend serves again');
    const rejoinMs = Date.now() - ejectedAt;
    run.stop();
    const res = await run.finished;
    assert.deepEqual(res.errors, [], 'client-visible errors');
    assert.ok(res.done > 100, `only ${res.done} requests in the load`);
    // Rejoins when the ejection ends: not a doubled (backed-off) ejection, not much later.
    assert.ok(rejoinMs < ejectForMs + 2000, `served 5 requests again ${rejoinMs} ms after the ejection (ejectFor ${ejectForMs} ms)`);
    t.diagnostic(`${res.done} requests, 0 errors; ${inflightAtKill} in flight at the kill + ${atEjection} connection attempts to the dead backend before ejection; served again ${rejoinMs} ms after the ejection`);
  });
});

describe('retry budget', () => {
  it('with every upstream dead, a burst gets fast 502/503 and upstream attempts stay within the budget', { timeout: 30_000 }, async (t) => {
    const deads = [await resetter(), await resetter(), await resetter()];
    const budget = 0.2;
    const minPerSecond = 5;
    const px = await proxy(
      config(
        pool('out', deads.map((d) => d.url))
          .balance('round-robin')
          .retry({ attempts: 2, budget, minPerSecond })
          .timeouts({ connect: '2s', response: '5s' }),
      ),
    );
    const N = 100;
    const t0 = Date.now();
    const slowest: number[] = [];
    const statuses = new Map<number, number>();
    let next = 0;
    await Promise.all(
      Array.from({ length: 5 }, async () => {
        while (next < N) {
          next++;
          const s = Date.now();
          const r = await httpRequest(`${px.base}/x`, { timeoutMs: 5000 });
          slowest.push(Date.now() - s);
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        }
      }),
    );
    const elapsedS = (Date.now() - t0) / 1000;
    const shown = JSON.stringify(Object.fromEntries(statuses));
    for (const st of statuses.keys()) assert.ok(st === 502 || st === 503, `unexpected status ${st}: ${shown}`);
    const worst = Math.max(...slowest);
    assert.ok(worst < 1000, `slowest failure took ${worst} ms (connect timeout 2 s, response 5 s): failures must be fast`);
    await sleep(100);
    const attempts = deads.reduce((s, d) => s + d.connections, 0);
    const allowed = N * (1 + budget) + minPerSecond * Math.ceil(elapsedS + 1) + 5;
    assert.ok(
      attempts <= allowed,
      `${attempts} upstream connection attempts for ${N} requests in ${elapsedS.toFixed(1)} s; budget allows ≤ ${allowed.toFixed(0)} (without a budget: ${N * 3})`,
    );
    assert.ok(attempts >= N, `every request should have tried at least once (${attempts} attempts)`);
    t.diagnostic(`${N} requests → ${shown} in ${elapsedS.toFixed(2)} s (slowest ${worst} ms); ${attempts} upstream attempts (allowed ${allowed.toFixed(0)})`);
  });
});

describe('what may be retried', () => {
  it('a POST whose body was sent is not retried when the upstream then resets', { timeout: 15_000 }, async () => {
    const rb = await readThenReset();
    const ok = await named('ok');
    const px = await proxy(config(pool('post', [rb.url, ok.url]).balance('round-robin').retry({ attempts: 2 })));
    const results: Array<{ id: number; status: number }> = [];
    for (let id = 0; id < 6; id++) {
      const r = await httpRequest(`${px.base}/post/${id}`, { method: 'POST', body: `payload-${id}-${'x'.repeat(1000)}` });
      results.push({ id, status: r.status });
    }
    const onReset = new Set(rb.paths.map((p) => Number(p.split('/').pop())));
    const onOk = ok.requests.map((r) => Number(r.url.split('/').pop()));
    assert.ok(onReset.size >= 2, `round-robin should have sent some POSTs to the resetting upstream (${[...onReset]})`);
    for (const { id, status } of results) {
      const attempts = rb.paths.filter((p) => p.endsWith(`/${id}`)).length + onOk.filter((x) => x === id).length;
      assert.equal(attempts, 1, `POST ${id} reached upstreams ${attempts} times (status ${status})`);
      if (onReset.has(id)) assert.equal(status, 502, `POST ${id} died upstream after its body was sent: expected 502`);
      else assert.equal(status, 200);
    }
  });

  it('a POST refused at connect is retried on another upstream, with its body intact', { timeout: 15_000 }, async () => {
    const refused = `http://127.0.0.1:${await deadPort()}`;
    const ok = await named('ok');
    const px = await proxy(config(pool('post2', [refused, ok.url]).balance('round-robin').retry({ attempts: 2 })));
    for (let id = 0; id < 6; id++) {
      const body = `payload-${id}-${'y'.repeat(20_000)}`;
      const r = await httpRequest(`${px.base}/post/${id}`, { method: 'POST', body });
      assert.equal(r.status, 200, `POST ${id}: ${r.status} ${r.text}`);
      assert.equal(r.text, 'ok');
      const rec = ok.requests.filter((q) => q.url === `/post/${id}`);
      assert.equal(rec.length, 1, `POST ${id} reached the live upstream ${rec.length} times`);
      assert.equal(rec[0]!.body.toString(), body, `POST ${id} body altered by the retry`);
    }
  });

  it('retry({ statuses: [503] }) retries a GET that got 503 on another backend', { timeout: 15_000 }, async () => {
    const busy = await named('busy', { status: 503 });
    const ok = await named('ok');
    const px = await proxy(config(pool('st', [busy.url, ok.url]).balance('round-robin').retry({ attempts: 1, statuses: [503] })));
    // A POST is not idempotent: its 503 is passed on, not retried. (First, before repeated 503s
    // could get the busy backend passively ejected.)
    let saw503 = false;
    for (let i = 0; i < 2 && !saw503; i++) {
      const before = busy.requests.length;
      const r = await httpRequest(`${px.base}/p/${i}`, { method: 'POST', body: 'x' });
      if (busy.requests.length > before) {
        assert.equal(r.status, 503, 'a POST answered 503 must not be retried');
        saw503 = true;
      }
    }
    assert.ok(saw503, 'no POST reached the 503 backend');
    const okBefore = ok.requests.length;
    const busyBefore = busy.requests.length;
    for (let i = 0; i < 8; i++) {
      const r = await httpRequest(`${px.base}/g/${i}`);
      assert.equal(r.status, 200, `GET ${i}: ${r.status} ${r.text}`);
      assert.equal(r.text, 'ok');
    }
    assert.ok(busy.requests.length - busyBefore >= 2, `the 503 backend should have been tried (got ${busy.requests.length - busyBefore})`);
    assert.equal(ok.requests.length - okBefore, 8);
  });

  it('without retry(), a dead upstream is not retried', { timeout: 15_000 }, async () => {
    const dead = await resetter();
    const ok = await named('ok');
    const px = await proxy(config(pool('noretry', [dead.url, ok.url]).balance('round-robin')));
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await httpRequest(`${px.base}/n/${i}`)).status);
    assert.ok(statuses.includes(502), `expected some 502s without retries: ${statuses}`);
  });
});

describe('panic mode', () => {
  it('when every upstream is ejected, requests are served by all and the log says panic', { timeout: 20_000 }, async () => {
    const log = capturingLogger();
    let failing = true;
    const mk = async (name: string): Promise<Backend> => {
      const be = await startBackend({ respond: (): RespondSpec => (failing ? { status: 503, body: `${name}-down` } : { body: name }) });
      cleanup.push(() => be.close());
      return be;
    };
    const a = await mk('a');
    const b = await mk('b');
    const px = await proxy(config(pool('pan', [a.url, b.url]).balance('round-robin').passive({ failures: 1, ejectFor: '30s' })), log);
    // Both answer 503 (a passive failure status by default): both get ejected.
    for (let i = 0; i < 2; i++) await httpRequest(`${px.base}/f/${i}`);
    assert.ok(a.requests.length >= 1 && b.requests.length >= 1, 'both upstreams should have been tried');
    // Every upstream is now ejected for 30 s. Panic: requests still go to all of them (the
    // client sees the upstreams' own answers, not a proxy-made 503 "no upstream").
    const a0 = a.requests.length;
    const b0 = b.requests.length;
    const bodies: string[] = [];
    for (let i = 0; i < 10; i++) bodies.push((await httpRequest(`${px.base}/q/${i}`)).text);
    assert.deepEqual(
      bodies.filter((t) => t !== 'a-down' && t !== 'b-down'),
      [],
      'with every upstream ejected, requests must still reach the upstreams (panic mode)',
    );
    assert.ok(a.requests.length > a0 && b.requests.length > b0, `panic mode serves from all upstreams (a +${a.requests.length - a0}, b +${b.requests.length - b0})`);
    // They recover: clients get 200s (not 503 forever).
    failing = false;
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await httpRequest(`${px.base}/p/${i}`)).status);
    assert.deepEqual(statuses.filter((st) => st !== 200), [], `after the upstreams recovered: ${statuses}`);
    assert.ok(
      log.lines.some((l) => /panic/i.test(l)),
      `the log should say panic; got:\n${log.lines.filter((l) => !l.startsWith('debug')).join('\n')}`,
    );
  });
});

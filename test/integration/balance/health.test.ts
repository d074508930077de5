/**
 * Active health checks against real HTTP backends on 127.0.0.1: thresholds, timeouts, connect
 * errors, logging once per transition, the registry across reloads, and clean stops.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Pool as UndiciPool } from 'undici';
import { ActiveHealthChecker, HealthCheckRegistry } from '../../../src/balance/health.js';
import { StateRegistry } from '../../../src/balance/state.js';
import { Upstream } from '../../../src/balance/upstream.js';
import { NOOP_METRICS } from '../../../src/observe/noop-metrics.js';
import type { HealthSpec } from '../../../src/config/spec.js';
import { deadPort, sleep, startBackend, waitUntil, type Backend } from '../../helpers/backend.js';
import { recordingLogger } from '../../helpers/recording-logger.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');



const states = new StateRegistry();

/** A real Upstream for `url` in `pool` (state from the shared registry; no traffic dispatcher needed). */
function upstreamFor(pool: string, url: string): Upstream {
  return new Upstream(pool, url, 1, null, states.get(pool, url), {} as unknown as UndiciPool, `${pool}-${url}`, NOOP_METRICS.upstream(pool, url));
}

/** Probes that reached `be` on `path`. */
const probes = (be: Backend, p = '/healthz'): number => be.requests.filter((r) => r.url === p).length;

/**
 * Probe timeout for tests about thresholds and options, not about timeouts: far above any scheduling
 * hiccup of a busy machine (a probe is a fresh connection to a backend in this same event loop), so
 * only the behaviour under test can fail a probe. ActiveHealthChecker does not require timeout <
 * interval (only config validation does), and it never overlaps probes of one upstream: the next
 * one is scheduled when the previous one has ended. Timeouts themselves are tested below.
 */
const PROBE_TIMEOUT = 1000;

const immediate = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * Wait until every probe connection already made to `be` has been accepted, read and closed, so
 * that a probe cancelled (but already sent) is counted before a baseline is taken. Two turns of the
 * event loop's poll phase accept queued connections and read what they carry; then every accepted
 * connection must close (probes use `Connection: close`). A checker still probing `be` only makes
 * this wait for a gap between its probes.
 */
async function probeConnectionsSettled(be: Backend): Promise<void> {
  await immediate();
  await immediate();
  await waitUntil(() => be.openConnections === 0, 5000, 'probe connections to the backend closed');
}

test('a failing backend goes unhealthy after `unhealthy` probes and comes back after `healthy` ones, logged once each', async () => {
  const be = await startBackend({ respond: { status: 200, body: 'ok' } });
  const log = recordingLogger();
  const u = upstreamFor('flap', be.url);
  const changes: Array<{ healthy: boolean; ok: number; fail: number }> = [];
  const checker = new ActiveHealthChecker('flap', { path: '/healthz', interval: 50, timeout: PROBE_TIMEOUT, healthy: 2, unhealthy: 3 }, [u], log, {
    onChange: (up, healthy) => changes.push({ healthy, ok: up.state.probeOk, fail: up.state.probeFail }),
  });
  try {
    checker.start();
    await waitUntil(() => u.state.probeOk >= 2, 2000, 'two passing probes');
    assert.equal(u.state.healthy, true);
    assert.deepEqual(changes, [], 'a healthy upstream that stays healthy is not a change');

    const req = be.requests.find((r) => r.url === '/healthz')!;
    assert.equal(req.method, 'GET');
    assert.equal(req.headers.host, be.authority, 'Host is the upstream authority by default');

    be.respond = { status: 500, body: 'down' };
    const failingFrom = probes(be);
    await waitUntil(() => !u.state.healthy, 3000, 'unhealthy');
    assert.deepEqual(changes, [{ healthy: false, ok: 0, fail: 3 }], 'exactly `unhealthy` failing probes');
    assert.ok(probes(be) - failingFrom >= 3);

    // Stays unhealthy (and logs nothing more) while failing.
    await sleep(200);
    assert.equal(u.state.healthy, false);
    assert.ok(u.state.probeFail > 3);

    const before = Date.now();
    be.respond = { status: 204 };
    await waitUntil(() => u.state.healthy, 3000, 'healthy again');
    assert.deepEqual(changes.at(-1), { healthy: true, ok: 2, fail: 0 }, 'exactly `healthy` passing probes');
    assert.ok(u.state.usableSince >= before, 'slow start counts from the recovery');
    await sleep(200);

    const unhealthy = log.named('upstream unhealthy');
    const healthy = log.named('upstream healthy');
    assert.equal(unhealthy.length, 1, 'the transition to unhealthy is logged once');
    assert.equal(healthy.length, 1, 'the transition to healthy is logged once');
    assert.equal(unhealthy[0]!.level, 'warn');
    assert.equal(unhealthy[0]!.fields.reason, 'status 500');
    assert.equal(unhealthy[0]!.fields.pool, 'flap');
    assert.equal(unhealthy[0]!.fields.upstream, u.label);
    assert.equal(healthy[0]!.level, 'info');
    assert.equal(changes.length, 2);
  } finally {
    await checker.stop();
    await be.close();
  }
});

test('expect, host and path options; jittered intervals do not overlap', async () => {
  const be = await startBackend({ respond: (rec) => ({ status: rec.url === '/status' ? 204 : 404 }) });
  const log = recordingLogger();
  const u = upstreamFor('opts', be.url);
  const checker = new ActiveHealthChecker('opts', { path: '/status', interval: 40, timeout: PROBE_TIMEOUT, expect: 204, host: 'status.internal', unhealthy: 1 }, [u], log);
  try {
    checker.start();
    await waitUntil(() => probes(be, '/status') >= 5, 3000, 'five probes');
    assert.equal(u.state.healthy, true);
    assert.ok(be.requests.every((r) => r.headers.host === 'status.internal'));
    assert.ok(be.requests.every((r) => r.headers['user-agent'] === 'proxykit-health-check'));
    assert.equal(log.lines.filter((l) => l.level !== 'debug').length, 0);
  } finally {
    await checker.stop();
  }
  // 200 is not in expect: [204] → fails at once with unhealthy: 1.
  const strict = new ActiveHealthChecker('opts', { path: '/status', interval: 40, timeout: PROBE_TIMEOUT, expect: [200], unhealthy: 1 }, [u], log);
  try {
    strict.start();
    await waitUntil(() => !u.state.healthy, 2000, 'unhealthy on an unexpected status');
    assert.equal(log.named('upstream unhealthy')[0]!.fields.reason, 'status 204');
  } finally {
    await strict.stop();
    await be.close();
  }
});

test('a probe that times out is a failure ("timeout"); a refused connection too ("connect ECONNREFUSED")', async () => {
  const slow = await startBackend({ respond: { hang: true } });
  const dead = `http://127.0.0.1:${await deadPort()}`;
  const log = recordingLogger();
  const a = upstreamFor('t', slow.url);
  const b = upstreamFor('t', dead);
  const checker = new ActiveHealthChecker('t', { path: '/healthz', interval: 100, timeout: 60, unhealthy: 2 }, [a, b], log);
  try {
    const t0 = Date.now();
    checker.start();
    await waitUntil(() => !a.state.healthy && !b.state.healthy, 3000, 'both unhealthy');
    assert.ok(Date.now() - t0 < 1500, 'bounded by timeout × probes');
    const reasons = new Map(log.named('upstream unhealthy').map((l) => [l.fields.upstream, l.fields.reason]));
    assert.equal(reasons.get(a.label), 'timeout');
    assert.equal(reasons.get(b.label), 'connect ECONNREFUSED');
    // The timed-out probes let go of their connections (the backend sees them close).
    await waitUntil(() => slow.requests.length >= 2 && slow.requests.slice(0, 2).every((r) => r.closedEarly), 2000, 'probe connections closed');
  } finally {
    await checker.stop();
    await slow.close();
  }
});

test('upstreams start healthy and stay so until `unhealthy` failures; a one-off failure is forgiven', async () => {
  let n = 0;
  const be = await startBackend({ respond: () => ({ status: ++n === 2 ? 503 : 200 }) });
  const log = recordingLogger();
  const u = upstreamFor('blip', be.url);
  const checker = new ActiveHealthChecker('blip', { path: '/healthz', interval: 30, timeout: PROBE_TIMEOUT, unhealthy: 2 }, [u], log);
  try {
    checker.start();
    await waitUntil(() => n >= 5, 2000, 'five probes');
    assert.equal(u.state.healthy, true);
    assert.equal(log.named('upstream unhealthy').length, 0);
  } finally {
    await checker.stop();
    await be.close();
  }
});

test('registry: same spec keeps the checker across reconcile, new upstreams get probed; a changed spec restarts it; gone stops it', async () => {
  const be1 = await startBackend();
  const be2 = await startBackend();
  const log = recordingLogger();
  const reg = new HealthCheckRegistry(log);
  const spec: HealthSpec = { path: '/healthz', interval: '50ms', timeout: '40ms' };
  const u1 = upstreamFor('reg', be1.url);
  try {
    reg.reconcile([{ name: 'reg', spec, upstreams: [u1] }, { name: 'plain', spec: undefined, upstreams: [] }]);
    assert.equal(reg.size, 1);
    const first = reg.get('reg')!;
    await waitUntil(() => probes(be1) >= 2, 2000, 'probes of be1');

    // A reload: new Upstream objects (same URL → same state), one more upstream, the spec written
    // differently but meaning the same.
    const u1b = upstreamFor('reg', be1.url);
    assert.equal(u1b.state, u1.state);
    const u2 = upstreamFor('reg', be2.url);
    reg.reconcile([{ name: 'reg', spec: { path: '/healthz', interval: 50, timeout: '40ms' }, upstreams: [u1b, u2] }]);
    assert.equal(reg.get('reg'), first, 'same checker kept');
    assert.deepEqual(first.upstreams, [u1b, u2]);
    await waitUntil(() => probes(be2) >= 2, 2000, 'probes of the added upstream');

    // The upstream removed from the pool is no longer probed.
    reg.reconcile([{ name: 'reg', spec, upstreams: [u2] }]);
    await probeConnectionsSettled(be1); // a probe already in flight may still land
    const be1Count = probes(be1);
    await sleep(200);
    assert.equal(probes(be1), be1Count, 'removed upstream not probed any more');

    // A changed spec: new checker, old one stopped.
    reg.reconcile([{ name: 'reg', spec: { ...spec, path: '/ready' }, upstreams: [u2] }]);
    const second = reg.get('reg')!;
    assert.notEqual(second, first);
    assert.equal(second.config.path, '/ready');
    await waitUntil(() => probes(be2, '/ready') >= 2, 2000, 'probes on the new path');
    await probeConnectionsSettled(be2);
    const oldPath = probes(be2, '/healthz');
    await sleep(200);
    assert.equal(probes(be2, '/healthz'), oldPath, 'the old checker stopped');
    assert.ok(log.named('health checks restarted').length === 1);

    // Health checks removed while an upstream is unhealthy: nothing could bring it back, so it is
    // marked healthy again.
    u2.state.healthy = false;
    reg.reconcile([{ name: 'reg', spec: undefined, upstreams: [u2] }]);
    assert.equal(reg.size, 0);
    assert.equal(u2.state.healthy, true);
    await probeConnectionsSettled(be2);
    const last = probes(be2, '/ready');
    await sleep(200);
    assert.equal(probes(be2, '/ready'), last, 'no probes after the pool lost its health checks');

    // Gone entirely.
    reg.reconcile([{ name: 'reg', spec, upstreams: [u2] }]);
    assert.equal(reg.size, 1);
    reg.reconcile([]);
    assert.equal(reg.size, 0);
  } finally {
    await reg.stopAll();
    await be1.close();
    await be2.close();
  }
});

test('stop(): no probe after it, in-flight probes cancelled at once', async () => {
  const be = await startBackend({ respond: { hang: true } });
  const u = upstreamFor('stop', be.url);
  const checker = new ActiveHealthChecker('stop', { path: '/healthz', interval: '20s', timeout: '10s' }, [u], recordingLogger());
  try {
    checker.start();
    await be.waitForRequests(1, 5000);
    const t0 = Date.now();
    await checker.stop();
    assert.ok(Date.now() - t0 < 1000, 'stop does not wait for the 10s probe timeout');
    await waitUntil(() => be.requests[0]!.closedEarly, 2000, 'the in-flight probe connection closed');
    assert.equal(u.state.probeFail, 0, 'a cancelled probe is not a failure');
    await sleep(100);
    assert.equal(be.requests.length, 1);
    checker.start(); // a stopped checker stays stopped
    await sleep(100);
    assert.equal(be.requests.length, 1);
  } finally {
    await be.close();
  }
});

test('a process with a stopped registry exits by itself (no timers or sockets left)', async () => {
  const be = await startBackend({ respond: { hang: true } });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pk-health-'));
  const script = path.join(dir, 'child.mts');
  const src = (p: string): string => JSON.stringify(pathToFileURL(path.join(repoRoot, p)).href);
  // A long probe timeout against a hanging backend: only a real cancellation lets this process end
  // quickly. The child stops its registry only once the parent saw the probe arrive (it closes the
  // child's stdin then), so the probe is surely in flight; it prints how long stopAll() took.
  writeFileSync(
    script,
    `
import { HealthCheckRegistry } from ${src('src/balance/health.ts')};
import { StateRegistry } from ${src('src/balance/state.ts')};
import { Upstream } from ${src('src/balance/upstream.ts')};
import { createSilentLogger } from ${src('src/observe/logger.ts')};
const states = new StateRegistry();
const url = ${JSON.stringify(be.url)};
const u = new Upstream('c', url, 1, null, states.get('c', url), {}, 'c1');
const reg = new HealthCheckRegistry(createSilentLogger());
reg.reconcile([{ name: 'c', spec: { path: '/healthz', interval: '10s', timeout: '9s' }, upstreams: [u] }]);
// The first probe starts within 10% of the interval; the parent closes stdin once it arrived.
await new Promise((r) => {
  process.stdin.on('data', () => {});
  process.stdin.on('end', r);
  process.stdin.resume();
});
process.stdin.destroy();
const t0 = Date.now();
await reg.stopAll();
console.log('stopped after ' + (Date.now() - t0) + ' ms');
`,
  );
  const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
  try {
    let out = '';
    let err = '';
    let stoppedAt = 0;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (stoppedAt === 0 && /stopped after \d+ ms/.test(out)) stoppedAt = Date.now();
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('exit', (c) => {
        clearTimeout(kill);
        resolve(c);
      });
    });
    // The child's probe reached the (hanging) backend: it is in flight, for up to 9 s.
    await Promise.race([
      be.waitForRequests(1, 30_000),
      exited.then((c) => {
        throw new Error(`child exited (${c}) before probing: ${err}`);
      }),
    ]);
    child.stdin.end();
    const code = await exited;
    const exitedAt = Date.now();
    assert.equal(code, 0, `child exited cleanly: ${err}`);
    const m = /stopped after (\d+) ms/.exec(out);
    assert.ok(m, `child output: ${out}`);
    // Both bounds are far below the 9 s probe timeout that an uncancelled probe would hold.
    assert.ok(Number(m[1]) < 3000, `stopAll() took ${m[1]} ms: it must not wait for the 9 s probe timeout`);
    assert.ok(exitedAt - stoppedAt < 3000, `exited ${exitedAt - stoppedAt} ms after stopping: something kept it alive`);
    assert.equal(be.requests.length, 1, 'the child probed once');
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    await be.close();
  }
});

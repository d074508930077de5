/**
 * slowStart: an upstream that comes back (after a passive ejection, or after its active health
 * check passes again) does not get its full share at once; its weight ramps from ~10% to 100% over
 * the slowStart period.
 */
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { defineConfig, route, pool, type AnyPool } from '../../../src/index.js';
import { startBackend, sleep, waitUntil, type Backend, type RespondSpec } from '../../helpers/backend.js';
import { startProxy, httpRequest, type Proxy } from '../../helpers/proxy.js';
import type { Plan } from '../../../src/engine/plan.js';
import type { UpstreamState } from '../../../src/balance/state.js';

const T = { timeout: 30_000 };
const SLOW_START_MS = 2000;

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => {});
  cleanup = [];
});

async function backend(respond: (url: string) => RespondSpec): Promise<Backend> {
  const be = await startBackend({ respond: (rec) => respond(rec.url) });
  cleanup.push(() => be.close());
  return be;
}

async function proxy(p: AnyPool): Promise<Proxy> {
  const px = await startProxy(defineConfig({ listen: ['http://127.0.0.1:0'], routes: [route('/*').to(p)] }));
  cleanup.unshift(() => px.close());
  return px;
}

type Sample = { t: number; who: string };

/** GET on a kept-alive connection (cheap enough to sample densely on a slow machine); `who` is the body, or the status. */
function get(agent: http.Agent, url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(res.statusCode === 200 ? body : `status-${res.statusCode}`));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

/**
 * `SAMPLERS` concurrent loops of GETs (each on its own kept-alive connection), recording (time,
 * responder), until `stopAt(t)` (at most 20 s, 5000 GETs per loop). A failed GET is a sample
 * `error: …`.
 */
const SAMPLERS = 2;
function sample(px: Proxy): { stopAt(t: number): void; done: Promise<Sample[]> } {
  const out: Sample[] = [];
  let end = Date.now() + 20_000;
  let i = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: SAMPLERS });
  const loop = async (): Promise<void> => {
    for (let n = 0; Date.now() < end && n < 5000; n++) {
      const who = await get(agent, `${px.base}/app/${i++}`).catch((e: Error) => `error: ${e.message}`);
      out.push({ t: Date.now(), who });
      await sleep(4);
    }
  };
  const done = Promise.all(Array.from({ length: SAMPLERS }, loop)).then(() => {
    agent.destroy();
    return out.sort((x, y) => x.t - y.t);
  });
  return { stopAt: (t) => void (end = Math.min(end, t)), done };
}

/** The proxy's state of upstream `url` in pool `poolName` (`usableSince`: slow start counts from there). */
function stateOf(px: Proxy, poolName: string, url: string): UpstreamState {
  const plan = (px.rt as unknown as { plan: Plan | null }).plan!;
  return plan.pools.get(poolName)!.upstreams.find((x) => x.url === url)!.state;
}

/**
 * Once `a` has rejoined (`rejoined` resolved), keep sampling until the late window has passed, then
 * check the ramp measured from `rejoinAt()`.
 */
async function rampAfter(run: ReturnType<typeof sample>, rejoined: Promise<void>, rejoinAt: () => number): Promise<void> {
  let t0: number;
  try {
    await rejoined;
    t0 = rejoinAt();
  } catch (e) {
    run.stopAt(0);
    await run.done;
    throw e;
  }
  // The late window ends SLOW_START_MS + 900 ms after the rejoin.
  run.stopAt(t0 + SLOW_START_MS + 1000);
  const samples = await run.done;
  assert.deepEqual(samples.filter((s) => s.who.startsWith('error')), [], 'GETs failed');
  assertRamp(samples, t0);
}

/** Share of `who` among samples in [from, to) ms after `t0`. */
function share(samples: Array<{ t: number; who: string }>, who: string, t0: number, from: number, to: number): { share: number; n: number } {
  const w = samples.filter((s) => s.t >= t0 + from && s.t < t0 + to);
  return { share: w.filter((s) => s.who === who).length / Math.max(1, w.length), n: w.length };
}

function assertRamp(samples: Array<{ t: number; who: string }>, rejoinAt: number): void {
  const early = share(samples, 'a', rejoinAt, 0, 500);
  const mid = share(samples, 'a', rejoinAt, 900, 1400);
  const late = share(samples, 'a', rejoinAt, SLOW_START_MS + 200, SLOW_START_MS + 900);
  const shown = `early ${(early.share * 100).toFixed(0)}% of ${early.n}, mid ${(mid.share * 100).toFixed(0)}% of ${mid.n}, late ${(late.share * 100).toFixed(0)}% of ${late.n}`;
  assert.ok(early.n >= 20 && late.n >= 20, `too few samples: ${shown}`);
  // Fair share with two equal upstreams is 50%. Ramp from 10%: the first 500 ms average ~15%.
  assert.ok(early.share < 0.3, `a rejoining upstream got ${shown}: too much at first`);
  assert.ok(mid.share > early.share, `share should grow: ${shown}`);
  assert.ok(late.share > 0.4, `after slowStart the upstream should have its full share: ${shown}`);
  const others = samples.filter((s) => s.t >= rejoinAt && s.who !== 'a' && s.who !== 'b');
  assert.deepEqual(others, [], 'failed requests while ramping');
}

describe('slowStart', () => {
  it('after a passive ejection, the rejoining upstream gets a small share that grows', T, async () => {
    let failing = false;
    const a = await backend(() => (failing ? { status: 502, body: 'a-fail' } : { body: 'a' }));
    const b = await backend(() => ({ body: 'b' }));
    const px = await proxy(
      pool('ss', [a.url, b.url]).balance('round-robin').passive({ failures: 1, ejectFor: '500ms' }).slowStart(`${SLOW_START_MS}ms`),
    );
    // Let the start-up ramp (new upstreams) finish, so both start from full weight.
    await sleep(SLOW_START_MS + 200);
    failing = true;
    const before = a.requests.length;
    for (let i = 0; i < 4 && a.requests.length === before; i++) await httpRequest(`${px.base}/trip/${i}`);
    assert.ok(a.requests.length > before, 'a should have been tried');
    failing = false; // healthy again; it comes back when the 500 ms ejection ends
    const run = sample(px);
    // Rejoined with its first success after the ejection (which resets its ejections); slow start counts from then.
    const st = stateOf(px, 'ss', a.url);
    assert.equal(st.ejections, 1, 'a was ejected');
    const rejoined = waitUntil(() => a.requests.some((r) => r.url.startsWith('/app/')) && st.ejections === 0, 5000, 'a rejoins');
    await rampAfter(run, rejoined, () => st.usableSince);
  });

  it('after its health check passes again, the upstream ramps up', T, async () => {
    let healthy = false;
    const a = await backend((url) => (url === '/healthz' ? (healthy ? { body: 'ok' } : { status: 500 }) : { body: 'a' }));
    const b = await backend(() => ({ body: 'b' }));
    const px = await proxy(
      pool('ssh', [a.url, b.url])
        .balance('round-robin')
        // unhealthy: 3 so that one probe slowed down by a busy machine does not restart the ramp.
        .health({ path: '/healthz', interval: '200ms', timeout: '150ms', healthy: 1, unhealthy: 3 })
        .slowStart(`${SLOW_START_MS}ms`),
    );
    await sleep(SLOW_START_MS + 200);
    await waitUntil(() => px.rt.pools()[0]!.upstreams.find((u) => u.url === a.url)!.state === 'unhealthy', 5000, 'a unhealthy');
    for (let i = 0; i < 6; i++) assert.equal((await httpRequest(`${px.base}/x/${i}`)).text, 'b', 'unhealthy upstream got traffic');
    healthy = true;
    const healthyFrom = Date.now();
    const before = a.requests.filter((r) => r.url.startsWith('/app/')).length;
    const run = sample(px);
    // Healthy again with the first passing probe; slow start counts from then.
    await rampAfter(run, waitUntil(() => a.requests.filter((r) => r.url.startsWith('/app/')).length > before, 5000, 'a rejoins'), () => {
      const t = stateOf(px, 'ssh', a.url).usableSince;
      assert.ok(t >= healthyFrom, 'slow start counts from the passing probe');
      return t;
    });
  });
});

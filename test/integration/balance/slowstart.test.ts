/**
 * slowStart: an upstream that comes back (after a passive ejection, or after its active health
 * check passes again) does not get its full share at once; its weight ramps from ~10% to 100% over
 * the slowStart period.
 */
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { defineConfig, route, pool, type AnyPool } from '../../../src/index.js';
import { startBackend, sleep, waitUntil, type Backend, type RespondSpec } from '../../helpers/backend.js';
import { startProxy, httpRequest, type Proxy } from '../../helpers/proxy.js';

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

/**
 * Sequential GETs for `ms`, recording (time, responder). Returns the samples.
 */
async function sample(px: Proxy, ms: number): Promise<Array<{ t: number; who: string }>> {
  const out: Array<{ t: number; who: string }> = [];
  const end = Date.now() + ms;
  let i = 0;
  while (Date.now() < end && i < 5000) {
    const r = await httpRequest(`${px.base}/app/${i++}`);
    out.push({ t: Date.now(), who: r.status === 200 ? r.text : `status-${r.status}` });
    await sleep(4);
  }
  return out;
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
    const run = sample(px, 500 + SLOW_START_MS + 1200);
    await waitUntil(() => a.requests.some((r) => r.url.startsWith('/app/')), 3000, 'a rejoins');
    const rejoinAt = Date.now();
    const samples = await run;
    assertRamp(samples, rejoinAt);
  });

  it('after its health check passes again, the upstream ramps up', T, async () => {
    let healthy = false;
    const a = await backend((url) => (url === '/healthz' ? (healthy ? { body: 'ok' } : { status: 500 }) : { body: 'a' }));
    const b = await backend(() => ({ body: 'b' }));
    const px = await proxy(
      pool('ssh', [a.url, b.url])
        .balance('round-robin')
        .health({ path: '/healthz', interval: '100ms', timeout: '80ms', healthy: 1, unhealthy: 1 })
        .slowStart(`${SLOW_START_MS}ms`),
    );
    await sleep(SLOW_START_MS + 200);
    for (let i = 0; i < 6; i++) assert.equal((await httpRequest(`${px.base}/x/${i}`)).text, 'b', 'unhealthy upstream got traffic');
    healthy = true;
    const before = a.requests.filter((r) => r.url.startsWith('/app/')).length;
    const run = sample(px, 500 + SLOW_START_MS + 1200);
    await waitUntil(() => a.requests.filter((r) => r.url.startsWith('/app/')).length > before, 3000, 'a rejoins');
    const rejoinAt = Date.now();
    assertRamp(await run, rejoinAt);
  });
});

/**
 * Pool state survives a config reload when the pool is unchanged: an upstream ejected by passive
 * checks stays ejected, an upstream marked unhealthy by active checks stays unhealthy, after
 * `rt.apply()` of a config with the same pool and an unrelated route change.
 */
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { defineConfig, route, pool, type AnyPool } from '../../../src/index.js';
import type { ConfigSpec } from '../../../src/config/spec.js';
import { startBackend, sleep, waitUntil, type Backend, type RespondSpec } from '../../helpers/backend.js';
import { startProxy, httpRequest, type Proxy } from '../../helpers/proxy.js';

const T = { timeout: 20_000 };

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

const v1 = (p: AnyPool): ConfigSpec =>
  defineConfig({ listen: ['http://127.0.0.1:0'], routes: [route('/version').respond(200, 'v1'), route('/*').to(p)] });
const v2 = (p: AnyPool): ConfigSpec =>
  defineConfig({
    listen: ['http://127.0.0.1:0'],
    routes: [route('/version').respond(200, 'v2'), route('/unrelated/*').respond(200, 'new'), route('/*').to(p)],
  });

/** Requests to /app/… that landed on `be` while sending `n` sequential GETs. */
async function hits(px: Proxy, be: Backend, n: number, tag: string): Promise<number> {
  const before = be.requests.filter((r) => r.url.startsWith('/app/')).length;
  for (let i = 0; i < n; i++) {
    const r = await httpRequest(`${px.base}/app/${tag}/${i}`);
    assert.equal(r.status, 200, `${tag} ${i}: ${r.status} ${r.text}`);
  }
  return be.requests.filter((r) => r.url.startsWith('/app/')).length - before;
}

describe('pool state across reloads', () => {
  it('a passively ejected upstream stays ejected after a reload with the same pool', T, async () => {
    let badFails = true;
    const bad = await backend(() => (badFails ? { status: 502, body: 'bad' } : { body: 'bad-recovered' }));
    const good = await backend(() => ({ body: 'good' }));
    // The same builder for both configs: the pool is unchanged.
    const p = pool('keep', [bad.url, good.url]).balance('round-robin').passive({ failures: 2, ejectFor: '30s' }).retry({ attempts: 1, statuses: [502] });
    const px = await startProxy(v1(p));
    cleanup.unshift(() => px.close());

    // Drive it to ejection: 502s are passive failures (default statuses); retries keep clients whole.
    for (let i = 0; i < 10 && bad.requests.length < 2; i++) await httpRequest(`${px.base}/warm/${i}`);
    assert.ok(bad.requests.length >= 2, `bad upstream got ${bad.requests.length} requests`);
    assert.equal(await hits(px, bad, 10, 'ejected'), 0, 'the failing upstream should be ejected by now');

    // It would now answer fine: if a reload forgot the ejection, round-robin would send it half.
    badFails = false;
    await px.rt.apply(v2(p));
    assert.equal((await httpRequest(`${px.base}/version`)).text, 'v2', 'the new config serves');
    assert.equal((await httpRequest(`${px.base}/unrelated/x`)).text, 'new');
    assert.equal(await hits(px, bad, 10, 'after-reload'), 0, 'the ejection (30 s) was forgotten by the reload');

    // Also with a structurally equal pool built anew (same name, same content) rather than the same builder.
    const q = pool('keep', [bad.url, good.url]).balance('round-robin').passive({ failures: 2, ejectFor: '30s' }).retry({ attempts: 1, statuses: [502] });
    await px.rt.apply(v1(q));
    assert.equal(await hits(px, bad, 10, 'after-second-reload'), 0, 'the ejection was forgotten by a reload with an equal pool');
  });

  it('an upstream marked unhealthy by active checks stays unhealthy after a reload with the same pool', T, async () => {
    let healthz: RespondSpec = { status: 500, body: 'sick' };
    const sick = await backend((url) => (url === '/healthz' ? healthz : { body: 'sick' }));
    const fine = await backend(() => ({ body: 'fine' }));
    const p = pool('hc', [sick.url, fine.url])
      .balance('round-robin')
      .health({ path: '/healthz', interval: '500ms', timeout: '450ms', healthy: 1, unhealthy: 1 });
    const px = await startProxy(v1(p));
    cleanup.unshift(() => px.close());

    await waitUntil(() => sick.requests.some((r) => r.url === '/healthz'), 3000, 'a probe reached the sick upstream');
    await sleep(300);
    assert.equal(await hits(px, sick, 10, 'unhealthy'), 0, 'an upstream failing its health check still got traffic');

    // Probes of the sick upstream now hang (until the 450 ms probe timeout): no new verdict for a
    // while. If a reload reset the verdict to "healthy", the sick upstream would get traffic at once.
    const probes = (): number => sick.requests.filter((r) => r.url === '/healthz').length;
    const before = probes();
    healthz = { hang: true };
    await waitUntil(() => probes() > before, 2000, 'a (hanging) probe started');
    await px.rt.apply(v2(p));
    assert.equal((await httpRequest(`${px.base}/version`)).text, 'v2');
    assert.equal(await hits(px, sick, 10, 'after-reload'), 0, 'the health verdict was forgotten by the reload');

    // And the checks still run after the reload: once /healthz passes, it comes back.
    healthz = { status: 200, body: 'ok' };
    const deadline = Date.now() + 8000;
    let back = 0;
    while (Date.now() < deadline && back === 0) {
      back = await hits(px, sick, 4, `recovery-${Date.now()}`);
      if (back === 0) await sleep(100);
    }
    assert.ok(back > 0, 'the upstream did not return after its health check passed (are checks still running after the reload?)');
  });
});

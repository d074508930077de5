/**
 * The live dashboard in real headless Chromium (Debian's `chromium`, driven by playwright-core).
 *
 * A real proxy runtime forwards real traffic to real backends on 127.0.0.1 and counts it in a real
 * `LiveStats`. This file serves the page with a small node:http server: `dashboardHtml()` at any
 * path ending in `/` (under `dashboardCsp()`) and a Server-Sent Events stream at `…/events` with one
 * `live.snapshot(rt.pools())` a second, the way the admin server does (`src/observe/admin.ts`;
 * switching this test to it is a matter of replacing `startPageServer`).
 *
 * The test fails, not skips, when chromium is missing: CI installs it (`.ci/run`).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import { copyFile, mkdtemp, stat, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { defineConfig, route, pool } from '../../../src/index.js';
import { createRuntime } from '../../../src/engine/runtime.js';
import type { Runtime } from '../../../src/engine/runtime-api.js';
import { createSilentLogger } from '../../../src/observe/logger.js';
import { LiveStats } from '../../../src/observe/live-stats.js';
import { dashboardCsp, dashboardHtml } from '../../../src/observe/dashboard.js';
import type { LiveSnapshot } from '../../../src/observe/contracts.js';
import { deadPort, startBackend, type Backend, type RespondSpec } from '../../helpers/backend.js';
import { httpRequest, withTimeout } from '../../helpers/proxy.js';
import { eventually, launchBrowser, type TestBrowser, type TestPage } from '../../helpers/browser.js';

const T = { timeout: 30_000 };
const SHOT = '/tmp/proxykit-dashboard.png';

// ---- the page server: the dashboard at any path ending in `/`, its stream at `…/events` --------

interface PageServer {
  base: string;
  /** Fields merged into every snapshot (features that have not landed yet). */
  overlay: Partial<LiveSnapshot>;
  /** End every open stream; streams opened in the next `holdMs` get no snapshot until it ends. */
  dropStreams(holdMs: number): void;
  streams(): number;
  close(): Promise<void>;
}

async function startPageServer(snapshot: () => LiveSnapshot): Promise<PageServer> {
  const streams = new Set<http.ServerResponse>();
  let holdUntil = 0;
  const send = (res: http.ServerResponse): void => {
    if (Date.now() < holdUntil) return;
    res.write(`event: snapshot\ndata: ${JSON.stringify({ ...snapshot(), ...ps.overlay })}\n\n`);
  };
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method === 'GET' && path.endsWith('/')) {
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-security-policy': dashboardCsp(),
        'x-content-type-options': 'nosniff',
        'cache-control': 'no-store',
      });
      res.end(dashboardHtml());
      return;
    }
    if (req.method === 'GET' && path.endsWith('/events')) {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
      res.write('retry: 1000\n\n');
      streams.add(res);
      res.on('close', () => streams.delete(res));
      send(res);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
  const timer = setInterval(() => {
    for (const res of streams) send(res);
  }, 1000);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const ps: PageServer = {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    overlay: {},
    dropStreams(holdMs) {
      holdUntil = Date.now() + holdMs;
      for (const res of streams) res.end();
      streams.clear();
    },
    streams: () => streams.size,
    async close() {
      clearInterval(timer);
      for (const res of streams) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  return ps;
}

// ---- page reading ------------------------------------------------------------------------------

async function value(tp: TestPage, testid: string): Promise<number> {
  const v = await tp.page.getByTestId(testid).first().getAttribute('data-value');
  return Number(v);
}

/** `n` requests spread over `ms`, in small concurrent batches; resolves with their statuses. */
async function load(base: string, n: number, ms: number): Promise<number[]> {
  const batches = 30;
  const per = Math.ceil(n / batches);
  const statuses: number[] = [];
  const pending: Array<Promise<void>> = [];
  let sent = 0;
  for (let b = 0; b < batches && sent < n; b++) {
    for (let k = 0; k < per && sent < n; k++, sent++) {
      const i = sent;
      // Mostly good traffic, some 500s from the backend, some 502s from a dead pool.
      const path = i % 30 === 29 ? `/legacy/${i}` : i % 15 === 7 ? `/api/fail/${i}` : `/api/items/${i}`;
      pending.push(httpRequest(base + path, { timeoutMs: 5000 }).then((r) => void statuses.push(r.status)));
    }
    await new Promise((r) => setTimeout(r, ms / batches));
  }
  await Promise.all(pending);
  return statuses;
}

describe('live dashboard (real Chromium, real proxy traffic)', () => {
  const live = new LiveStats();
  /** What the proxy has counted so far. */
  const counted = (): number => live.snapshot([]).totals.requests;
  let be1: Backend;
  let be2: Backend;
  let rt: Runtime | undefined;
  let proxyBase = '';
  let srv: PageServer | undefined;
  let br: TestBrowser | undefined;
  let tp: TestPage;
  let shotDir = '';

  before(async () => {
    const respond = (rec: { url: string; index: number }): RespondSpec =>
      rec.url.startsWith('/api/fail') ? { status: 500, body: 'boom' } : { delayMs: (rec.index * 7) % 13, body: 'ok' };
    be1 = await startBackend({ respond });
    be2 = await startBackend({ respond });
    const dead = await deadPort();
    rt = createRuntime({ logger: createSilentLogger(), live });
    const applied = await rt.apply(
      defineConfig({
        listen: ['http://127.0.0.1:0'],
        routes: [
          route('/legacy/*').to(pool('legacy', [`http://127.0.0.1:${dead}`])),
          route('/*').to(pool('web', [be1.url, be2.url]).balance('least-conn')),
        ],
      }),
    );
    proxyBase = applied.listeners[0]!.url.replace(/\/$/, '');
    srv = await startPageServer(() => live.snapshot(rt!.pools()));
    shotDir = await mkdtemp(join(tmpdir(), 'proxykit-dashboard-'));
    br = await launchBrowser();
    tp = await br.newPage({ width: 1280, height: 800 });
  }, { timeout: 60_000 });

  after(async () => {
    await br?.close();
    await srv?.close();
    if (rt) await withTimeout(rt.close(1000), 6000, 'rt.close()').catch(() => {});
    await be1?.close();
    await be2?.close();
  });

  it('loads with no console errors, says "live" and shows the first snapshot', T, async () => {
    const res = await tp.page.goto(srv!.base + '/', { waitUntil: 'load' });
    assert.equal(res?.status(), 200);
    assert.equal(await tp.page.title(), 'proxykit');
    const conn = tp.page.getByTestId('connection');
    await eventually(async () => (await conn.getAttribute('data-state')) === 'live', 10_000, 'the indicator to say live');
    assert.equal((await conn.innerText()).trim(), 'live');

    const row = tp.page.locator(`tr[data-testid="upstream-row"][data-upstream="web/${be1.url}"]`);
    await row.waitFor({ state: 'visible' });
    assert.equal(await row.getAttribute('data-state'), 'healthy');
    assert.equal((await row.getByTestId('upstream-state').innerText()).trim(), 'healthy');
    assert.equal(await tp.page.locator('tr[data-testid="upstream-row"]').count(), 3, 'web (2) + legacy (1) upstreams');

    // Features that have not landed: said plainly.
    assert.equal((await tp.page.getByTestId('cache-disabled').innerText()).trim(), 'caching not enabled');
    assert.equal((await tp.page.getByTestId('waf-disabled').innerText()).trim(), 'WAF not enabled');
    assert.equal((await tp.page.getByTestId('no-certificates').innerText()).trim(), 'no certificates');
    assert.equal(await tp.page.locator('#chart-rps path').count() > 0, true, 'the requests chart is drawn');
    assert.deepEqual(tp.problems, []);
  });

  it('total requests and requests/s change under load (300 requests over ~3 s through the proxy)', T, async () => {
    const before0 = counted();
    const seenRps = new Set<number>();
    let peakRps = 0;
    const watcher = (async () => {
      const end = Date.now() + 9000;
      while (Date.now() < end) {
        const r = await value(tp, 'rps').catch(() => 0);
        seenRps.add(r);
        peakRps = Math.max(peakRps, r);
        if (peakRps > 0 && r === 0 && seenRps.size >= 3) return;
        await new Promise((s) => setTimeout(s, 150));
      }
    })();

    const statuses = await load(proxyBase, 300, 3000);
    assert.equal(statuses.length, 300);
    assert.ok(statuses.filter((s) => s === 200).length >= 250, `mostly 200s: ${JSON.stringify(statuses.slice(0, 40))}`);
    assert.ok(statuses.some((s) => s === 500) && statuses.some((s) => s === 502), 'some 500s (backend) and 502s (dead pool)');

    // The page ends up showing exactly what the proxy counted.
    const total = counted();
    assert.equal(total - before0, 300, 'the proxy counted each request once');
    await eventually(async () => (await value(tp, 'total-requests')) === total, 5000, `total-requests to reach ${total}`);
    const shown = await tp.page.getByTestId('total-requests').innerText();
    assert.equal(shown.replace(/\D/g, ''), String(total), `formatted total: ${shown}`);
    assert.ok((await value(tp, 'total-errors')) >= 20, 'errors counted');
    assert.ok((await value(tp, 'p99')) > 0 || peakRps > 0, 'latency shown');

    await withTimeout(watcher, 12_000, 'rps watcher');
    assert.ok(peakRps >= 30, `rps peaked at ${peakRps} (values seen: ${[...seenRps].join(', ')})`);
    assert.ok(seenRps.size >= 3, `rps changed as the load came and went: ${[...seenRps].join(', ')}`);

    // The chart has drawn the burst: the rps line's highest point is well above the baseline.
    const heights = await tp.page.locator('#chart-rps path').last().getAttribute('d');
    const ys = [...(heights ?? '').matchAll(/[ML][\d.]+ ([\d.]+)/g)].map((m) => Number(m[1]));
    assert.ok(ys.length === 60 && Math.min(...ys) < Math.max(...ys) - 50, `rps chart path: ${heights?.slice(0, 200)}`);

    // The dead pool's upstream was ejected by passive health checks: the page says so.
    const legacy = tp.page.locator('tr[data-testid="upstream-row"][data-upstream^="legacy/"]');
    await eventually(async () => (await legacy.getAttribute('data-state')) === 'ejected', 5000, 'legacy upstream shown ejected');
    assert.equal(await tp.page.locator('tr[data-testid="upstream-row"][data-upstream^="web/"][data-state="healthy"]').count(), 2);
    assert.deepEqual(tp.problems, []);
  });

  it('screenshot at 1280×800', T, async () => {
    // Some fresh traffic so the charts show both a burst and live values.
    await load(proxyBase, 120, 1500);
    await eventually(async () => (await value(tp, 'total-requests')) === counted(), 5000, 'totals caught up');
    const file = join(shotDir, 'dashboard-1280x800.png');
    await tp.page.screenshot({ path: file, fullPage: true });
    await copyFile(file, SHOT);
    const png = await readFile(SHOT);
    assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG');
    assert.ok((await stat(SHOT)).size > 20_000, 'a real, non-blank screenshot');
    // Nothing sticks out sideways at desktop width.
    const overflow = await tp.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `horizontal overflow of ${overflow}px`);
    assert.deepEqual(tp.problems, []);
  });

  it('strings from the snapshot are shown as text; cache, WAF and certificates render when present', T, async () => {
    const hostile = '<img src=x onerror="window.__pwned=1">&amp;';
    srv!.overlay = {
      cache: { hits: 300, misses: 100, ratio: 0.75 },
      wafTopRules: [
        { rule: 'sqli-942100', blocks: 12 },
        { rule: hostile, blocks: 40 },
      ],
      certificates: [
        { names: ['example.com', 'www.example.com'], notAfter: '2031-01-01T00:00:00Z', daysLeft: 90, issuer: "Let's Encrypt R11" },
        { names: [hostile], notAfter: '2030-01-06T00:00:00Z', daysLeft: 5, issuer: '<b>bold</b>' },
      ],
      pools: [
        ...rt!.pools(),
        {
          name: '<script>window.__pwned=2</script>',
          balance: 'p2c-ewma',
          upstreams: [
            { url: 'http://10.0.0.9:80', label: hostile, state: 'draining', inflight: 3, latencyMs: 12.5, weight: 2 },
            { url: 'http://10.0.0.10:80', label: 'evil/"quoted"', state: 'unhealthy', inflight: 0, latencyMs: 0, weight: 1 },
          ],
        },
      ],
    };
    try {
      const row = tp.page.locator('tr[data-testid="upstream-row"][data-state="draining"]');
      await row.waitFor({ state: 'visible' });
      assert.equal((await row.locator('td').first().innerText()).trim(), hostile, 'the label is shown as text');
      assert.equal(await tp.page.locator('#pools img, #waf-on img, #certs img, #certs b, #pools script').count(), 0, 'no markup from data');
      assert.equal(await tp.page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);

      assert.equal((await tp.page.getByTestId('cache-ratio').innerText()).trim(), '75%');
      assert.equal(await tp.page.getByTestId('cache-disabled').isVisible(), false);
      assert.equal(await tp.page.getByTestId('waf-disabled').isVisible(), false);
      const waf = tp.page.locator('tr[data-testid="waf-row"]');
      assert.equal(await waf.count(), 2);
      assert.equal((await waf.first().locator('td').first().innerText()).trim(), hostile, 'most-blocked rule first, as text');
      const soon = tp.page.locator('tr[data-testid="cert-row"][data-days="5"] .badge');
      assert.match((await soon.getAttribute('class')) ?? '', /days-warn/, 'under 14 days is highlighted');
      assert.match((await tp.page.locator('tr[data-testid="cert-row"][data-days="90"] .badge').getAttribute('class')) ?? '', /days-ok/);
      assert.equal(await tp.page.getByTestId('no-certificates').count(), 0);
      await tp.page.screenshot({ path: join(shotDir, 'dashboard-features.png'), fullPage: true });
      await copyFile(join(shotDir, 'dashboard-features.png'), '/tmp/proxykit-dashboard-features.png');
    } finally {
      srv!.overlay = {};
    }
    await eventually(async () => (await tp.page.getByTestId('cache-disabled').isVisible()) === true, 5000, 'features gone again');
    assert.deepEqual(tp.problems, []);
  });

  it('shows "disconnected" when the stream drops, then reconnects and goes live again', T, async () => {
    const conn = tp.page.getByTestId('connection');
    await eventually(async () => (await conn.getAttribute('data-state')) === 'live', 5000, 'live before the drop');
    srv!.dropStreams(2500);
    await eventually(async () => (await conn.getAttribute('data-state')) === 'disconnected', 5000, 'disconnected after the drop');
    assert.equal((await conn.innerText()).trim(), 'disconnected');
    await eventually(async () => (await conn.getAttribute('data-state')) === 'live', 10_000, 'live again after reconnecting');
    assert.equal(srv!.streams(), 1, 'exactly one stream after reconnecting');
    const before1 = await value(tp, 'total-requests');
    await load(proxyBase, 30, 300);
    await eventually(async () => (await value(tp, 'total-requests')) === before1 + 30, 5000, 'updates after reconnecting');
    assert.deepEqual(tp.problems, []);
  });

  it('works on a narrow screen, behind a path prefix', T, async () => {
    const narrow = await br!.newPage({ width: 390, height: 844 });
    await narrow.page.goto(srv!.base + '/ops/proxykit/', { waitUntil: 'load' });
    await eventually(async () => (await narrow.page.getByTestId('connection').getAttribute('data-state')) === 'live', 10_000, 'live behind a prefix');
    await narrow.page.locator('tr[data-testid="upstream-row"]').first().waitFor({ state: 'visible' });
    const overflow = await narrow.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `horizontal overflow of ${overflow}px at 390px wide`);
    await narrow.page.screenshot({ path: join(shotDir, 'dashboard-390.png'), fullPage: true });
    await copyFile(join(shotDir, 'dashboard-390.png'), '/tmp/proxykit-dashboard-narrow.png');
    await narrow.context.close();
    assert.deepEqual(narrow.problems, []);
    assert.deepEqual(tp.problems, []);
  });
});

/**
 * The cache under churn: many clients on a few URLs with short lifetimes, background refreshes,
 * coalescing, purges every few milliseconds and clients that give up mid-response. Bounded in
 * count and time. Every answer must be a whole, correct body, and nothing may stay in flight.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { defineConfig, route, pool } from '../../../src/index.js';
import type { Plan } from '../../../src/engine/plan.js';
import { startProxy } from '../../helpers/proxy.js';
import { startOrigin } from './origin.js';

const URLS = 20;
const REQUESTS = 1500;
const CONCURRENCY = 40;

it('stays correct and leaks nothing under churn', { timeout: 60_000 }, async () => {
  const origin = await startOrigin();
  // Body = the path repeated: a client can check it got the right, whole body.
  origin.on('/churn/*', (req, n) => {
    const path = req.url ?? '';
    const body = path.repeat(200 + (n % 7) * 100);
    const kinds = [
      ['cache-control', 'max-age=1, stale-while-revalidate=1'],
      ['cache-control', 'max-age=0'],
      ['cache-control', 'no-store'],
      ['cache-control', 'max-age=2'],
    ] as Array<[string, string]>;
    return { headers: [kinds[Number(path.split('/')[2]) % kinds.length]!, ['etag', `"${n}"`]], body, delayMs: n % 5 === 0 ? 30 : 0, chunked: n % 2 === 0 };
  });
  const px = await startProxy(defineConfig({ listen: ['http://127.0.0.1:0'], cache: { maxSize: '1mb', maxObjectSize: '64kb' }, routes: [route('/*').to(pool('o', [origin.url])).cache()] }));
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  let done = 0;
  let wrong = 0;
  let abandoned = 0;
  const one = (i: number): Promise<void> =>
    new Promise((resolve) => {
      const path = `/churn/${i % URLS}`;
      const giveUp = i % 50 === 0;
      const req = http.get({ host: '127.0.0.1', port: px.port, path, agent, headers: i % 9 === 0 ? { range: 'bytes=0-99' } : {} }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => {
          chunks.push(c);
          if (giveUp) {
            abandoned++;
            req.destroy();
            resolve();
          }
        });
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString();
          const ok = res.statusCode === 206 ? body.length === 100 && path.repeat(20).startsWith(body.slice(0, path.length)) : res.statusCode === 200 && body.length > 0 && body === path.repeat(body.length / path.length);
          if (!ok) wrong++;
          done++;
          resolve();
        });
        res.on('error', () => resolve());
      });
      req.on('error', () => resolve());
    });
  let next = 0;
  const purger = setInterval(() => px.rt.httpCache()?.purgeAll(), 15);
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < REQUESTS && Date.now() - t0 < 40_000) await one(next++);
    }),
  );
  clearInterval(purger);
  agent.destroy();
  try {
    assert.equal(wrong, 0, `${wrong} wrong bodies`);
    assert.ok(done + abandoned >= REQUESTS * 0.95, `only ${done} done, ${abandoned} abandoned`);
    const gateway = (px.rt as unknown as { gateway: { inflight: number; plan: Plan } }).gateway;
    const dispatcher = gateway.plan.pools.get('o')!.upstreams[0]!.dispatcher;
    const deadline = Date.now() + 3000;
    while ((gateway.inflight > 0 || dispatcher.stats.running > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(gateway.inflight, 0, 'nothing left in flight');
    assert.equal(dispatcher.stats.running, 0, 'no upstream request left running');
    assert.equal(px.rt.httpCache()!.fills.size, 0, 'no fill left open');
    assert.ok(origin.seen.length < REQUESTS, `the cache answered some: ${origin.seen.length} origin requests for ${REQUESTS}`);
  } finally {
    await px.close();
    await origin.close();
  }
});

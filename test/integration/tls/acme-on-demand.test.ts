/**
 * On-demand TLS against a real CA (Pebble, ports 21140-21145): nothing is ordered unless `ask`
 * approves; an approved name gets its certificate at the first call; concurrent handshakes share
 * one order; refused names back off; the per-minute budget holds.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AcmeIssuer, type AcmeEvent } from '../../../src/tls/acme/issuer.js';
import { FileStorage } from '../../../src/tls/acme/storage.js';
import type { AcmeSpec } from '../../../src/config/spec.js';
import { createSilentLogger } from '../../../src/observe/logger.js';
import { startPebble, startResponders, type Pebble, type Responders } from '../../helpers/pebble.js';

let pebble: Pebble;
let responders: Responders;
let issuer: AcmeIssuer | null = null;
let dataDir: string;

before(async () => {
  pebble = await startPebble({ basePort: 21140, validitySeconds: 300 });
  responders = await startResponders(pebble, () => issuer);
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'proxykit-acme-od-'));
});

after(async () => {
  await issuer?.close();
  await responders?.close();
  await pebble?.stop();
  if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
});

function make(onDemand: AcmeSpec['onDemand']) {
  const installed: string[] = [];
  const events: AcmeEvent[] = [];
  const i = new AcmeIssuer({
    spec: { email: 'ops@example.test', directory: pebble.directory, challenges: ['http-01'], onDemand },
    storage: new FileStorage(dataDir),
    logger: createSilentLogger(),
    onCertificate: (names) => void installed.push(...names),
    onEvent: (e) => void events.push(e),
    poll: { minMs: 50, maxMs: 500, attempts: 20 },
  });
  return { issuer: i, installed, events };
}

test('ask refusing: no order, false, and the name is not asked again during retryAfter', async () => {
  const asked: string[] = [];
  const t = make({ ask: (n) => (asked.push(n), false), retryAfter: '10m' });
  issuer = t.issuer;
  const orders0 = await pebble.orderCount();
  assert.equal(await t.issuer.onDemand('evil.localhost'), false);
  assert.equal(await t.issuer.onDemand('evil.localhost'), false);
  assert.deepEqual(asked, ['evil.localhost'], 'backoff: asked once');
  assert.equal(await t.issuer.onDemand(''), false);
  assert.equal(await t.issuer.onDemand('127.0.0.1'), false);
  assert.deepEqual(asked, ['evil.localhost'], 'invalid names never reach ask');
  assert.equal((await pebble.orderCount()) - orders0, 0);
  assert.deepEqual(t.installed, []);
  assert.deepEqual(
    t.events.map((e) => (e.type === 'on_demand_denied' ? e.reason : e.type)),
    ['refused', 'backoff', 'invalid'], // '' is dropped before the gate
  );
  await t.issuer.close();
  issuer = null;
});

test('ask approving: the certificate is issued at the first call; concurrent calls share one order', async () => {
  const asked: string[] = [];
  const t = make({ ask: async (n) => (asked.push(n), n.endsWith('.ok.localhost')), perMinute: 10 });
  issuer = t.issuer;
  const orders0 = await pebble.orderCount();
  const results = await Promise.all(Array.from({ length: 5 }, () => t.issuer.onDemand('shop.ok.localhost')));
  assert.deepEqual(results, [true, true, true, true, true]);
  assert.deepEqual(t.installed, ['shop.ok.localhost'], 'installed before onDemand resolved');
  assert.deepEqual(asked, ['shop.ok.localhost'], 'one ask for the concurrent handshakes');
  assert.equal((await pebble.orderCount()) - orders0, 1, 'one order');
  // Known now: no ask, no order.
  assert.equal(await t.issuer.onDemand('shop.ok.localhost'), true);
  assert.equal(asked.length, 1);
  assert.ok(t.issuer.has('shop.ok.localhost'), 'kept for renewal');
  await t.issuer.close();
  issuer = null;
});

test('per-minute budget: the second new name in the minute is not issued', async () => {
  const t = make({ ask: () => true, perMinute: 1 });
  issuer = t.issuer;
  const orders0 = await pebble.orderCount();
  assert.equal(await t.issuer.onDemand('one.budget.localhost'), true);
  assert.equal(await t.issuer.onDemand('two.budget.localhost'), false);
  assert.equal((await pebble.orderCount()) - orders0, 1);
  assert.ok(t.events.some((e) => e.type === 'on_demand_denied' && e.reason === 'rate-limited'));
  await t.issuer.close();
  issuer = null;
});

test('a restarted issuer serves an on-demand certificate from storage without ordering', async () => {
  const t = make({ ask: () => true, perMinute: 1 });
  issuer = t.issuer;
  const orders0 = await pebble.orderCount();
  assert.equal(await t.issuer.onDemand('shop.ok.localhost'), true);
  assert.deepEqual(t.installed, ['shop.ok.localhost']);
  assert.equal((await pebble.orderCount()) - orders0, 0);
  await t.issuer.close();
  issuer = null;
});

test('a failed on-demand issuance returns false and backs the name off', async () => {
  responders.sabotage.add('broken.localhost');
  try {
    let asks = 0;
    const t = make({ ask: () => (asks++, true) });
    issuer = t.issuer;
    assert.equal(await t.issuer.onDemand('broken.localhost'), false);
    assert.equal(await t.issuer.onDemand('broken.localhost'), false);
    assert.equal(asks, 1, 'in backoff after the failure');
    assert.equal(t.issuer.has('broken.localhost'), false, 'not retried in the background');
    await t.issuer.close();
    issuer = null;
  } finally {
    responders.sabotage.delete('broken.localhost');
  }
});

test('without onDemand config, onDemand() is always false', async () => {
  const t = make(undefined);
  assert.equal(await t.issuer.onDemand('anything.localhost'), false);
  await t.issuer.close();
});

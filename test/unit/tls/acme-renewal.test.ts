/**
 * Renewal schedule math, retry table, failure classification, the renewal ticker
 * (src/tls/acme/renewal.ts) and the on-demand gate (on-demand.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ChallengeError,
  DnsProviderError,
  NoRetryError,
  RENEWAL_WINDOW_RATIO,
  RETRY_INTERVALS_MS,
  RenewalTicker,
  classifyAcmeError,
  jittered,
  needsRenewal,
  renewalTime,
  retryDelay,
} from '../../../src/tls/acme/renewal.js';
import { OnDemandGate, isIssuableName } from '../../../src/tls/acme/on-demand.js';

const DAY = 86_400_000;

describe('renewal window', () => {
  const nb = new Date('2025-01-01T00:00:00Z');
  const na = new Date(nb.getTime() + 90 * DAY);

  test('a 90-day certificate is due 30 days before expiry (last third)', () => {
    assert.equal(RENEWAL_WINDOW_RATIO, 1 / 3);
    assert.equal(renewalTime(nb, na), nb.getTime() + 60 * DAY);
    assert.equal(needsRenewal(nb, na, nb.getTime() + 60 * DAY - 1), false);
    assert.equal(needsRenewal(nb, na, nb.getTime() + 60 * DAY), true);
    assert.equal(needsRenewal(nb, na, na.getTime() + 1), true, 'expired is due');
    assert.equal(needsRenewal(nb, na, nb.getTime()), false);
  });

  test('other ratios and lifetimes', () => {
    const short = new Date(nb.getTime() + 60_000);
    assert.equal(renewalTime(nb, short), nb.getTime() + 40_000);
    assert.equal(renewalTime(nb, short, 0.75), nb.getTime() + 15_000);
    assert.equal(needsRenewal(nb, short, nb.getTime(), 1), true, 'ratio 1: always due');
    // Inverted dates (broken cert) are due at notAfter.
    assert.equal(renewalTime(short, nb), nb.getTime());
  });
});

describe('retry schedule', () => {
  test('the table: 1m, 2m, 2m, 5m, 10m … capped at 6h', () => {
    const m = 60_000;
    assert.deepEqual(RETRY_INTERVALS_MS.slice(0, 5), [m, 2 * m, 2 * m, 5 * m, 10 * m]);
    assert.equal(Math.max(...RETRY_INTERVALS_MS), 6 * 60 * m);
    for (let i = 1; i < RETRY_INTERVALS_MS.length; i++) assert.ok(RETRY_INTERVALS_MS[i]! >= RETRY_INTERVALS_MS[i - 1]!, 'non-decreasing');
    assert.equal(retryDelay(1), m);
    assert.equal(retryDelay(2), 2 * m);
    assert.equal(retryDelay(4), 5 * m);
    assert.equal(retryDelay(1000), 6 * 60 * m, 'last entry repeats');
    assert.equal(retryDelay(0), m, 'clamped');
  });

  test('a CA Retry-After longer than the table wins', () => {
    assert.equal(retryDelay(1, RETRY_INTERVALS_MS, 3_600_000), 3_600_000);
    assert.equal(retryDelay(1, RETRY_INTERVALS_MS, 1000), 60_000);
    assert.equal(retryDelay(3, [10, 20]), 20);
  });

  test('jitter stays within [interval, interval × (1 + ratio)]', () => {
    assert.equal(jittered(600_000, 0.1, () => 0), 600_000);
    assert.equal(jittered(600_000, 0.1, () => 1), 660_000);
    for (let i = 0; i < 100; i++) {
      const v = jittered(1000);
      assert.ok(v >= 1000 && v <= 1100);
    }
  });
});

describe('classifyAcmeError', () => {
  const ERR = 'urn:ietf:params:acme:error:';

  test('rate limit (problem type or HTTP 429), with Retry-After', () => {
    const f = classifyAcmeError(new Error('too many certificates already issued'), {
      problem: { type: `${ERR}rateLimited`, detail: 'too many certificates already issued', status: 429, retryAfterMs: 7_200_000 },
    });
    assert.equal(f.kind, 'rate-limit');
    assert.equal(f.retryAfterMs, 7_200_000);
    assert.match(f.message, /CA rate limit: too many certificates/);
    assert.equal(classifyAcmeError(new Error('x'), { problem: { status: 429 } }).kind, 'rate-limit');
  });

  test('challenge failures, DNS failures', () => {
    const c = classifyAcmeError(new ChallengeError('a.test', 'http-01', { type: `${ERR}unauthorized`, detail: 'wrong key authorization' }));
    assert.equal(c.kind, 'challenge');
    assert.match(c.message, /http-01 challenge for a\.test failed: wrong key authorization \(urn:ietf:params:acme:error:unauthorized\)/);
    assert.equal(classifyAcmeError(new ChallengeError('a.test', 'http-01', { type: `${ERR}dns`, detail: 'NXDOMAIN' })).kind, 'dns');
    assert.equal(classifyAcmeError(new DnsProviderError('provider exploded')).kind, 'dns');
    assert.equal(classifyAcmeError(new Error('x'), { problem: { type: `${ERR}dns`, detail: 'x' } }).kind, 'dns');
  });

  test('CA unreachable: network and TLS errors, 5xx', () => {
    const t = classifyAcmeError(new TypeError("Cannot read properties of undefined (reading 'config')"), {
      transport: { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:1' },
    });
    assert.equal(t.kind, 'ca-unreachable');
    assert.match(t.message, /CA unreachable: connect ECONNREFUSED 127\.0\.0\.1:1 \(ECONNREFUSED\)/);
    const cert = Object.assign(new Error('unable to verify the first certificate'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    assert.equal(classifyAcmeError(cert).kind, 'ca-unreachable');
    assert.equal(classifyAcmeError(new Error('x'), { problem: { status: 503, detail: 'maintenance' } }).kind, 'ca-unreachable');
  });

  test('do-not-retry and other', () => {
    const n = classifyAcmeError(new NoRetryError('wildcard needs DNS-01'));
    assert.equal(n.kind, 'config');
    assert.equal(n.retry, false);
    assert.equal(classifyAcmeError(new Error('boom')).kind, 'other');
    assert.equal(classifyAcmeError(new Error('boom')).retry, true);
    assert.equal(classifyAcmeError(new Error('x'), { problem: { type: `${ERR}caa`, detail: 'CAA forbids' } }).kind, 'config');
  });
});

describe('RenewalTicker', () => {
  test('ticks repeatedly, never overlaps a running check, stop() waits for it', async () => {
    let running = 0;
    let overlap = false;
    let ticks = 0;
    const ticker = new RenewalTicker(async () => {
      running++;
      if (running > 1) overlap = true;
      ticks++;
      await new Promise((r) => setTimeout(r, 30));
      running--;
    }, 10, 0);
    ticker.start();
    ticker.start(); // idempotent
    await new Promise((r) => setTimeout(r, 200));
    await ticker.stop();
    assert.equal(running, 0);
    const after = ticks;
    assert.ok(after >= 3, `ticked ${after} times`);
    assert.equal(overlap, false);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(ticks, after, 'no tick after stop');
  });
});

describe('OnDemandGate', () => {
  test('names: DNS names only', () => {
    for (const n of ['a.example.com', 'x', 'foo-bar.localhost', 'a_b.example']) assert.ok(isIssuableName(n), n);
    for (const n of ['', '*.example.com', '1.2.3.4', '::1', '-a.example', 'a..b', 'a.example.com/x', 'a'.repeat(64) + '.com', 'A.example.com']) {
      assert.equal(isIssuableName(n), false, n);
    }
  });

  test('refusal backs the name off for retryAfter; ask throwing is a refusal', async () => {
    let now = 0;
    const asked: string[] = [];
    const gate = new OnDemandGate({
      ask: (n) => {
        asked.push(n);
        if (n === 'throws.test') throw new Error('db down');
        return n === 'yes.test';
      },
      retryAfterMs: 1000,
      now: () => now,
    });
    assert.equal(await gate.admit('no.test'), 'refused');
    assert.equal(await gate.admit('no.test'), 'backoff');
    assert.equal(await gate.admit('throws.test'), 'refused');
    assert.equal(await gate.admit('yes.test'), 'ok');
    assert.equal(await gate.admit('*.test'), 'invalid');
    now = 1000;
    assert.equal(await gate.admit('no.test'), 'refused', 'asked again after retryAfter');
    assert.deepEqual(asked, ['no.test', 'throws.test', 'yes.test', 'no.test']);
    gate.fail('yes.test');
    assert.equal(gate.inBackoff('yes.test'), true);
  });

  test('per-minute budget is a sliding 60 s window', () => {
    let now = 0;
    const gate = new OnDemandGate({ ask: () => true, perMinute: 2, now: () => now });
    assert.equal(gate.takeSlot(), true);
    now = 30_000;
    assert.equal(gate.takeSlot(), true);
    assert.equal(gate.takeSlot(), false);
    now = 60_000; // the first slot left the window
    assert.equal(gate.takeSlot(), true);
    assert.equal(gate.takeSlot(), false);
  });

  test('defaults: 10 per minute, 10 minutes backoff', () => {
    const gate = new OnDemandGate({ ask: () => true });
    assert.equal(gate.perMinute, 10);
    assert.equal(gate.retryAfterMs, 600_000);
  });
});

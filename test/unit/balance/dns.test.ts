import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { setTimeout as sleep } from 'node:timers/promises';
import { DnsRefresher, isHostName, type LookupAll } from '../../../src/balance/dns.js';
import { recordingLogger } from '../../helpers/recording-logger.js';



/** A resolver whose answers the test sets: addresses, or an Error to throw. */
function scriptedLookup(initial: string[] | Error): LookupAll & { answer: string[] | Error; calls: string[] } {
  const fn: LookupAll & { answer: string[] | Error; calls: string[] } = Object.assign(
    async (hostname: string): Promise<LookupAddress[]> => {
      fn.calls.push(hostname);
      const a = fn.answer;
      if (a instanceof Error) throw a;
      return a.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    },
    { answer: initial, calls: [] as string[] },
  );
  return fn;
}

const HOUR = 3_600_000;

test('isHostName: names yes, IP literals no', () => {
  assert.ok(isHostName('api.internal'));
  assert.ok(isHostName('localhost'));
  assert.ok(!isHostName('127.0.0.1'));
  assert.ok(!isHostName('::1'));
  assert.ok(!isHostName('[::1]'));
  assert.ok(!isHostName(''));
});

test('first resolution is the baseline; a different sorted set calls onChange once; order alone is no change', async () => {
  const log = recordingLogger();
  const lookup = scriptedLookup(['10.0.0.2', '10.0.0.1']);
  const dns = new DnsRefresher(log, { lookup });
  const changes: string[][] = [];
  dns.reconcile([{ key: 'api|http://api.internal:3001', hostname: 'api.internal', refreshMs: HOUR, onChange: (a) => changes.push(a) }]);
  await dns.refreshNow();
  assert.deepEqual(dns.addresses('api|http://api.internal:3001'), ['10.0.0.1', '10.0.0.2']);
  assert.deepEqual(changes, [], 'no onChange for the first resolution');

  lookup.answer = ['10.0.0.1', '10.0.0.2', '10.0.0.1']; // same set, other order, duplicate
  await dns.refreshNow();
  assert.deepEqual(changes, []);

  lookup.answer = ['10.0.0.3', '10.0.0.1'];
  await dns.refreshNow();
  assert.deepEqual(changes, [['10.0.0.1', '10.0.0.3']]);
  const info = log.lines.filter((l) => l.msg === 'upstream addresses changed');
  assert.equal(info.length, 1);
  assert.equal(info[0]!.level, 'info');
  assert.deepEqual(info[0]!.fields.from, ['10.0.0.1', '10.0.0.2']);
  assert.deepEqual(info[0]!.fields.to, ['10.0.0.1', '10.0.0.3']);
  assert.ok(lookup.calls.every((h) => h === 'api.internal'));
  dns.stopAll();
});

test('errors are logged at warn and the last good list is kept; recovery to the same list is no change', async () => {
  const log = recordingLogger();
  const lookup = scriptedLookup(['10.0.0.1']);
  const dns = new DnsRefresher(log, { lookup });
  const changes: string[][] = [];
  dns.reconcile([{ key: 'k', hostname: 'api.internal', refreshMs: HOUR, onChange: (a) => changes.push(a) }]);
  await dns.refreshNow();

  lookup.answer = Object.assign(new Error('getaddrinfo ENOTFOUND api.internal'), { code: 'ENOTFOUND' });
  await dns.refreshNow();
  assert.deepEqual(dns.addresses('k'), ['10.0.0.1']);
  const warn = log.lines.filter((l) => l.level === 'warn');
  assert.equal(warn.length, 1);
  assert.equal(warn[0]!.fields.error, 'ENOTFOUND');
  assert.equal(warn[0]!.fields.hostname, 'api.internal');

  lookup.answer = []; // an empty answer is an error too, not "no upstream"
  await dns.refreshNow();
  assert.deepEqual(dns.addresses('k'), ['10.0.0.1']);

  lookup.answer = ['10.0.0.1'];
  await dns.refreshNow();
  assert.deepEqual(changes, []);
  assert.ok(log.lines.some((l) => l.msg === 'upstream host name resolves again'));

  lookup.answer = ['10.0.0.9'];
  await dns.refreshNow();
  assert.deepEqual(changes, [['10.0.0.9']]);
  dns.stopAll();
});

test('a failing first lookup leaves no baseline; the first success sets it without onChange', async () => {
  const lookup = scriptedLookup(new Error('SERVFAIL'));
  const dns = new DnsRefresher(recordingLogger(), { lookup });
  const changes: string[][] = [];
  dns.reconcile([{ key: 'k', hostname: 'api.internal', refreshMs: HOUR, onChange: (a) => changes.push(a) }]);
  await dns.refreshNow();
  assert.equal(dns.addresses('k'), undefined);
  lookup.answer = ['10.0.0.1'];
  await dns.refreshNow();
  assert.deepEqual(dns.addresses('k'), ['10.0.0.1']);
  assert.deepEqual(changes, []);
  dns.stopAll();
});

test('reconcile: IP literals skipped; same entry kept (baseline and new onChange); changed restarts; gone stops', async () => {
  const lookup = scriptedLookup(['10.0.0.1']);
  const dns = new DnsRefresher(recordingLogger(), { lookup });
  const first: string[][] = [];
  const second: string[][] = [];
  dns.reconcile([
    { key: 'ip4', hostname: '127.0.0.1', refreshMs: HOUR, onChange: () => assert.fail('never for IPs') },
    { key: 'ip6', hostname: '[::1]', refreshMs: HOUR, onChange: () => assert.fail('never for IPs') },
    { key: 'k', hostname: 'api.internal', refreshMs: HOUR, onChange: (a) => first.push(a) },
  ]);
  assert.deepEqual(dns.keys(), ['k']);
  await dns.refreshNow();
  assert.equal(lookup.calls.length, 1);

  // Same key, host and interval: kept, with its baseline; the new callback is used.
  dns.reconcile([{ key: 'k', hostname: 'api.internal', refreshMs: HOUR, onChange: (a) => second.push(a) }]);
  assert.equal(lookup.calls.length, 1, 'a kept entry is not resolved again at once');
  lookup.answer = ['10.0.0.2'];
  await dns.refreshNow();
  assert.deepEqual(first, []);
  assert.deepEqual(second, [['10.0.0.2']]);

  // Other host name under the same key: restarted, new baseline, no onChange.
  dns.reconcile([{ key: 'k', hostname: 'api2.internal', refreshMs: HOUR, onChange: (a) => second.push(a) }]);
  await dns.refreshNow();
  assert.equal(lookup.calls.at(-1), 'api2.internal');
  assert.deepEqual(second, [['10.0.0.2']]);

  dns.reconcile([]);
  assert.deepEqual(dns.keys(), []);
  dns.stopAll();
});

test('re-resolves on its own every refreshMs', async () => {
  const lookup = scriptedLookup(['10.0.0.1']);
  const dns = new DnsRefresher(recordingLogger(), { lookup });
  const changes: string[][] = [];
  dns.reconcile([{ key: 'k', hostname: 'api.internal', refreshMs: 20, onChange: (a) => changes.push(a) }]);
  await sleep(10);
  lookup.answer = ['10.0.0.5'];
  const deadline = Date.now() + 2000;
  while (changes.length === 0 && Date.now() < deadline) await sleep(10);
  assert.deepEqual(changes, [['10.0.0.5']]);
  assert.ok(lookup.calls.length >= 2);
  dns.stopAll();
  const calls = lookup.calls.length;
  await sleep(80);
  assert.ok(lookup.calls.length <= calls + 1, 'stopAll ends the loop (at most a lookup already in flight)');
});

test('localhost resolves for real (to loopback) with the default resolver', async () => {
  const log = recordingLogger();
  const dns = new DnsRefresher(log);
  const changes: string[][] = [];
  dns.reconcile([{ key: 'local', hostname: 'localhost', refreshMs: HOUR, onChange: (a) => changes.push(a) }]);
  await dns.refreshNow();
  const addrs = dns.addresses('local');
  assert.ok(addrs && addrs.length > 0, `resolved: ${JSON.stringify(log.lines)}`);
  assert.ok(addrs.every((a) => a === '::1' || a.startsWith('127.')), `loopback addresses: ${addrs.join(', ')}`);
  await dns.refreshNow();
  assert.deepEqual(changes, []);
  dns.stopAll();
});

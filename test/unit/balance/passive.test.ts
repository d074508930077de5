import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassivePolicy, usable } from '../../../src/balance/passive.js';
import { T0, upstream, upstreams } from './fixtures.js';
import { recordingLogger } from '../../helpers/recording-logger.js';



test('defaults: 5 failures, 30s, cap 10 × ejectFor, statuses 502/503/504', () => {
  const p = new PassivePolicy(undefined, recordingLogger(), 'api');
  assert.equal(p.failures, 5);
  assert.equal(p.ejectForMs, 30_000);
  assert.equal(p.maxEjectForMs, 300_000);
  for (const s of [502, 503, 504]) assert.ok(p.isFailureStatus(s), String(s));
  for (const s of [200, 404, 500, 501]) assert.ok(!p.isFailureStatus(s), String(s));

  const q = new PassivePolicy({ failures: 2, ejectFor: '1s', maxEjectFor: '3s', statuses: [500] }, recordingLogger(), 'api');
  assert.deepEqual([q.failures, q.ejectForMs, q.maxEjectForMs], [2, 1000, 3000]);
  assert.ok(q.isFailureStatus(500));
  assert.ok(!q.isFailureStatus(502));
});

test('ejects after N consecutive failures, not before; logs once with pool, upstream, failures, for', () => {
  const log = recordingLogger();
  const p = new PassivePolicy({ failures: 3, ejectFor: '10s' }, log, 'api');
  const [a, b] = upstreams(2);
  const pool = [a!, b!];
  p.onFailure(a!, T0, 'connect ECONNREFUSED', pool);
  p.onFailure(a!, T0 + 1, 'connect ECONNREFUSED', pool);
  assert.equal(a!.state.failures, 2);
  assert.ok(usable(a!, T0 + 1));
  assert.equal(log.lines.length, 0);

  p.onFailure(a!, T0 + 2, 'status 503', pool);
  assert.equal(a!.state.ejectedUntil, T0 + 2 + 10_000);
  assert.equal(a!.state.ejections, 1);
  assert.equal(a!.state.failures, 0, 'the run of failures restarts after an ejection');
  assert.ok(!usable(a!, T0 + 3));
  assert.ok(!p.isUsable(a!, T0 + 3));
  assert.ok(usable(b!, T0 + 3));

  assert.equal(log.lines.length, 1);
  const line = log.lines[0]!;
  assert.equal(line.level, 'warn');
  assert.equal(line.msg, 'upstream ejected');
  assert.equal(line.fields.pool, 'api');
  assert.equal(line.fields.upstream, a!.label);
  assert.equal(line.fields.failures, 3);
  assert.equal(line.fields.forMs, 10_000);
  assert.equal(line.fields.reason, 'status 503');
  assert.equal(line.fields.panic, undefined);
});

test('a success in between resets the run of failures', () => {
  const p = new PassivePolicy({ failures: 3 }, recordingLogger(), 'api');
  const [a, b] = upstreams(2);
  const pool = [a!, b!];
  for (let i = 0; i < 10; i++) {
    p.onFailure(a!, T0 + i, 'timeout', pool);
    p.onFailure(a!, T0 + i, 'timeout', pool);
    p.onSuccess(a!, T0 + i);
  }
  assert.equal(a!.state.failures, 0);
  assert.equal(a!.state.ejections, 0);
  assert.ok(usable(a!, T0 + 10));
});

test('expiry makes the upstream usable again; failures while ejected are not counted', () => {
  const p = new PassivePolicy({ failures: 1, ejectFor: 1000 }, recordingLogger(), 'api');
  const [a, b] = upstreams(2);
  const pool = [a!, b!];
  p.onFailure(a!, T0, 'reset', pool);
  assert.ok(!usable(a!, T0 + 999));
  // Late answers to requests sent before the ejection: neither extend nor count.
  p.onFailure(a!, T0 + 500, 'reset', pool);
  assert.equal(a!.state.ejectedUntil, T0 + 1000);
  assert.equal(a!.state.ejections, 1);
  assert.equal(a!.state.failures, 0);
  assert.ok(usable(a!, T0 + 1000), 'usable again at the end of the ejection, without any event');
  assert.ok(!a!.state.isEjected(T0 + 1000));
});

test('backoff doubles on repeated ejection and is capped at maxEjectFor', () => {
  const log = recordingLogger();
  const p = new PassivePolicy({ failures: 1, ejectFor: '1s', maxEjectFor: '5s' }, log, 'api');
  const [a, b] = upstreams(2);
  const pool = [a!, b!];
  let now = T0;
  const lengths: number[] = [];
  for (let i = 0; i < 5; i++) {
    p.onFailure(a!, now, 'timeout', pool);
    lengths.push(a!.state.ejectedUntil - now);
    now = a!.state.ejectedUntil; // expired; the next request fails again before any success
  }
  assert.deepEqual(lengths, [1000, 2000, 4000, 5000, 5000]);
  assert.deepEqual(log.lines.map((l) => l.fields.forMs), [1000, 2000, 4000, 5000, 5000]);
  assert.deepEqual(log.lines.map((l) => l.fields.ejections), [1, 2, 3, 4, 5]);
  // Default cap is 10 × ejectFor, and huge exponents stay finite.
  const d = new PassivePolicy({ ejectFor: '1s' }, log, 'api');
  assert.equal(d.ejectionLength(3), 8000);
  assert.equal(d.ejectionLength(4), 10_000);
  assert.equal(d.ejectionLength(5000), 10_000);
});

test('a success after the ejection ended resets the backoff, restarts slow start, logs rejoin once', () => {
  const log = recordingLogger();
  const p = new PassivePolicy({ failures: 1, ejectFor: '1s' }, log, 'api');
  const [a, b] = upstreams(2);
  const pool = [a!, b!];
  p.onFailure(a!, T0, 'timeout', pool);
  p.onFailure(a!, T0 + 1000, 'timeout', pool); // second ejection: 2s
  assert.equal(a!.state.ejections, 2);
  assert.ok(a!.state.usableSince >= T0 + 1000, 'slow start counts from the end of the ejection');

  // A late success while still ejected changes nothing but the failure run.
  p.onSuccess(a!, T0 + 1500);
  assert.equal(a!.state.ejections, 2);
  assert.ok(!usable(a!, T0 + 1500));
  assert.equal(log.lines.filter((l) => l.msg === 'upstream rejoined').length, 0);

  const back = T0 + 3000;
  p.onSuccess(a!, back);
  assert.equal(a!.state.ejections, 0);
  assert.equal(a!.state.ejectedUntil, 0);
  assert.equal(a!.state.usableSince, back);
  p.onSuccess(a!, back + 1);
  assert.equal(a!.state.usableSince, back, 'only the first success counts as the rejoin');
  const rejoins = log.lines.filter((l) => l.msg === 'upstream rejoined');
  assert.equal(rejoins.length, 1);
  assert.equal(rejoins[0]!.level, 'info');
  assert.equal(rejoins[0]!.fields.upstream, a!.label);

  // Backoff starts over.
  p.onFailure(a!, back + 10, 'timeout', pool);
  assert.equal(a!.state.ejectedUntil - (back + 10), 1000);
});

test('ejecting the last usable upstream is recorded and logged as panic mode', () => {
  const log = recordingLogger();
  const p = new PassivePolicy({ failures: 1, ejectFor: '10s' }, log, 'api');
  const [a, b, c] = upstreams(3);
  const pool = [a!, b!, c!];
  c!.state.healthy = false; // down by active checks
  p.onFailure(a!, T0, 'timeout', pool);
  assert.equal(log.lines.filter((l) => /panic/.test(l.msg)).length, 0, 'b is still usable');

  p.onFailure(b!, T0 + 1, 'timeout', pool);
  assert.ok(b!.state.isEjected(T0 + 2), 'the ejection is still recorded');
  assert.ok(!pool.some((u) => usable(u, T0 + 2)));
  const ejected = log.lines.filter((l) => l.msg === 'upstream ejected');
  assert.equal(ejected[1]!.fields.panic, true);
  const panic = log.lines.filter((l) => /panic mode/.test(l.msg));
  assert.equal(panic.length, 1);
  assert.equal(panic[0]!.level, 'warn');
  assert.equal(panic[0]!.fields.pool, 'api');
  assert.match(panic[0]!.msg, /serving from all/);
});

test('a pool of one: its ejection is panic mode', () => {
  const log = recordingLogger();
  const p = new PassivePolicy({ failures: 1 }, log, 'solo');
  const only = upstream('http://10.9.9.9:80');
  p.onFailure(only, T0, 'connect ECONNREFUSED', [only]);
  assert.ok(only.state.isEjected(T0 + 1));
  assert.equal(log.lines.filter((l) => /panic mode/.test(l.msg)).length, 1);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseByteSize, parseDuration, parseRate, type Rate } from '../../../src/config/units.js';
import type { ByteSize, Duration } from '../../../src/config/spec.js';

test('parseDuration: units and numbers', () => {
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('5m'), 300_000);
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration('7d'), 604_800_000);
  assert.equal(parseDuration('0s'), 0);
  assert.equal(parseDuration(200), 200);
  assert.equal(parseDuration(0), 0);
});

test('parseDuration: bad input throws a readable message', () => {
  for (const bad of ['30 seconds', '30', 's', '-1s', '1w', '', 'NaNs', -5, Infinity, NaN] as unknown as Duration[]) {
    assert.throws(() => parseDuration(bad), (err: Error) => {
      assert.match(err.message, /invalid duration/);
      assert.match(err.message, /expected/);
      return true;
    }, String(bad));
  }
  assert.throws(() => parseDuration('30 seconds' as Duration), /invalid duration "30 seconds": expected .*'30s'/);
});

test('parseByteSize: units (binary) and numbers', () => {
  assert.equal(parseByteSize('100b'), 100);
  assert.equal(parseByteSize('1kb'), 1024);
  assert.equal(parseByteSize('512kb'), 512 * 1024);
  assert.equal(parseByteSize('10mb'), 10 * 1024 * 1024);
  assert.equal(parseByteSize('1gb'), 1024 ** 3);
  assert.equal(parseByteSize('1.5kb'), 1536);
  assert.equal(parseByteSize('10MB' as ByteSize), 10 * 1024 * 1024);
  assert.equal(parseByteSize(4096), 4096);
});

test('parseByteSize: bad input throws a readable message', () => {
  for (const bad of ['10 megabytes', '10', 'mb', '-1kb', '1tb', 1.5, -1] as unknown as ByteSize[]) {
    assert.throws(() => parseByteSize(bad), /invalid size .*expected/, String(bad));
  }
});

test('parseRate: per second, minute, hour', () => {
  assert.deepEqual(parseRate('100/s'), { count: 100, perMs: 1000 });
  assert.deepEqual(parseRate('30/m'), { count: 30, perMs: 60_000 });
  assert.deepEqual(parseRate('1000/h'), { count: 1000, perMs: 3_600_000 });
  assert.deepEqual(parseRate('0.5/s'), { count: 0.5, perMs: 1000 });
});

test('parseRate: bad input throws a readable message', () => {
  for (const bad of ['100', '100/d', '0/s', '/s', '-1/s', 'x/s', 100] as unknown as Rate[]) {
    assert.throws(() => parseRate(bad), /invalid rate .*expected .*'100\/s'/, String(bad));
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter } from 'prom-client';
import { createMetrics, registryOf, codeIndex, REQUEST_BUCKETS } from '../../../src/observe/metrics.js';

interface Family {
  help?: string;
  type?: string;
  samples: Array<{ name: string; labels: Record<string, string>; value: number }>;
}

/** Parse Prometheus text exposition into families keyed by name. */
function parse(body: string): Map<string, Family> {
  const fams = new Map<string, Family>();
  const fam = (name: string): Family => {
    let f = fams.get(name);
    if (!f) fams.set(name, (f = { samples: [] }));
    return f;
  };
  for (const line of body.split('\n')) {
    if (line === '') continue;
    let m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (m) {
      if (m[1] === 'HELP') fam(m[2]).help = m[3];
      else fam(m[2]).type = m[3];
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `unparseable line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g;
      let l: RegExpExecArray | null;
      while ((l = re.exec(m[2]))) labels[l[1]] = l[2].replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
    }
    const name = m[1];
    // A histogram's _bucket/_sum/_count samples belong to the base family.
    const base = [...fams.keys()].find((k) => fams.get(k)!.type === 'histogram' && (name === `${k}_bucket` || name === `${k}_sum` || name === `${k}_count`));
    fam(base ?? name).samples.push({ name, labels, value: Number(m[3]) });
  }
  return fams;
}

function value(f: Map<string, Family>, sample: string, labels: Record<string, string>): number | undefined {
  const family = f.get(sample) ?? f.get(sample.replace(/_(bucket|sum|count)$/, ''));
  const s = family?.samples.find((x) => x.name === sample && Object.entries(labels).every(([k, v]) => x.labels[k] === v) && Object.keys(x.labels).length === Object.keys(labels).length);
  return s?.value;
}

const OURS: Record<string, { type: string; labels: string[] }> = {
  proxykit_requests_total: { type: 'counter', labels: ['route', 'code'] },
  proxykit_request_duration_seconds: { type: 'histogram', labels: ['route'] },
  proxykit_request_bytes_total: { type: 'counter', labels: ['route'] },
  proxykit_response_bytes_total: { type: 'counter', labels: ['route'] },
  proxykit_upstream_requests_total: { type: 'counter', labels: ['pool', 'upstream', 'code'] },
  proxykit_upstream_response_seconds: { type: 'histogram', labels: ['pool', 'upstream'] },
  proxykit_upstream_up: { type: 'gauge', labels: ['pool', 'upstream'] },
  proxykit_upstream_retries_total: { type: 'counter', labels: ['pool'] },
  proxykit_upstream_rejected_total: { type: 'counter', labels: ['pool', 'reason'] },
  proxykit_unrouted_requests_total: { type: 'counter', labels: ['code'] },
  proxykit_open_connections: { type: 'gauge', labels: [] },
  proxykit_config_reloads_total: { type: 'counter', labels: ['result'] },
};

const API = 'http://127.0.0.1:3001';

function exercise() {
  const m = createMetrics({ collectDefault: false });
  const r = m.route('#2 api.example.com/v1/*');
  const u = m.upstream('api', API);
  for (let i = 0; i < 7; i++) r.done(200, 0.004, 10, 100, u);
  r.done(404, 0.0002, 0, 0, null);
  r.done(503, 2, 5, 0, u);
  r.done(0, 0.1, 0, 0, null);
  r.done(101, 1, 0, 0, u);
  u.attempt(200, 0.003);
  u.attempt(200, 0.005);
  u.attempt(502, 0.05);
  u.attempt(0, 1.5);
  m.unrouted(404, 0.0001);
  m.unrouted(431, 0.0001);
  m.unrouted(400, 0.0001);
  m.connectionOpened();
  m.connectionOpened();
  m.connectionOpened();
  m.connectionClosed();
  m.reload(true);
  m.reload(false);
  m.reload(true);
  m.upstreamHealth('api', 'http://127.0.0.1:3002', false);
  m.retry('api');
  m.retry('api');
  m.rejected('api', 'circuit');
  m.rejected('web', 'no_upstream');
  return m;
}

test('codeIndex groups statuses into classes', () => {
  assert.deepEqual([0, 99, 100, 101, 200, 299, 304, 404, 499, 500, 599, 600, -1, NaN].map(codeIndex), [0, 0, 1, 1, 2, 2, 3, 4, 4, 5, 5, 0, 0, 0]);
});

test('exposition: every family has HELP and TYPE, names follow the conventions', async () => {
  const m = exercise();
  const { contentType, body } = await m.exposition();
  assert.match(contentType, /^text\/plain; version=0\.0\.4/);
  const fams = parse(body);
  for (const [name, spec] of Object.entries(OURS)) {
    const f = fams.get(name);
    assert.ok(f, `missing ${name}`);
    assert.ok(f.help && f.help.length > 10, `${name} HELP`);
    assert.equal(f.type, spec.type, `${name} TYPE`);
    assert.ok(f.samples.length > 0, `${name} has samples`);
    for (const s of f.samples) {
      const keys = Object.keys(s.labels).filter((k) => k !== 'le').sort();
      assert.deepEqual(keys, [...spec.labels].sort(), `${name} labels`);
    }
  }
  for (const [name, f] of fams) {
    assert.match(name, /^proxykit_[a-z_]+$/, 'name');
    assert.ok(f.help, `${name} HELP`);
    assert.ok(f.type, `${name} TYPE`);
    if (f.type === 'counter') assert.match(name, /_total$/, `${name}: counters end in _total`);
    else assert.doesNotMatch(name, /_total$/, `${name}: only counters end in _total`);
    if (/duration|latency|response_seconds|_time/.test(name)) assert.match(name, /_seconds$/, `${name}: durations in seconds`);
    if (/bytes/.test(name)) assert.match(name, /_bytes(_total)?$/, `${name}: sizes in bytes`);
    assert.doesNotMatch(name, /_(ms|milliseconds|kb|mb|percent)(_|$)/, `${name}: base units`);
  }
  // Only the known families (no default metrics when collectDefault is false).
  assert.deepEqual([...fams.keys()].sort(), Object.keys(OURS).sort());
  // The histogram buckets are the proxy-sized ones, 0.5 ms … 30 s, plus +Inf.
  const les = fams.get('proxykit_request_duration_seconds')!.samples.filter((s) => s.name.endsWith('_bucket')).map((s) => s.labels.le);
  assert.deepEqual(les, [...REQUEST_BUCKETS.map(String), '+Inf']);
});

test('values after done()/attempt() and friends', async () => {
  const m = exercise();
  const f = parse((await m.exposition()).body);
  const route = '#2 api.example.com/v1/*';
  assert.equal(value(f, 'proxykit_requests_total', { route, code: '2xx' }), 7);
  assert.equal(value(f, 'proxykit_requests_total', { route, code: '4xx' }), 1);
  assert.equal(value(f, 'proxykit_requests_total', { route, code: '5xx' }), 1);
  assert.equal(value(f, 'proxykit_requests_total', { route, code: 'error' }), 1);
  assert.equal(value(f, 'proxykit_requests_total', { route, code: '1xx' }), 1);
  assert.equal(value(f, 'proxykit_requests_total', { route, code: '3xx' }), undefined, 'classes are made lazily');
  assert.equal(value(f, 'proxykit_request_duration_seconds_count', { route }), 11);
  const sum = value(f, 'proxykit_request_duration_seconds_sum', { route })!;
  assert.ok(Math.abs(sum - (7 * 0.004 + 0.0002 + 2 + 0.1 + 1)) < 1e-9, `sum ${sum}`);
  assert.equal(value(f, 'proxykit_request_duration_seconds_bucket', { route, le: '0.0005' }), 1);
  assert.equal(value(f, 'proxykit_request_duration_seconds_bucket', { route, le: '0.005' }), 8);
  assert.equal(value(f, 'proxykit_request_duration_seconds_bucket', { route, le: '+Inf' }), 11);
  assert.equal(value(f, 'proxykit_request_bytes_total', { route }), 75);
  assert.equal(value(f, 'proxykit_response_bytes_total', { route }), 700);

  const up = { pool: 'api', upstream: API };
  assert.equal(value(f, 'proxykit_upstream_requests_total', { ...up, code: '2xx' }), 2);
  assert.equal(value(f, 'proxykit_upstream_requests_total', { ...up, code: '5xx' }), 1);
  assert.equal(value(f, 'proxykit_upstream_requests_total', { ...up, code: 'error' }), 1);
  assert.equal(value(f, 'proxykit_upstream_response_seconds_count', up), 4);
  assert.ok(Math.abs(value(f, 'proxykit_upstream_response_seconds_sum', up)! - 1.558) < 1e-9);
  assert.equal(value(f, 'proxykit_upstream_up', up), 1, 'up until told otherwise');
  assert.equal(value(f, 'proxykit_upstream_up', { pool: 'api', upstream: 'http://127.0.0.1:3002' }), 0);
  assert.equal(value(f, 'proxykit_upstream_retries_total', { pool: 'api' }), 2);
  assert.equal(value(f, 'proxykit_upstream_retries_total', { pool: 'web' }), 0);
  assert.equal(value(f, 'proxykit_upstream_rejected_total', { pool: 'api', reason: 'circuit' }), 1);
  assert.equal(value(f, 'proxykit_upstream_rejected_total', { pool: 'api', reason: 'no_upstream' }), 0);
  assert.equal(value(f, 'proxykit_upstream_rejected_total', { pool: 'web', reason: 'no_upstream' }), 1);
  assert.equal(value(f, 'proxykit_unrouted_requests_total', { code: '4xx' }), 3);
  assert.equal(value(f, 'proxykit_open_connections', {}), 2);
  assert.equal(value(f, 'proxykit_config_reloads_total', { result: 'ok' }), 2);
  assert.equal(value(f, 'proxykit_config_reloads_total', { result: 'failed' }), 1);
});

test('fresh instance: zero series exist for reloads and open connections', async () => {
  const m = createMetrics({ collectDefault: false });
  const f = parse((await m.exposition()).body);
  assert.equal(value(f, 'proxykit_config_reloads_total', { result: 'ok' }), 0);
  assert.equal(value(f, 'proxykit_config_reloads_total', { result: 'failed' }), 0);
  assert.equal(value(f, 'proxykit_open_connections', {}), 0);
});

test('handles are cached by key (a reload reuses them)', () => {
  const m = createMetrics({ collectDefault: false });
  assert.equal(m.route('#2 /x'), m.route('#2 /x'));
  assert.notEqual(m.route('#2 /x'), m.route('#3 /x'));
  assert.equal(m.upstream('api', API), m.upstream('api', API));
  assert.notEqual(m.upstream('api', API), m.upstream('web', API));
  // pool + url must not be confusable by concatenation.
  assert.notEqual(m.upstream('a', 'b:c'), m.upstream('a:b', 'c'));
});

test('two instances do not collide', async () => {
  const a = createMetrics({ collectDefault: false });
  const b = createMetrics({ collectDefault: false });
  a.route('r').done(200, 0.01, 0, 0, null);
  a.route('r').done(200, 0.01, 0, 0, null);
  b.route('r').done(200, 0.01, 0, 0, null);
  const fa = parse((await a.exposition()).body);
  const fb = parse((await b.exposition()).body);
  assert.equal(value(fa, 'proxykit_requests_total', { route: 'r', code: '2xx' }), 2);
  assert.equal(value(fb, 'proxykit_requests_total', { route: 'r', code: '2xx' }), 1);
  assert.notEqual(registryOf(a), registryOf(b));
});

test('default process metrics are prefixed, on this registry only', async () => {
  const a = createMetrics();
  const b = createMetrics();
  const fams = parse((await a.exposition()).body);
  assert.ok(fams.has('proxykit_process_cpu_seconds_total'), 'process cpu');
  assert.ok(fams.has('proxykit_nodejs_heap_size_used_bytes'), 'heap');
  for (const [name, f] of fams) {
    assert.match(name, /^proxykit_[a-z0-9_]+$/, name);
    assert.ok(f.help && f.type, `${name} HELP/TYPE`);
    if (f.type === 'counter') assert.match(name, /_total$/, name);
  }
  assert.ok(parse((await b.exposition()).body).has('proxykit_process_cpu_seconds_total'));
});

test('features register their own metrics on the same registry', async () => {
  const m = createMetrics({ collectDefault: false });
  const hits = new Counter({ name: 'proxykit_cache_hits_total', help: 'Cache hits.', registers: [registryOf(m)] });
  hits.inc(3);
  const blocks = new Counter({ name: 'proxykit_waf_blocks_total', help: 'WAF blocks.', registers: [] });
  m.register(blocks);
  blocks.inc();
  const f = parse((await m.exposition()).body);
  assert.equal(value(f, 'proxykit_cache_hits_total', {}), 3);
  assert.equal(value(f, 'proxykit_waf_blocks_total', {}), 1);
  assert.throws(() => registryOf({} as never), TypeError);
});

test('hot path tolerates bad numbers and escapes label values', async () => {
  const m = createMetrics({ collectDefault: false });
  const label = '#1 "quoted"\\host/*';
  const r = m.route(label);
  r.done(200, NaN, NaN, -5, null);
  r.done(200, -1, Infinity, 3, null);
  m.upstream('p', 'u').attempt(200, Infinity);
  const f = parse((await m.exposition()).body);
  assert.equal(value(f, 'proxykit_requests_total', { route: label, code: '2xx' }), 2);
  assert.equal(value(f, 'proxykit_request_duration_seconds_sum', { route: label }), 0);
  assert.equal(value(f, 'proxykit_request_bytes_total', { route: label }), 0);
  assert.equal(value(f, 'proxykit_response_bytes_total', { route: label }), 3);
});

test('micro-benchmark: done() and attempt() (sanity, no timing assertion)', () => {
  const m = createMetrics({ collectDefault: false });
  const r = m.route('#0 bench/*');
  const u = m.upstream('bench', API);
  const N = 1_000_000;
  for (let i = 0; i < 10_000; i++) r.done(200, 0.002, 100, 1000, u);
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) r.done(i % 50 === 0 ? 502 : 200, (i % 1000) / 1e5, 100, 1000, u);
  const done = Number(process.hrtime.bigint() - t0) / N;
  t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) u.attempt(200, (i % 1000) / 1e5);
  const attempt = Number(process.hrtime.bigint() - t0) / N;
  console.log(`# metrics: done() ${done.toFixed(0)} ns/op, attempt() ${attempt.toFixed(0)} ns/op`);
});

test('registry.resetMetrics() zeroes the handle-backed families too', async () => {
  const m = exercise();
  registryOf(m).resetMetrics();
  const f = parse((await m.exposition()).body);
  const route = '#2 api.example.com/v1/*';
  assert.equal(value(f, 'proxykit_requests_total', { route, code: '2xx' }), undefined);
  assert.equal(value(f, 'proxykit_request_duration_seconds_count', { route }), 0);
  assert.equal(value(f, 'proxykit_request_bytes_total', { route }), 0);
  assert.equal(value(f, 'proxykit_upstream_response_seconds_count', { pool: 'api', upstream: API }), 0);
  assert.equal(value(f, 'proxykit_unrouted_requests_total', { code: '4xx' }), undefined);
  // The handle still works after a reset.
  m.route(route).done(200, 0.01, 0, 0, null);
  const g = parse((await m.exposition()).body);
  assert.equal(value(g, 'proxykit_requests_total', { route, code: '2xx' }), 1);
});

test('histogram buckets are inclusive upper bounds (le)', async () => {
  const m = createMetrics({ collectDefault: false });
  const r = m.route('r');
  r.done(200, 0.005, 0, 0, null);
  r.done(200, 30, 0, 0, null);
  r.done(200, 31, 0, 0, null);
  const f = parse((await m.exposition()).body);
  assert.equal(value(f, 'proxykit_request_duration_seconds_bucket', { route: 'r', le: '0.0025' }), 0);
  assert.equal(value(f, 'proxykit_request_duration_seconds_bucket', { route: 'r', le: '0.005' }), 1);
  assert.equal(value(f, 'proxykit_request_duration_seconds_bucket', { route: 'r', le: '30' }), 2);
  assert.equal(value(f, 'proxykit_request_duration_seconds_bucket', { route: 'r', le: '+Inf' }), 3);
});

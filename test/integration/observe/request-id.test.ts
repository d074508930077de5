/**
 * Request ids and trace context through a real proxy and backend: X-Request-Id generated when
 * absent (or not sane), kept when the client sends one, sent upstream and returned to the client;
 * traceparent passed through untouched, and started when `tracing.start` is on.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { defineConfig, route, pool } from '../../../src/index.js';
import { startBackend, type Backend } from '../../helpers/backend.js';
import { startProxy, httpRequest, type Proxy } from '../../helpers/proxy.js';

const T = { timeout: 10_000 };

describe('request ids and trace context', () => {
  let be: Backend;
  let px: Proxy;
  let traced: Proxy;

  before(async () => {
    be = await startBackend();
    const p = pool('be', [be.url]);
    px = await startProxy(defineConfig({ listen: ['http://127.0.0.1:0'], routes: [route('/local').respond(200, 'x'), route('/*').to(p)] }));
    traced = await startProxy(defineConfig({ listen: ['http://127.0.0.1:0'], tracing: { start: true }, routes: [route('/*').to(p)] }));
  });
  after(async () => {
    await px?.close();
    await traced?.close();
    await be?.close();
  });

  const upstreamHeader = (name: string): string | undefined => {
    const rec = be.requests[be.requests.length - 1]!;
    for (let i = 0; i < rec.rawHeaders.length; i += 2) if (rec.rawHeaders[i]!.toLowerCase() === name) return rec.rawHeaders[i + 1];
    return undefined;
  };

  it('generates an id when absent, sends it upstream and returns the same one', T, async () => {
    const r = await httpRequest(`${px.base}/a`);
    const id = r.headers['x-request-id'];
    assert.equal(typeof id, 'string');
    assert.match(id as string, /^[0-9a-f-]{36}$/);
    assert.equal(upstreamHeader('x-request-id'), id);
  });

  it('keeps a sane client id, and replaces one that is not', T, async () => {
    const r = await httpRequest(`${px.base}/b`, { headers: { 'x-request-id': 'client-id-42' } });
    assert.equal(r.headers['x-request-id'], 'client-id-42');
    assert.equal(upstreamHeader('x-request-id'), 'client-id-42');
    const bad = await httpRequest(`${px.base}/c`, { headers: { 'x-request-id': 'has spaces <and> "quotes"' } });
    assert.notEqual(bad.headers['x-request-id'], 'has spaces <and> "quotes"');
    assert.match(bad.headers['x-request-id'] as string, /^[0-9a-f-]{36}$/);
    assert.equal(upstreamHeader('x-request-id'), bad.headers['x-request-id']);
  });

  it('answers made by the proxy itself carry the id too (respond, 404)', T, async () => {
    const a = await httpRequest(`${px.base}/local`, { headers: { 'x-request-id': 'local-1' } });
    assert.equal(a.headers['x-request-id'], 'local-1');
    const b = await httpRequest(`http://127.0.0.1:${px.port}/nothing`, { headers: { host: 'nowhere.test', 'x-request-id': 'nf-1' } });
    assert.equal(b.headers['x-request-id'], 'nf-1');
  });

  it('passes traceparent through untouched and does not invent one by default', T, async () => {
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await httpRequest(`${px.base}/t`, { headers: { traceparent: tp, tracestate: 'k=v' } });
    assert.equal(upstreamHeader('traceparent'), tp);
    assert.equal(upstreamHeader('tracestate'), 'k=v');
    await httpRequest(`${px.base}/t2`);
    assert.equal(upstreamHeader('traceparent'), undefined);
  });

  it('tracing.start adds a valid traceparent when the request has none', T, async () => {
    await httpRequest(`${traced.base}/s`);
    assert.match(upstreamHeader('traceparent') ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await httpRequest(`${traced.base}/s2`, { headers: { traceparent: tp } });
    assert.equal(upstreamHeader('traceparent'), tp, 'an incoming one is kept');
  });
});

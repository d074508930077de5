/**
 * Error paths: 502 / 504, upstream dying mid-response, client abort propagating upstream, error
 * bodies (JSON or HTML, no address, no stack), 413 body limit, 431 header limit.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { defineConfig, route, pool } from '../../../src/index.js';
import { startBackend, deadPort, waitUntil, type Backend, type RespondSpec } from '../../helpers/backend.js';
import { startProxy, httpRequest, everythingOf, type HttpResult, type Proxy } from '../../helpers/proxy.js';
import { rawRequest } from '../../helpers/raw.js';

const T = { timeout: 10_000 };

function assertCleanErrorBody(r: HttpResult, be: Backend): void {
  const all = everythingOf(r);
  assert.ok(!all.includes(be.authority), `backend address leaked: ${all}`);
  assert.doesNotMatch(all, /127\.0\.0\.1:\d+/, `an address leaked: ${all}`);
  assert.doesNotMatch(r.text, /\n\s+at .+[(:]\d+|node:internal|\.ts:\d+|\.js:\d+|ECONN|Error:/, `stack or internals leaked: ${r.text}`);
  assert.ok(r.body.length < 4096, `error body should be small, got ${r.body.length} bytes`);
}

describe('errors', () => {
  let be: Backend;
  let px: Proxy;
  let pxSmallHead: Proxy;
  let dead: number;

  before(async () => {
    be = await startBackend({
      respond: (rec): RespondSpec => {
        if (rec.url.startsWith('/hang')) return { hang: true };
        if (rec.url.startsWith('/slow')) return { delayMs: 3000 };
        if (rec.url.startsWith('/die')) return { destroyAfterBytes: 64 * 1024 };
        return {};
      },
    });
    dead = await deadPort();
    const p = pool('be', [be.url]);
    const slow = pool('slow', [be.url]).timeouts({ response: '300ms' });
    px = await startProxy(
      defineConfig({
        listen: ['http://127.0.0.1:0'],
        routes: [
          route('/refused/*').to(pool('dead', [`http://127.0.0.1:${dead}`])),
          route('/slow/*').to(slow),
          route('/small/*').to(p).bodyLimit('1kb'),
          route('/*').to(p),
        ],
      }),
    );
    pxSmallHead = await startProxy(
      defineConfig({ listen: ['http://127.0.0.1:0'], limits: { maxHeaderSize: '4kb' }, routes: [route('/*').to(pool('be2', [be.url]))] }),
    );
  });
  after(async () => {
    await px?.close();
    await pxSmallHead?.close();
    await be?.close();
  });

  it('connect refused → 502', T, async () => {
    const r = await httpRequest(`${px.base}/refused/x`);
    assert.equal(r.status, 502);
    assertCleanErrorBody(r, be);
  });

  it('upstream response timeout → 504, quickly', T, async () => {
    const t0 = Date.now();
    const r = await httpRequest(`${px.base}/slow/x`, { timeoutMs: 5000 });
    const ms = Date.now() - t0;
    assert.equal(r.status, 504);
    assert.ok(ms >= 250 && ms < 1500, `504 should come after ~300 ms, came after ${ms} ms`);
    assertCleanErrorBody(r, be);
  });

  it('upstream dies mid-response → the client connection is aborted, not left hanging', T, async () => {
    const t0 = Date.now();
    await assert.rejects(
      httpRequest(`${px.base}/die/x`, { timeoutMs: 4000 }),
      (err: Error) => {
        assert.doesNotMatch(err.message, /timed out/, 'the client must see an abort, not a hang');
        return true;
      },
    );
    assert.ok(Date.now() - t0 < 3000);
  });

  it('client abort cancels the upstream request', T, async () => {
    const before = be.requests.length;
    const req = http.request({ host: '127.0.0.1', port: px.port, path: '/hang/abort-me', agent: false });
    req.on('error', () => {});
    req.end();
    await be.waitForRequests(before + 1, 3000);
    const rec = be.requests[before]!;
    assert.equal(rec.url, '/hang/abort-me');
    assert.equal(rec.closedEarly, false);
    req.destroy();
    await waitUntil(() => rec.closedEarly, 3000, 'the backend to see its request closed after the client aborted');
  });

  it('client abort during a streamed upload cancels the upstream request', T, async () => {
    const before = be.requests.length;
    const req = http.request({
      host: '127.0.0.1',
      port: px.port,
      method: 'POST',
      path: '/hang/upload',
      agent: false,
      headers: { 'content-length': String(10 * 1024 * 1024) },
    });
    req.on('error', () => {});
    req.write(Buffer.alloc(64 * 1024, 1));
    await be.waitForRequests(before + 1, 3000);
    const rec = be.requests[before]!;
    await waitUntil(() => rec.bodyBytes > 0, 3000, 'some body bytes at the backend');
    req.destroy();
    await waitUntil(() => rec.closedEarly, 3000, 'the backend to see the upload aborted');
    assert.equal(rec.complete, false);
  });

  it('error bodies are JSON for Accept: application/json, else small HTML', T, async () => {
    const j = await httpRequest(`${px.base}/refused/j`, { headers: { accept: 'application/json' } });
    assert.equal(j.status, 502);
    assert.match(String(j.headers['content-type']), /^application\/json/);
    const parsed = JSON.parse(j.text) as Record<string, unknown>;
    assert.equal(typeof parsed, 'object');
    assertCleanErrorBody(j, be);

    const h = await httpRequest(`${px.base}/refused/h`, { headers: { accept: 'text/html,*/*' } });
    assert.equal(h.status, 502);
    assert.match(String(h.headers['content-type']), /^text\/html/);
    assert.match(h.text, /<html|<!doctype/i);
    assertCleanErrorBody(h, be);

  });

  it('404 for no route is clean too (JSON and HTML)', T, async () => {
    const pxNo = await startProxy(defineConfig({ listen: ['http://127.0.0.1:0'], routes: [route('/only').respond(200, 'x')] }));
    try {
      const j = await httpRequest(`${pxNo.base}/nope`, { headers: { accept: 'application/json' } });
      assert.equal(j.status, 404);
      assert.match(String(j.headers['content-type']), /^application\/json/);
      JSON.parse(j.text);
      assertCleanErrorBody(j, be);
      const h = await httpRequest(`${pxNo.base}/nope`);
      assert.equal(h.status, 404);
      assert.match(String(h.headers['content-type']), /^text\/html/);
      assertCleanErrorBody(h, be);
    } finally {
      await pxNo.close();
    }
  });

  it('a body within bodyLimit passes', T, async () => {
    const r = await httpRequest(`${px.base}/small/ok`, { method: 'POST', body: Buffer.alloc(1024, 97) });
    assert.equal(r.status, 200);
  });

  it('a body over bodyLimit with Content-Length → 413 and nothing reaches the backend', T, async () => {
    const before = be.requests.length;
    const r = await rawRequest(
      px.port,
      `POST /small/cl HTTP/1.1\r\nHost: l.test\r\nContent-Length: 2048\r\n\r\n${'a'.repeat(2048)}`,
      { timeoutMs: 3000, untilResponse: true },
    );
    assert.equal(r.status, 413, r.text);
    assert.equal(be.requests.length, before, 'a declared-too-large body must be refused before forwarding');
  });

  it('a chunked body over bodyLimit → 413 and the upstream request (if started) is aborted', T, async () => {
    const before = be.requests.length;
    const chunk = 'b'.repeat(512);
    const chunks = Array.from({ length: 6 }, () => `200\r\n${chunk}\r\n`).join('');
    const r = await rawRequest(
      px.port,
      `POST /small/chunked HTTP/1.1\r\nHost: l.test\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}0\r\n\r\n`,
      { timeoutMs: 3000, untilResponse: true },
    );
    assert.equal(r.status, 413, r.text);
    await new Promise((res) => setTimeout(res, 200));
    const got = be.requests.slice(before).filter((q) => q.url === '/small/chunked');
    for (const q of got) {
      assert.equal(q.complete, false, 'the backend must not receive a complete over-limit body');
      assert.ok(q.bodyBytes <= 1024, `backend got ${q.bodyBytes} bytes, over the 1kb limit`);
    }
  });

  it('a request head over maxHeaderSize → 431 (and a head within it passes)', T, async () => {
    const small = await rawRequest(
      pxSmallHead.port,
      `GET /echo HTTP/1.1\r\nHost: h.test\r\nX-Fill: ${'a'.repeat(2500)}\r\nConnection: close\r\n\r\n`,
      { timeoutMs: 3000 },
    );
    assert.equal(small.status, 200, small.text.slice(0, 200));
    const big = await rawRequest(
      pxSmallHead.port,
      `GET /echo HTTP/1.1\r\nHost: h.test\r\nX-Fill: ${'a'.repeat(6000)}\r\nConnection: close\r\n\r\n`,
      { timeoutMs: 3000 },
    );
    assert.equal(big.status, 431, big.text.slice(0, 200));
    assert.ok(big.closed, 'the connection is closed after a 431');
  });

  it('the default header limit (16kb) gives 431 above it', T, async () => {
    const big = await rawRequest(
      px.port,
      `GET /echo HTTP/1.1\r\nHost: h.test\r\nX-Fill: ${'a'.repeat(20_000)}\r\nConnection: close\r\n\r\n`,
      { timeoutMs: 3000 },
    );
    assert.equal(big.status, 431, big.text.slice(0, 200));
  });

  it('the proxy still serves after all of the above', T, async () => {
    const r = await httpRequest(`${px.base}/echo/alive`);
    assert.equal(r.status, 200);
  });
});

/**
 * Request smuggling and malformed input, over raw sockets (RFC 9112 §6, §5, §3.2). Every
 * malformed request gets a 400 (or, for framing errors where no 400 can be written, a closed
 * connection), the connection is closed afterwards, no byte reaches any backend, and the proxy
 * keeps serving.
 *
 * Paths (the lead's decision, src/engine/target.ts): dot-segments, raw or %2e-encoded, are
 * resolved before matching and forwarding; a path that climbs above the root, or contains %00,
 * gets a 400.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { defineConfig, route, pool } from '../../../src/index.js';
import {
  startBackend,
  startRawBackend,
  replyWhenHeadComplete,
  waitUntil,
  sleep,
  type Backend,
  type RawBackend,
} from '../../helpers/backend.js';
import { startProxy, httpRequest, echoOf, type Proxy } from '../../helpers/proxy.js';
import { rawRequest, rawConnect, type RawResult } from '../../helpers/raw.js';

const T = { timeout: 10_000 };

/** [name, raw request bytes]; every one targets /raw/… so a forwarded byte would show up there. */
const MALFORMED: Array<[string, string]> = [
  ['Content-Length and Transfer-Encoding together', 'POST /raw/a HTTP/1.1\r\nHost: s.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ['Transfer-Encoding and Content-Length together (TE first)', 'POST /raw/a HTTP/1.1\r\nHost: s.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n'],
  ['differing duplicate Content-Length', 'POST /raw/a HTTP/1.1\r\nHost: s.test\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!'],
  ['differing Content-Length list in one field', 'POST /raw/a HTTP/1.1\r\nHost: s.test\r\nContent-Length: 5, 6\r\n\r\nhello!'],
  ['Content-Length: +5', 'POST /raw/a HTTP/1.1\r\nHost: s.test\r\nContent-Length: +5\r\n\r\nhello'],
  ['Content-Length: 0x5', 'POST /raw/a HTTP/1.1\r\nHost: s.test\r\nContent-Length: 0x5\r\n\r\nhello'],
  ['Content-Length: 1 0', 'POST /raw/a HTTP/1.1\r\nHost: s.test\r\nContent-Length: 1 0\r\n\r\nhelloworld'],
  ['Content-Length: -1', 'POST /raw/a HTTP/1.1\r\nHost: s.test\r\nContent-Length: -1\r\n\r\nhello'],
  ['Content-Length overflow', 'POST /raw/a HTTP/1.1\r\nHost: s.test\r\nContent-Length: 99999999999999999999999999\r\n\r\nhello'],
  ['Transfer-Encoding not ending in chunked (chunked, gzip)', 'POST /raw/a HTTP/1.1\r\nHost: s.test\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n'],
  ['Transfer-Encoding: gzip only', 'POST /raw/a HTTP/1.1\r\nHost: s.test\r\nTransfer-Encoding: gzip\r\n\r\nhello'],
  ['Transfer-Encoding: xchunked', 'POST /raw/a HTTP/1.1\r\nHost: s.test\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n'],
  ['Transfer-Encoding on HTTP/1.0', 'POST /raw/a HTTP/1.0\r\nHost: s.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'],
  ['obs-fold in a header', 'GET /raw/a HTTP/1.1\r\nHost: s.test\r\nX-Folded: first\r\n  second\r\n\r\n'],
  ['obs-fold with a tab', 'GET /raw/a HTTP/1.1\r\nHost: s.test\r\nX-Folded: first\r\n\tsecond\r\n\r\n'],
  ['whitespace before the colon (Content-Length)', 'POST /raw/a HTTP/1.1\r\nHost: s.test\r\nContent-Length : 5\r\n\r\nhello'],
  ['whitespace before the colon (any header)', 'GET /raw/a HTTP/1.1\r\nHost: s.test\r\nX-Foo : bar\r\n\r\n'],
  ['NUL in a header value', 'GET /raw/a HTTP/1.1\r\nHost: s.test\r\nX-Foo: a\x00b\r\n\r\n'],
  ['NUL in the request target', 'GET /raw/a\x00b HTTP/1.1\r\nHost: s.test\r\n\r\n'],
  ['bare CR in a header value', 'GET /raw/a HTTP/1.1\r\nHost: s.test\r\nX-Foo: a\rb\r\n\r\n'],
  ['bare CR as a line ending', 'GET /raw/a HTTP/1.1\rHost: s.test\r\n\r\n'],
  ['control byte 0x01 in a header value', 'GET /raw/a HTTP/1.1\r\nHost: s.test\r\nX-Foo: a\x01b\r\n\r\n'],
  ['two Host headers', 'GET /raw/a HTTP/1.1\r\nHost: s.test\r\nHost: evil.test\r\n\r\n'],
  ['missing Host on HTTP/1.1', 'GET /raw/a HTTP/1.1\r\nX-Foo: bar\r\n\r\n'],
  ['Host with userinfo', 'GET /raw/a HTTP/1.1\r\nHost: user:pw@s.test\r\n\r\n'],
  ['invalid chunk size', 'POST /raw/a HTTP/1.1\r\nHost: s.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n'],
  ['chunk size with a sign', 'POST /raw/a HTTP/1.1\r\nHost: s.test\r\nTransfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n'],
  ['chunk data longer than its size', 'POST /raw/a HTTP/1.1\r\nHost: s.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n'],
  ['HTTP/0.9-style request line', 'GET /raw/a\r\n\r\n'],
  ['unknown HTTP version', 'GET /raw/a HTTP/2.7\r\nHost: s.test\r\n\r\n'],
  ['space in the request target', 'GET /raw/a b HTTP/1.1\r\nHost: s.test\r\n\r\n'],
  ['absolute-form target with userinfo', 'GET http://u:p@s.test/raw/a HTTP/1.1\r\nHost: s.test\r\n\r\n'],
  ['absolute-form target with a non-http scheme', 'GET ftp://s.test/raw/a HTTP/1.1\r\nHost: s.test\r\n\r\n'],
  ['a fragment in the request target', 'GET /raw/a#frag HTTP/1.1\r\nHost: s.test\r\n\r\n'],
  ['an invalid character in a header name', 'GET /raw/a HTTP/1.1\r\nHost: s.test\r\nX(Foo): bar\r\n\r\n'],
  ['an empty header name', 'GET /raw/a HTTP/1.1\r\nHost: s.test\r\n: bar\r\n\r\n'],
  ['a lowercase method token', 'get /raw/a HTTP/1.1\r\nHost: s.test\r\n\r\n'],
];

function assertRejected(name: string, r: RawResult): void {
  const ok = r.status === 400 || (r.status === 0 && r.closed);
  assert.ok(ok, `${name}: expected 400 or a closed connection, got status ${r.status}, closed=${r.closed}: ${JSON.stringify(r.text.slice(0, 300))}`);
  assert.ok(r.closed, `${name}: the connection must be closed after a 400 (closed=${r.closed})`);
  assert.equal(r.statuses.length <= 1, true, `${name}: only one response expected, got ${r.statuses.join(',')}`);
}

describe('smuggling and malformed requests', () => {
  let be: Backend;
  let raw: RawBackend;
  let px: Proxy;

  before(async () => {
    be = await startBackend();
    raw = await startRawBackend(
      replyWhenHeadComplete('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok'),
    );
    px = await startProxy(
      defineConfig({
        listen: ['http://127.0.0.1:0'],
        routes: [
          route('/raw/*').to(pool('raw', [raw.url])),
          route('/admin/*').respond(403, 'admin is closed'),
          route('/*').to(pool('be', [be.url])),
        ],
      }),
    );
  });
  after(async () => {
    await px?.close();
    await be?.close();
    await raw?.close();
  });

  it('sanity: a well-formed request reaches the raw backend', T, async () => {
    const r = await rawRequest(px.port, 'GET /raw/ok HTTP/1.1\r\nHost: s.test\r\nConnection: close\r\n\r\n', { timeoutMs: 3000 });
    assert.equal(r.status, 200, r.text);
    assert.ok(raw.totalBytes() > 0);
  });

  for (const [name, bytes] of MALFORMED) {
    it(`rejects: ${name}`, T, async () => {
      const rawBefore = raw.totalBytes();
      const rawSnapshot = raw.received.map((b) => b.length);
      const beBefore = be.requests.length;
      const r = await rawRequest(px.port, bytes, { timeoutMs: 2000 });
      assertRejected(name, r);
      await sleep(50);
      assert.equal(raw.totalBytes(), rawBefore, `${name}: bytes reached the backend: ${JSON.stringify(raw.received.map((b, i) => b.subarray(rawSnapshot[i] ?? 0).toString('latin1')).join(''))}`);
      assert.equal(be.requests.length, beBefore, `${name}: a request reached the backend`);
      const follow = await httpRequest(`${px.base}/echo/after`, { timeoutMs: 3000 });
      assert.equal(follow.status, 200, `${name}: the proxy must keep serving`);
    });
  }

  it('an upstream connection that carried a broken body is never reused', T, async () => {
    for (let i = 0; i < 3; i++) {
      await rawRequest(px.port, 'POST /raw/b HTTP/1.1\r\nHost: s.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n', { timeoutMs: 2000 });
      for (let j = 0; j < 3; j++) {
        const ok = await rawRequest(px.port, 'GET /raw/ok HTTP/1.1\r\nHost: s.test\r\nConnection: close\r\n\r\n', { timeoutMs: 2000 });
        assert.equal(ok.status, 200);
      }
    }
    for (const b of raw.received) {
      const text = b.toString('latin1');
      const at = text.indexOf('POST /raw/b ');
      if (at < 0) continue;
      const after = text.slice(at + 'POST /raw/b '.length);
      assert.doesNotMatch(after, /GET \/raw\/ok|POST \/raw/, `a request followed a broken body on the same upstream connection: ${JSON.stringify(text)}`);
    }
  });

  it('a malformed request pipelined after a good one: the good one is answered, then the connection closes', T, async () => {
    const beBefore = be.requests.length;
    const r = await rawRequest(
      px.port,
      'GET /echo/first HTTP/1.1\r\nHost: s.test\r\n\r\n' + 'POST /echo/second HTTP/1.1\r\nHost: s.test\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx',
      { timeoutMs: 3000 },
    );
    assert.equal(r.statuses[0], 200, r.text.slice(0, 300));
    assert.ok(r.statuses.length === 1 || r.statuses[1] === 400, `got ${r.statuses.join(',')}`);
    assert.ok(r.closed);
    await sleep(50);
    assert.deepEqual(
      be.requests.slice(beBefore).map((q) => q.url),
      ['/echo/first'],
    );
  });

  it('a well-framed body that looks like a request is forwarded as one request', T, async () => {
    const inner = 'GET /echo/smuggled HTTP/1.1\r\nHost: s.test\r\n\r\n';
    const beBefore = be.requests.length;
    const r = await rawRequest(
      px.port,
      `POST /echo/outer HTTP/1.1\r\nHost: s.test\r\nContent-Length: ${inner.length}\r\nConnection: close\r\n\r\n${inner}`,
      { timeoutMs: 3000 },
    );
    assert.deepEqual(r.statuses, [200], r.text.slice(0, 300));
    await sleep(100);
    const got = be.requests.slice(beBefore);
    assert.equal(got.length, 1, `backend saw ${got.map((q) => q.url).join(', ')}`);
    assert.equal(got[0]!.url, '/echo/outer');
    assert.equal(got[0]!.body.toString('latin1'), inner);
  });

  it('the same, with a chunked body', T, async () => {
    const inner = 'GET /echo/smuggled2 HTTP/1.1\r\nHost: s.test\r\n\r\n';
    const beBefore = be.requests.length;
    const r = await rawRequest(
      px.port,
      `POST /echo/outer2 HTTP/1.1\r\nHost: s.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${inner.length.toString(16)}\r\n${inner}\r\n0\r\n\r\n`,
      { timeoutMs: 3000 },
    );
    assert.deepEqual(r.statuses, [200], r.text.slice(0, 300));
    await sleep(100);
    const got = be.requests.slice(beBefore);
    assert.deepEqual(got.map((q) => q.url), ['/echo/outer2']);
    assert.equal(got[0]!.body.toString('latin1'), inner);
  });

  it('a chunked body that turns malformed after the head was forwarded: upstream aborted, no second request', T, async () => {
    const beBefore = be.requests.length;
    const c = await rawConnect(px.port);
    try {
      c.write('POST /echo/late HTTP/1.1\r\nHost: s.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
      await be.waitForRequests(beBefore + 1, 3000);
      const rec = be.requests[beBefore]!;
      await waitUntil(() => rec.bodyBytes >= 5, 3000, 'the first chunk at the backend');
      c.write('zz\r\nGET /echo/smuggled-late HTTP/1.1\r\nHost: s.test\r\n\r\n');
      assert.ok(await c.waitClosed(3000), 'the client connection must be closed after a framing error');
      await waitUntil(() => rec.closedEarly, 3000, 'the upstream request must be aborted');
      await sleep(200); // time for a (wrongly) smuggled second request to show up at the backend
      assert.equal(rec.complete, false, 'the backend must not see a complete (re-framed) request');
      assert.deepEqual(
        be.requests.slice(beBefore).map((q) => q.url),
        ['/echo/late'],
        'the backend must never see a second request',
      );
      // An aborted upload shows up at the backend as an EOF inside the body (HPE_INVALID_EOF_STATE)
      // or a reset; anything else means it parsed bytes it should never have seen.
      const garbage = be.clientErrors.filter((e) => !/HPE_INVALID_EOF_STATE|ECONNRESET/.test((e as NodeJS.ErrnoException).code ?? ''));
      assert.equal(garbage.length, 0, `the backend saw garbage: ${garbage.map((e) => `${(e as NodeJS.ErrnoException).code} ${e.message}`).join('; ')}`);
    } finally {
      c.destroy();
    }
    const follow = await httpRequest(`${px.base}/echo/after`, { timeoutMs: 3000 });
    assert.equal(follow.status, 200);
  });

  it('Connection: close followed by more bytes: the first request is answered, then the connection closes', T, async () => {
    const beBefore = be.requests.length;
    const r = await rawRequest(
      px.port,
      'GET /echo/cc HTTP/1.1\r\nHost: s.test\r\nConnection: close\r\n\r\nGET /echo/cc2 HTTP/1.1\r\nHost: s.test\r\n\r\n',
      { timeoutMs: 3000 },
    );
    assert.deepEqual(r.statuses, [200], r.text.slice(0, 300));
    assert.ok(r.closed);
    await sleep(50);
    assert.deepEqual(be.requests.slice(beBefore).map((q) => q.url), ['/echo/cc']);
  });

  describe('paths', () => {
    const REFUSED: string[] = [
      '/%2e%2e/etc/passwd',
      '/%2E%2E/etc/passwd',
      '/../etc/passwd',
      '/..',
      '/a/../../etc/passwd',
      '/a/%2e%2e/%2e%2e/etc/passwd',
      '/.%2e/x',
      '/x%00y',
      '/x/%00',
    ];
    for (const p of REFUSED) {
      it(`refuses ${p} with 400 and forwards nothing`, T, async () => {
        const beBefore = be.requests.length;
        const r = await rawRequest(px.port, `GET ${p} HTTP/1.1\r\nHost: s.test\r\nConnection: close\r\n\r\n`, { timeoutMs: 3000 });
        assert.equal(r.status, 400, r.text.slice(0, 300));
        await sleep(30);
        assert.equal(be.requests.length, beBefore, `forwarded as ${be.requests.at(-1)?.url}`);
      });
    }

    const NORMALISED: Array<[string, string]> = [
      ['/echo/a/../b', '/echo/b'],
      ['/echo/a/%2e%2e/b', '/echo/b'],
      ['/echo/a/%2E%2E/b?x=../y', '/echo/b?x=../y'],
      ['/echo/./c', '/echo/c'],
      ['/echo/%2e/c', '/echo/c'],
    ];
    for (const [sent, expected] of NORMALISED) {
      it(`normalises ${sent} to ${expected} before forwarding`, T, async () => {
        const r = await httpRequest(`${px.base}/`, { path: sent });
        assert.equal(r.status, 200, r.text);
        assert.equal(echoOf(r).url, expected);
      });
    }

    it('dot-segments cannot bypass a route: /echo/../admin/x is matched as /admin/x', T, async () => {
      for (const p of ['/echo/../admin/x', '/echo/%2e%2e/admin/x', '/echo/%2E%2e/admin/x']) {
        const beBefore = be.requests.length;
        const r = await httpRequest(`${px.base}/`, { path: p });
        assert.equal(r.status, 403, `${p}: ${r.status} ${r.text}`);
        assert.equal(be.requests.length, beBefore);
      }
    });
  });

  it('the proxy is alive at the end', T, async () => {
    const r = await httpRequest(`${px.base}/echo/end`);
    assert.equal(r.status, 200);
  });
});

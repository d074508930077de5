/**
 * Misbehaving or unusual upstreams and connection reuse: extra bytes after a response (response
 * desync), malformed responses, 204/304, early responses that leave a request body unread. The
 * proxy must answer 502 for garbage, never hand one client's bytes to another, and keep serving.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { defineConfig, route, pool } from '../../../src/index.js';
import { startBackend, startRawBackend, sha256, type Backend, type RawBackend, type RespondSpec } from '../../helpers/backend.js';
import { startProxy, httpRequest, echoOf, type Proxy } from '../../helpers/proxy.js';
import { rawRequest } from '../../helpers/raw.js';

const T = { timeout: 10_000 };

/** Raw upstream answering by path; responses are written as given. */
function answerByPath(received: string): string | null {
  const end = received.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const line = received.slice(0, received.indexOf('\r\n'));
  const p = line.split(' ')[1] ?? '';
  if (p.startsWith('/u/extra')) {
    // One response plus an unsolicited second one on the same connection.
    return 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil';
  }
  if (p.startsWith('/u/longer')) return 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEVIL-EXTRA-BYTES';
  if (p.startsWith('/u/cl-te')) return 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n';
  if (p.startsWith('/u/garbage')) return 'NOT HTTP AT ALL\r\n\r\n';
  if (p.startsWith('/u/badstatus')) return 'HTTP/1.1 2000 Huh\r\nContent-Length: 0\r\n\r\n';
  if (p.startsWith('/u/204')) return 'HTTP/1.1 204 No Content\r\n\r\n';
  if (p.startsWith('/u/304')) return 'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n';
  return 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nclean';
}

describe('upstream behaviour and connection reuse', () => {
  let be: Backend;
  let raw: RawBackend;
  let px: Proxy;

  before(async () => {
    be = await startBackend({
      respond: (rec): RespondSpec => (rec.url.startsWith('/early') ? { status: 401, body: 'no', waitForBody: false } : {}),
    });
    raw = await startRawBackend(answerByPath);
    px = await startProxy(
      defineConfig({
        listen: ['http://127.0.0.1:0'],
        routes: [route('/u/*').to(pool('raw', [raw.url])), route('/*').to(pool('be', [be.url]).timeouts({ response: '2s' }))],
      }),
    );
  });
  after(async () => {
    await px?.close();
    await be?.close();
    await raw?.close();
  });

  it('an unsolicited second response from the upstream never reaches any client', T, async () => {
    const first = await httpRequest(`${px.base}/u/extra`);
    assert.equal(first.status, 200);
    assert.equal(first.text, 'ok');
    for (let i = 0; i < 5; i++) {
      const r = await httpRequest(`${px.base}/u/clean${i}`);
      assert.equal(r.text, 'clean', `request ${i} after the desync got ${JSON.stringify(r.text)}`);
    }
  });

  it('bytes beyond the upstream Content-Length are not passed on', T, async () => {
    const r = await rawRequest(px.port, 'GET /u/longer HTTP/1.1\r\nHost: u.test\r\n\r\nGET /u/clean HTTP/1.1\r\nHost: u.test\r\nConnection: close\r\n\r\n', {
      timeoutMs: 3000,
    });
    assert.doesNotMatch(r.text, /EVIL/);
    assert.deepEqual(r.statuses, [200, 200], r.text);
    for (let i = 0; i < 3; i++) assert.equal((await httpRequest(`${px.base}/u/clean-after-longer`)).text, 'clean');
  });

  for (const [p, what] of [
    ['/u/cl-te', 'a response with both Content-Length and Transfer-Encoding'],
    ['/u/garbage', 'a response that is not HTTP'],
    ['/u/badstatus', 'a response with a 4-digit status'],
  ] as const) {
    it(`${what} → 502, and the proxy keeps serving`, T, async () => {
      const r = await httpRequest(`${px.base}${p}`);
      assert.equal(r.status, 502, r.text);
      assert.equal((await httpRequest(`${px.base}/u/clean-after`)).text, 'clean');
    });
  }

  it('204 and 304 from the upstream reach the client without a body', T, async () => {
    const r = await rawRequest(
      px.port,
      'GET /u/204 HTTP/1.1\r\nHost: u.test\r\n\r\nGET /u/304 HTTP/1.1\r\nHost: u.test\r\n\r\nGET /u/clean HTTP/1.1\r\nHost: u.test\r\nConnection: close\r\n\r\n',
      { timeoutMs: 3000 },
    );
    assert.deepEqual(r.statuses, [204, 304, 200], r.text);
    assert.match(r.text, /etag: "x"/i);
  });

  it('an upstream answering before reading a large body: the client gets the answer, later requests are clean', T, async () => {
    const body = Buffer.alloc(2 * 1024 * 1024, 120);
    const r = await httpRequest(`${px.base}/early/x`, { method: 'POST', body, timeoutMs: 5000 }).catch((e: Error) => e);
    // Either the 401 arrives, or the connection is reset while the body was still being sent; a
    // hang or a 502/504 is wrong.
    if (!(r instanceof Error)) assert.equal(r.status, 401, r.text);
    else assert.doesNotMatch(r.message, /timed out/);
    for (let i = 0; i < 3; i++) {
      const small = Buffer.from(`after-${i}`);
      const e = echoOf(await httpRequest(`${px.base}/echo/after-early`, { method: 'POST', body: small }));
      assert.equal(e.bodySha256, sha256(small));
      assert.equal(e.url, '/echo/after-early');
    }
  });

  it('GET with a body and POST with Content-Length: 0 are forwarded as framed', T, async () => {
    const g = echoOf(await httpRequest(`${px.base}/echo/get-body`, { method: 'GET', body: 'hello' }));
    assert.equal(g.bodyBytes, 5);
    const p = echoOf(await httpRequest(`${px.base}/echo/empty`, { method: 'POST', body: '' }));
    assert.equal(p.bodyBytes, 0);
    assert.equal(p.headers['content-length'], '0');
  });

  it('header values with obs-text (bytes 0x80-0xFF) pass through unchanged', T, async () => {
    const r = await rawRequest(px.port, Buffer.from('GET /echo/obs HTTP/1.1\r\nHost: u.test\r\nX-Latin: caf\xe9\r\nConnection: close\r\n\r\n', 'latin1'), {
      timeoutMs: 3000,
    });
    assert.equal(r.status, 200, r.text);
    const rec = be.requests.at(-1)!;
    const i = rec.rawHeaders.findIndex((h) => h.toLowerCase() === 'x-latin');
    assert.ok(i >= 0);
    assert.equal(Buffer.from(rec.rawHeaders[i + 1]!, 'latin1').toString('hex'), Buffer.from('caf\xe9', 'latin1').toString('hex'));
  });
});

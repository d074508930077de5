/**
 * Header handling: hop-by-hop removal both ways, X-Forwarded-* / Forwarded, trustProxies, origin
 * hiding (Server, X-Powered-By, no upstream address anywhere), Via, trailers, Expect:
 * 100-continue, OPTIONS *, absolute-form targets.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { defineConfig, route, pool } from '../../../src/index.js';
import { startBackend, startRawBackend, replyWhenHeadComplete, sha256, deadPort, type Backend, type RespondSpec, type RawBackend } from '../../helpers/backend.js';
import { startProxy, httpRequest, echoOf, everythingOf, type Proxy } from '../../helpers/proxy.js';
import { rawRequest } from '../../helpers/raw.js';

const T = { timeout: 10_000 };

/** Parse an RFC 7239 Forwarded value into elements of lower-cased params. */
function parseForwarded(v: string | string[] | undefined): Array<Record<string, string>> {
  const s = Array.isArray(v) ? v.join(', ') : (v ?? '');
  return s
    .split(',')
    .map((el) => el.trim())
    .filter(Boolean)
    .map((el) => {
      const o: Record<string, string> = {};
      for (const pair of el.split(';')) {
        const eq = pair.indexOf('=');
        if (eq < 0) continue;
        o[pair.slice(0, eq).trim().toLowerCase()] = pair.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
      }
      return o;
    });
}

const HOP_RESPONSE =
  'HTTP/1.1 200 OK\r\n' +
  'Content-Type: text/plain\r\n' +
  'Content-Length: 2\r\n' +
  'Connection: keep-alive, X-Hop-Resp\r\n' +
  'X-Hop-Resp: must-not-pass\r\n' +
  'Keep-Alive: timeout=77, max=99\r\n' +
  'Proxy-Connection: keep-alive\r\n' +
  'Upgrade: h2c\r\n' +
  'Trailer: X-Never\r\n' +
  'X-End-To-End: kept\r\n' +
  '\r\n' +
  'ok';

describe('headers', () => {
  let be: Backend;
  let raw: RawBackend;
  let px: Proxy;
  let pxTrust: Proxy;
  let pxVia: Proxy;

  before(async () => {
    be = await startBackend({
      respond: (rec): RespondSpec => {
        if (rec.url.includes('/ident')) {
          return { headers: { server: 'UpstreamServer/9.9', 'x-powered-by': 'Express-Upstream' } };
        }
        if (rec.url.startsWith('/trailers')) {
          return { headers: { 'content-type': 'text/plain' }, body: 'body-with-trailers', trailers: { 'x-checksum': 'abc123' } };
        }
        if (rec.url.startsWith('/leak')) {
          // An upstream that names itself: the proxy must not add to that, and the test below
          // only checks what proxykit itself adds.
          return { headers: { 'content-type': 'text/plain' }, body: 'fine' };
        }
        return {};
      },
    });
    raw = await startRawBackend(replyWhenHeadComplete(HOP_RESPONSE));
    const p = pool('be', [be.url]);
    const dead = await deadPort();
    const routes = [
      route('/hop/*').to(pool('raw', [raw.url])),
      route('/keep-ident/*').to(p).hideHeaders([]),
      route('/dead/*').to(pool('dead', [`http://127.0.0.1:${dead}`])),
      route('/*').to(p),
    ];
    px = await startProxy(defineConfig({ listen: ['http://127.0.0.1:0'], routes }));
    pxTrust = await startProxy(
      defineConfig({ listen: ['http://127.0.0.1:0'], trustProxies: ['127.0.0.1'], routes: [route('/*').to(pool('be2', [be.url]))] }),
    );
    pxVia = await startProxy(defineConfig({ listen: ['http://127.0.0.1:0'], via: true, routes: [route('/*').to(pool('be3', [be.url]))] }));
  });
  after(async () => {
    await px?.close();
    await pxTrust?.close();
    await pxVia?.close();
    await be?.close();
    await raw?.close();
  });

  it('hop-by-hop request headers are removed before the upstream', T, async () => {
    const before = be.requests.length;
    const r = await rawRequest(
      px.port,
      'GET /echo/hop HTTP/1.1\r\n' +
        'Host: hop.test\r\n' +
        'Connection: keep-alive, X-Hop-Req, X-Other-Hop\r\n' +
        'X-Hop-Req: must-not-pass\r\n' +
        'X-Other-Hop: must-not-pass\r\n' +
        'Keep-Alive: timeout=5\r\n' +
        'Proxy-Connection: keep-alive\r\n' +
        'TE: trailers\r\n' +
        'Upgrade: h2c\r\n' +
        'Proxy-Authorization: Basic c2VjcmV0OnNlY3JldA==\r\n' +
        'Trailer: X-Foo\r\n' +
        'X-End-To-End: kept\r\n' +
        '\r\n',
      { timeoutMs: 3000, untilResponse: true },
    );
    assert.equal(r.status, 200, r.text);
    assert.equal(be.requests.length, before + 1);
    const h = be.requests.at(-1)!.headers;
    for (const name of ['x-hop-req', 'x-other-hop', 'keep-alive', 'proxy-connection', 'te', 'upgrade', 'proxy-authorization', 'trailer']) {
      assert.equal(h[name], undefined, `${name} must not reach the upstream (got ${JSON.stringify(h[name])})`);
    }
    assert.doesNotMatch(String(h.connection ?? ''), /x-hop-req|x-other-hop/i, 'Connection tokens from the client must not pass');
    assert.equal(h['x-end-to-end'], 'kept');
  });

  it('a chunked request reaches the upstream without the client Transfer-Encoding framing leaking', T, async () => {
    const r = await rawRequest(
      px.port,
      'POST /echo/te HTTP/1.1\r\nHost: t.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
      { timeoutMs: 3000 },
    );
    assert.equal(r.status, 200, r.text);
    const body = r.text.slice(r.text.indexOf('\r\n\r\n') + 4);
    const json = body.includes('{') ? body.slice(body.indexOf('{'), body.lastIndexOf('}') + 1) : '';
    const e = JSON.parse(json) as { bodyBytes: number; bodySha256: string };
    assert.equal(e.bodyBytes, 5);
    assert.equal(e.bodySha256, sha256('hello'));
  });

  it('hop-by-hop response headers are removed before the client', T, async () => {
    const r = await httpRequest(`${px.base}/hop/x`);
    assert.equal(r.status, 200);
    assert.equal(r.text, 'ok');
    assert.equal(r.headers['x-hop-resp'], undefined, 'a header named by the upstream Connection must not pass');
    assert.doesNotMatch(String(r.headers.connection ?? ''), /x-hop-resp/i);
    assert.doesNotMatch(String(r.headers['keep-alive'] ?? ''), /77|max=99/, "the upstream's Keep-Alive must not pass");
    assert.equal(r.headers['proxy-connection'], undefined);
    assert.equal(r.headers.upgrade, undefined);
    assert.equal(r.headers.trailer, undefined);
    assert.equal(r.headers['x-end-to-end'], 'kept');
  });

  it('X-Forwarded-For/-Proto/-Host and Forwarded are set; untrusted incoming values are dropped', T, async () => {
    const r = await httpRequest(`${px.base}/echo/xff`, {
      headers: {
        host: 'client-facing.test',
        'x-forwarded-for': '6.6.6.6',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'spoofed.test',
        forwarded: 'for=6.6.6.6;proto=https',
      },
    });
    const h = echoOf(r).headers;
    assert.equal(h['x-forwarded-for'], '127.0.0.1');
    assert.equal(h['x-forwarded-proto'], 'http');
    assert.equal(h['x-forwarded-host'], 'client-facing.test');
    const fwd = parseForwarded(h.forwarded);
    assert.equal(fwd.length, 1, `one Forwarded element expected, got ${JSON.stringify(h.forwarded)}`);
    assert.equal(fwd[0]!.for, '127.0.0.1');
    assert.equal(fwd[0]!.proto, 'http');
    assert.equal(fwd[0]!.host, 'client-facing.test');
    assert.doesNotMatch(JSON.stringify(h), /6\.6\.6\.6|spoofed/);
  });

  it('with trustProxies the incoming chain is kept and extended', T, async () => {
    const r = await httpRequest(`${pxTrust.base}/echo/xff`, {
      headers: {
        host: 'front.test',
        'x-forwarded-for': '1.2.3.4, 10.0.0.1',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'original.test',
        forwarded: 'for=1.2.3.4;proto=https;host=original.test',
      },
    });
    const h = echoOf(r).headers;
    assert.equal(h['x-forwarded-for'], '1.2.3.4, 10.0.0.1, 127.0.0.1');
    assert.equal(h['x-forwarded-proto'], 'https', 'a trusted hop already said https');
    assert.equal(h['x-forwarded-host'], 'original.test');
    const fwd = parseForwarded(h.forwarded);
    assert.deepEqual(
      fwd.map((e) => e.for),
      ['1.2.3.4', '127.0.0.1'],
      `Forwarded chain: ${JSON.stringify(h.forwarded)}`,
    );
  });

  it('Server and X-Powered-By from the upstream are hidden by default', T, async () => {
    const r = await httpRequest(`${px.base}/ident/x`);
    assert.equal(r.status, 200);
    assert.notEqual(r.headers.server, 'UpstreamServer/9.9');
    assert.equal(r.headers['x-powered-by'], undefined);
  });

  it('hideHeaders([]) keeps Server and X-Powered-By', T, async () => {
    const r = await httpRequest(`${px.base}/keep-ident/ident`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.server, 'UpstreamServer/9.9');
    assert.equal(r.headers['x-powered-by'], 'Express-Upstream');
  });

  it('no upstream address appears in any response (success, 404, 502)', T, async () => {
    const ok = await httpRequest(`${px.base}/leak/x`);
    assert.equal(ok.status, 200);
    const bad = await httpRequest(`${px.base}/dead/x`);
    assert.equal(bad.status, 502);
    const badJson = await httpRequest(`${px.base}/dead/x`, { headers: { accept: 'application/json' } });
    assert.equal(badJson.status, 502);
    for (const r of [ok, bad, badJson]) {
      const all = everythingOf(r);
      assert.ok(!all.includes(be.authority), `backend address leaked: ${all}`);
      assert.ok(!all.includes(raw.authority), `backend address leaked: ${all}`);
      assert.doesNotMatch(all, /127\.0\.0\.1:\d+/, `an upstream address leaked: ${all}`);
      assert.doesNotMatch(all, /ECONNREFUSED/);
    }
  });

  it('via: true adds Via both ways', T, async () => {
    const r = await httpRequest(`${pxVia.base}/echo/via`);
    assert.equal(r.status, 200);
    assert.match(String(echoOf(r).headers.via ?? ''), /1\.1 proxykit/);
    assert.match(String(r.headers.via ?? ''), /1\.1 proxykit/);
    const none = await httpRequest(`${px.base}/echo/via`);
    assert.equal(echoOf(none).headers.via, undefined, 'no Via unless configured');
  });

  it('response trailers reach a client that sent TE: trailers', T, async () => {
    const r = await httpRequest(`${px.base}/trailers/x`, { headers: { te: 'trailers' } });
    assert.equal(r.status, 200);
    assert.equal(r.text, 'body-with-trailers');
    assert.equal(r.trailers['x-checksum'], 'abc123');
  });

  it('Expect: 100-continue: the client gets 100 then 200 and the body reaches the backend', T, async () => {
    const body = Buffer.from('continue-body-'.repeat(100));
    const r = await httpRequest(`${px.base}/echo/expect`, { method: 'POST', body, expectContinue: true, timeoutMs: 5000 });
    assert.deepEqual(r.informational, [100]);
    assert.equal(r.status, 200, r.text);
    const e = echoOf(r);
    assert.equal(e.bodyBytes, body.length);
    assert.equal(e.bodySha256, sha256(body));
  });

  it('Expect: 100-continue over a raw socket: 100 arrives before the body is sent', T, async () => {
    const { rawConnect } = await import('../../helpers/raw.js');
    const c = await rawConnect(px.port);
    try {
      c.write('PUT /echo/expect-raw HTTP/1.1\r\nHost: e.test\r\nContent-Length: 4\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n');
      await c.waitFor(/^HTTP\/1\.1 100 /, 3000);
      c.write('abcd');
      const text = await c.waitFor(/HTTP\/1\.1 200 [\s\S]*\r\n\r\n[\s\S]*"bodyBytes":4/, 3000);
      assert.match(text, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    } finally {
      c.destroy();
    }
  });

  it('OPTIONS * is answered sensibly (not 4xx/5xx)', T, async () => {
    const r = await rawRequest(px.port, 'OPTIONS * HTTP/1.1\r\nHost: o.test\r\nConnection: close\r\n\r\n', { timeoutMs: 3000 });
    assert.ok(r.status >= 200 && r.status < 300, `OPTIONS * got ${r.status}: ${r.text.slice(0, 300)}`);
  });

  it('an absolute-form target becomes origin-form upstream, Host taken from the target', T, async () => {
    const r = await rawRequest(
      px.port,
      'GET http://abs.test/echo/abs?x=1 HTTP/1.1\r\nHost: abs.test\r\nConnection: close\r\n\r\n',
      { timeoutMs: 3000 },
    );
    assert.equal(r.status, 200, r.text);
    const last = be.requests.at(-1)!;
    assert.equal(last.url, '/echo/abs?x=1');
    assert.equal(last.headers.host, 'abs.test');

    const r2 = await rawRequest(
      px.port,
      'GET http://target.test/echo/abs2 HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n',
      { timeoutMs: 3000 },
    );
    assert.equal(r2.status, 200, r2.text);
    const last2 = be.requests.at(-1)!;
    assert.equal(last2.url, '/echo/abs2');
    assert.equal(last2.headers.host, 'target.test', 'RFC 9112 §3.2.2: the target authority replaces Host');
  });
});

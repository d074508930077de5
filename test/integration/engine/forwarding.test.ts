/**
 * Forwarding basics through a real proxykit runtime and a real backend on loopback: methods,
 * targets byte for byte, matching (host, path, params, methods, order), stripPrefix, rewrite,
 * header edits, redirect, respond, Host preservation.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { defineConfig, route, pool } from '../../../src/index.js';
import { startBackend, sha256, type Backend, type RespondSpec } from '../../helpers/backend.js';
import { startProxy, httpRequest, echoOf, type Proxy } from '../../helpers/proxy.js';
import { rawRequest } from '../../helpers/raw.js';

const T = { timeout: 10_000 };

describe('forwarding', () => {
  let be: Backend;
  let px: Proxy;

  before(async () => {
    be = await startBackend({
      respond: (rec): RespondSpec => {
        if (rec.url.startsWith('/hdr')) {
          return { headers: { 'x-upstream-secret': 's3cret', 'x-resp-set': 'from-upstream', 'x-resp-add': 'up' } };
        }
        if (rec.method === 'HEAD') return { headers: { 'content-length': '123', 'content-type': 'text/plain' }, body: '' };
        return {};
      },
    });
    const p = pool('be', [be.url]);
    px = await startProxy(
      defineConfig({
        listen: ['http://127.0.0.1:0'],
        routes: [
          route('/first/*').respond(200, 'first-a'),
          route('/first/*').respond(200, 'first-b'),
          route('exact.test/host').respond(200, 'host-exact'),
          route('*.example.com/host').respond(200, 'host-wild'),
          route('/host').respond(200, 'host-any'),
          route('/m').methods('POST', 'PUT').respond(200, 'm-post-put'),
          route('/m').respond(200, 'm-other'),
          route('/users/:id').to(p),
          route('/api/*').to(p).stripPrefix('/api'),
          route('/rw/*').to(p).rewrite('^/rw/(.*)$', '/v2/$1'),
          route('/hdr/*')
            .to(p)
            .headers({
              request: { set: { 'x-set': 'set-by-proxy' }, add: { 'x-add': 'added' }, remove: ['x-remove-me'] },
              response: { set: { 'x-resp-set': 'set-by-proxy' }, add: { 'x-resp-add': 'added' }, remove: ['x-upstream-secret'] },
            }),
          route('/old/*').redirect('https://new.example.com/', 301),
          route('/keep/*').redirect('https://new.example.com', 308, { keepPath: true }),
          route('/hello').respond(200, 'hi there', { 'x-responder': 'yes' }),
          route('/host-up/*').to(p).hostHeader('upstream'),
          route('/host-lit/*').to(p).hostHeader('internal.example:8443'),
          route('/echo/*').to(p),
        ],
      }),
    );
  });
  after(async () => {
    await px?.close();
    await be?.close();
  });

  for (const method of ['GET', 'DELETE']) {
    it(`${method} is forwarded with its method and path`, T, async () => {
      const r = await httpRequest(`${px.base}/echo/${method.toLowerCase()}`, { method });
      assert.equal(r.status, 200);
      const e = echoOf(r);
      assert.equal(e.method, method);
      assert.equal(e.url, `/echo/${method.toLowerCase()}`);
    });
  }

  for (const method of ['POST', 'PUT', 'PATCH']) {
    it(`${method} with a body reaches the backend intact`, T, async () => {
      const body = Buffer.from(`payload for ${method} ` + 'x'.repeat(5000));
      const r = await httpRequest(`${px.base}/echo/body`, { method, body, headers: { 'content-type': 'text/plain' } });
      assert.equal(r.status, 200);
      const e = echoOf(r);
      assert.equal(e.method, method);
      assert.equal(e.bodyBytes, body.length);
      assert.equal(e.bodySha256, sha256(body));
    });
  }

  it('POST with a chunked body reaches the backend intact', T, async () => {
    const body = Buffer.from('chunked body '.repeat(1000));
    const r = await httpRequest(`${px.base}/echo/chunked`, { method: 'POST', body, chunked: true });
    assert.equal(r.status, 200);
    const e = echoOf(r);
    assert.equal(e.bodyBytes, body.length);
    assert.equal(e.bodySha256, sha256(body));
  });

  it('a non-standard method (PURGE) is forwarded as is', T, async () => {
    const r = await httpRequest(`${px.base}/echo/purge`, { method: 'PURGE' });
    assert.equal(r.status, 200);
    assert.equal(echoOf(r).method, 'PURGE');
  });

  it('HEAD is forwarded and the response carries no body', T, async () => {
    const r = await rawRequest(px.port, 'HEAD /echo/head HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n', {
      timeoutMs: 3000,
    });
    assert.equal(r.status, 200, r.text);
    const headEnd = r.text.indexOf('\r\n\r\n');
    assert.ok(headEnd > 0, r.text);
    assert.equal(r.text.slice(headEnd + 4), '', 'a HEAD response must not carry a body');
    assert.match(r.text, /\r\ncontent-length: 123\r\n/i, 'the upstream Content-Length of a HEAD response is passed on');
    assert.equal(be.requests.at(-1)!.method, 'HEAD');
  });

  it('path and query string reach the backend byte for byte', T, async () => {
    const targets = [
      '/echo/q?a=1&b=%20x&c=%2F&d=&&e=%zz&f=a+b&g=%C3%A9&h=?&i=/x',
      '/echo/a%20b/%7Euser/%41?',
      '/echo/;matrix=1/x,y/~z',
      '/echo/UPPER/lower?Q=Case',
    ];
    for (const t of targets) {
      const r = await httpRequest(`${px.base}/`, { path: t });
      assert.equal(r.status, 200, `${t}: ${r.text}`);
      assert.equal(echoOf(r).url, t);
    }
  });

  it('a path-params route matches /users/:id and forwards the path unchanged', T, async () => {
    const r = await httpRequest(`${px.base}/users/42?x=1`);
    assert.equal(r.status, 200);
    assert.equal(echoOf(r).url, '/users/42?x=1');
    const miss = await httpRequest(`${px.base}/users/42/extra`);
    assert.equal(miss.status, 404, '/users/:id must not match a deeper path');
  });

  it('host matching: exact, *.example.com (not the apex), and any', T, async () => {
    const get = async (host: string): Promise<string> => (await httpRequest(`${px.base}/host`, { headers: { host } })).text;
    assert.equal(await get('exact.test'), 'host-exact');
    assert.equal(await get('EXACT.test'), 'host-exact', 'host matching is case-insensitive');
    assert.equal(await get('exact.test:8080'), 'host-exact', 'a port in Host does not prevent an exact match');
    assert.equal(await get('a.example.com'), 'host-wild');
    assert.equal(await get('deep.a.example.com'), 'host-wild');
    assert.equal(await get('example.com'), 'host-any', '*.example.com does not match the apex');
    assert.equal(await get('other.test'), 'host-any');
  });

  it('method matching picks the route allowing the method', T, async () => {
    assert.equal((await httpRequest(`${px.base}/m`, { method: 'POST', body: '' })).text, 'm-post-put');
    assert.equal((await httpRequest(`${px.base}/m`, { method: 'PUT', body: '' })).text, 'm-post-put');
    assert.equal((await httpRequest(`${px.base}/m`)).text, 'm-other');
  });

  it('the first matching route wins', T, async () => {
    const r = await httpRequest(`${px.base}/first/x`);
    assert.equal(r.text, 'first-a');
  });

  it('no matching route answers 404 and the backend sees nothing', T, async () => {
    const before = be.requests.length;
    const r = await httpRequest(`${px.base}/nowhere`);
    assert.equal(r.status, 404);
    assert.equal(be.requests.length, before);
  });

  it('stripPrefix removes the prefix and keeps the query', T, async () => {
    assert.equal(echoOf(await httpRequest(`${px.base}/api/v1/items?id=7`)).url, '/v1/items?id=7');
    const root = echoOf(await httpRequest(`${px.base}/api`));
    assert.equal(root.url, '/', '/api alone becomes /');
    const slash = echoOf(await httpRequest(`${px.base}/api/`));
    assert.equal(slash.url, '/');
  });

  it('rewrite applies the regex with $1 substitution and keeps the query', T, async () => {
    const r = await httpRequest(`${px.base}/rw/items/9?z=1`);
    assert.equal(r.status, 200);
    assert.equal(echoOf(r).url, '/v2/items/9?z=1');
  });

  it('request headers set / add / remove reach the backend edited', T, async () => {
    const r = await httpRequest(`${px.base}/hdr/x`, {
      headers: { 'x-set': 'from-client', 'x-add': 'client', 'x-remove-me': 'gone', 'x-untouched': 'u' },
    });
    assert.equal(r.status, 200);
    const h = echoOf(r).headers;
    assert.equal(h['x-set'], 'set-by-proxy', 'set replaces the client value');
    assert.match(String(h['x-add']), /client/, 'add keeps the client value');
    assert.match(String(h['x-add']), /added/, 'add appends the new value');
    assert.equal(h['x-remove-me'], undefined);
    assert.equal(h['x-untouched'], 'u');
  });

  it('response headers set / add / remove reach the client edited', T, async () => {
    const r = await httpRequest(`${px.base}/hdr/y`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-resp-set'], 'set-by-proxy');
    assert.match(String(r.headers['x-resp-add']), /up/);
    assert.match(String(r.headers['x-resp-add']), /added/);
    assert.equal(r.headers['x-upstream-secret'], undefined);
  });

  it('redirect answers 301 with the configured Location and never calls the backend', T, async () => {
    const before = be.requests.length;
    const r = await httpRequest(`${px.base}/old/some/page?q=1`);
    assert.equal(r.status, 301);
    assert.equal(r.headers.location, 'https://new.example.com/');
    assert.equal(be.requests.length, before);
  });

  it('redirect with keepPath appends the request path and query', T, async () => {
    const r = await httpRequest(`${px.base}/keep/a/b?x=1`);
    assert.equal(r.status, 308);
    assert.equal(r.headers.location, 'https://new.example.com/keep/a/b?x=1');
  });

  it('respond answers with the configured status, body and headers', T, async () => {
    const r = await httpRequest(`${px.base}/hello`);
    assert.equal(r.status, 200);
    assert.equal(r.text, 'hi there');
    assert.equal(r.headers['x-responder'], 'yes');
    assert.equal(r.headers['content-length'], String(Buffer.byteLength('hi there')));
  });

  it('Host is passed upstream unchanged by default', T, async () => {
    const r = await httpRequest(`${px.base}/echo/host`, { headers: { host: 'preserved.example.org:8443' } });
    assert.equal(echoOf(r).headers.host, 'preserved.example.org:8443');
  });

  it('hostHeader: "upstream" sends the upstream authority, a literal sends itself', T, async () => {
    const up = await httpRequest(`${px.base}/host-up/x`, { headers: { host: 'client.test' } });
    assert.equal(echoOf(up).headers.host, be.authority);
    assert.ok(!JSON.stringify(up.rawHeaders).includes(be.authority), 'the upstream authority must still not leak to the client');
    const lit = await httpRequest(`${px.base}/host-lit/x`, { headers: { host: 'client.test' } });
    assert.equal(echoOf(lit).headers.host, 'internal.example:8443');
  });

  it('keep-alive: several requests on one client connection are all forwarded', T, async () => {
    const req = (n: number): string => `GET /echo/ka${n} HTTP/1.1\r\nHost: ka.test\r\n\r\n`;
    const r = await rawRequest(px.port, req(1) + req(2) + req(3).replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n'), {
      timeoutMs: 3000,
    });
    assert.deepEqual(r.statuses, [200, 200, 200], r.text);
    assert.ok(r.closed, 'Connection: close on the last request closes the connection');
  });

});

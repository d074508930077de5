/**
 * WebSocket (Upgrade) tunnelling with `ws`: echo through the proxy, 502 for a dead upstream, and
 * an open socket surviving `rt.apply()` of new configs.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { defineConfig, route, pool, type TargetedRoute } from '../../../src/index.js';
import { startBackend, deadPort, type Backend } from '../../helpers/backend.js';
import { startProxy, httpRequest, withTimeout, type Proxy } from '../../helpers/proxy.js';

const T = { timeout: 15_000 };

function openWs(url: string, headers?: Record<string, string>): Promise<WebSocket> {
  return withTimeout(
    new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(url, { headers, handshakeTimeout: 3000 });
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`unexpected response ${res.statusCode}`), { statusCode: res.statusCode })));
    }),
    5000,
    `WebSocket open ${url}`,
  );
}

function echo(ws: WebSocket, data: string | Buffer): Promise<Buffer> {
  return withTimeout(
    new Promise<Buffer>((resolve, reject) => {
      ws.once('message', (m: WebSocket.RawData) => resolve(Array.isArray(m) ? Buffer.concat(m) : Buffer.from(m as Buffer)));
      ws.once('close', () => reject(new Error('socket closed while waiting for the echo')));
      ws.send(data);
    }),
    3000,
    'echo',
  );
}

describe('websocket', () => {
  let wss: WebSocketServer;
  let wsUrl: string;
  let be: Backend;
  let px: Proxy;
  let dead: number;
  const upgradePaths: string[] = [];
  const upgradeHeaders: Array<Record<string, string | string[] | undefined>> = [];

  const config = (extra: TargetedRoute[] = [], poolName = 'ws') =>
    defineConfig({
      listen: ['http://127.0.0.1:0'],
      routes: [
        ...extra,
        route('/ws/*').to(pool(poolName, [wsUrl])),
        route('/dead/*').to(pool('dead', [`http://127.0.0.1:${dead}`])),
        route('/*').to(pool('be', [be.url])),
      ],
    });

  before(async () => {
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    wsUrl = `http://127.0.0.1:${(wss.address() as AddressInfo).port}`;
    wss.on('connection', (sock, req) => {
      upgradePaths.push(req.url ?? '');
      upgradeHeaders.push(req.headers);
      sock.on('message', (m, isBinary) => sock.send(m, { binary: isBinary }));
    });
    be = await startBackend();
    dead = await deadPort();
    px = await startProxy(config());
  });
  after(async () => {
    for (const c of wss?.clients ?? []) c.terminate();
    wss?.close();
    await px?.close();
    await be?.close();
  });

  it('echoes text and binary messages through the proxy', T, async () => {
    const ws = await openWs(`${px.base.replace('http', 'ws')}/ws/echo?room=1`, { 'x-client': 'yes' });
    try {
      assert.equal((await echo(ws, 'hello')).toString(), 'hello');
      const big = Buffer.alloc(200_000, 7);
      assert.ok((await echo(ws, big)).equals(big));
      for (let i = 0; i < 50; i++) assert.equal((await echo(ws, `m${i}`)).toString(), `m${i}`);
      assert.equal(upgradePaths.at(-1), '/ws/echo?room=1');
      const h = upgradeHeaders.at(-1)!;
      assert.equal(h['x-client'], 'yes');
      assert.equal(h['x-forwarded-for'], '127.0.0.1');
    } finally {
      ws.terminate();
    }
  });

  it('an Upgrade to a dead upstream gets 502', T, async () => {
    await assert.rejects(openWs(`${px.base.replace('http', 'ws')}/dead/x`), (e: Error & { statusCode?: number }) => {
      assert.equal(e.statusCode, 502, e.message);
      return true;
    });
    const ok = await httpRequest(`${px.base}/echo/after`);
    assert.equal(ok.status, 200);
  });

  it('an Upgrade with no matching route gets 404', T, async () => {
    const px2 = await startProxy(defineConfig({ listen: ['http://127.0.0.1:0'], routes: [route('/only').respond(200, 'x')] }));
    try {
      await assert.rejects(openWs(`${px2.base.replace('http', 'ws')}/nope`), (e: Error & { statusCode?: number }) => {
        assert.equal(e.statusCode, 404, e.message);
        return true;
      });
    } finally {
      await px2.close();
    }
  });

  it('an open WebSocket survives reloads and keeps echoing', T, async () => {
    const ws = await openWs(`${px.base.replace('http', 'ws')}/ws/reload`);
    try {
      assert.equal((await echo(ws, 'before')).toString(), 'before');
      await px.rt.apply(config([route('/new').respond(200, 'new')]));
      assert.equal((await echo(ws, 'after-1')).toString(), 'after-1');
      // The pool itself changes identity: the tunnel is already established and must stay.
      await px.rt.apply(config([], 'ws-renamed'));
      assert.equal((await echo(ws, 'after-2')).toString(), 'after-2');
      // A config without the route at all.
      await px.rt.apply(defineConfig({ listen: ['http://127.0.0.1:0'], routes: [route('/*').to(pool('be', [be.url]))] }));
      assert.equal((await echo(ws, 'after-3')).toString(), 'after-3');
      assert.equal(ws.readyState, WebSocket.OPEN);
    } finally {
      ws.terminate();
      await px.rt.apply(config());
    }
  });
});

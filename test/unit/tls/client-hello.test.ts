/**
 * The ClientHello parser and peek behind TLS-ALPN-01 on the https listener (src/engine/tls-peek.ts):
 * real ClientHellos from node's TLS client, fragmented over bytes, records and TCP segments,
 * missing extensions, garbage; and the hand-over of a peeked socket to a TLS server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { MAX_CLIENT_HELLO, parseClientHello, peekClientHello, type PeekResult } from '../../../src/engine/tls-peek.js';
import { testCa } from '../../helpers/tls-certs.js';

/** The first flight of a node TLS client with these options (its ClientHello record(s)). */
async function captureClientHello(opts: tls.ConnectionOptions): Promise<Buffer> {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as net.AddressInfo).port;
  const got = new Promise<Buffer>((resolve) => {
    srv.once('connection', (s) => {
      let buf = Buffer.alloc(0);
      s.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (parseClientHello(buf).status !== 'incomplete') {
          resolve(buf);
          s.destroy();
        }
      });
    });
  });
  const c = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...opts });
  c.on('error', () => {});
  const hello = await got;
  c.destroy();
  srv.close();
  return hello;
}

/** Re-frame one TLS record's handshake payload into records of at most `size` bytes. */
function reRecord(hello: Buffer, size: number): Buffer {
  const len = hello.readUInt16BE(3);
  const payload = hello.subarray(5, 5 + len);
  const out: Buffer[] = [];
  for (let i = 0; i < payload.length; i += size) {
    const part = payload.subarray(i, i + size);
    const head = Buffer.from([22, 3, 1, 0, 0]);
    head.writeUInt16BE(part.length, 3);
    out.push(head, part);
  }
  return Buffer.concat(out);
}

/** A minimal ClientHello record with the given extensions block (or none at all). */
function syntheticHello(extensions: Buffer | null): Buffer {
  const body = Buffer.concat([
    Buffer.from([3, 3]),
    Buffer.alloc(32, 7), // random
    Buffer.from([0]), // session id
    Buffer.from([0, 2, 0x13, 0x01]), // one cipher suite
    Buffer.from([1, 0]), // null compression
    ...(extensions === null ? [] : [u16(extensions.length), extensions]),
  ]);
  const hs = Buffer.concat([Buffer.from([1, 0, 0, 0]), body]);
  hs.writeUIntBE(body.length, 1, 3);
  return Buffer.concat([Buffer.from([22, 3, 1]), u16(hs.length), hs]);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function ext(type: number, data: Buffer): Buffer {
  return Buffer.concat([u16(type), u16(data.length), data]);
}

function sniExt(name: string): Buffer {
  const n = Buffer.from(name, 'latin1');
  const entry = Buffer.concat([Buffer.from([0]), u16(n.length), n]);
  return ext(0, Buffer.concat([u16(entry.length), entry]));
}

function alpnExt(protocols: string[]): Buffer {
  const list = Buffer.concat(protocols.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p)])));
  return ext(16, Buffer.concat([u16(list.length), list]));
}

test('a real ClientHello: SNI and ALPN, also when fed byte by byte and across records', async () => {
  const hello = await captureClientHello({ servername: 'Alpn.Example.com', ALPNProtocols: ['acme-tls/1'] });
  assert.deepEqual(parseClientHello(hello), { status: 'ok', serverName: 'alpn.example.com', alpn: ['acme-tls/1'] });
  // Every prefix is incomplete, never invalid.
  for (let i = 0; i < hello.length; i++) assert.equal(parseClientHello(hello.subarray(0, i)).status, 'incomplete', `prefix ${i}`);
  // The handshake message spread over several records (2, 3 and 100-byte fragments).
  for (const size of [2, 3, 100]) {
    const split = reRecord(hello, size);
    assert.deepEqual(parseClientHello(split), { status: 'ok', serverName: 'alpn.example.com', alpn: ['acme-tls/1'] }, `records of ${size}`);
    assert.equal(parseClientHello(split.subarray(0, split.length - 1)).status, 'incomplete');
  }
  // Bytes after the ClientHello (none in practice) are ignored.
  assert.equal(parseClientHello(Buffer.concat([hello, Buffer.from([23, 3, 3, 0, 1, 0])])).status, 'ok');

  const browser = await captureClientHello({ servername: 'www.example.com', ALPNProtocols: ['h2', 'http/1.1'] });
  assert.deepEqual(parseClientHello(browser), { status: 'ok', serverName: 'www.example.com', alpn: ['h2', 'http/1.1'] });
});

test('missing extensions: no SNI (IP address), no ALPN, no extensions block at all', async () => {
  // node sends no SNI for an IP address and no ALPN extension without ALPNProtocols.
  const bare = await captureClientHello({});
  assert.deepEqual(parseClientHello(bare), { status: 'ok', serverName: null, alpn: null });
  assert.deepEqual(parseClientHello(syntheticHello(null)), { status: 'ok', serverName: null, alpn: null });
  assert.deepEqual(parseClientHello(syntheticHello(Buffer.alloc(0))), { status: 'ok', serverName: null, alpn: null });
  assert.deepEqual(parseClientHello(syntheticHello(Buffer.concat([ext(10, Buffer.from([0, 2, 0, 29])), sniExt('a.example.com')]))), {
    status: 'ok',
    serverName: 'a.example.com',
    alpn: null,
  });
  assert.deepEqual(parseClientHello(syntheticHello(alpnExt(['acme-tls/1']))), { status: 'ok', serverName: null, alpn: ['acme-tls/1'] });
});

test('garbage and malformed ClientHellos are invalid (never incomplete forever, never a throw)', () => {
  const invalid = (b: Buffer, what: string): void => assert.equal(parseClientHello(b).status, 'invalid', what);
  invalid(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 'plain HTTP on the TLS port');
  invalid(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), 'h2c preface');
  invalid(Buffer.from([0x80, 0x2e, 0x01, 0x00, 0x02]), 'SSLv2 compatible hello');
  invalid(Buffer.from([22, 3, 1, 0, 0]), 'empty record');
  invalid(Buffer.from([22, 3, 1, 0xff, 0xff]), 'record too long');
  invalid(Buffer.from([22, 2, 0, 0, 4, 1, 0, 0, 0]), 'record version 2');
  invalid(Buffer.from([22, 3, 1, 0, 4, 2, 0, 0, 0]), 'a ServerHello');
  invalid(Buffer.from([22, 3, 1, 0, 4, 1, 0xff, 0xff, 0xff]), 'a 16 MiB ClientHello');
  invalid(Buffer.concat([Buffer.from([22, 3, 1, 0, 2, 1, 0]), Buffer.from([21, 3, 1, 0, 2, 2, 40])]), 'an alert between fragments');
  const good = syntheticHello(Buffer.concat([sniExt('a.example.com'), alpnExt(['h2'])]));
  // Inner length fields that do not add up.
  const bad = (mut: (b: Buffer) => void, what: string): void => {
    const b = Buffer.from(good);
    mut(b);
    invalid(b, what);
  };
  bad((b) => (b[9] = 4), 'client version 4.x');
  bad((b) => (b[5 + 4 + 34] = 33), 'session id of 33 bytes');
  bad((b) => b.writeUInt16BE(3, 5 + 4 + 35), 'odd cipher suite length');
  bad((b) => (b[5 + 4 + 39] = 0), 'no compression methods');
  bad((b) => b.writeUInt16BE(999, 5 + 4 + 41), 'extensions length too long');
  assert.equal(parseClientHello(syntheticHello(Buffer.concat([sniExt('a.example.com'), sniExt('b.example.com')]))).status, 'invalid', 'duplicate extension');
  assert.equal(parseClientHello(syntheticHello(ext(16, Buffer.from([0, 2, 0, 0])))).status, 'invalid', 'empty ALPN name');
  assert.equal(parseClientHello(syntheticHello(ext(0, Buffer.from([0, 9, 0, 0, 0])))).status, 'invalid', 'bad SNI list length');
  // Random bytes: always a verdict, no exception.
  for (let i = 0; i < 2000; i++) {
    const b = Buffer.from(Array.from({ length: 1 + (i % 300) }, () => Math.floor(Math.random() * 256)));
    if (i % 2 === 0) b[0] = 22;
    if (i % 4 === 0 && b.length > 1) b[1] = 3;
    assert.ok(['incomplete', 'invalid', 'ok'].includes(parseClientHello(b).status));
  }
});

/** A TCP server whose connections are peeked and then handed to `tlsServer` (like the listener). */
async function peekingServer(tlsServer: tls.Server, opts: { timeoutMs?: number; maxBytes?: number } = {}) {
  const results: PeekResult[] = [];
  const srv = net.createServer((socket) => {
    peekClientHello(socket, opts, (r) => {
      results.push(r);
      tlsServer.emit('connection', socket);
    });
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return { port: (srv.address() as net.AddressInfo).port, results, close: () => new Promise((r) => srv.close(r)) };
}

test('peek, then hand over: the TLS server sees every byte, the native socket (remoteAddress) is kept', async (t) => {
  const ca = await testCa(t);
  const leaf = await ca.issue(['peek.example.com']);
  const seen: Array<{ addr: string | undefined; alpn: string | false | null }> = [];
  const tlsServer = tls.createServer({ cert: leaf.certPem, key: leaf.keyPem, ALPNProtocols: ['h2', 'acme-tls/1'] }, (s) => {
    seen.push({ addr: s.remoteAddress, alpn: s.alpnProtocol });
    s.end('hello');
  });
  const srv = await peekingServer(tlsServer);
  t.after(() => srv.close());

  // 1. A normal client.
  const body = await new Promise<string>((resolve, reject) => {
    const c = tls.connect({ host: '127.0.0.1', port: srv.port, servername: 'peek.example.com', ca: ca.caPem(), ALPNProtocols: ['acme-tls/1'] });
    let b = '';
    c.on('data', (d) => (b += d));
    c.on('end', () => resolve(b));
    c.on('error', reject);
  });
  assert.equal(body, 'hello');
  assert.deepEqual(srv.results[0], { hello: { serverName: 'peek.example.com', alpn: ['acme-tls/1'] } });
  assert.deepEqual(seen[0], { addr: '127.0.0.1', alpn: 'acme-tls/1' });

  // 2. The same ClientHello in many small TCP segments (a client behind a tiny MSS, or a slow one).
  const hello = await captureClientHello({ servername: 'peek.example.com', ALPNProtocols: ['h2'] });
  const raw = net.connect({ host: '127.0.0.1', port: srv.port, noDelay: true });
  await once(raw, 'connect');
  for (let i = 0; i < hello.length; i += 37) {
    raw.write(hello.subarray(i, i + 37));
    await new Promise((r) => setTimeout(r, 2));
  }
  // The TLS server got the whole ClientHello and answered with its ServerHello (a handshake record).
  const [first] = (await once(raw, 'data')) as [Buffer];
  assert.equal(first[0], 22, 'ServerHello after a fragmented ClientHello');
  raw.destroy();
  assert.deepEqual(srv.results[1], { hello: { serverName: 'peek.example.com', alpn: ['h2'] } });
});

test('peek: garbage, a size cap and a timeout hand over what was read; a client that leaves is dropped', async (t) => {
  const handed: Buffer[] = [];
  // A "TLS server" stand-in that records what it receives after the hand-over.
  const fake = new net.Server();
  fake.on('connection', (s: net.Socket) => {
    let got = Buffer.alloc(0);
    s.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
    s.on('end', () => {
      handed.push(got);
      s.end();
    });
  });
  const srv = await peekingServer(fake as unknown as tls.Server, { timeoutMs: 300, maxBytes: 64 });
  t.after(() => srv.close());
  const send = async (chunks: Buffer[], waitMs = 0): Promise<void> => {
    const c = net.connect({ host: '127.0.0.1', port: srv.port });
    await once(c, 'connect');
    for (const ch of chunks) c.write(ch);
    if (waitMs) await new Promise((r) => setTimeout(r, waitMs));
    c.end();
    await once(c, 'close');
  };

  await send([Buffer.from('GET / HTTP/1.1\r\n\r\n')], 50);
  assert.equal(srv.results.at(-1)?.hello, null);
  assert.match(srv.results.at(-1)?.reason ?? '', /not a TLS handshake record/);
  assert.equal(handed.at(-1)?.toString(), 'GET / HTTP/1.1\r\n\r\n', 'garbage passed on untouched');

  const big = Buffer.concat([Buffer.from([22, 3, 1, 0x3f, 0xff]), Buffer.alloc(100, 1)]);
  await send([big], 50);
  assert.match(srv.results.at(-1)?.reason ?? '', /no complete ClientHello in \d+ bytes/);
  assert.deepEqual(handed.at(-1), big, 'over the cap: every byte passed on');

  await send([Buffer.from([22, 3, 1, 0, 40, 1])], 500);
  assert.match(srv.results.at(-1)?.reason ?? '', /not complete in time/);
  assert.deepEqual(handed.at(-1), Buffer.from([22, 3, 1, 0, 40, 1]));

  // A client that closes mid-ClientHello: nothing handed over, the socket is gone.
  const before = srv.results.length;
  const c = net.connect({ host: '127.0.0.1', port: srv.port });
  await once(c, 'connect');
  c.end(Buffer.from([22, 3, 1]));
  await once(c, 'close');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(srv.results.length, before);
  assert.ok(MAX_CLIENT_HELLO >= 16384);
});

/** Helpers for TLS tests: temp dirs, a test CA, an SNI server on loopback, and a client handshake. */
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls, { type SecureContext } from 'node:tls';
import type { TestContext } from 'node:test';
import { InternalCa } from '../../src/tls/internal-ca.js';

export async function tempDir(t: TestContext, prefix = 'pk-tls-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A throwaway CA for minting test certificates (optionally with a fake clock). */
export async function testCa(t: TestContext, now?: () => number): Promise<InternalCa> {
  return InternalCa.open(await tempDir(t, 'pk-testca-'), now ? { now } : {});
}

export interface SniServer {
  port: number;
  server: tls.Server;
  close(): Promise<void>;
}

/**
 * A TLS echo server on 127.0.0.1 whose SNICallback asks `sni`. `fallback` is the server's own
 * certificate (used by clients without SNI).
 */
export async function sniServer(
  t: TestContext,
  sni: (name: string) => Promise<SecureContext | null> | SecureContext | null,
  fallback?: { cert: string; key: string } | null,
): Promise<SniServer> {
  const server = tls.createServer(
    {
      ...(fallback ? { cert: fallback.cert, key: fallback.key } : {}),
      minVersion: 'TLSv1.2',
      SNICallback: (name, cb) => {
        Promise.resolve(sni(name)).then(
          (ctx) => cb(null, ctx ?? undefined),
          (err: Error) => cb(err),
        );
      },
    },
    (socket) => {
      socket.on('error', () => {});
      socket.pipe(socket);
    },
  );
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  t.after(close);
  return { port: (server.address() as AddressInfo).port, server, close };
}

export interface HandshakeResult {
  ok: boolean;
  authorized: boolean;
  authorizationError?: string;
  error?: string;
  fingerprint?: string;
  subjectaltname?: string;
  socket?: tls.TLSSocket;
}

/**
 * Connect and report what the server presented. `keep: true` leaves the socket open (the caller
 * ends it); otherwise it is closed after the handshake.
 */
export function handshake(opts: {
  port: number;
  host?: string;
  servername?: string;
  ca?: string | string[];
  keep?: boolean;
  alpn?: string[];
}): Promise<HandshakeResult> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: opts.host ?? '127.0.0.1',
      port: opts.port,
      ...(opts.servername !== undefined ? { servername: opts.servername } : {}),
      ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
      ...(opts.alpn ? { ALPNProtocols: opts.alpn } : {}),
      rejectUnauthorized: false,
    });
    socket.once('secureConnect', () => {
      const peer = socket.getPeerCertificate();
      let authorizationError: string | undefined;
      let authorized = socket.authorized;
      if (authorized && opts.servername !== undefined) {
        const err = tls.checkServerIdentity(opts.servername, peer);
        if (err) {
          authorized = false;
          authorizationError = err.message;
        }
      } else if (!authorized) {
        authorizationError = String(socket.authorizationError);
      }
      const result: HandshakeResult = {
        ok: true,
        authorized,
        ...(authorizationError ? { authorizationError } : {}),
        fingerprint: peer.fingerprint256,
        subjectaltname: peer.subjectaltname,
      };
      if (opts.keep) resolve({ ...result, socket });
      else {
        socket.end();
        resolve(result);
      }
    });
    socket.once('error', (err) => resolve({ ok: false, authorized: false, error: err.message }));
  });
}

/** Write `msg` and read the echo back on an open TLS socket. */
export function echo(socket: tls.TLSSocket, msg: string): Promise<string> {
  return new Promise((resolve, reject) => {
    socket.once('data', (d: Buffer) => resolve(d.toString()));
    socket.once('error', reject);
    socket.write(msg);
  });
}

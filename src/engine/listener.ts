/**
 * A bound socket: `http:` serves HTTP/1.1; `https:` terminates TLS (certificates chosen per
 * handshake by SNI from the TlsService) and serves HTTP/2 and HTTP/1.1 by ALPN. Listeners outlive
 * Plans: a reload that keeps the same address keeps the same server, and only the limits that node
 * allows to change at runtime are updated.
 */
import http from 'node:http';
import http2 from 'node:http2';
import nodeTls from 'node:tls';
import { randomBytes } from 'node:crypto';
import type { TlsService } from '../tls/contracts.js';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Gateway } from './gateway.js';
import type { ListenAddress, ResolvedLimits } from './plan.js';
import { handleUpgrade, type TunnelSet } from './upgrade.js';
import { ERRORS, sendError } from './errors.js';
import { peekClientHello } from './tls-peek.js';
import { sameProfile, serverTlsProfile, type ServerTlsProfile } from '../tls/server-profile.js';

/** The ALPN protocol of TLS-ALPN-01 validation handshakes (RFC 8737 §6.2). */
const ACME_TLS_ALPN = 'acme-tls/1';
/** How long a connection may take to send its ClientHello while it is being peeked at. */
const PEEK_TIMEOUT_MS = 10_000;
/** Handshake deadline on the dedicated TLS-ALPN-01 server, and how long its connections may linger. */
const ACME_HANDSHAKE_TIMEOUT_MS = 10_000;
/**
 * How often the session-ticket key is replaced. A TLS 1.2 ticket carries the session's master
 * secret, so a key kept for the process's lifetime would undo forward secrecy for every resumed
 * TLS 1.2 session; Caddy rotates every 12 h too. node holds a single key, so a rotation costs
 * returning clients one full handshake (tickets live 2 h at most anyway).
 */
const TICKET_KEY_ROTATION_MS = 12 * 60 * 60 * 1000;

/** A plain HTTP/1.1 server, or a TLS server speaking HTTP/2 and HTTP/1.1 (ALPN). */
type AnyServer = http.Server | http2.Http2SecureServer;

export class Listener {
  readonly address: ListenAddress;
  readonly server: AnyServer;
  /** The URL with the real port (when port 0 was asked for). */
  url: string;
  private readonly limitsAtStart: ResolvedLimits;
  /** Connections whose ClientHello is being read (only while a TLS-ALPN-01 challenge is pending). */
  private readonly peeking = new Set<Socket>();
  /** The TLS server answering TLS-ALPN-01 validation handshakes (created at the first one). */
  private acmeServer: nodeTls.Server | null = null;
  /**
   * Open TLS connections of an https listener: node 20's HTTP/2 server has no
   * `closeAllConnections()`, so the drain deadline cuts these itself.
   */
  private readonly tlsSockets = new Set<Socket>();
  /** Protocol versions and ciphers of an https listener (see tls/server-profile.ts). */
  private tlsProfile: ServerTlsProfile;
  /**
   * Session-ticket key of an https listener (48 bytes). Kept here, not left to node: node's
   * setSecureContext() (each certificate refresh and reload) would otherwise draw a new one and
   * every client's ticket would stop resuming.
   */
  private ticketKeys: Buffer = randomBytes(48);
  private ticketRotation: NodeJS.Timeout | null = null;

  constructor(
    address: ListenAddress,
    limits: ResolvedLimits,
    gateway: Gateway,
    tunnels: TunnelSet,
    tls: TlsService | null,
    tlsProfile: ServerTlsProfile = serverTlsProfile(),
  ) {
    this.address = address;
    this.url = address.url;
    this.limitsAtStart = limits;
    this.tlsProfile = tlsProfile;
    const secure = address.protocol === 'https';
    let server: AnyServer;
    if (secure) {
      if (tls === null) throw new Error(`listen ${address.url}: an https listener needs tls in the config`);
      server = http2.createSecureServer({
        allowHTTP1: true,
        // TLS 1.2+ (or 1.3 only), ECDHE + AEAD suites only; TLS 1.3 is preferred by negotiation.
        ...tlsProfile,
        ticketKeys: this.ticketKeys,
        // Certificates are chosen per handshake, so they change live (renewal, reload) without
        // touching the listener or the connections already open.
        SNICallback: (servername, cb) => {
          tls.sni(servername).then(
            (ctx) => (ctx ? cb(null, ctx) : cb(new Error(`no certificate for "${servername}"`))),
            (err: unknown) => cb(err instanceof Error ? err : new Error(String(err))),
          );
        },
        // h2, then HTTP/1.1; and `acme-tls/1` for an ACME CA validating a TLS-ALPN-01 challenge
        // (RFC 8737), whose handshake gets the challenge certificate and nothing else.
        ALPNCallback: ({ protocols }: { protocols: string[] }) =>
          protocols.includes('acme-tls/1') ? 'acme-tls/1' : protocols.includes('h2') ? 'h2' : protocols.includes('http/1.1') ? 'http/1.1' : undefined,
        maxHeaderSize: limits.maxHeaderSize,
        settings: { maxHeaderListSize: limits.maxHeaderSize },
      } as http2.SecureServerOptions);
      // HTTP/1.1 over TLS: node checks header/request deadlines on this interval (30 s by default
      // for an Http2SecureServer, read when it starts listening), as for the plain listener.
      (server as unknown as { connectionsCheckingInterval: number }).connectionsCheckingInterval = checkingInterval(limits);
      // An idle HTTP/2 session is closed after the keep-alive timeout, like an idle HTTP/1.1 one.
      server.setTimeout(limits.keepAliveTimeoutMs);
      // Client-side TLS failures (scanners, wrong SNI) are normal on the internet: never fatal.
      server.on('tlsClientError', () => {});
      // OCSP stapling for clients that ask (status_request): a cached response or none, never a wait.
      server.on('OCSPRequest', (certificate: Buffer, issuer: Buffer | null, cb: (err: Error | null, resp?: Buffer) => void) => {
        cb(null, tls.ocspResponse(certificate, issuer) ?? undefined);
      });
      this.routeAcmeTlsAlpn(server, tls);
    } else {
      server = http.createServer({
        maxHeaderSize: limits.maxHeaderSize,
        // node checks header/request deadlines on this interval; the default 30 s would let a 10 s
        // headersTimeout run to 40 s. One second keeps deadlines honest for a small cost.
        connectionsCheckingInterval: checkingInterval(limits),
        requestTimeout: limits.requestTimeoutMs,
        headersTimeout: limits.headersTimeoutMs,
        keepAliveTimeout: limits.keepAliveTimeoutMs,
        noDelay: true,
        // Headers are only ever read as rawHeaders; let node skip joining duplicates.
        joinDuplicateHeaders: false,
      });
    }
    this.server = server;
    if (secure) {
      server.on('secureConnection', (socket: Socket) => {
        this.tlsSockets.add(socket);
        socket.once('close', () => this.tlsSockets.delete(socket));
      });
    }
    this.updateLimits(limits);
    const on = server.on.bind(server) as (event: string, fn: (...args: never[]) => void) => void;
    on('request', (req: http.IncomingMessage, res: http.ServerResponse) => gateway.handle(req, res, false, secure));
    on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => gateway.handle(req, res, true, secure));
    on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      void handleUpgrade(gateway, tunnels, req, socket, head).catch((err: unknown) => {
        gateway.logger.error('upgrade handler failed', { err: String(err) });
        socket.destroy();
      });
    });
    on('clientError', onClientError);
    const t = gateway.telemetry;
    if (t.metrics !== null || t.live !== null) {
      on(secure ? 'secureConnection' : 'connection', (socket: Socket) => {
        t.metrics?.connectionOpened();
        t.live?.connections(1);
        socket.once('close', () => {
          t.metrics?.connectionClosed();
          t.live?.connections(-1);
        });
      });
    }
  }

  /**
   * TLS-ALPN-01 (RFC 8737) on this listener. node picks the certificate (SNICallback) before it
   * knows the client's ALPN list, so while a challenge is pending the ClientHello of each new
   * connection is read first (tls-peek.ts): a handshake offering `acme-tls/1` for a name with a
   * pending challenge goes to a dedicated TLS server holding the challenge certificate, which
   * completes the handshake and closes; every other connection goes to the normal server
   * unchanged (the same socket, its bytes put back), so regular clients keep getting the current
   * certificate during a renewal. With no challenge pending, connections go straight to the
   * normal server: one boolean check, no peeking.
   *
   * The socket handed over is the accepted one, so the server's `maxConnections`, `close()`,
   * handshake timeout, `tlsClientError`, HTTP/1 header/request deadlines and `clientError` all
   * apply as for any connection.
   */
  private routeAcmeTlsAlpn(server: http2.Http2SecureServer, tls: TlsService): void {
    const pending = tls.alpnChallengePending?.bind(tls);
    const challenge = tls.alpnChallengeContext?.bind(tls);
    if (pending === undefined || challenge === undefined) return;
    // tls.Server's own 'connection' listener starts the TLS handshake; ours decides who runs it.
    const normal = server.listeners('connection') as Array<(socket: Socket) => void>;
    server.removeAllListeners('connection');
    const toNormal = (socket: Socket): void => {
      for (const fn of normal) fn.call(server, socket);
    };
    server.on('connection', (socket: Socket) => {
      if (!pending()) return toNormal(socket);
      this.peeking.add(socket);
      peekClientHello(socket, { timeoutMs: PEEK_TIMEOUT_MS }, ({ hello }) => {
        this.peeking.delete(socket);
        if (hello !== null && hello.serverName !== null && hello.alpn?.includes(ACME_TLS_ALPN) && challenge(hello.serverName) !== null) {
          this.acmeTlsAlpnServer(challenge).emit('connection', socket);
        } else {
          toNormal(socket);
        }
      });
      // A peeked socket that closes is destroyed by peekClientHello; forget it then too.
      socket.once('close', () => this.peeking.delete(socket));
    });
  }

  private acmeTlsAlpnServer(challenge: (servername: string) => nodeTls.SecureContext | null): nodeTls.Server {
    if (this.acmeServer !== null) return this.acmeServer;
    const s = nodeTls.createServer(
      {
        // RFC 8737 §3: TLS 1.2 or higher, ALPN acme-tls/1 only, the challenge certificate only.
        minVersion: 'TLSv1.2',
        ALPNProtocols: [ACME_TLS_ALPN],
        handshakeTimeout: ACME_HANDSHAKE_TIMEOUT_MS,
        SNICallback: (servername, cb) => {
          const ctx = challenge(servername);
          if (ctx !== null) cb(null, ctx);
          else cb(new Error(`no TLS-ALPN-01 challenge pending for "${servername}"`));
        },
      },
      (socket) => {
        // Nothing is exchanged after the handshake (RFC 8737 §3): close, and do not wait long for the CA's side.
        socket.end();
        socket.setTimeout(ACME_HANDSHAKE_TIMEOUT_MS, () => socket.destroy());
      },
    );
    s.on('tlsClientError', () => {});
    this.acmeServer = s;
    return s;
  }

  /**
   * Install the TLS service's certificate for clients without SNI (https listeners only), and
   * `profile` when given (a reload). node's setSecureContext() resets every option it is not
   * given (ciphers, curves, versions) to node's defaults, so the profile goes with every call.
   */
  refreshDefaultCertificate(tls: TlsService, profile: ServerTlsProfile = this.tlsProfile): void {
    if (this.address.protocol !== 'https') return;
    const changed = !sameProfile(profile, this.tlsProfile);
    this.tlsProfile = profile;
    const kp = tls.defaultKeyPair();
    const server = this.server as http2.Http2SecureServer;
    if (kp !== null) server.setSecureContext({ ...profile, ticketKeys: this.ticketKeys, cert: kp.cert, key: kp.key });
    else if (changed) server.setSecureContext({ ...profile, ticketKeys: this.ticketKeys });
  }

  /** Replace the session-ticket key (every 12 h on its own): tickets issued before stop resuming. */
  rotateTicketKeys(): void {
    if (this.address.protocol !== 'https') return;
    this.ticketKeys = randomBytes(48);
    (this.server as http2.Http2SecureServer).setTicketKeys(this.ticketKeys);
  }

  /** Apply the limits node lets us change on a live server. */
  updateLimits(limits: ResolvedLimits): void {
    // Http2SecureServer with allowHTTP1 honours the same HTTP/1.1 deadlines as http.Server.
    const s = this.server as http.Server;
    s.headersTimeout = limits.headersTimeoutMs;
    s.requestTimeout = limits.requestTimeoutMs;
    s.keepAliveTimeout = limits.keepAliveTimeoutMs;
    s.maxConnections = limits.maxConnections;
  }

  /** True when the new limits need a new server (node fixes these at creation). */
  needsRebind(limits: ResolvedLimits): boolean {
    return limits.maxHeaderSize !== this.limitsAtStart.maxHeaderSize;
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen({ host: this.address.host, port: this.address.port }, () => {
        this.server.off('error', onError);
        const a = this.server.address();
        if (a !== null && typeof a === 'object') {
          const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
          this.url = `${this.address.protocol}://${host}:${a.port}`;
        }
        if (this.address.protocol === 'https') {
          this.ticketRotation = setInterval(() => this.rotateTicketKeys(), TICKET_KEY_ROTATION_MS);
          this.ticketRotation.unref();
        }
        resolve();
      });
    });
  }

  /** Stop accepting; idle keep-alive connections close now, busy ones after their response. */
  close(): Promise<void> {
    if (this.ticketRotation !== null) clearInterval(this.ticketRotation);
    this.ticketRotation = null;
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      (this.server as http.Server).closeIdleConnections?.();
    });
  }

  /** Cut every connection (after the drain deadline). */
  destroy(): void {
    for (const s of this.peeking) s.destroy();
    this.peeking.clear();
    (this.server as http.Server).closeAllConnections?.();
    for (const s of this.tlsSockets) s.destroy();
    this.tlsSockets.clear();
  }
}

/** How often node checks the HTTP/1.1 header/request deadlines of a listener's connections. */
function checkingInterval(limits: ResolvedLimits): number {
  return Math.min(1000, Math.max(100, Math.floor(limits.headersTimeoutMs / 4)));
}

/**
 * node:http's parser refused the request (bad framing, bad characters, oversize head, timeout).
 * Answer with the right status when nothing has been sent on this connection yet, then close:
 * after a framing error nothing more on the connection can be trusted.
 */
function onClientError(err: Error & { code?: string }, socket: Duplex): void {
  const s = socket as Socket & { _httpMessage?: http.ServerResponse | null };
  if (err.code === 'ECONNRESET' || !s.writable) {
    s.destroy();
    return;
  }
  const pending = s._httpMessage;
  if (pending && !pending.writableFinished && pending.req !== undefined && !pending.req.complete) {
    // The error is in the body of the request being answered (bad chunk framing after a head that
    // was fine): its upstream request is aborted by the body stream's error; the client gets a 400
    // if nothing was sent yet, and the connection is closed either way.
    s.pause();
    // Fail the body stream so undici aborts the upstream request (and discards that connection).
    pending.req.destroy(err);
    if (!pending.headersSent) sendError(pending, ERRORS.BAD_REQUEST, undefined, undefined, true);
    pending.once('finish', () => s.destroySoon());
    if (pending.headersSent && !pending.writableEnded) s.destroy();
    return;
  }
  if (pending && !pending.writableFinished) {
    // Bytes after a request we are still answering (pipelined garbage, or data after
    // `Connection: close`) are unusable: answer the good request, then close without reading more.
    s.pause();
    if (pending.headersSent && pending.destroyed) {
      s.destroy();
      return;
    }
    pending.shouldKeepAlive = false;
    pending.once('finish', () => s.destroySoon());
    pending.once('close', () => s.destroySoon());
    return;
  }
  let status = 400;
  let text = 'Bad Request';
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    status = 431;
    text = 'Request Header Fields Too Large';
  } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    status = 408;
    text = 'Request Timeout';
  }
  const body = `<!doctype html><html><head><title>${status} ${text}</title></head><body><h1>${status} ${text}</h1><p>proxykit</p></body></html>\n`;
  s.end(
    `HTTP/1.1 ${status} ${text}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `cache-control: no-store\r\nconnection: close\r\n\r\n${body}`,
  );
  s.destroySoon();
}

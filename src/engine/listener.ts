/**
 * A bound socket serving HTTP/1.1 (TLS and HTTP/2 arrive with their own issue: a listener is
 * created from a ListenAddress so an `https:` one can slot in here). Listeners outlive Plans: a
 * reload that keeps the same address keeps the same server, and only the limits that node allows
 * to change at runtime are updated.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Gateway } from './gateway.js';
import type { ListenAddress, ResolvedLimits } from './plan.js';
import { handleUpgrade, type TunnelSet } from './upgrade.js';
import { ERRORS, sendError } from './errors.js';

export class Listener {
  readonly address: ListenAddress;
  readonly server: http.Server;
  /** The URL with the real port (when port 0 was asked for). */
  url: string;
  private readonly limitsAtStart: ResolvedLimits;

  constructor(address: ListenAddress, limits: ResolvedLimits, gateway: Gateway, tunnels: TunnelSet) {
    this.address = address;
    this.url = address.url;
    this.limitsAtStart = limits;
    const server = http.createServer({
      maxHeaderSize: limits.maxHeaderSize,
      // node checks header/request deadlines on this interval; the default 30 s would let a 10 s
      // headersTimeout run to 40 s. One second keeps deadlines honest for a small cost.
      connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.floor(limits.headersTimeoutMs / 4))),
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      noDelay: true,
      // Headers are only ever read as rawHeaders; let node skip joining duplicates.
      joinDuplicateHeaders: false,
    });
    server.maxConnections = limits.maxConnections;
    server.on('request', (req, res) => gateway.handle(req, res, false));
    server.on('checkContinue', (req, res) => gateway.handle(req, res, true));
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      void handleUpgrade(gateway, tunnels, req, socket, head).catch((err: unknown) => {
        gateway.logger.error('upgrade handler failed', { err: String(err) });
        socket.destroy();
      });
    });
    server.on('clientError', onClientError);
    const t = gateway.telemetry;
    if (t.metrics !== null || t.live !== null) {
      server.on('connection', (socket: Socket) => {
        t.metrics?.connectionOpened();
        t.live?.connections(1);
        socket.once('close', () => {
          t.metrics?.connectionClosed();
          t.live?.connections(-1);
        });
      });
    }
    this.server = server;
  }

  /** Apply the limits node lets us change on a live server. */
  updateLimits(limits: ResolvedLimits): void {
    const s = this.server;
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
        resolve();
      });
    });
  }

  /** Stop accepting; idle keep-alive connections close now, busy ones after their response. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
  }

  /** Cut every connection (after the drain deadline). */
  destroy(): void {
    this.server.closeAllConnections();
  }
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

/**
 * A real HTTP backend for integration tests: node:http on 127.0.0.1:0 that records everything it
 * received and answers the way a test tells it to.
 *
 *   const be = await startBackend();                      // default: 200 + JSON echo of the request
 *   be.respond = { status: 201, headers: { server: 'nginx' }, body: 'hi' };
 *   be.respond = (rec) => ({ ... });                      // per request
 *   be.requests[0].rawHeaders / .bodySha256 / .aborted
 *   await be.close();
 *
 * Bodies are hashed while they stream, and kept in memory only up to `keepBodyBytes` (1 MiB), so a
 * 1 GiB upload can go through it.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createHash } from 'node:crypto';
import { once } from 'node:events';

export interface ReceivedRequest {
  /** 0-based arrival index. */
  index: number;
  method: string;
  /** The request target exactly as received. */
  url: string;
  httpVersion: string;
  rawHeaders: string[];
  headers: http.IncomingHttpHeaders;
  /** First `keepBodyBytes` bytes of the body. */
  body: Buffer;
  bodyBytes: number;
  /** sha256 hex of the whole body (set once the body is complete). */
  bodySha256?: string;
  trailers: NodeJS.Dict<string>;
  /** The request body finished normally. */
  complete: boolean;
  /** The request (or its connection) closed before we finished responding. */
  closedEarly: boolean;
  /** Remote port of the connection it came on (to tell connections apart). */
  remotePort: number;
  /** Resolves when the request body ended or the request was aborted. */
  done: Promise<void>;
}

/** How to answer one request. Every field is optional; the default is 200 + JSON echo. */
export interface RespondSpec {
  status?: number;
  /** Header object or raw pairs (pairs allow duplicates and exact casing). */
  headers?: Record<string, string | string[]> | Array<[string, string]>;
  /** Fixed body. When absent and `streamBytes` is absent: a JSON echo of the request. */
  body?: string | Buffer;
  /** Stream this many bytes (pattern from `patternBuffer`) with backpressure. */
  streamBytes?: number;
  /** Response trailers (sends chunked, declares them in `Trailer`). */
  trailers?: Record<string, string>;
  /** Wait for the request body before answering (default true). */
  waitForBody?: boolean;
  /** Delay before writing the head, ms. */
  delayMs?: number;
  /** Never answer (the request stays open until the peer goes away or the backend closes). */
  hang?: boolean;
  /** Write the head and this many body bytes, then destroy the socket. */
  destroyAfterBytes?: number;
  /** Declared Content-Length for destroyAfterBytes (default: a larger number than sent). */
  declaredLength?: number;
  /** Write the head and first part of the body, then never finish (stall). */
  stallAfterBytes?: number;
}

export type Responder = RespondSpec | ((rec: ReceivedRequest) => RespondSpec);

export interface BackendOptions {
  respond?: Responder;
  keepBodyBytes?: number;
  /** How to treat `Expect: 100-continue`: send 100 (default, like node) or 417. */
  expect?: 'continue' | 'reject';
}

export interface Backend {
  url: string;
  port: number;
  /** `127.0.0.1:PORT`: must never appear in any response the proxy sends to a client. */
  authority: string;
  requests: ReceivedRequest[];
  /** Parse errors node:http reported on the backend side (a smuggled second request, garbage). */
  clientErrors: Error[];
  /** TCP connections accepted so far. */
  connections: number;
  /** TCP connections open right now (accepted and not yet closed). */
  readonly openConnections: number;
  respond: Responder;
  /** Bytes written into responses so far (all requests). */
  bytesSent: number;
  waitForRequests(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** A 1 MiB pseudo-random buffer (deterministic) used for streamed bodies. */
export const patternBuffer: Buffer = (() => {
  const b = Buffer.alloc(1 << 20);
  let x = 0x12345678;
  for (let i = 0; i < b.length; i += 4) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    b.writeUInt32LE(x, i);
  }
  return b;
})();

/** sha256 of `n` bytes of the repeated pattern, computed without allocating n bytes. */
export function patternSha256(n: number): string {
  const h = createHash('sha256');
  let left = n;
  while (left > 0) {
    const k = Math.min(left, patternBuffer.length);
    h.update(k === patternBuffer.length ? patternBuffer : patternBuffer.subarray(0, k));
    left -= k;
  }
  return h.digest('hex');
}

export function sha256(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

export async function startBackend(opts: BackendOptions = {}): Promise<Backend> {
  const keep = opts.keepBodyBytes ?? 1 << 20;
  const sockets = new Set<Socket>();
  const waiters: Array<() => void> = [];
  const server = http.createServer({ keepAliveTimeout: 30_000 });
  server.headersTimeout = 20_000;
  server.requestTimeout = 0;

  const be: Backend = {
    url: '',
    port: 0,
    authority: '',
    requests: [],
    clientErrors: [],
    connections: 0,
    get openConnections() {
      return sockets.size;
    },
    respond: opts.respond ?? {},
    bytesSent: 0,
    waitForRequests(n, timeoutMs = 5000) {
      if (be.requests.length >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error(`backend: expected ${n} request(s) within ${timeoutMs} ms, got ${be.requests.length}`)),
          timeoutMs,
        );
        const check = (): void => {
          if (be.requests.length >= n) {
            clearTimeout(t);
            resolve();
          } else waiters.push(check);
        };
        waiters.push(check);
      });
    },
    async close() {
      server.close();
      for (const s of sockets) s.destroy();
      server.closeAllConnections?.();
      await new Promise<void>((r) => setTimeout(r, 0));
    },
  };

  server.on('connection', (s: Socket) => {
    be.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('clientError', (err: Error, socket: Socket) => {
    be.clientErrors.push(err);
    socket.destroy();
  });
  if (opts.expect === 'reject') {
    server.on('checkContinue', (req, res) => {
      res.writeHead(417);
      res.end();
      req.resume();
    });
  }

  const handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const hash = createHash('sha256');
    const kept: Buffer[] = [];
    let keptBytes = 0;
    let resolveDone!: () => void;
    const rec: ReceivedRequest = {
      index: be.requests.length,
      method: req.method ?? '',
      url: req.url ?? '',
      httpVersion: req.httpVersion,
      rawHeaders: req.rawHeaders.slice(),
      headers: { ...req.headers },
      body: Buffer.alloc(0),
      bodyBytes: 0,
      trailers: {},
      complete: false,
      closedEarly: false,
      remotePort: req.socket.remotePort ?? 0,
      done: new Promise<void>((r) => (resolveDone = r)),
    };
    be.requests.push(rec);
    for (const w of waiters.splice(0)) w();

    req.on('data', (c: Buffer) => {
      rec.bodyBytes += c.length;
      hash.update(c);
      if (keptBytes < keep) {
        const part = c.length + keptBytes > keep ? c.subarray(0, keep - keptBytes) : c;
        kept.push(part);
        keptBytes += part.length;
      }
    });
    req.on('end', () => {
      rec.complete = true;
      rec.body = Buffer.concat(kept);
      rec.bodySha256 = hash.digest('hex');
      rec.trailers = { ...req.trailers };
      resolveDone();
    });
    res.on('close', () => {
      if (!res.writableFinished) rec.closedEarly = true;
      if (!rec.complete) {
        rec.body = Buffer.concat(kept);
        resolveDone();
      }
    });
    req.on('error', () => {});
    res.on('error', () => {});

    const spec = typeof be.respond === 'function' ? be.respond(rec) : be.respond;
    const go = (): void => {
      if (spec.hang) return;
      if (spec.delayMs) {
        setTimeout(() => answer(rec, res, spec), spec.delayMs);
      } else answer(rec, res, spec);
    };
    if (spec.waitForBody === false) go();
    else {
      req.on('end', go);
      req.resume();
    }
  };
  server.on('request', handle);
  server.on('checkExpectation', (req, res) => {
    res.writeHead(417);
    res.end();
    req.resume();
  });

  const answer = (rec: ReceivedRequest, res: http.ServerResponse, spec: RespondSpec): void => {
    if (res.destroyed) return;
    const status = spec.status ?? 200;
    const headerPairs: Array<[string, string | string[]]> = Array.isArray(spec.headers)
      ? spec.headers
      : Object.entries(spec.headers ?? {});
    let body: Buffer | undefined;
    if (spec.body !== undefined) body = Buffer.isBuffer(spec.body) ? spec.body : Buffer.from(spec.body);
    else if (spec.streamBytes === undefined && spec.destroyAfterBytes === undefined && spec.stallAfterBytes === undefined) {
      body = Buffer.from(
        JSON.stringify({
          method: rec.method,
          url: rec.url,
          headers: rec.headers,
          rawHeaders: rec.rawHeaders,
          bodyBytes: rec.bodyBytes,
          bodySha256: rec.bodySha256,
        }),
      );
      if (!headerPairs.some(([k]) => k.toLowerCase() === 'content-type')) headerPairs.push(['content-type', 'application/json']);
    }
    // Raw header writing keeps duplicates and exact casing.
    const flat: string[] = [];
    for (const [k, v] of headerPairs) {
      for (const vv of Array.isArray(v) ? v : [v]) flat.push(k, vv);
    }
    const hasName = (n: string): boolean => headerPairs.some(([k]) => k.toLowerCase() === n);

    if (spec.destroyAfterBytes !== undefined) {
      const declared = spec.declaredLength ?? spec.destroyAfterBytes + 1_000_000;
      res.writeHead(status, [...flat, 'content-length', String(declared)]);
      const part = patternBuffer.subarray(0, spec.destroyAfterBytes);
      res.write(part, () => setTimeout(() => res.socket?.destroy(), 20));
      be.bytesSent += part.length;
      return;
    }
    if (spec.stallAfterBytes !== undefined) {
      res.writeHead(status, [...flat, 'content-length', String(spec.stallAfterBytes + 1_000_000)]);
      res.write(patternBuffer.subarray(0, spec.stallAfterBytes));
      be.bytesSent += spec.stallAfterBytes;
      return;
    }
    if (spec.trailers) {
      const names = Object.keys(spec.trailers);
      if (!hasName('trailer')) flat.push('trailer', names.join(', '));
      res.writeHead(status, flat);
      if (body) res.write(body);
      res.addTrailers(spec.trailers);
      res.end();
      return;
    }
    if (spec.streamBytes !== undefined) {
      const total = spec.streamBytes;
      if (!hasName('content-length') && !hasName('transfer-encoding')) flat.push('content-length', String(total));
      res.writeHead(status, flat);
      let sent = 0;
      const pump = (): void => {
        while (sent < total) {
          const k = Math.min(total - sent, patternBuffer.length);
          const chunk = k === patternBuffer.length ? patternBuffer : patternBuffer.subarray(0, k);
          sent += k;
          be.bytesSent += k;
          if (!res.write(chunk)) {
            if (res.destroyed) return;
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      res.on('close', () => res.removeListener('drain', pump));
      pump();
      return;
    }
    if (body && !hasName('content-length') && !hasName('transfer-encoding')) flat.push('content-length', String(body.length));
    res.writeHead(status, flat);
    if (body) be.bytesSent += body.length;
    res.end(rec.method === 'HEAD' ? undefined : body);
  };

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  be.port = port;
  be.url = `http://127.0.0.1:${port}`;
  be.authority = `127.0.0.1:${port}`;
  return be;
}

/** A port on 127.0.0.1 that nothing listens on (bound then released). */
export async function deadPort(): Promise<number> {
  const s = http.createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A raw TCP backend: records every byte it receives per connection and answers each connection
 * with whatever `reply(receivedSoFar)` returns (called on every data event; return null to wait).
 * For full control over response bytes (hop-by-hop headers, odd framing) and for proving that a
 * rejected request sent the backend nothing at all.
 */
export interface RawBackend {
  url: string;
  port: number;
  authority: string;
  /** Bytes received, one entry per accepted connection. */
  received: Buffer[];
  connections: number;
  totalBytes(): number;
  reply: (received: string) => string | Buffer | null;
  close(): Promise<void>;
}

export async function startRawBackend(reply: RawBackend['reply']): Promise<RawBackend> {
  const net = await import('node:net');
  const sockets = new Set<Socket>();
  const rb: RawBackend = {
    url: '',
    port: 0,
    authority: '',
    received: [],
    connections: 0,
    totalBytes: () => rb.received.reduce((n, b) => n + b.length, 0),
    reply,
    async close() {
      server.close();
      for (const s of sockets) s.destroy();
    },
  };
  const server = net.createServer((s) => {
    const idx = rb.received.length;
    rb.received.push(Buffer.alloc(0));
    rb.connections++;
    sockets.add(s);
    let answered = 0;
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.on('data', (c: Buffer) => {
      rb.received[idx] = Buffer.concat([rb.received[idx]!, c]);
      const text = rb.received[idx]!.toString('latin1');
      const out = rb.reply(text.slice(answered));
      if (out !== null) {
        answered = text.length;
        s.write(out);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  rb.port = (server.address() as AddressInfo).port;
  rb.url = `http://127.0.0.1:${rb.port}`;
  rb.authority = `127.0.0.1:${rb.port}`;
  return rb;
}

/** `reply` helper: answers once a full head (and Content-Length body) arrived. */
export function replyWhenHeadComplete(response: string | Buffer): (received: string) => string | Buffer | null {
  return (received) => {
    const end = received.indexOf('\r\n\r\n');
    if (end < 0) return null;
    const cl = /\r\ncontent-length:\s*(\d+)/i.exec(received.slice(0, end));
    if (cl && received.length - end - 4 < Number(cl[1])) return null;
    if (/\r\ntransfer-encoding:\s*chunked/i.test(received.slice(0, end)) && !received.endsWith('0\r\n\r\n')) return null;
    return response;
  };
}

/** Poll `cond` every 10 ms until true; throws with `what` after timeoutMs. */
export async function waitUntil(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(10);
  }
}

/**
 * Raw-socket HTTP client for framing tests: what goes on the wire is exactly the bytes given.
 *
 *   const r = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', { timeoutMs: 1000 });
 *   r.text, r.status, r.closed
 *
 * `rawRequest` resolves when the server closes the connection or when `timeoutMs` has passed
 * (then `closed` is false and the socket is destroyed by us). With `untilResponse: true` it also
 * resolves as soon as one complete response (by Content-Length / chunked end / no body) arrived.
 */
import net from 'node:net';

export interface RawResult {
  /** Everything the server sent, latin1-decoded. */
  text: string;
  bytes: Buffer;
  /** Status code of the first response, or 0 when none came. */
  status: number;
  /** Status codes of every response head seen (including 1xx). */
  statuses: number[];
  /** The server closed (FIN or RST) before our deadline. */
  closed: boolean;
  /** The connection was reset (ECONNRESET / EPIPE). */
  reset: boolean;
  /** Time from connect to resolution, ms. */
  elapsedMs: number;
}

export interface RawOptions {
  timeoutMs?: number;
  /** Resolve once one complete final response has been received. */
  untilResponse?: boolean;
  /** Send the bytes in these pieces with `gapMs` between them. */
  pieces?: Array<string | Buffer>;
  gapMs?: number;
  /** Half-close (FIN) after writing. */
  end?: boolean;
}

/**
 * Status codes of the responses in `text`, walking them in order (1xx heads, then bodies framed
 * by Content-Length or chunked). Stops at the first thing it cannot frame.
 */
export function parseStatuses(text: string): number[] {
  const out: number[] = [];
  let pos = 0;
  while (pos < text.length) {
    const headEnd = text.indexOf('\r\n\r\n', pos);
    if (headEnd < 0) {
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text.slice(pos));
      if (m) out.push(Number(m[1]));
      break;
    }
    const head = text.slice(pos, headEnd);
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
    if (!m) break;
    const status = Number(m[1]);
    out.push(status);
    pos = headEnd + 4;
    if (status < 200 || status === 204 || status === 304) continue;
    const cl = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head);
    if (cl) {
      pos += Number(cl[1]);
      continue;
    }
    if (/\r\ntransfer-encoding:[^\r\n]*chunked/i.test(head)) {
      for (;;) {
        const lineEnd = text.indexOf('\r\n', pos);
        if (lineEnd < 0) return out;
        const size = parseInt(text.slice(pos, lineEnd), 16);
        if (Number.isNaN(size)) return out;
        pos = lineEnd + 2;
        if (size === 0) {
          const trailerEnd = text.indexOf('\r\n\r\n', pos - 2);
          if (trailerEnd < 0) return out;
          pos = trailerEnd + 4;
          break;
        }
        pos += size + 2;
      }
      continue;
    }
    break; // body until close (or a HEAD response we cannot tell apart): stop here
  }
  return out;
}

/** Whether `buf` holds at least one complete final (non-1xx) response; crude but sufficient. */
export function hasCompleteResponse(buf: Buffer, method = 'GET'): boolean {
  let text = buf.toString('latin1');
  for (;;) {
    const headEnd = text.indexOf('\r\n\r\n');
    if (headEnd < 0) return false;
    const head = text.slice(0, headEnd);
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
    if (!m) return false;
    const status = Number(m[1]);
    const rest = text.slice(headEnd + 4);
    if (status >= 100 && status < 200) {
      text = rest;
      continue;
    }
    if (method === 'HEAD' || status === 204 || status === 304) return true;
    const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (cl) return Buffer.byteLength(rest, 'latin1') >= Number(cl[1]);
    if (/\r\ntransfer-encoding:[^\r\n]*chunked/i.test(head)) return /(^|\r\n)0\r\n(.*\r\n)*\r\n/.test(rest) || rest.includes('0\r\n\r\n');
    return false; // read-until-close body
  }
}

export function rawRequest(port: number, bytes: string | Buffer, opts: RawOptions = {}): Promise<RawResult> {
  const timeoutMs = opts.timeoutMs ?? 2000;
  const t0 = Date.now();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let reset = false;
    let settled = false;
    const sock = net.connect({ port, host: '127.0.0.1' });
    const finish = (closed: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const buf = Buffer.concat(chunks);
      const text = buf.toString('latin1');
      const statuses = parseStatuses(text);
      const final = statuses.find((s) => s >= 200) ?? statuses[0] ?? 0;
      if (!closed) sock.destroy();
      resolve({ text, bytes: buf, status: final, statuses, closed, reset, elapsedMs: Date.now() - t0 });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.on('data', (c: Buffer) => {
      chunks.push(c);
      if (opts.untilResponse && hasCompleteResponse(Buffer.concat(chunks))) finish(sock.destroyed);
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') reset = true;
    });
    sock.on('close', () => finish(true));
    sock.on('end', () => {
      // server half-closed: treat as closed once 'close' fires (we end our side too)
      sock.end();
    });
    sock.on('connect', async () => {
      const pieces = opts.pieces ?? [bytes];
      for (let i = 0; i < pieces.length; i++) {
        if (settled || sock.destroyed) return;
        sock.write(pieces[i]!);
        if (opts.gapMs && i < pieces.length - 1) await new Promise((r) => setTimeout(r, opts.gapMs));
      }
      if (opts.end) sock.end();
    });
  });
}

/** An open raw connection for step-by-step tests. */
export interface RawConn {
  socket: net.Socket;
  write(b: string | Buffer): void;
  /** All bytes received so far. */
  received(): string;
  /** Wait until the received text matches `re`, or throw after timeoutMs. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves true when the server closed the connection within timeoutMs, else false. */
  waitClosed(timeoutMs?: number): Promise<boolean>;
  closed: boolean;
  destroy(): void;
}

export function rawConnect(port: number): Promise<RawConn> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    const listeners = new Set<() => void>();
    const conn: RawConn = {
      socket: sock,
      closed: false,
      write: (b) => {
        if (!sock.destroyed) sock.write(b);
      },
      received: () => Buffer.concat(chunks).toString('latin1'),
      waitFor(re, timeoutMs = 2000) {
        return new Promise((res, rej) => {
          const check = (): void => {
            const t = conn.received();
            if (re.test(t)) {
              clearTimeout(timer);
              listeners.delete(check);
              res(t);
            } else if (conn.closed) {
              clearTimeout(timer);
              listeners.delete(check);
              rej(new Error(`connection closed before ${re} matched; got: ${JSON.stringify(t.slice(0, 500))}`));
            }
          };
          const timer = setTimeout(() => {
            listeners.delete(check);
            rej(new Error(`timed out after ${timeoutMs} ms waiting for ${re}; got: ${JSON.stringify(conn.received().slice(0, 500))}`));
          }, timeoutMs);
          listeners.add(check);
          check();
        });
      },
      waitClosed(timeoutMs = 2000) {
        if (conn.closed) return Promise.resolve(true);
        return new Promise((res) => {
          const timer = setTimeout(() => {
            listeners.delete(check);
            res(false);
          }, timeoutMs);
          const check = (): void => {
            if (conn.closed) {
              clearTimeout(timer);
              listeners.delete(check);
              res(true);
            }
          };
          listeners.add(check);
        });
      },
      destroy: () => sock.destroy(),
    };
    const notify = (): void => {
      for (const l of [...listeners]) l();
    };
    sock.on('data', (c: Buffer) => {
      chunks.push(c);
      notify();
    });
    sock.on('end', () => sock.end());
    sock.on('error', () => {});
    sock.on('close', () => {
      conn.closed = true;
      notify();
    });
    sock.once('connect', () => resolve(conn));
    sock.once('error', reject);
  });
}

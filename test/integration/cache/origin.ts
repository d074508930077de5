/**
 * A test origin for the cache: each test scripts the answers for its own paths and reads how many
 * requests (and which headers) reached the origin — the only honest way to tell a hit from a miss.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OriginAnswer {
  status?: number;
  headers?: Array<[string, string]>;
  body?: string | Buffer;
  /** Wait before answering, ms. */
  delayMs?: number;
  /** Destroy the socket instead of answering. */
  reset?: boolean;
  /** Send the body chunked (no Content-Length). */
  chunked?: boolean;
  /** Answer only once this settles (after `delayMs`, if both are set): the test decides when. */
  gate?: Promise<unknown>;
}

/** A gate for `OriginAnswer.gate`: the origin holds its answer until the test calls `open()`. */
export interface Gate {
  promise: Promise<void>;
  open(): void;
  readonly opened: boolean;
}

export function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  const g = {
    promise,
    opened: false,
    open() {
      g.opened = true;
      open();
    },
  };
  return g;
}

export type OriginScript = (req: http.IncomingMessage, n: number) => OriginAnswer;

export interface Origin {
  url: string;
  /** Requests seen per path (with query). */
  count(path: string): number;
  /** Requests seen, in order. */
  seen: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders }>;
  /** Script the answers for one path (with query) or, with a trailing `*`, a prefix. */
  on(path: string, script: OriginScript): void;
  close(): Promise<void>;
}

export async function startOrigin(): Promise<Origin> {
  const scripts = new Map<string, OriginScript>();
  const counts = new Map<string, number>();
  const seen: Origin['seen'] = [];
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    const n = (counts.get(url) ?? 0) + 1;
    counts.set(url, n);
    seen.push({ method: req.method ?? '', url, headers: req.headers });
    let script = scripts.get(url);
    if (script === undefined) {
      for (const [p, s] of scripts) if (p.endsWith('*') && url.startsWith(p.slice(0, -1))) script = s;
    }
    const a = script ? script(req, n) : { status: 404, body: 'no script' };
    const answer = (): void => {
      if (a.reset) {
        req.socket.destroy();
        return;
      }
      const body = a.body === undefined ? '' : a.body;
      const headers: string[] = [];
      for (const [k, v] of a.headers ?? []) headers.push(k, v);
      if (!a.chunked && !(a.headers ?? []).some(([k]) => k.toLowerCase() === 'content-length') && a.status !== 304) {
        headers.push('content-length', String(Buffer.byteLength(body)));
      }
      res.writeHead(a.status ?? 200, headers);
      if (a.chunked && req.method !== 'HEAD') {
        const b = Buffer.from(body);
        for (let i = 0; i < b.length; i += 16 * 1024) res.write(b.subarray(i, i + 16 * 1024));
        res.end();
        return;
      }
      res.end(req.method === 'HEAD' || a.status === 304 ? undefined : body);
    };
    const release = (): void => {
      if (a.gate === undefined) answer();
      else void a.gate.then(answer, answer);
    };
    req.resume();
    req.on('end', () => (a.delayMs ? setTimeout(release, a.delayMs) : release()));
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    count: (p) => counts.get(p) ?? 0,
    seen,
    on: (p, s) => void scripts.set(p, s),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

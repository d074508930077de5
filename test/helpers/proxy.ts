/**
 * Start proxykit in-process for a test, and a small bounded HTTP client.
 *
 *   const px = await startProxy(defineConfig({ listen: ['http://127.0.0.1:0'], routes: [...] }));
 *   const r = await httpRequest(px.base + '/api/x', { method: 'POST', body: 'hi' });
 *   await px.close();
 */
import http from 'node:http';
import { createRuntime } from '../../src/engine/runtime.js';
import { createSilentLogger } from '../../src/observe/logger.js';
import type { ConfigSpec } from '../../src/config/spec.js';
import type { Runtime } from '../../src/engine/runtime-api.js';

export interface Proxy {
  rt: Runtime;
  /** `http://127.0.0.1:PORT` */
  base: string;
  port: number;
  close(deadlineMs?: number): Promise<void>;
}

export async function startProxy(spec: ConfigSpec): Promise<Proxy> {
  const rt = createRuntime({ logger: createSilentLogger() });
  try {
    await rt.apply(spec);
  } catch (err) {
    await rt.close(0).catch(() => {});
    throw err;
  }
  const base = rt.listeners[0]!.url.replace(/\/$/, '');
  const port = Number(new URL(base).port);
  let closed = false;
  return {
    rt,
    base,
    port,
    async close(deadlineMs = 1000) {
      if (closed) return;
      closed = true;
      try {
        await withTimeout(rt.close(deadlineMs), deadlineMs + 4000, 'rt.close()');
      } catch (err) {
        // rt.close() is stuck, so handles stay open and the test file would never exit (node:test
        // then waits forever). Fail the file instead of hanging the whole run: this timer is
        // unref'd, so it fires only if something else is still keeping the process alive.
        process.stderr.write(`test helper: ${(err as Error).message}; exiting in 10 s if the process does not end by itself\n`);
        setTimeout(() => {
          process.stderr.write('test helper: handles leaked by a stuck rt.close(); exiting with code 1\n');
          process.exit(1);
        }, 10_000).unref();
        throw err;
      }
    },
  };
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  text: string;
  trailers: NodeJS.Dict<string>;
  rawTrailers: string[];
  /** Interim (1xx) statuses received before the final response. */
  informational: number[];
}

export interface HttpOptions {
  method?: string;
  headers?: http.OutgoingHttpHeaders | string[];
  body?: string | Buffer;
  timeoutMs?: number;
  /** Path exactly as written on the request line (default: from the URL). */
  path?: string;
  /** Send the body only after `100 Continue` (sets the Expect header). */
  expectContinue?: boolean;
  /** Use chunked framing for the body instead of Content-Length. */
  chunked?: boolean;
}

/** One request on its own connection (no keep-alive agent), bounded by `timeoutMs`. */
export function httpRequest(url: string, opts: HttpOptions = {}): Promise<HttpResult> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const informational: number[] = [];
    let headers = opts.headers ?? {};
    if (opts.body !== undefined && !opts.chunked && !Array.isArray(headers)) {
      const has = Object.keys(headers).some((k) => k.toLowerCase() === 'content-length');
      if (!has) headers = { ...headers, 'content-length': Buffer.byteLength(opts.body) };
    }
    if (opts.expectContinue && !Array.isArray(headers)) headers = { ...headers, expect: '100-continue' };
    const req = http.request({
      host: '127.0.0.1',
      port: u.port,
      method: opts.method ?? 'GET',
      path: opts.path ?? u.pathname + u.search,
      headers,
      agent: false,
      setHost: !(Array.isArray(headers) || Object.keys(headers).some((k) => k.toLowerCase() === 'host')),
    });
    const timer = setTimeout(() => {
      req.destroy(new Error(`request to ${url} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('information', (info) => informational.push(info.statusCode));
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      res.on('aborted', () => {
        clearTimeout(timer);
        reject(new Error('response aborted'));
      });
      res.on('end', () => {
        clearTimeout(timer);
        const body = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body,
          text: body.toString('utf8'),
          trailers: res.trailers,
          rawTrailers: res.rawTrailers,
          informational,
        });
      });
    });
    if (opts.expectContinue) {
      req.on('continue', () => req.end(opts.body));
    } else if (opts.body !== undefined) {
      req.end(opts.body);
    } else req.end();
  });
}

/** JSON echo produced by the default test backend. */
export interface Echo {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  rawHeaders: string[];
  bodyBytes: number;
  bodySha256?: string;
}

export function echoOf(r: HttpResult): Echo {
  try {
    return JSON.parse(r.text) as Echo;
  } catch {
    throw new Error(`expected a JSON echo from the backend, got ${r.status}: ${r.text.slice(0, 300)}`);
  }
}

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, rej) => {
        timer = setTimeout(() => rej(new Error(`${what} did not settle within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Every header name and value of a response (and its body) as one string, to search for leaks. */
export function everythingOf(r: HttpResult): string {
  return [...r.rawHeaders, ...r.rawTrailers, r.text].join('\n');
}

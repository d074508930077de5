/**
 * The admin API: its own `node:http` listener (loopback by default) serving the dashboard, live
 * stats over Server-Sent Events, Prometheus metrics, the config summary, reload, upstream health
 * and draining, and whatever endpoints features register (certificates, cache purge).
 *
 * Who is let in (see admin-auth.ts):
 * - no `token` configured: loopback peers only (127.0.0.0/8, ::1, ::ffff:127.x), and the listener
 *   itself refuses to start on a non-loopback address. The Host header must then be a loopback name
 *   too, so a web page cannot reach the API through DNS rebinding.
 * - a `token` configured: EVERY request needs it, loopback included, as `Authorization: Bearer <t>`
 *   or as the `proxykit_admin` cookie (set by opening `/?token=<t>` once, for the dashboard page and
 *   its EventSource, which cannot send headers). Tokens are compared in constant time.
 * - any request carrying an `Origin` other than the admin's own is refused (403): no cross-site
 *   requests from a browser, even to loopback.
 *
 * Every answer is JSON (`{"error": …}` on failure) except `GET /` (HTML), `GET /events` (SSE) and
 * `GET /metrics` (Prometheus text). Errors never carry stack traces; they go to the logger.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { ConfigError, formatProblems } from '../config/errors.js';
import type { AdminContext, AdminRoute } from './contracts.js';
import type { Logger } from './logger.js';
import { bearerToken, isLoopbackAddress, isLoopbackHost, parseAdminListen, tokenChecker } from './admin-auth.js';

export { DEFAULT_ADMIN_URL, isLoopbackAddress, isLoopbackHost, parseAdminListen } from './admin-auth.js';

/** Largest request body accepted (413 above). */
export const ADMIN_MAX_BODY = 64 * 1024;
/** Live snapshot period on `/events`, ms. */
export const SNAPSHOT_INTERVAL_MS = 1000;
/** SSE comment heartbeat period, ms (keeps proxies and idle timers from closing the stream). */
export const HEARTBEAT_INTERVAL_MS = 15_000;
/** Cookie that carries the token for the dashboard page. */
export const ADMIN_COOKIE = 'proxykit_admin';

export interface AdminServerOptions {
  /** `http://127.0.0.1:2019`; port 0 picks a free port (see `start()`'s result). */
  listen: string;
  /** When set, every request must carry it (loopback included). Required for a non-loopback listen. */
  token?: string;
  context: AdminContext;
  logger: Logger;
  /** The dashboard page for `GET /`; a placeholder page when absent. */
  dashboardHtml?: () => string;
  /** Content-Security-Policy sent with the dashboard page (`dashboardCsp()` from dashboard.ts). */
  dashboardCsp?: () => string;
  /** Overrides for tests. */
  snapshotIntervalMs?: number;
  heartbeatIntervalMs?: number;
}

export interface AdminServer {
  /** Bind the listener; resolves with its URL (the real port when 0 was asked). */
  start(): Promise<string>;
  /** End live streams, close the listener and its connections. Idempotent. */
  close(): Promise<void>;
  /** Add an endpoint, or replace one with the same method and path (e.g. `GET /certs`). */
  register(route: AdminRoute): void;
  /** The configured listen URL before `start()`, the bound URL after. */
  readonly url: string;
}

/**
 * What `GET /config` is expected to return (`AdminContext.config()`), as `proxykit status` reads it.
 * Every field is optional to the CLI, which prints what is there.
 */
export interface AdminConfigSummary {
  planId: number;
  /** ISO time the serving Plan was applied. */
  loadedAt?: string;
  /** Config file path, when loaded from one. */
  file?: string;
  listeners: string[];
  routes: Array<{ match: string; methods?: string[]; target: string }>;
  pools: string[];
}

/** Minimal view of a config the summary needs (a `ConfigSpec` fits). */
interface SummarySource {
  routes: ReadonlyArray<{
    match: string;
    methods?: string[];
    target?: { kind: 'pool'; pool: { name: string } } | { kind: 'redirect'; status: number; location: string } | { kind: 'respond'; status: number };
  }>;
}

/**
 * The `GET /config` body for `AdminContext.config()`: what serves, with no secrets (no tokens,
 * sticky secrets, Redis URLs or headers values).
 *
 * @example
 * config: () => summarizeConfig(currentSpec, { planId: runtime.planId, listeners: runtime.listeners.map((l) => l.url), loadedAt, file })
 */
export function summarizeConfig(
  spec: SummarySource,
  info: { planId: number; listeners: string[]; loadedAt?: Date | string; file?: string },
): AdminConfigSummary {
  const pools = new Set<string>();
  const routes = spec.routes.map((r) => {
    const t = r.target;
    let target: string;
    if (!t) target = 'none';
    else if (t.kind === 'pool') {
      pools.add(t.pool.name);
      target = `pool ${t.pool.name}`;
    } else if (t.kind === 'redirect') target = `redirect ${t.status} ${t.location}`;
    else target = `respond ${t.status}`;
    return { match: r.match, ...(r.methods ? { methods: [...r.methods] } : {}), target };
  });
  return {
    planId: info.planId,
    ...(info.loadedAt !== undefined ? { loadedAt: info.loadedAt instanceof Date ? info.loadedAt.toISOString() : info.loadedAt } : {}),
    ...(info.file !== undefined ? { file: info.file } : {}),
    listeners: info.listeners,
    routes,
    pools: [...pools],
  };
}

type Method = 'GET' | 'POST' | 'DELETE';
interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}
/** A JSON endpoint; `raw` endpoints write the response themselves. */
type Handler =
  | { kind: 'json'; handle: (body: unknown) => Promise<Reply> }
  | { kind: 'raw'; handle: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void> | void };

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
} as const;

const PLACEHOLDER_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function placeholderPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>proxykit admin</title></head>
<body style="font: 14px system-ui, sans-serif; margin: 2rem">
<h1>proxykit admin</h1>
<p>The dashboard is not available in this build. The API is:</p>
<ul>
<li><a href="/config">GET /config</a> — the serving config</li>
<li><a href="/upstreams">GET /upstreams</a> — upstream health</li>
<li><a href="/metrics">GET /metrics</a> — Prometheus metrics</li>
<li><a href="/certs">GET /certs</a> — certificates</li>
<li><a href="/events">GET /events</a> — live stats (Server-Sent Events)</li>
<li>POST /reload, POST /upstreams/drain, POST /cache/purge</li>
</ul>
</body></html>
`;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** The request body as parsed JSON (undefined when empty); 413 above the limit, 400 on bad JSON. */
async function readJsonBody(req: http.IncomingMessage): Promise<unknown> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > ADMIN_MAX_BODY) {
    throw new HttpError(413, `request body is larger than ${ADMIN_MAX_BODY} bytes`, { connection: 'close' });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > ADMIN_MAX_BODY) throw new HttpError(413, `request body is larger than ${ADMIN_MAX_BODY} bytes`, { connection: 'close' });
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, 'request body is not valid JSON');
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function createAdminServer(opts: AdminServerOptions): AdminServer {
  const { context, logger } = opts;
  const listen = parseAdminListen(opts.listen);
  const checkToken = opts.token !== undefined && opts.token !== '' ? tokenChecker(opts.token) : null;
  const snapshotMs = opts.snapshotIntervalMs ?? SNAPSHOT_INTERVAL_MS;
  const heartbeatMs = opts.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS;

  const routes = new Map<string, Map<Method, Handler>>();
  const set = (method: Method, path: string, h: Handler) => {
    let byMethod = routes.get(path);
    if (!byMethod) routes.set(path, (byMethod = new Map()));
    byMethod.set(method, h);
  };
  const json = (method: Method, path: string, handle: (body: unknown) => Promise<Reply>) => set(method, path, { kind: 'json', handle });

  // --- live stream (/events): one timer for all clients, running only while someone listens ----
  const streams = new Set<http.ServerResponse>();
  let snapshotTimer: NodeJS.Timeout | undefined;
  let heartbeatTimer: NodeJS.Timeout | undefined;

  const snapshotFrame = (): string | undefined => {
    try {
      return `event: snapshot\ndata: ${JSON.stringify(context.live())}\n\n`;
    } catch (err) {
      logger.error('admin: live snapshot failed', { error: (err as Error).message });
      return undefined;
    }
  };
  const broadcast = (frame: string) => {
    for (const res of streams) {
      // A client that is not reading gets no new frames until its buffer drains.
      if (!res.writableNeedDrain) res.write(frame);
    }
  };
  const stopTimersIfIdle = () => {
    if (streams.size > 0) return;
    clearInterval(snapshotTimer);
    clearInterval(heartbeatTimer);
    snapshotTimer = heartbeatTimer = undefined;
  };
  const events = (req: http.IncomingMessage, res: http.ServerResponse) => {
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    res.socket?.setNoDelay(true);
    streams.add(res);
    const cleanup = () => {
      streams.delete(res);
      stopTimersIfIdle();
    };
    res.on('close', cleanup);
    req.on('close', cleanup);
    res.write(`retry: 2000\n\n`);
    const first = snapshotFrame();
    if (first) res.write(first);
    snapshotTimer ??= setInterval(() => {
      const frame = snapshotFrame();
      if (frame) broadcast(frame);
    }, snapshotMs);
    heartbeatTimer ??= setInterval(() => broadcast(`: heartbeat ${Date.now()}\n\n`), heartbeatMs);
  };

  // --- built-in endpoints -----------------------------------------------------------------------
  set('GET', '/', {
    kind: 'raw',
    handle(_req, res) {
      let html: string;
      let csp = PLACEHOLDER_CSP;
      try {
        if (opts.dashboardHtml) {
          html = opts.dashboardHtml();
          csp = opts.dashboardCsp ? opts.dashboardCsp() : '';
        } else html = placeholderPage();
      } catch (err) {
        logger.error('admin: dashboard page failed', { error: (err as Error).message });
        html = placeholderPage();
        csp = PLACEHOLDER_CSP;
      }
      res.writeHead(200, {
        ...SECURITY_HEADERS,
        'content-type': 'text/html; charset=utf-8',
        'content-length': String(Buffer.byteLength(html)),
        ...(csp ? { 'content-security-policy': csp } : {}),
      });
      res.end(html);
    },
  });
  set('GET', '/events', { kind: 'raw', handle: events });
  set('GET', '/metrics', {
    kind: 'raw',
    async handle(_req, res) {
      const { contentType, body } = await context.metrics.exposition();
      res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': contentType, 'content-length': String(Buffer.byteLength(body)) });
      res.end(body);
    },
  });
  json('GET', '/config', async () => ({ status: 200, body: context.config() }));
  json('POST', '/reload', async () => {
    try {
      const { planId, ms } = await context.reload();
      logger.info(`admin: reloaded (plan ${planId}) in ${Math.round(ms)} ms`);
      return { status: 200, body: { ok: true, planId, ms: Math.round(ms) } };
    } catch (err) {
      if (err instanceof ConfigError) {
        logger.warn('admin: reload rejected; the previous config keeps serving', { problems: err.problems.length });
        return { status: 422, body: { ok: false, error: formatProblems(err.problems), problems: err.problems } };
      }
      logger.error('admin: reload failed; the previous config keeps serving', { error: (err as Error)?.message });
      return { status: 500, body: { ok: false, error: err instanceof Error ? err.message : String(err) } };
    }
  });
  json('GET', '/upstreams', async () => ({ status: 200, body: context.pools() }));
  json('POST', '/upstreams/drain', async (body) => {
    if (!isRecord(body) || typeof body.pool !== 'string' || typeof body.upstream !== 'string') {
      throw new HttpError(400, 'expected a JSON body {"pool": "<name>", "upstream": "<url>", "drain": true|false}');
    }
    if (body.drain !== undefined && typeof body.drain !== 'boolean') throw new HttpError(400, '"drain" must be true or false');
    const draining = body.drain ?? true;
    if (!context.drain(body.pool, body.upstream, draining)) {
      return { status: 404, body: { error: `no upstream ${JSON.stringify(body.upstream)} in pool ${JSON.stringify(body.pool)}` } };
    }
    logger.info(`admin: upstream ${body.upstream} in pool ${body.pool} ${draining ? 'draining' : 'back in rotation'}`);
    return { status: 200, body: { ok: true, pool: body.pool, upstream: body.upstream, draining } };
  });
  json('GET', '/certs', async () => ({ status: 200, body: [] }));
  json('POST', '/cache/purge', async () => ({ status: 501, body: { error: 'caching is not enabled' } }));

  // --- auth -----------------------------------------------------------------------------------
  let lastAuthWarn = 0;
  const warnAuth = (msg: string, peer: string | undefined) => {
    const now = Date.now();
    if (now - lastAuthWarn < 1000) return;
    lastAuthWarn = now;
    logger.warn(`admin: ${msg}`, { peer });
  };

  /** Throws an HttpError when the request may not proceed. */
  const authorize = (req: http.IncomingMessage, url: URL): void => {
    const peer = req.socket.remoteAddress;
    if (checkToken) {
      // The dashboard link `/?token=…` is checked by `tokenLogin` (a stale cookie must not block it).
      const login = (req.method === 'GET' || req.method === 'HEAD') && url.pathname === '/' && url.searchParams.has('token');
      const given = bearerToken(req.headers.authorization) ?? readCookie(req.headers.cookie, ADMIN_COOKIE);
      if (login) {
        // checked below
      } else if (given === undefined) {
        throw new HttpError(401, 'this admin API needs a token: send Authorization: Bearer <token>', { 'www-authenticate': 'Bearer realm="proxykit"' });
      } else if (!checkToken(given)) {
        warnAuth('rejected a request with a wrong token', peer);
        throw new HttpError(401, 'invalid token', { 'www-authenticate': 'Bearer realm="proxykit", error="invalid_token"' });
      }
    } else {
      if (!isLoopbackAddress(peer)) {
        warnAuth('rejected a non-loopback client (no token is configured)', peer);
        throw new HttpError(401, 'this admin API only answers loopback clients (no token is configured)', { 'www-authenticate': 'Bearer realm="proxykit"' });
      }
      // DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends Host: evil.example.
      const host = hostOf(req.headers.host);
      if (host === undefined || !(isLoopbackHost(host) || host === listen.host.toLowerCase())) {
        throw new HttpError(403, 'the Host header must name a loopback address');
      }
    }
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${req.headers.host ?? ''}`) {
      throw new HttpError(403, 'cross-origin requests are refused');
    }
  };

  /** `GET /?token=…`: check it, store it in an HttpOnly cookie, and redirect to the bare page. */
  const tokenLogin = (url: URL, res: http.ServerResponse): boolean => {
    if (!checkToken || url.pathname !== '/' || !url.searchParams.has('token')) return false;
    const given = url.searchParams.get('token') ?? '';
    if (!checkToken(given)) {
      throw new HttpError(401, 'invalid token', { 'www-authenticate': 'Bearer realm="proxykit", error="invalid_token"' });
    }
    res.writeHead(303, {
      ...SECURITY_HEADERS,
      location: '/',
      'set-cookie': `${ADMIN_COOKIE}=${encodeURIComponent(given)}; Path=/; HttpOnly; SameSite=Strict`,
      'content-length': '0',
    });
    res.end();
    return true;
  };

  // --- dispatch -------------------------------------------------------------------------------
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    // Origin-form only (`/path?query`); `//x` stays a path, never a host.
    const target = req.url ?? '/';
    const url = new URL(`http://admin.invalid${target.startsWith('/') ? target : `/${target}`}`);
    authorize(req, url);
    const method = req.method === 'HEAD' ? 'GET' : (req.method as Method);
    if ((req.method === 'GET' || req.method === 'HEAD') && tokenLogin(url, res)) return;
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
    const byMethod = routes.get(path);
    if (!byMethod) throw new HttpError(404, `no admin endpoint ${path}`);
    const h = byMethod.get(method);
    if (!h) {
      const allow = [...byMethod.keys()].flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m])).join(', ');
      throw new HttpError(405, `${req.method} is not allowed on ${path} (allowed: ${allow})`, { allow });
    }
    if (h.kind === 'raw') {
      await h.handle(req, res);
      return;
    }
    const body = method === 'GET' ? undefined : await readJsonBody(req);
    const reply = await h.handle(body);
    sendJson(res, reply.status, reply.body, reply.headers);
  };

  const server = http.createServer({ maxHeaderSize: 16 * 1024, headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) {
        logger.error('admin: request failed after the response started', { path: req.url, error: (err as Error)?.message });
        res.destroy();
        return;
      }
      if (err instanceof HttpError) {
        sendJson(res, err.status, { error: err.message }, err.headers);
        if (err.status === 413) req.resume();
        return;
      }
      logger.error('admin: request failed', { method: req.method, path: req.url, error: (err as Error)?.message, stack: (err as Error)?.stack });
      sendJson(res, 500, { error: 'internal error (see the proxykit log)' });
    });
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (socket.writable && err.code !== 'ECONNRESET') {
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    } else socket.destroy();
  });

  let boundUrl: string | undefined;
  let starting: Promise<string> | undefined;
  let closing: Promise<void> | undefined;

  return {
    get url() {
      return boundUrl ?? opts.listen;
    },
    register(route: AdminRoute) {
      if (!['GET', 'POST', 'DELETE'].includes(route.method) || !route.path.startsWith('/')) {
        throw new Error(`admin: cannot register ${route.method} ${route.path}: method must be GET, POST or DELETE and the path start with /`);
      }
      json(route.method, route.path.length > 1 ? route.path.replace(/\/+$/, '') : route.path, async (body) => route.handle(body));
    },
    start() {
      return (starting ??= (async () => {
        if (!listen.loopback && !checkToken) {
          throw new Error(
            `admin API: refusing to listen on ${opts.listen} without a token — anyone who can reach it could reload the config. ` +
              `Set admin.token (e.g. token: process.env.PROXYKIT_ADMIN_TOKEN) or listen on http://127.0.0.1:<port>`,
          );
        }
        await new Promise<void>((resolve, reject) => {
          const onError = (err: Error) => reject(err);
          server.once('error', onError);
          server.listen(listen.port, listen.host, () => {
            server.off('error', onError);
            resolve();
          });
        });
        server.on('error', (err) => logger.error('admin: listener error', { error: err.message }));
        const addr = server.address() as AddressInfo;
        const host = addr.family === 'IPv6' || addr.address.includes(':') ? `[${addr.address}]` : addr.address;
        boundUrl = `http://${host}:${addr.port}`;
        return boundUrl;
      })());
    },
    close() {
      return (closing ??= (async () => {
        for (const res of streams) res.end();
        streams.clear();
        stopTimersIfIdle();
        if (!server.listening) return;
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
          setImmediate(() => server.closeAllConnections());
        });
      })());
    },
  };
}

/** The host part of a Host header (`127.0.0.1:2019` → `127.0.0.1`, `[::1]:2019` → `::1`). */
function hostOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(header) ?? /^([^:[\]]+)(?::\d+)?$/.exec(header);
  return m?.[1]?.toLowerCase();
}

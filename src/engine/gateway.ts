/**
 * The request path: from a parsed request head to a routed action. One Gateway serves every
 * listener; it reads the current Plan once per request, so a reload never changes the rules under
 * a request that has already started.
 *
 * Phases, in order (docs/engine.md draws them with the status each one can yield):
 *   inspect head (framing/Host checks, 400) → parse target (400) → route (404/405)
 *   → body limit (413) → action: respond | redirect | proxy (Exchange: 502/504)
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../observe/logger.js';
import { ERRORS, ProxyError, sendError, type ProxyErrorKind } from './errors.js';
import { appendEdits, forwardedNode, namedByConnection } from './headers.js';
import { pathMatches } from './match.js';
import type { CompiledRoute, Plan } from './plan.js';
import type { Upstream } from '../balance/upstream.js';
import type { Telemetry } from '../observe/contracts.js';
import type { TlsService } from '../tls/contracts.js';
import { parseTarget, type ParsedTarget } from './target.js';
import { Exchange, type ExchangeTap, type RequestBody } from './exchange.js';
import type { ClientResponse } from './client-response.js';
import type { HttpCache } from '../cache/http-cache.js';
import { handleCached } from '../cache/stage.js';

/** What the head pre-pass learned from rawHeaders (no `req.headers` object is ever built). */
export interface HeadFacts {
  host: string | undefined;
  hostCount: number;
  transferEncoding: boolean;
  contentLength: string | undefined;
  connection: string | undefined;
  accept: string | undefined;
  te: string | undefined;
  xff: string | undefined;
  xfProto: string | undefined;
  xfHost: string | undefined;
  forwarded: string | undefined;
  via: string | undefined;
  requestId: string | undefined;
  traceparent: string | undefined;
  /** performance.now() when the head was handed to us. */
  started: number;
  /** Arrived over TLS. */
  secure: boolean;
  /** The peer's address, read once (on HTTP/2 `req.socket` is a Proxy: each read costs). */
  clientIp: string;
  /** What the cache did, for the access log (`hit`, `uri-miss`, `stale`, `bypass`…); undefined off caching routes. */
  cache: string | undefined;
  /** The request has a precondition or a Range (If-*, Range): a cache hit must look at them. */
  conditional: boolean;
}

export class Gateway {
  plan: Plan;
  readonly logger: Logger;
  draining = false;
  /** Requests being served right now (for graceful drain). */
  inflight = 0;
  private drainWaiters: Array<() => void> = [];

  readonly telemetry: Telemetry;
  /** Certificates and ACME challenges; null when no config has asked for TLS yet. */
  tls: TlsService | null = null;
  /** The bound port of the first https listener (differs from the config when it asked for 0). */
  httpsPort: number | null = null;
  /** The HTTP cache; null when no route caches. */
  cache: HttpCache | null = null;

  constructor(plan: Plan, logger: Logger, telemetry: Telemetry) {
    this.plan = plan;
    this.logger = logger;
    this.telemetry = telemetry;
  }

  /** node:http 'request' (and 'checkContinue', with expectContinue = true). */
  handle(req: IncomingMessage, res: ServerResponse, expectContinue: boolean, secure = false): void {
    const plan = this.plan;
    if (this.draining) res.shouldKeepAlive = false;

    const facts = inspectHead(req.rawHeaders);
    facts.secure = secure;
    facts.clientIp = clientAddress(req.socket);
    // One id per request, the client's when it is sane: sent upstream, returned, and logged.
    if (facts.requestId === undefined || !SANE_REQUEST_ID.test(facts.requestId)) facts.requestId = randomUUID();
    const bad = checkHead(req, facts);
    if (bad !== null) {
      this.reject(req, res, plan, bad, facts);
      return;
    }
    const tls = this.tls;
    if (tls !== null && !secure) {
      const url = req.url ?? '';
      // ACME HTTP-01 (RFC 8555 §8.3): answered on plain HTTP before routing or redirecting.
      if (url.startsWith(ACME_CHALLENGE_PREFIX)) {
        const keyAuth = tls.httpChallenge(url.slice(ACME_CHALLENGE_PREFIX.length));
        if (keyAuth !== null) {
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': Buffer.byteLength(keyAuth) });
          res.end(keyAuth);
          this.finish(req, res, plan, null, facts, undefined, facts.started, null, Buffer.byteLength(keyAuth));
          return;
        }
      }
      // Hosts with a managed certificate are served over HTTPS only: redirect plain HTTP there.
      if (plan.httpsRedirect !== null && facts.host !== undefined) {
        const host = hostOnly(facts.host);
        if (tls.manages(host)) {
          const target = this.httpsPort ?? plan.httpsRedirect;
          const port = target === 443 ? '' : `:${target}`;
          const location = `https://${host}${port}${url.startsWith('/') ? url : '/'}`;
          res.writeHead(308, { location, 'content-length': 0, 'x-request-id': facts.requestId });
          res.end();
          this.finish(req, res, plan, null, facts, undefined, facts.started);
          return;
        }
      }
    }

    if (req.method === 'OPTIONS' && req.url === '*') {
      // Asterisk-form asks about the server itself (RFC 9110 §9.3.7); answer it here.
      res.writeHead(204, { allow: 'GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS', 'content-length': 0, 'x-request-id': facts.requestId });
      res.end();
      this.finish(req, res, plan, null, facts, undefined, facts.started);
      return;
    }

    const target = parseTarget(req.url ?? '');
    if (target === null) {
      this.reject(req, res, plan, ERRORS.BAD_REQUEST, facts);
      return;
    }
    // RFC 9112 §3.2.2: with an absolute-form target, its authority replaces Host.
    const authority = target.authority ?? facts.host ?? '';
    const colon = hostPortSplit(authority);
    const hostName = (colon === -1 ? authority : authority.slice(0, colon)).toLowerCase();
    const port = colon === -1 ? '' : authority.slice(colon + 1);
    const method = req.method ?? 'GET';

    const route = plan.router.match(hostName, port, method, target.path);
    if (route === null) {
      const allowed = plan.router.allowedMethods(hostName, port, target.path);
      if (allowed !== null) {
        this.reject(req, res, plan, ERRORS.METHOD_NOT_ALLOWED, facts, { allow: allowed.join(', ') });
      } else {
        this.reject(req, res, plan, ERRORS.NO_ROUTE, facts);
      }
      return;
    }

    // Body limit on a declared length is checked before anything is read or forwarded.
    if (facts.contentLength !== undefined && Number(facts.contentLength) > route.bodyLimit) {
      this.reject(req, res, plan, ERRORS.BODY_TOO_LARGE, facts, undefined, route);
      return;
    }

    const action = route.action;
    if (action.kind === 'respond') {
      res.writeHead(action.status, {
        ...action.headers,
        'content-length': action.body.length,
        'x-request-id': facts.requestId,
        ...(secure && plan.hsts !== null ? { 'strict-transport-security': plan.hsts } : {}),
      });
      res.end(method === 'HEAD' ? undefined : action.body);
      this.finish(req, res, plan, route, facts, undefined, facts.started, null, method === 'HEAD' ? 0 : action.body.length);
      return;
    }
    if (action.kind === 'redirect') {
      const location = action.keepPath ? action.location.replace(/\/+$/, '') + target.path + target.query : action.location;
      res.writeHead(action.status, { location, 'content-length': 0, 'x-request-id': facts.requestId });
      res.end();
      this.finish(req, res, plan, route, facts, undefined, facts.started);
      return;
    }

    if (route.cache !== null && this.cache !== null) {
      handleCached({ gateway: this, cache: this.cache, req, res, plan, route, facts, method, target, host: hostName, port, authority, expectContinue });
      return;
    }
    this.forward(req, res, plan, route, facts, target, method, authority, expectContinue, null, null);
  }

  /**
   * Proxies the request upstream. `tap` watches (and may take over) the response; `adjust` edits the
   * header list sent upstream (the cache swaps the client's validators for its own).
   */
  forward(
    req: IncomingMessage,
    res: ClientResponse,
    plan: Plan,
    route: CompiledRoute,
    facts: HeadFacts,
    target: ParsedTarget,
    method: string,
    authority: string,
    expectContinue: boolean,
    tap: ExchangeTap | null,
    adjust: ((headers: string[]) => string[]) | null,
  ): void {
    const action = route.action;
    if (action.kind !== 'proxy') return;
    // The upstream target: untouched bytes unless the path was normalised or the route rewrites it.
    let path: string;
    if (route.stripPrefix === null && route.rewrite === null && target.authority === null && target.path.length + target.query.length === (req.url as string).length) {
      path = req.url as string;
    } else {
      path = upstreamPath(route, target.path) + target.query;
    }

    let headers = buildUpstreamHeaders(req, route, plan, facts, authority);
    if (adjust !== null) headers = adjust(headers);
    // With hostHeader('upstream') the Host depends on the upstream chosen (per attempt).
    const hostIndex = route.hostHeader === 'upstream' ? valueIndex(headers, 'host') : -1;
    if (expectContinue) res.writeContinue?.();

    let body: RequestBody = null;
    const counter = { bytes: 0 };
    if (facts.transferEncoding) {
      body = countBody(req, route.bodyLimit, counter);
    } else if (facts.contentLength !== undefined && facts.contentLength !== '0') {
      body = req;
    } else if (req.httpVersionMajor === 2 && !(req as unknown as { stream: { endAfterHeaders: boolean } }).stream.endAfterHeaders) {
      // HTTP/2 frames bodies itself: a request without END_STREAM on its headers has one.
      body = countBody(req, route.bodyLimit, counter);
    }

    const exchange = new Exchange(this, req, res, plan, route, action.pool, facts, target.path, method, path, headers, hostIndex, body, counter, tap);
    if (facts.transferEncoding) {
      // node parses the rest of the packet right after this handler returns. Waiting one turn
      // lets a framing error in the same packet surface (the parser's clientError destroys req)
      // before a single byte of this request goes upstream.
      setImmediate(() => {
        if (!req.destroyed) exchange.start();
      });
    } else {
      exchange.start();
    }
  }

  reject(
    req: IncomingMessage,
    res: ClientResponse,
    plan: Plan,
    kind: ProxyErrorKind,
    facts: HeadFacts,
    extra?: Record<string, string>,
    route: CompiledRoute | null = null,
  ): void {
    // A request refused before its body was read leaves unread bytes on the connection; closing is
    // the only safe way not to read them as a next request.
    // (HTTP/2 frames every message itself: only the stream ends, never the shared connection.)
    const mustClose =
      req.httpVersionMajor === 1 &&
      (kind.status === 400 || kind.status === 413 || facts.transferEncoding || (facts.contentLength !== undefined && facts.contentLength !== '0'));
    const bytes = sendError(res, kind, facts.accept, { ...extra, 'x-request-id': facts.requestId as string }, mustClose);
    if (mustClose) {
      const socket = req.socket; // node detaches it from req once the response is finished
      res.once('finish', () => socket?.destroySoon());
    }
    this.finish(req, res, plan, route, facts, kind.code, facts.started, null, bytes);
  }

  /**
   * Every request ends here, once: metrics, live stats and the access log. Handles for the route
   * and upstream were resolved at compile time; nothing here builds a label set.
   */
  finish(
    req: IncomingMessage,
    res: ClientResponse,
    plan: Plan,
    route: CompiledRoute | null,
    facts: HeadFacts,
    error: string | undefined,
    started: number,
    upstream: Upstream | null = null,
    bytesOut = 0,
    bytesIn = 0,
    attempts = 0,
  ): void {
    // 499: the client left first (nginx's convention); the status we had set was never delivered.
    const status = error === ERRORS.CLIENT_CLOSED.code ? 499 : res.statusCode;
    const ms = performance.now() - started;
    const out = bytesOut >= 0 ? bytesOut : 0;
    const t = this.telemetry;
    if (t.metrics !== null) {
      if (route !== null) route.metrics.done(status, ms / 1000, bytesIn, out, upstream?.metrics ?? null);
      else t.metrics.unrouted(status, ms / 1000);
    }
    if (t.live !== null) t.live.record(status, ms);
    if (!plan.accessLog || !this.logger.accessEnabled) return;
    this.logger.access({
      time: Date.now() - Math.round(ms),
      method: req.method ?? '',
      host: facts.host ?? '',
      path: req.url ?? '',
      status,
      bytes: out,
      bytesIn,
      durationMs: Math.round(ms * 1000) / 1000,
      clientIp: facts.clientIp,
      requestId: facts.requestId,
      route: route?.label,
      upstream: upstream?.label,
      attempts: attempts > 0 ? attempts : undefined,
      cache: facts.cache,
      error,
    });
  }

  /** An Exchange started (answers made here end synchronously and need no tracking). */
  begin(): void {
    this.inflight++;
  }

  /** An Exchange's client response closed. */
  done(): void {
    this.inflight--;
    if (this.inflight === 0 && this.drainWaiters.length > 0) {
      const w = this.drainWaiters;
      this.drainWaiters = [];
      for (const f of w) f();
    }
  }

  /** Resolves when no request is in flight. */
  idle(): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }
}

const ACME_CHALLENGE_PREFIX = '/.well-known/acme-challenge/';

/** `example.com:8080` → `example.com`; `[::1]:80` → `[::1]`. */
function hostOnly(authority: string): string {
  const c = hostPortSplit(authority);
  return (c === -1 ? authority : authority.slice(0, c)).toLowerCase();
}

const SANE_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** One pass over rawHeaders picking out what routing and forwarding need. */
export function inspectHead(raw: string[]): HeadFacts {
  const f: HeadFacts = {
    host: undefined,
    hostCount: 0,
    transferEncoding: false,
    contentLength: undefined,
    connection: undefined,
    accept: undefined,
    te: undefined,
    xff: undefined,
    xfProto: undefined,
    xfHost: undefined,
    forwarded: undefined,
    via: undefined,
    requestId: undefined,
    traceparent: undefined,
    started: performance.now(),
    secure: false,
    clientIp: '',
    cache: undefined,
    conditional: false,
  };
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    switch (name.length) {
      case 2:
        if (name === 'TE' || name.toLowerCase() === 'te') f.te = raw[i + 1];
        break;
      case 3:
        if (name.toLowerCase() === 'via') f.via = f.via === undefined ? raw[i + 1] : `${f.via}, ${raw[i + 1]}`;
        break;
      case 4:
        if (name === 'Host' || name.toLowerCase() === 'host') {
          f.hostCount++;
          if (f.host === undefined) f.host = raw[i + 1];
        }
        break;
      case 5:
        if (name.toLowerCase() === 'range') f.conditional = true;
        break;
      case 6:
        if (name === 'Accept' || name.toLowerCase() === 'accept') f.accept = raw[i + 1];
        break;
      case 8: {
        const lower = name.toLowerCase();
        if (lower === 'if-match' || lower === 'if-range') f.conditional = true;
        break;
      }
      case 9:
        if (name.toLowerCase() === 'forwarded') f.forwarded = f.forwarded === undefined ? raw[i + 1] : `${f.forwarded}, ${raw[i + 1]}`;
        break;
      case 10:
        if (name === 'Connection' || name.toLowerCase() === 'connection') f.connection = f.connection === undefined ? raw[i + 1] : `${f.connection}, ${raw[i + 1]}`;
        // HTTP/2's authority (RFC 9113 §8.3.1) stands in for Host.
        else if (name === ':authority') f.host = raw[i + 1];
        break;
      case 11:
        if (name.toLowerCase() === 'traceparent') f.traceparent = raw[i + 1];
        break;
      case 12:
        if (name === 'X-Request-Id' || name.toLowerCase() === 'x-request-id') f.requestId = raw[i + 1];
        break;
      case 13:
        if (name.toLowerCase() === 'if-none-match') f.conditional = true;
        break;
      case 14:
        if (name === 'Content-Length' || name.toLowerCase() === 'content-length') f.contentLength = raw[i + 1];
        break;
      case 15:
        if (name.toLowerCase() === 'x-forwarded-for') f.xff = f.xff === undefined ? raw[i + 1] : `${f.xff}, ${raw[i + 1]}`;
        break;
      case 16:
        if (name.toLowerCase() === 'x-forwarded-host') f.xfHost ??= raw[i + 1];
        break;
      case 17: {
        const lower = name.toLowerCase();
        if (lower === 'transfer-encoding') f.transferEncoding = true;
        else if (lower === 'x-forwarded-proto') f.xfProto ??= raw[i + 1];
        else if (lower === 'if-modified-since') f.conditional = true;
        break;
      }
      case 19:
        if (name.toLowerCase() === 'if-unmodified-since') f.conditional = true;
        break;
    }
  }
  return f;
}

/** What node's parser lets through but a proxy must refuse (RFC 9112 §3.2, §6.1). */
function checkHead(req: IncomingMessage, f: HeadFacts): ProxyErrorKind | null {
  if (req.httpVersionMajor === 2) return f.host === undefined || validHost(f.host) ? null : ERRORS.BAD_REQUEST;
  if (req.httpVersionMajor !== 1) return ERRORS.BAD_REQUEST; // HTTP/0.9-style request lines
  if (f.hostCount > 1) return ERRORS.BAD_REQUEST;
  if (f.hostCount === 0 && req.httpVersionMinor === 1) return ERRORS.BAD_REQUEST;
  if (f.transferEncoding && req.httpVersionMinor === 0) return ERRORS.BAD_REQUEST;
  if (f.host !== undefined && !validHost(f.host)) return ERRORS.BAD_REQUEST;
  return null;
}

/** reg-name / IPv4 / [IPv6] with an optional port; no userinfo, no path, no spaces. */
function validHost(h: string): boolean {
  if (h.length === 0 || h.length > 255) return h.length === 0; // empty Host is allowed by RFC 9112 for some targets
  for (let i = 0; i < h.length; i++) {
    const c = h.charCodeAt(i);
    const ok =
      (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) ||
      c === 46 || c === 45 || c === 58 || c === 91 || c === 93 || c === 95;
    if (!ok) return false;
  }
  return true;
}

/** Index of the ':' before a port, or -1 (IPv6 literals keep their inner colons). */
function hostPortSplit(authority: string): number {
  const c = authority.lastIndexOf(':');
  if (c === -1) return -1;
  const bracket = authority.lastIndexOf(']');
  return bracket > c ? -1 : c;
}

export function clientAddress(socket: Socket): string {
  const a = socket.remoteAddress ?? '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

export function upstreamPath(route: CompiledRoute, path: string): string {
  let p = path;
  const prefix = route.stripPrefix;
  if (prefix !== null && p.startsWith(prefix) && (p.length === prefix.length || p.charCodeAt(prefix.length) === 47)) {
    p = p.slice(prefix.length);
    if (p.length === 0) p = '/';
  }
  const rw = route.rewrite;
  if (rw !== null) {
    let to = rw.to;
    if (rw.usesParams) {
      const params = pathMatches(route.match.path, path);
      if (params !== null) to = to.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, (all, name: string) => params[name] ?? all);
    }
    p = p.replace(rw.from, to);
    if (p.charCodeAt(0) !== 47) p = '/' + p;
  }
  return p;
}

/**
 * The header list sent upstream: the client's headers minus hop-by-hop, forwarding and removed
 * ones, then Host, X-Forwarded-*, Forwarded, Via and the route's set/add entries.
 */
function buildUpstreamHeaders(
  req: IncomingMessage,
  route: CompiledRoute,
  plan: Plan,
  f: HeadFacts,
  clientAuthority: string,
): string[] {
  const raw = req.rawHeaders;
  const drop = route.requestDrop;
  const out: string[] = [];
  const named = f.connection === undefined ? null : namedByConnection(f.connection);
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name.charCodeAt(0) === 58 /* ':' HTTP/2 pseudo-header */ || drop.match(name) !== null) continue;
    if (named !== null && named.includes(name.toLowerCase())) continue;
    out.push(name, raw[i + 1]);
  }

  const hh = route.hostHeader;
  // For 'upstream' the value is filled in per attempt, once the upstream is chosen.
  out.push('host', hh === 'preserve' ? clientAuthority : hh === 'upstream' ? '' : hh.literal);

  const ip = f.clientIp;
  const proto = f.secure ? 'https' : 'http';
  const trusted = plan.trust !== null && plan.trust.check(ip, ip.includes(':') ? 'ipv6' : 'ipv4');
  out.push('x-forwarded-for', trusted && f.xff !== undefined ? `${f.xff}, ${ip}` : ip);
  out.push('x-forwarded-proto', trusted && f.xfProto !== undefined ? f.xfProto : proto);
  if (clientAuthority.length > 0 || (trusted && f.xfHost !== undefined)) {
    out.push('x-forwarded-host', trusted && f.xfHost !== undefined ? f.xfHost : clientAuthority);
  }
  const element = clientAuthority.length > 0
    ? `for=${forwardedNode(ip)};host="${clientAuthority}";proto=${proto}`
    : `for=${forwardedNode(ip)};proto=${proto}`;
  out.push('forwarded', trusted && f.forwarded !== undefined ? `${f.forwarded}, ${element}` : element);
  if (plan.via !== null) out.push('via', f.via !== undefined ? `${f.via}, ${plan.via}` : plan.via);
  out.push('x-request-id', f.requestId as string);
  if (plan.startTraces && f.traceparent === undefined) out.push('traceparent', newTraceparent());
  if (!route.requestHeaders.empty) appendEdits(out, route.requestHeaders);
  return out;
}

/** W3C trace context: version 00, random trace and parent ids, sampled. */
function newTraceparent(): string {
  const id = randomUUID().replaceAll('-', '');
  const span = randomUUID().replaceAll('-', '').slice(0, 16);
  return `00-${id}-${span}-01`;
}

/** Index of the value of `name` (exact, as the proxy wrote it) in a flat header array, or -1. */
function valueIndex(headers: string[], name: string): number {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return i + 1;
  return -1;
}

/**
 * A chunked body passed through with a running count (for the access log); over the route's limit
 * it fails with 413. undici re-frames what it yields, so the client's chunk bytes never go upstream.
 */
async function* countBody(req: IncomingMessage, limit: number, counter: { bytes: number }): AsyncGenerator<Buffer> {
  for await (const chunk of req) {
    counter.bytes += (chunk as Buffer).length;
    if (counter.bytes > limit) throw new ProxyError(ERRORS.BODY_TOO_LARGE);
    yield chunk as Buffer;
  }
}

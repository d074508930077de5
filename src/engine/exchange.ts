/**
 * One proxied request/response. The Exchange is itself the undici dispatch handler (undici's
 * native callback set: onConnect, onHeaders, onData, onComplete, onError) and the balancer's
 * PickContext, so a proxied request allocates one object here rather than a chain of streams,
 * promises and wrappers.
 *
 * Backpressure both ways: the request body is a stream undici reads at the upstream socket's pace;
 * the response body is written to the client and, when the client's buffer is full (`write`
 * returns false), undici is paused until 'drain'.
 *
 * Retries (only before any response byte reached the client, each to an upstream not yet tried,
 * each paid from the pool's retry budget):
 *   - connect failures (refused, unreachable, connect timeout): always, if the body was not read;
 *   - a reset before the response head, or a status in `retry.statuses`: only when the request is
 *     safe to repeat (idempotent method, no body read).
 * Response-head timeouts are not retried: the upstream may still be working on the request, and
 * retrying slow requests is how a slowdown becomes an outage.
 */
import type { IncomingMessage } from 'node:http';
import type { Dispatcher } from 'undici';
import type { PickContext } from '../balance/balancer.js';
import type { UpstreamPool } from '../balance/pool.js';
import type { Upstream } from '../balance/upstream.js';
import { classifyUpstreamError, ERRORS, sendError, type ProxyErrorKind } from './errors.js';
import type { Gateway, HeadFacts } from './gateway.js';
import { namedByConnection } from './headers.js';
import type { CompiledRoute, Plan } from './plan.js';
import { clientGone, type ClientResponse } from './client-response.js';
import { MAX_INTERIM, relayInformational } from './informational.js';

type AbortFn = (reason?: Error) => void;
export type RequestBody = IncomingMessage | AsyncIterable<Buffer> | null;

/**
 * Where the response goes besides the client: the cache watches (and may take over) a proxied
 * response through this. Without a tap the Exchange is a plain proxy.
 */
export interface ExchangeTap {
  /**
   * The upstream's final response head, hop-by-hop and hidden fields already removed (the list
   * may be edited in place, e.g. to drop surrogate keys). 'client': relay it as usual;
   * 'detached': the tap has answered the client itself, so the body goes only to the tap.
   */
  onHeaders(status: number, headers: string[]): 'client' | 'detached';
  /** Appends the tap's own client headers (e.g. Cache-Status) to a relayed response head. */
  decorate(headers: string[]): void;
  onData(chunk: Buffer): void;
  onComplete(): void;
  /**
   * The exchange failed for good (no upstream, or an upstream error after retries). True when the
   * tap answered the client instead (e.g. a stale response under stale-if-error).
   */
  onError(clientHeadersSent: boolean): boolean;
  /**
   * The client left before the upstream response ended. True: keep the upstream request going for
   * the tap alone (the cache finishing a fill others wait on); false: abort it.
   */
  onClientGone(): boolean;
}

class ClientClosedError extends Error {
  readonly code = ERRORS.CLIENT_CLOSED.code;
}

/** Aborts an attempt whose status is to be retried; never reaches a client. */
class RetryStatusSignal extends Error {
  readonly code = 'PK_RETRY_STATUS';
}

/** RFC 9110 §9.2.2: methods whose repetition has the same effect as one request. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

export class Exchange implements PickContext {
  // PickContext
  readonly clientIp: string;
  readonly path: string;
  now: number;

  private readonly gateway: Gateway;
  private readonly req: IncomingMessage;
  private readonly res: ClientResponse;
  private readonly plan: Plan;
  private readonly route: CompiledRoute;
  private readonly pool: UpstreamPool;
  private readonly facts: HeadFacts;
  private readonly method: string;
  private readonly upstreamPath: string;
  private readonly headers: string[];
  private readonly hostIndex: number;
  private readonly body: RequestBody;
  private readonly bodyCounter: { bytes: number };
  private readonly tap: ExchangeTap | null;
  /** The tap answered the client itself: response bytes go to the tap only. */
  private detached = false;
  /** Interim (1xx) responses relayed so far. */
  private interim = 0;
  /** The client side closed (the bookkeeping in onClientClose ran). */
  private closeSeen = false;

  private upstream: Upstream | null = null;
  private tried: Upstream[] | null = null;
  private retries = 0;
  private attemptStart = 0;
  private abortUpstream: AbortFn | null = null;
  private resumeUpstream: (() => void) | null = null;
  private drainHooked = false;
  private settled = true;
  private clientGone = false;
  private retryStatus = false;
  private setCookie: string | null = null;
  private bytes = 0;
  private errorCode: string | undefined = undefined;
  /** Why the previous attempt failed, for the answer when no upstream is left to retry on. */
  private lastFailure: ProxyErrorKind | null = null;

  constructor(
    gateway: Gateway,
    req: IncomingMessage,
    res: ClientResponse,
    plan: Plan,
    route: CompiledRoute,
    pool: UpstreamPool,
    facts: HeadFacts,
    matchedPath: string,
    method: string,
    upstreamPath: string,
    headers: string[],
    hostIndex: number,
    body: RequestBody,
    bodyCounter: { bytes: number },
    tap: ExchangeTap | null = null,
  ) {
    this.bodyCounter = bodyCounter;
    this.tap = tap;
    this.gateway = gateway;
    this.req = req;
    this.res = res;
    this.plan = plan;
    this.route = route;
    this.pool = pool;
    this.facts = facts;
    this.clientIp = facts.clientIp;
    this.path = matchedPath;
    this.method = method;
    this.upstreamPath = upstreamPath;
    this.headers = headers;
    this.hostIndex = hostIndex;
    this.body = body;
    this.now = Date.now();
  }

  /** PickContext: a request header by lower-case name (duplicates joined), scanning rawHeaders. */
  header(name: string): string | undefined {
    const raw = this.req.rawHeaders;
    let value: string | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      if (raw[i].length === name.length && raw[i].toLowerCase() === name) {
        value = value === undefined ? raw[i + 1] : `${value}${name === 'cookie' ? '; ' : ', '}${raw[i + 1]}`;
      }
    }
    return value;
  }

  start(): void {
    if (clientGone(this.res)) {
      // The client left before we started (e.g. while waiting on the cache): nothing to send,
      // and no 'close' will come to end the bookkeeping. The tap hears of it (a fill others wait
      // on settles at once instead of at their lock timeout).
      this.tap?.onError(true);
      this.gateway.finish(this.req, this.res, this.plan, this.route, this.facts, ERRORS.CLIENT_CLOSED.code, this.facts.started);
      return;
    }
    this.gateway.begin();
    this.res.once('close', this.onClientClose);
    // HTTP/2's compat response does not emit 'close' for a HEAD request whose stream closed
    // before the response ended (node ties it to end()); the stream's own 'close' always comes.
    this.res.stream?.once('close', this.onClientClose);
    const pool = this.pool;
    if (pool.retry !== null) pool.retry.budget.onRequest(this.now);
    let stickyId: string | null = null;
    if (pool.sticky !== null) stickyId = pool.sticky.read(this.header('cookie'));
    this.attempt(stickyId);
  }

  private attempt(stickyId: string | null): void {
    const pool = this.pool;
    const choice = pool.select(this, this.tried, stickyId);
    if (choice === 'full') {
      this.gateway.telemetry.metrics?.rejected(pool.name, 'circuit');
      if (this.tap !== null && this.tap.onError(false)) return;
      this.fail(ERRORS.UPSTREAM_BUSY, { 'retry-after': '1' });
      return;
    }
    if (choice === 'none') {
      if (this.upstream === null) this.gateway.telemetry.metrics?.rejected(pool.name, 'no_upstream');
      if (this.tap !== null && this.tap.onError(false)) return;
      this.fail(this.lastFailure ?? ERRORS.NO_UPSTREAM);
      return;
    }
    const u = choice;
    this.upstream = u;
    if (this.hostIndex !== -1) this.headers[this.hostIndex] = u.authority;
    if (pool.sticky !== null) this.setCookie = u.id === stickyId ? null : pool.sticky.setCookieValue(u.id);
    u.state.inflight++;
    this.settled = false;
    this.abortUpstream = null;
    this.attemptStart = performance.now();
    u.dispatcher.dispatch(
      {
        path: this.upstreamPath,
        method: this.method,
        headers: this.headers,
        // undici streams async iterables too (its types only list Readable).
        body: this.body as Dispatcher.DispatchOptions['body'],
        headersTimeout: pool.timeouts.responseMs,
        bodyTimeout: pool.timeouts.idleMs,
        idempotent: this.body === null,
      },
      this as unknown as Dispatcher.DispatchHandler,
    );
  }

  // ---- undici handler -------------------------------------------------------------------------

  onConnect(abort: AbortFn): void {
    if (this.clientGone) {
      abort(new ClientClosedError('client closed the connection'));
      return;
    }
    this.abortUpstream = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, _statusText: string): boolean {
    if (statusCode < 200) {
      // Interim responses (103 Early Hints, 102 Processing) go to the client as they come.
      if (!this.clientGone && !this.detached && this.interim++ < MAX_INTERIM) {
        relayInformational(this.res, this.req.httpVersionMinor, this.req.httpVersionMajor, statusCode, rawHeaders, this.route.responseDrop);
      }
      return true;
    }
    const u = this.upstream as Upstream;
    const pool = this.pool;
    const elapsed = performance.now() - this.attemptStart;
    u.state.observeLatency(elapsed, this.now + elapsed);
    u.metrics.attempt(statusCode, elapsed / 1000);
    if (pool.passive.isFailureStatus(statusCode)) pool.passive.onFailure(u, Date.now(), `status ${statusCode}`, pool.upstreams);
    else pool.passive.onSuccess(u, this.now);
    if (pool.retry !== null && pool.retry.statuses.has(statusCode) && this.mayRetry(true)) {
      this.retryStatus = true;
      this.abortUpstream?.(new RetryStatusSignal(`status ${statusCode}`));
      return false;
    }

    this.resumeUpstream = resume;
    const res = this.res;
    if (!this.detached && (this.clientGone || clientGone(res))) {
      // Nobody to relay to. Returning false alone would only pause undici: abort the request.
      this.clientGone = true;
      this.errorCode ??= ERRORS.CLIENT_CLOSED.code;
      this.abortUpstream?.(new ClientClosedError('client closed the connection'));
      return false;
    }
    const tap = this.tap;
    // Draining for shutdown: finish this response, then close the connection.
    if (this.gateway.draining) res.shouldKeepAlive = false;
    const drop = this.route.responseDrop;
    const trailersOk = this.facts.te !== undefined && this.facts.te.toLowerCase().includes('trailers');
    const out: string[] = [];
    let connection: string | null = null;
    let hasVia = -1;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i].toString('latin1');
      const lower = drop.match(name);
      if (lower !== null) {
        if (lower === 'connection') connection = rawHeaders[i + 1].toString('latin1');
        else if (lower === 'trailer' && trailersOk) out.push(name, rawHeaders[i + 1].toString('latin1'));
        continue;
      }
      if (hasVia === -1 && name.length === 3 && name.toLowerCase() === 'via') hasVia = out.length;
      out.push(name, rawHeaders[i + 1].toString('latin1'));
    }
    const named = connection === null ? null : namedByConnection(connection);
    const result = named === null ? out : removeNames(out, new Set(named));
    if (tap !== null) {
      if (tap.onHeaders(statusCode, result) === 'detached' || this.detached) {
        this.detached = true;
        return true;
      }
      // The tap may have removed fields: find Via again rather than trust the old index.
      if (hasVia !== -1) hasVia = indexOfName(result, 'via');
      tap.decorate(result);
    }
    const via = this.plan.via;
    if (via !== null) {
      if (hasVia !== -1 && result === out) out[hasVia + 1] = `${out[hasVia + 1]}, ${via}`;
      else result.push('via', via);
    }
    if (this.setCookie !== null) result.push('set-cookie', this.setCookie);
    result.push('x-request-id', this.facts.requestId as string);
    if (this.facts.secure && this.plan.hsts !== null) result.push('strict-transport-security', this.plan.hsts);
    if (!this.route.responseHeaders.empty) {
      const edits = this.route.responseHeaders;
      const kept = result.length === 0 || edits.remove.size === 0 ? result : removeNames(result, edits.remove);
      for (let i = 0; i < edits.set.length; i += 2) kept.push(edits.set[i], edits.set[i + 1]);
      for (let i = 0; i < edits.add.length; i += 2) kept.push(edits.add[i], edits.add[i + 1]);
      this.writeHead(statusCode, kept);
    } else {
      this.writeHead(statusCode, result);
    }
    if (this.method !== 'HEAD' && this.req.method === 'HEAD') {
      // A HEAD fetched upstream as a GET (the cache fills on it): the client has its head; the
      // body goes to the tap only. (HTTP/2 would not take it: the stream is already ended.)
      res.end();
      this.detached = true;
    }
    return true;
  }

  private writeHead(statusCode: number, headers: string[]): void {
    const res = this.res;
    // The upstream's Date stands; node would otherwise add a second one.
    res.sendDate = false;
    try {
      res.writeHead(statusCode, headers);
    } catch {
      // A header value node refuses (e.g. a control character) is an upstream protocol error.
      this.abortUpstream?.();
      res.sendDate = true;
      sendError(res, ERRORS.UPSTREAM_PROTOCOL, this.facts.accept);
      this.errorCode = ERRORS.UPSTREAM_PROTOCOL.code;
    }
  }

  onData(chunk: Buffer): boolean {
    if (this.tap !== null) this.tap.onData(chunk);
    if (this.detached) return true;
    this.bytes += chunk.length;
    const ok = this.res.write(chunk);
    if (!ok && !this.drainHooked) {
      this.drainHooked = true;
      this.res.on('drain', this.onClientDrain);
    }
    return ok;
  }

  onComplete(trailers: Buffer[] | null): void {
    this.settle();
    if (this.tap !== null) this.tap.onComplete();
    if (this.detached) return;
    const res = this.res;
    if (trailers !== null && trailers.length > 0 && this.facts.te?.toLowerCase().includes('trailers')) {
      const pairs: Array<[string, string]> = [];
      for (let i = 0; i < trailers.length; i += 2) pairs.push([trailers[i].toString('latin1'), trailers[i + 1].toString('latin1')]);
      try {
        res.addTrailers(pairs);
      } catch {
        // Invalid trailer fields are dropped rather than failing a complete response.
      }
    }
    res.end();
  }

  onError(err: Error): void {
    this.settle();
    if (this.clientGone) {
      this.tap?.onError(true);
      this.errorCode = ERRORS.CLIENT_CLOSED.code;
      return;
    }
    if (this.res.writableEnded && !this.detached) {
      this.tap?.onError(true);
      return; // already answered (e.g. 400 for a broken request body)
    }
    const u = this.upstream as Upstream;
    if (this.retryStatus) {
      // The attempt was aborted on purpose to retry its status elsewhere (budget already paid).
      this.retryStatus = false;
      this.retryElsewhere(u);
      return;
    }
    const kind = classifyUpstreamError(err);
    if (kind.source === 'upstream') {
      u.metrics.attempt(0, (performance.now() - this.attemptStart) / 1000);
      this.pool.passive.onFailure(u, Date.now(), describeError(err), this.pool.upstreams);
      this.gateway.logger.debug('upstream error', { upstream: u.label, code: (err as { code?: string }).code, message: err.message });
      const connectFailure = kind === ERRORS.UPSTREAM_CONNECT || (err as { code?: string }).code === 'UND_ERR_CONNECT_TIMEOUT';
      if (!this.res.headersSent && this.mayRetry(!connectFailure)) {
        this.lastFailure = kind;
        this.retryElsewhere(u);
        return;
      }
    }
    if (this.tap !== null && this.tap.onError(this.res.headersSent)) return;
    if (this.detached) return;
    this.errorCode = kind.code;
    if (this.res.headersSent) {
      // Part of the response is out: the only honest signal left is cutting the connection.
      this.res.destroy();
      return;
    }
    this.fail(kind);
  }

  onUpgrade(): void {
    // Upgrades are handled by the tunnel (upgrade.ts), never through an Exchange.
  }

  // ---- retries ---------------------------------------------------------------------------------

  /**
   * Whether another attempt is allowed (and, if so, paid for from the budget).
   * `needsSafeRepeat`: the upstream may have acted on the request, so only idempotent requests
   * whose body was never read may go again; connect failures pass false (nothing was sent).
   */
  private mayRetry(needsSafeRepeat: boolean): boolean {
    const retry = this.pool.retry;
    if (retry === null || this.retries >= retry.attempts || this.clientGone) return false;
    if (this.body !== null && this.req.readableDidRead) return false;
    if (needsSafeRepeat && (!IDEMPOTENT.has(this.method) || this.body !== null)) return false;
    if (this.pool.upstreams.length < 2 && this.tried === null) {
      // Nowhere else to go: with a single upstream a retry would hit the same server.
      return false;
    }
    if (!retry.budget.tryRetry(Date.now())) return false;
    return true;
  }

  private retryElsewhere(u: Upstream): void {
    this.gateway.telemetry.metrics?.retry(this.pool.name);
    (this.tried ??= []).push(u);
    this.retries++;
    this.now = Date.now();
    this.attempt(null);
  }

  // ---- client side --------------------------------------------------------------------------

  private fail(kind: ProxyErrorKind, extra?: Record<string, string>): void {
    this.errorCode = kind.code;
    const closeAfter =
      this.req.httpVersionMajor === 1 && (kind.status === 413 || this.facts.transferEncoding || this.facts.contentLength !== undefined);
    this.bytes = sendError(this.res, kind, this.facts.accept, { ...extra, 'x-request-id': this.facts.requestId as string }, closeAfter);
    if (closeAfter) {
      // Captured now: node detaches the socket from req/res once the response is finished.
      const socket = this.req.socket;
      this.res.once('finish', () => socket?.destroySoon());
    }
  }

  private readonly onClientDrain = (): void => {
    this.resumeUpstream?.();
  };

  private readonly onClientClose = (): void => {
    if (this.closeSeen) return; // HTTP/2: the response's and the stream's 'close' both come
    this.closeSeen = true;
    // An upstream response still streaming means the client left early, whatever writableFinished
    // says: HTTP/2's compat response reports true for a stream reset mid-body, and an upstream
    // request paused for backpressure would then wait forever, holding its connection. Only a tap
    // that answered the client itself (detached) may let the upstream finish on its own.
    if (!this.res.writableFinished || (!this.settled && !this.detached)) {
      this.errorCode ??= ERRORS.CLIENT_CLOSED.code;
      if (!this.settled && this.tap !== null && this.tap.onClientGone()) {
        // The tap finishes the upstream response on its own (nothing more goes to the client).
        // It may be paused for the client's backpressure: no 'drain' comes from a client that
        // left, so resume it here, or it would wait forever and the fill with it.
        this.detached = true;
        this.resumeUpstream?.();
      } else {
        // The client left before the response was complete: stop the upstream work too.
        this.clientGone = true;
        if (!this.settled) this.abortUpstream?.(new ClientClosedError('client closed the connection'));
      }
    }
    this.gateway.done();
    const attempts = this.upstream === null ? 0 : 1 + this.retries;
    this.gateway.finish(this.req, this.res, this.plan, this.route, this.facts, this.errorCode, this.facts.started, this.upstream, this.bytes, this.bytesIn(), attempts);
  };

  /** Body bytes read from the client: counted for chunked bodies, the declared length otherwise. */
  private bytesIn(): number {
    if (this.body === null) return 0;
    if (this.facts.transferEncoding) return this.bodyCounter.bytes;
    return this.req.complete ? Number(this.facts.contentLength ?? 0) : 0;
  }

  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    if (this.upstream !== null) this.upstream.state.inflight--;
  }
}

function describeError(err: Error): string {
  const code = (err as { code?: string }).code;
  return code !== undefined ? code : err.message;
}

function indexOfName(headers: string[], lower: string): number {
  for (let i = 0; i < headers.length; i += 2) if (headers[i].length === lower.length && headers[i].toLowerCase() === lower) return i;
  return -1;
}

function removeNames(headers: string[], names: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (names.has(headers[i].toLowerCase())) continue;
    out.push(headers[i], headers[i + 1]);
  }
  return out;
}

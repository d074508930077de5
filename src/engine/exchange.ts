/**
 * One proxied request/response. The Exchange is itself the undici dispatch handler (undici's
 * native callback set: onConnect, onHeaders, onData, onComplete, onError), so a proxied request
 * allocates one object here rather than a chain of streams, promises and wrappers.
 *
 * Backpressure both ways: the request body is a stream undici reads at the upstream socket's pace;
 * the response body is written to the client and, when the client's buffer is full (`write`
 * returns false), undici is paused until 'drain'.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Upstream } from '../balance/upstream.js';
import { classifyUpstreamError, ERRORS, sendError } from './errors.js';
import type { Gateway, HeadFacts } from './gateway.js';
import { namedByConnection } from './headers.js';
import type { CompiledRoute, Plan } from './plan.js';

type AbortFn = (reason?: Error) => void;

class ClientClosedError extends Error {
  readonly code = ERRORS.CLIENT_CLOSED.code;
}

export class Exchange {
  private readonly gateway: Gateway;
  private readonly req: IncomingMessage;
  private readonly res: ServerResponse;
  private readonly plan: Plan;
  private readonly route: CompiledRoute;
  private readonly upstream: Upstream;
  private readonly facts: HeadFacts;
  private readonly started: number;
  private abortUpstream: AbortFn | null = null;
  private resumeUpstream: (() => void) | null = null;
  private drainHooked = false;
  private finished = false;
  private clientGone = false;
  private bytes = 0;
  private errorCode: string | undefined = undefined;

  constructor(gateway: Gateway, req: IncomingMessage, res: ServerResponse, plan: Plan, route: CompiledRoute, upstream: Upstream, facts: HeadFacts) {
    this.gateway = gateway;
    this.req = req;
    this.res = res;
    this.plan = plan;
    this.route = route;
    this.upstream = upstream;
    this.facts = facts;
    this.started = performance.now();
  }

  start(method: string, path: string, headers: string[], body: Dispatcher.DispatchOptions['body'] | AsyncIterable<Buffer>): void {
    const pool = this.route.action.kind === 'proxy' ? this.route.action.pool : null;
    this.upstream.inflight++;
    this.gateway.begin();
    this.res.once('close', this.onClientClose);
    this.upstream.dispatcher.dispatch(
      {
        path,
        method,
        headers,
        // undici streams async iterables too (its types only list Readable).
        body: body as Dispatcher.DispatchOptions['body'],
        headersTimeout: pool?.timeouts.responseMs ?? 60_000,
        bodyTimeout: pool?.timeouts.idleMs ?? 60_000,
        // A request with a body may only be reused-connection-safe if undici knows it is not replayed.
        idempotent: body === null,
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
    if (statusCode < 200) return true; // 1xx informational responses are not relayed (yet)
    this.resumeUpstream = resume;
    const res = this.res;
    if (this.clientGone || res.destroyed) return false;
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
    const via = this.plan.via;
    if (via !== null) {
      if (hasVia !== -1 && result === out) out[hasVia + 1] = `${out[hasVia + 1]}, ${via}`;
      else result.push('via', via);
    }
    if (!this.route.responseHeaders.empty) {
      const edits = this.route.responseHeaders;
      const kept = result.length === 0 || edits.remove.size === 0 ? result : removeNames(result, edits.remove);
      for (let i = 0; i < edits.set.length; i += 2) kept.push(edits.set[i], edits.set[i + 1]);
      for (let i = 0; i < edits.add.length; i += 2) kept.push(edits.add[i], edits.add[i + 1]);
      this.writeHead(statusCode, kept);
    } else {
      this.writeHead(statusCode, result);
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
      this.errorCode = ERRORS.CLIENT_CLOSED.code;
      return;
    }
    if (this.res.writableEnded) return; // already answered (e.g. 400 for a broken request body)
    const kind = classifyUpstreamError(err);
    this.errorCode = kind.code;
    if (this.res.headersSent) {
      // Part of the response is out: the only honest signal left is cutting the connection.
      this.res.destroy();
      return;
    }
    const closeAfter = kind.status === 413 || this.facts.transferEncoding || this.facts.contentLength !== undefined;
    sendError(this.res, kind, this.facts.accept, undefined, closeAfter);
    if (closeAfter) this.res.once('finish', () => this.req.socket.destroySoon());
    if (kind.source === 'upstream') {
      this.gateway.logger.debug('upstream error', { upstream: this.upstream.label, code: (err as { code?: string }).code, message: err.message });
    }
  }

  onUpgrade(): void {
    // Upgrades are handled by the tunnel (upgrade.ts), never through an Exchange.
  }

  // ---- client side --------------------------------------------------------------------------

  private readonly onClientDrain = (): void => {
    this.resumeUpstream?.();
  };

  private readonly onClientClose = (): void => {
    if (!this.res.writableFinished) {
      // The client left before the response was complete: stop the upstream work too.
      this.clientGone = true;
      if (!this.finished) this.abortUpstream?.(new ClientClosedError('client closed the connection'));
      this.errorCode ??= ERRORS.CLIENT_CLOSED.code;
    }
    this.gateway.done();
    this.gateway.log(this.req, this.res, this.plan, this.route, this.facts, this.errorCode, this.started, this.upstream.label, this.bytes);
  };

  private settle(): void {
    if (this.finished) return;
    this.finished = true;
    this.upstream.inflight--;
  }
}

function removeNames(headers: string[], names: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (names.has(headers[i].toLowerCase())) continue;
    out.push(headers[i], headers[i + 1]);
  }
  return out;
}

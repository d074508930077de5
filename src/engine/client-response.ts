/**
 * What an Exchange needs of the response it writes: node's ServerResponse (HTTP/1.1) and
 * Http2ServerResponse both fit, and so does `DetachedResponse`, the stand-in for a request with no
 * client waiting (a cache refresh in the background).
 */
import { EventEmitter } from 'node:events';

export interface ClientResponse {
  readonly headersSent: boolean;
  readonly writableEnded: boolean;
  readonly writableFinished: boolean;
  readonly destroyed: boolean;
  statusCode: number;
  sendDate: boolean;
  shouldKeepAlive: boolean;
  /** The request this answers (node's ServerResponse has it; used to spot HEAD). */
  readonly req?: { readonly method?: string };
  /** HTTP/2's stream (Http2ServerResponse); its state says whether the client is still there. */
  readonly stream?: { readonly destroyed: boolean; once(event: 'close', listener: () => void): unknown };
  writeHead(status: number, headers?: string[] | Record<string, string | number>): unknown;
  /** `100 Continue` (absent where there is no client to continue). */
  writeContinue?(): void;
  write(chunk: Buffer): boolean;
  end(chunk?: Buffer | string): unknown;
  addTrailers(trailers: Array<[string, string]>): void;
  destroy(): unknown;
  once(event: 'close' | 'finish', listener: () => void): unknown;
  on(event: 'drain', listener: () => void): unknown;
}

/**
 * Whether the client side of `res` is already gone. HTTP/1 marks the response destroyed; HTTP/2's
 * compat response has no such flag (and reports itself finished), only its stream knows. Anything
 * that would wait for the response's 'close' must check this first: 'close' does not come twice.
 */
export function clientGone(res: ClientResponse): boolean {
  return res.destroyed === true || res.stream?.destroyed === true;
}

/**
 * A response nobody reads: writes are dropped, `end`/`destroy` emit 'finish' and 'close' as a real
 * response would, so the Exchange's bookkeeping (in-flight count, access log) runs unchanged.
 */
export class DetachedResponse extends EventEmitter implements ClientResponse {
  headersSent = false;
  writableEnded = false;
  writableFinished = false;
  destroyed = false;
  statusCode = 200;
  sendDate = false;
  shouldKeepAlive = false;

  writeHead(status: number): this {
    this.statusCode = status;
    this.headersSent = true;
    return this;
  }

  write(): boolean {
    return true;
  }

  end(): this {
    if (this.writableEnded) return this;
    this.headersSent = true;
    this.writableEnded = true;
    this.writableFinished = true;
    // Asynchronous like a socket's, so listeners added right after end() still hear it.
    queueMicrotask(() => {
      this.emit('finish');
      this.emit('close');
    });
    return this;
  }

  addTrailers(): void {}

  destroy(): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    if (!this.writableEnded) {
      this.writableEnded = true;
      queueMicrotask(() => this.emit('close'));
    }
    return this;
  }
}

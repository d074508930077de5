/**
 * Every error the proxy answers with, in one table: a stable code, the HTTP status, the short
 * text a client sees, and who caused it. Bodies never carry upstream addresses or stacks.
 * docs/errors.md lists the same table; test/unit/engine/errors.test.ts keeps them in step.
 */
import { clientGone, type ClientResponse } from './client-response.js';

export type ErrorSource = 'client' | 'upstream' | 'proxy';

export interface ProxyErrorKind {
  code: string;
  status: number;
  title: string;
  source: ErrorSource;
}

function kind(code: string, status: number, title: string, source: ErrorSource): ProxyErrorKind {
  return { code, status, title, source };
}

export const ERRORS = {
  BAD_REQUEST: kind('PK_ERR_BAD_REQUEST', 400, 'Bad Request', 'client'),
  NO_ROUTE: kind('PK_ERR_NO_ROUTE', 404, 'Not Found', 'client'),
  METHOD_NOT_ALLOWED: kind('PK_ERR_METHOD_NOT_ALLOWED', 405, 'Method Not Allowed', 'client'),
  REQUEST_TIMEOUT: kind('PK_ERR_REQUEST_TIMEOUT', 408, 'Request Timeout', 'client'),
  BODY_TOO_LARGE: kind('PK_ERR_BODY_TOO_LARGE', 413, 'Content Too Large', 'client'),
  HEADERS_TOO_LARGE: kind('PK_ERR_HEADERS_TOO_LARGE', 431, 'Request Header Fields Too Large', 'client'),
  // 499 (nginx's "client closed request") is only logged: nobody is left to read it.
  CLIENT_CLOSED: kind('PK_ERR_CLIENT_CLOSED', 499, 'Client Closed Request', 'client'),
  INTERNAL: kind('PK_ERR_INTERNAL', 500, 'Internal Server Error', 'proxy'),
  UPSTREAM_CONNECT: kind('PK_ERR_UPSTREAM_CONNECT', 502, 'Bad Gateway', 'upstream'),
  UPSTREAM_RESET: kind('PK_ERR_UPSTREAM_RESET', 502, 'Bad Gateway', 'upstream'),
  UPSTREAM_PROTOCOL: kind('PK_ERR_UPSTREAM_PROTOCOL', 502, 'Bad Gateway', 'upstream'),
  NO_UPSTREAM: kind('PK_ERR_NO_UPSTREAM', 503, 'Service Unavailable', 'proxy'),
  UPSTREAM_BUSY: kind('PK_ERR_UPSTREAM_BUSY', 503, 'Service Unavailable', 'proxy'),
  SHUTTING_DOWN: kind('PK_ERR_SHUTTING_DOWN', 503, 'Service Unavailable', 'proxy'),
  UPSTREAM_TIMEOUT: kind('PK_ERR_UPSTREAM_TIMEOUT', 504, 'Gateway Timeout', 'upstream'),
  NOT_CACHED: kind('PK_ERR_NOT_CACHED', 504, 'Gateway Timeout', 'client'),
} as const satisfies Record<string, ProxyErrorKind>;

export type ErrorName = keyof typeof ERRORS;

/**
 * Map a failure from undici (or our own body checks) to what the client gets.
 * - connect refused / DNS / reset before a response: 502 (the upstream is not working);
 * - connect timeout and response-head timeout: 504, as nginx does (the upstream is too slow);
 * - our own 413 from a streamed body over the limit travels as an error too.
 */
export function classifyUpstreamError(err: unknown): ProxyErrorKind {
  const e = err as { code?: string; name?: string; proxyError?: ProxyErrorKind } | null;
  if (e && e.proxyError) return e.proxyError;
  switch (e?.code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'ETIMEDOUT':
      return ERRORS.UPSTREAM_TIMEOUT;
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return ERRORS.UPSTREAM_CONNECT;
    case 'UND_ERR_SOCKET':
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_CLOSED':
    case 'UND_ERR_DESTROYED':
      return ERRORS.UPSTREAM_RESET;
    case 'HPE_INVALID_CONSTANT':
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
    case 'UND_ERR_INFO':
      return ERRORS.UPSTREAM_PROTOCOL;
    default:
      if (typeof e?.code === 'string' && e.code.startsWith('HPE_')) return ERRORS.UPSTREAM_PROTOCOL;
      return ERRORS.UPSTREAM_RESET;
  }
}

/** An Error that carries the answer the client should get (used for our own body checks). */
export class ProxyError extends Error {
  readonly proxyError: ProxyErrorKind;
  readonly code: string;
  constructor(k: ProxyErrorKind, detail?: string) {
    super(detail ?? k.title);
    this.proxyError = k;
    this.code = k.code;
  }
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Small error body, JSON when the client prefers it, else HTML. No upstream detail, ever. */
export function errorBody(k: ProxyErrorKind, accept: string | undefined): { type: string; body: string } {
  if (accept !== undefined && accept.includes('json') && !accept.startsWith('text/html')) {
    return {
      type: 'application/json',
      body: JSON.stringify({ error: { status: k.status, code: k.code, message: k.title } }) + '\n',
    };
  }
  const t = escapeHtml(`${k.status} ${k.title}`);
  return {
    type: 'text/html; charset=utf-8',
    body: `<!doctype html><html><head><title>${t}</title></head><body><h1>${t}</h1><p>proxykit</p></body></html>\n`,
  };
}

/**
 * Answer with an error unless a response is already under way, in which case cut the connection.
 * Returns the body bytes sent (for the access log).
 */
export function sendError(
  res: ClientResponse,
  k: ProxyErrorKind,
  accept: string | undefined,
  extraHeaders?: Record<string, string>,
  closeConnection = false,
): number {
  if (res.headersSent || clientGone(res)) {
    res.destroy();
    return 0;
  }
  const { type, body } = errorBody(k, accept);
  const headers: Record<string, string | number> = {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...extraHeaders,
  };
  if (closeConnection) headers.connection = 'close';
  res.writeHead(k.status, headers);
  const head = res.req?.method === 'HEAD';
  res.end(head ? undefined : body);
  return head ? 0 : Buffer.byteLength(body);
}

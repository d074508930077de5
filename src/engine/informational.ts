/**
 * Relaying an upstream's interim (1xx) responses, such as 103 Early Hints and 102 Processing, to
 * the client before the final one (RFC 9110 §15.2: a proxy MUST forward 1xx responses unless it
 * asked for them itself). node has no generic "write a 1xx" call, so HTTP/1.1 gets the bytes on
 * the socket (only before our own head, while this response owns the connection) and HTTP/2 an
 * extra HEADERS frame.
 */
import http from 'node:http';
import http2 from 'node:http2';
import type { ClientResponse } from './client-response.js';
import type { NameSet } from './headers.js';

/** Bounds how many interim responses one exchange relays (an upstream could send them forever). */
export const MAX_INTERIM = 16;

export function relayInformational(
  res: ClientResponse,
  httpVersionMinor: number,
  httpVersionMajor: number,
  status: number,
  rawHeaders: Buffer[],
  drop: NameSet,
): void {
  // 100 is the proxy's own business with its client; 101 is an upgrade, handled elsewhere.
  if (status < 102 || status > 199 || res.headersSent) return;
  if (res instanceof http.ServerResponse) {
    // RFC 9110 §15.2: never to an HTTP/1.0 client.
    if (httpVersionMajor !== 1 || httpVersionMinor < 1) return;
    const socket = res.socket;
    if (socket === null || socket.destroyed) return;
    let head = `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Informational'}\r\n`;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i].toString('latin1');
      if (drop.match(name) !== null) continue;
      head += `${name}: ${rawHeaders[i + 1].toString('latin1')}\r\n`;
    }
    socket.write(head + '\r\n', 'latin1');
    return;
  }
  if (res instanceof http2.Http2ServerResponse) {
    const headers: http2.OutgoingHttpHeaders = { ':status': status };
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i].toString('latin1').toLowerCase();
      if (drop.match(name) !== null) continue;
      const value = rawHeaders[i + 1].toString('latin1');
      const prev = headers[name];
      headers[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [String(prev), value];
    }
    try {
      res.stream.additionalHeaders(headers);
    } catch {
      // A stream that already sent its head or closed cannot take interim headers: nothing to relay.
    }
  }
}

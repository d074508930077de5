/**
 * Reading a TLS ClientHello off a fresh TCP connection before TLS starts, so an `https:` listener
 * can send a TLS-ALPN-01 validation handshake (ALPN `acme-tls/1`, RFC 8737) to a dedicated TLS
 * server holding the challenge certificate, and every other handshake to its normal server.
 * node runs `SNICallback` before `ALPNCallback`, so the certificate is fixed before the ALPN list
 * is known: peeking is the only way to answer a challenge for a name that already has a
 * certificate (a renewal) without handing that certificate's clients the challenge one.
 *
 * Listeners peek only while a TLS-ALPN-01 challenge is pending (a few hundred ms per order).
 *
 * Hand-over: the bytes read are put back with `socket.unshift()` while the socket is in paused
 * mode, and the socket itself (with its native handle) is emitted to the TLS server. node's
 * TLSSocket feeds bytes still buffered in the wrapped socket to OpenSSL before reading from the
 * handle (`initRead` in `_tls_wrap`), so the handshake sees the whole ClientHello, and the TLS
 * socket keeps the native handle: full speed, the real `remoteAddress`, the server's
 * `maxConnections` accounting. (A `Duplex` wrapper also works but turns the connection into a JS
 * stream whose TLS socket has no `remoteAddress`. Unshifting in *flowing* mode, e.g. after
 * `once('data')`, loses the bytes: the chunk is re-emitted to no listener and the handshake hangs.)
 */
import type { Socket } from 'node:net';

/** What the parser found in a ClientHello. */
export interface ClientHello {
  /** The SNI host name (extension 0), lower-cased; null when absent. */
  serverName: string | null;
  /** The ALPN protocols offered (extension 16), in order; null when the extension is absent. */
  alpn: string[] | null;
}

export type ClientHelloParse =
  | { status: 'incomplete' }
  | { status: 'invalid'; reason: string }
  | ({ status: 'ok' } & ClientHello);

/** TLS record payloads are at most 2^14 bytes (RFC 8446 §5.1); tolerate the 2^14 + 2048 of TLS 1.2 ciphertext. */
const MAX_RECORD = 16384 + 2048;
/** A ClientHello larger than this is not parsed (real ones are under 8 KiB, even with post-quantum key shares). */
export const MAX_CLIENT_HELLO = 65536;

const CONTENT_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;

const invalid = (reason: string): ClientHelloParse => ({ status: 'invalid', reason });

/**
 * Parses the ClientHello at the start of `data` (the bytes read so far from a connection).
 * `incomplete`: more bytes are needed (call again with more); `invalid`: not a TLS ClientHello
 * (hand the connection to the normal server, whose handshake fails as it would have anyway).
 * The handshake message may span several records (RFC 8446 §5.1).
 */
export function parseClientHello(data: Buffer): ClientHelloParse {
  // 1. Reassemble the handshake message from the record payloads.
  const payloads: Buffer[] = [];
  let have = 0;
  let need = -1; // handshake message length (header included), once known
  let off = 0;
  while (need < 0 || have < need) {
    if (data.length - off < 5) return { status: 'incomplete' };
    if (data[off] !== CONTENT_HANDSHAKE) return invalid(off === 0 ? `not a TLS handshake record (first byte 0x${data[0]!.toString(16)})` : 'a non-handshake record inside the ClientHello');
    if (data[off + 1] !== 3) return invalid('not a TLS record version');
    const len = data.readUInt16BE(off + 3);
    if (len === 0 || len > MAX_RECORD) return invalid(`bad record length ${len}`);
    if (data.length - off - 5 < len) return { status: 'incomplete' };
    payloads.push(data.subarray(off + 5, off + 5 + len));
    have += len;
    off += 5 + len;
    if (need < 0 && have >= 4) {
      const head = payloads.length === 1 ? payloads[0]! : Buffer.concat(payloads);
      if (head[0] !== HANDSHAKE_CLIENT_HELLO) return invalid(`first handshake message is type ${head[0]}, not ClientHello`);
      need = 4 + head.readUIntBE(1, 3);
      if (need > MAX_CLIENT_HELLO) return invalid(`ClientHello of ${need} bytes`);
    }
    if (off > MAX_CLIENT_HELLO + 5 * 64) return invalid('ClientHello spread over too many records');
  }
  const msg = payloads.length === 1 ? payloads[0]! : Buffer.concat(payloads);
  return parseBody(msg.subarray(4, need));
}

/** The ClientHello body (RFC 8446 §4.1.2; RFC 5246 §7.4.1.2). */
function parseBody(b: Buffer): ClientHelloParse {
  let p = 0;
  const left = (): number => b.length - p;
  // legacy_version (2) + random (32)
  if (left() < 34) return invalid('ClientHello too short');
  if (b[p] !== 3) return invalid('not a TLS ClientHello version');
  p += 34;
  // legacy_session_id <0..32>
  if (left() < 1) return invalid('truncated session id');
  const sid = b[p]!;
  p += 1;
  if (sid > 32 || left() < sid) return invalid('bad session id');
  p += sid;
  // cipher_suites <2..2^16-2>
  if (left() < 2) return invalid('truncated cipher suites');
  const cs = b.readUInt16BE(p);
  p += 2;
  if (cs < 2 || cs % 2 !== 0 || left() < cs) return invalid('bad cipher suites');
  p += cs;
  // legacy_compression_methods <1..2^8-1>
  if (left() < 1) return invalid('truncated compression methods');
  const cm = b[p]!;
  p += 1;
  if (cm < 1 || left() < cm) return invalid('bad compression methods');
  p += cm;
  // extensions <8..2^16-1>: absent in very old clients (then no SNI, no ALPN)
  if (left() === 0) return { status: 'ok', serverName: null, alpn: null };
  if (left() < 2) return invalid('truncated extensions');
  const extLen = b.readUInt16BE(p);
  p += 2;
  if (left() !== extLen) return invalid('extensions length does not match the ClientHello');
  let serverName: string | null = null;
  let alpn: string[] | null = null;
  const seen = new Set<number>();
  while (left() > 0) {
    if (left() < 4) return invalid('truncated extension');
    const type = b.readUInt16BE(p);
    const len = b.readUInt16BE(p + 2);
    p += 4;
    if (left() < len) return invalid('truncated extension');
    if (seen.has(type)) return invalid(`duplicate extension ${type}`);
    seen.add(type);
    const ext = b.subarray(p, p + len);
    p += len;
    if (type === EXT_SERVER_NAME) {
      const r = parseServerName(ext);
      if (typeof r !== 'string' && r !== null) return r;
      serverName = r;
    } else if (type === EXT_ALPN) {
      const r = parseAlpn(ext);
      if (!Array.isArray(r)) return r;
      alpn = r;
    }
  }
  return { status: 'ok', serverName, alpn };
}

/** server_name extension (RFC 6066 §3): the host_name entry, or null (empty extension, no host_name). */
function parseServerName(e: Buffer): string | null | ClientHelloParse {
  if (e.length === 0) return null; // the form a server sends back; tolerated
  if (e.length < 2 || e.readUInt16BE(0) !== e.length - 2) return invalid('bad server_name extension');
  let p = 2;
  let name: string | null = null;
  while (p < e.length) {
    if (e.length - p < 3) return invalid('bad server_name entry');
    const kind = e[p]!;
    const len = e.readUInt16BE(p + 1);
    p += 3;
    if (e.length - p < len) return invalid('bad server_name entry');
    if (kind === 0 && name === null) {
      if (len === 0) return invalid('empty server name');
      name = e.toString('latin1', p, p + len).toLowerCase();
    }
    p += len;
  }
  return name;
}

/** application_layer_protocol_negotiation extension (RFC 7301 §3.1). */
function parseAlpn(e: Buffer): string[] | ClientHelloParse {
  if (e.length < 2 || e.readUInt16BE(0) !== e.length - 2) return invalid('bad ALPN extension');
  const out: string[] = [];
  let p = 2;
  while (p < e.length) {
    const len = e[p]!;
    p += 1;
    if (len === 0 || e.length - p < len) return invalid('bad ALPN protocol name');
    out.push(e.toString('latin1', p, p + len));
    p += len;
  }
  return out;
}

export interface PeekOptions {
  /** Give up waiting for the rest of the ClientHello after this long. Default 10 s. */
  timeoutMs?: number;
  /** Give up after this many bytes without a complete ClientHello. Default `MAX_CLIENT_HELLO` + record headers. */
  maxBytes?: number;
}

/** `hello`: what was read, or null (not a ClientHello, too big, too slow). The bytes are back in the socket. */
export type PeekResult = { hello: ClientHello | null; reason?: string };

/**
 * Reads the ClientHello from a fresh server-side `socket` without consuming it: calls `done` with
 * what it found once the ClientHello is complete (or proved not to be one, or too big, or too
 * slow), with every byte read put back into the socket (paused) for the TLS server that gets it
 * next. When the socket ends, fails or is destroyed first, `done` is not called and the socket
 * is destroyed (nothing would have been served on it).
 */
export function peekClientHello(socket: Socket, opts: PeekOptions, done: (r: PeekResult) => void): void {
  const maxBytes = opts.maxBytes ?? MAX_CLIENT_HELLO + 5 * 64;
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const cleanup = (): void => {
    finished = true;
    clearTimeout(timer);
    socket.off('readable', onReadable);
    socket.off('end', onGone);
    socket.off('close', onGone);
    socket.off('error', onGone);
  };
  const finish = (r: PeekResult): void => {
    if (finished) return;
    cleanup();
    // Back into the readable buffer, in paused mode: the TLS socket reads it from there first.
    socket.pause();
    if (size > 0) socket.unshift(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    done(r);
  };
  function onGone(): void {
    if (finished) return;
    cleanup();
    socket.destroy();
  }
  function onReadable(): void {
    let chunk: Buffer | null;
    while (!finished && (chunk = socket.read() as Buffer | null) !== null) {
      chunks.push(chunk);
      size += chunk.length;
      const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      if (chunks.length > 1) chunks.splice(0, chunks.length, data);
      const r = parseClientHello(data);
      if (r.status === 'ok') return finish({ hello: { serverName: r.serverName, alpn: r.alpn } });
      if (r.status === 'invalid') return finish({ hello: null, reason: r.reason });
      if (size >= maxBytes) return finish({ hello: null, reason: `no complete ClientHello in ${size} bytes` });
    }
  }
  const timer = setTimeout(() => finish({ hello: null, reason: 'ClientHello not complete in time' }), opts.timeoutMs ?? 10_000);
  timer.unref();
  socket.on('error', onGone);
  socket.on('end', onGone);
  socket.on('close', onGone);
  socket.on('readable', onReadable);
}

/**
 * `Upgrade` requests (WebSocket and any other protocol): routed like any request, then tunnelled
 * byte for byte between the client socket and a fresh upstream connection once the upstream
 * answers 101. The tunnel belongs to neither the Plan nor the connection pools, so a reload never
 * cuts it; only a shutdown past its drain deadline does.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import { ERRORS, errorBody, type ProxyErrorKind, classifyUpstreamError } from './errors.js';
import { clientAddress, inspectHead, upstreamPath, type Gateway } from './gateway.js';
import { parseTarget } from './target.js';
import { forwardedNode } from './headers.js';

export class TunnelSet {
  private readonly sockets = new Set<Duplex>();

  add(a: Duplex, b: Duplex): void {
    this.sockets.add(a);
    this.sockets.add(b);
    const close = (): void => {
      this.sockets.delete(a);
      this.sockets.delete(b);
      a.destroy();
      b.destroy();
    };
    a.once('close', close);
    b.once('close', close);
    a.on('error', close);
    b.on('error', close);
  }

  get size(): number {
    return this.sockets.size / 2;
  }

  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }
}

/** Write a complete small HTTP error response on a raw socket and close it. */
function rawError(socket: Duplex, kind: ProxyErrorKind, accept: string | undefined): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const { type, body } = errorBody(kind, accept);
  socket.end(
    `HTTP/1.1 ${kind.status} ${STATUS_CODES[kind.status] ?? kind.title}\r\n` +
      `content-type: ${type}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

const UPGRADE_DROP = new Set([
  'connection', 'upgrade', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'proxy-authorization',
  'trailer', 'host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded', 'x-real-ip',
]);

export async function handleUpgrade(gateway: Gateway, tunnels: TunnelSet, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  const plan = gateway.plan;
  socket.on('error', () => socket.destroy());
  const facts = inspectHead(req.rawHeaders);
  const target = parseTarget(req.url ?? '');
  if (target === null || facts.hostCount !== 1 || req.httpVersionMinor !== 1 || gateway.draining) {
    rawError(socket, gateway.draining ? ERRORS.SHUTTING_DOWN : ERRORS.BAD_REQUEST, facts.accept);
    return;
  }
  const authority = target.authority ?? facts.host ?? '';
  const colon = authority.lastIndexOf(':');
  const hasPort = colon !== -1 && authority.lastIndexOf(']') < colon;
  const host = (hasPort ? authority.slice(0, colon) : authority).toLowerCase();
  const port = hasPort ? authority.slice(colon + 1) : '';
  const method = req.method ?? 'GET';
  const route = plan.router.match(host, port, method, target.path);
  if (route === null || route.action.kind !== 'proxy') {
    rawError(socket, route === null ? ERRORS.NO_ROUTE : ERRORS.BAD_REQUEST, facts.accept);
    return;
  }
  const raw0 = req.rawHeaders;
  const choice = route.action.pool.select(
    {
      clientIp: clientAddress(req.socket),
      path: target.path,
      now: Date.now(),
      header: (name) => headerValue(raw0, name),
    },
    null,
    null,
  );
  if (choice === 'none' || choice === 'full') {
    rawError(socket, choice === 'full' ? ERRORS.UPSTREAM_BUSY : ERRORS.NO_UPSTREAM, facts.accept);
    return;
  }
  const upstream = choice;

  const headers: Record<string, string> = {};
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i].toLowerCase();
    if (UPGRADE_DROP.has(lower) || route.requestHeaders.remove.has(lower)) continue;
    headers[lower] = headers[lower] === undefined ? raw[i + 1] : `${headers[lower]}, ${raw[i + 1]}`;
  }
  const ip = clientAddress(req.socket);
  const hh = route.hostHeader;
  headers.host = hh === 'preserve' ? authority : hh === 'upstream' ? upstream.authority : hh.literal;
  headers['x-forwarded-for'] = ip;
  headers['x-forwarded-proto'] = (req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http';
  headers['x-forwarded-host'] = authority;
  headers.forwarded = `for=${forwardedNode(ip)};host="${authority}"`;
  for (let i = 0; i < route.requestHeaders.set.length; i += 2) headers[route.requestHeaders.set[i]] = route.requestHeaders.set[i + 1];

  const protocol = headerValue(raw, 'upgrade') ?? 'websocket';
  let result: { headers: Record<string, string | string[] | undefined>; socket: Duplex };
  try {
    result = (await upstream.dispatcher.upgrade({
      path: upstreamPath(route, target.path) + target.query,
      method,
      headers,
      protocol,
    })) as unknown as typeof result;
  } catch (err) {
    const kind = classifyUpstreamError(err);
    gateway.logger.debug('upgrade failed', { upstream: upstream.label, code: (err as { code?: string }).code });
    rawError(socket, kind, facts.accept);
    return;
  }
  const up = result.socket;
  if (socket.destroyed) {
    up.destroy();
    return;
  }
  let response = 'HTTP/1.1 101 Switching Protocols\r\n';
  for (const [name, value] of Object.entries(result.headers)) {
    if (value === undefined || route.hide.has(name) || name === 'connection' || name === 'upgrade' || name === 'keep-alive') continue;
    for (const v of Array.isArray(value) ? value : [value]) response += `${name}: ${v}\r\n`;
  }
  const upgradeTo = result.headers.upgrade;
  response += `connection: upgrade\r\nupgrade: ${Array.isArray(upgradeTo) ? upgradeTo[0] : upgradeTo ?? protocol}\r\n\r\n`;
  socket.write(response);
  if (head.length > 0) up.write(head);
  tunnels.add(socket, up);
  (socket as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
  (up as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
  (socket as { setTimeout?: (ms: number) => void }).setTimeout?.(0);
  socket.pipe(up);
  up.pipe(socket);
  if (plan.accessLog && gateway.logger.accessEnabled) {
    gateway.logger.access({
      time: Date.now(), method, host: facts.host ?? '', path: req.url ?? '', status: 101, bytes: 0,
      durationMs: 0, clientIp: ip, route: route.label, upstream: upstream.label,
    });
  }
}

function headerValue(raw: string[], lowerName: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) if (raw[i].toLowerCase() === lowerName) return raw[i + 1];
  return undefined;
}

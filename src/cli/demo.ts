/**
 * `proxykit demo`: the zero-setup tour. Starts two small demo backends in this process
 * (127.0.0.1:3001 and :3002, JSON saying which one answered) and runs `dev` on
 * examples/quickstart/proxy.config.ts from the package.
 */
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Command } from 'commander';
import { PACKAGE_ROOT, relative } from './common.js';
import { runDev } from './dev.js';
import { exitOnSignals } from './serve.js';

export const DEMO_PORTS = [3001, 3002] as const;

/** A demo backend: `/slow?ms=` waits, `/status/:code` answers that status, everything else echoes. */
export function startDemoBackend(name: string, port: number, host = '127.0.0.1'): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    // Paths under /cached are cacheable for 10 s, to show the cache (the quickstart caches them).
    const cacheable = url.pathname.startsWith('/cached');
    const send = (status: number, body: unknown) => {
      const text = `${JSON.stringify(body)}\n`;
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
        'x-backend': name,
        ...(cacheable ? { 'cache-control': 'public, max-age=10' } : {}),
      });
      res.end(text);
    };
    const base = {
      backend: name,
      port,
      method: req.method,
      path: req.url,
      host: req.headers.host,
      forwardedFor: req.headers['x-forwarded-for'],
      ...(cacheable ? { generatedAt: new Date().toISOString() } : {}),
    };
    const status = /^\/status\/(\d{3})$/.exec(url.pathname);
    if (url.pathname === '/healthz') return send(200, { ok: true, backend: name });
    if (status) return send(Number(status[1]), base);
    if (url.pathname.endsWith('/slow')) {
      const ms = Math.min(Number(url.searchParams.get('ms') ?? 1000) || 0, 30_000);
      const t = setTimeout(() => send(200, { ...base, waitedMs: ms }), ms);
      res.on('close', () => clearTimeout(t));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      send(200, body ? { ...base, body } : base);
    });
  });
  server.keepAliveTimeout = 70_000;
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') {
        reject(Object.assign(new Error(`demo backend ${name}: port ${port} is already in use — stop whatever listens on ${host}:${port} and try again`), { code: 'PK_DEMO_PORT' }));
      } else reject(err);
    });
    server.listen(port, host, () => resolve(server));
  });
}

export async function runDemo(): Promise<void> {
  const first = await startDemoBackend('backend-1', DEMO_PORTS[0]);
  const second = await startDemoBackend('backend-2', DEMO_PORTS[1]).catch((e: unknown) => {
    first.close();
    throw e;
  });
  const backends = [first, second];
  const configPath = path.join(PACKAGE_ROOT, 'examples', 'quickstart', 'proxy.config.ts');
  const ports = backends.map((b) => (b.address() as AddressInfo).port).join(' and ');
  const server = await runDev(configPath, (runtime, spec) => {
    const base = runtime.listeners[0]?.url ?? 'http://127.0.0.1:8080';
    process.stdout.write(
      `\nproxykit demo — proxy on ${base}, demo backends on 127.0.0.1 ports ${ports}\n` +
        `config: ${relative(configPath)} (edit it: changes apply on save)\n\ntry:\n` +
        `  curl ${base}/api/hello          # round-robin across both backends\n` +
        `  curl '${base}/api/slow?ms=500'  # a slow upstream\n` +
        `  curl ${base}/health             # answered by the proxy itself\n` +
        `  curl -i ${base}/old             # a redirect\n` +
        `  curl -i ${base}/api/cached/now  # cached for 10 s: see Cache-Status and Age\n` +
        (spec.admin ? `  open ${spec.admin.listen}/       # the live dashboard (also: npx proxykit status)\n\n` : '\n'),
    );
  });
  exitOnSignals(server, async () => {
    await Promise.all(backends.map((b) => new Promise((r) => b.close(r))));
  });
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run the quickstart example with two built-in demo backends')
    .action(async () => {
      await runDemo();
    });
}

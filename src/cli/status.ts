/**
 * `proxykit status [--admin URL] [--token T] [--json]`: ask a running proxykit's admin API what it
 * serves (plan, listeners, routes) and how its upstreams are doing. Also the small admin client
 * that `proxykit reload` shares.
 */
import type { Command } from 'commander';
import { Agent, request } from 'undici';
import type { PoolStatus, UpstreamStatus } from '../observe/contracts.js';
import { DEFAULT_ADMIN_URL } from '../observe/admin-auth.js';
import { CliError } from './common.js';

export interface AdminClientOptions {
  admin?: string;
  token?: string;
}

export interface AdminClient {
  readonly url: string;
  /** JSON from `method path`; throws a CliError for unreachable / 401 / non-JSON answers. */
  call(method: 'GET' | 'POST', path: string, opts?: { timeoutMs?: number; okStatuses?: number[] }): Promise<{ status: number; body: unknown }>;
  close(): Promise<void>;
}

/** `--admin`, else `http://127.0.0.1:2019`; `--token`, else `$PROXYKIT_ADMIN_TOKEN`. */
export function createAdminClient(opts: AdminClientOptions): AdminClient {
  const raw = opts.admin ?? (process.env.PROXYKIT_ADMIN_URL || DEFAULT_ADMIN_URL);
  let base: URL;
  try {
    base = new URL(raw);
  } catch {
    throw new CliError(`--admin ${JSON.stringify(raw)} is not a URL — e.g. --admin ${DEFAULT_ADMIN_URL}`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new CliError(`--admin ${JSON.stringify(raw)} must be an http:// URL — e.g. --admin ${DEFAULT_ADMIN_URL}`);
  }
  const url = base.origin;
  const token = opts.token ?? (process.env.PROXYKIT_ADMIN_TOKEN || undefined);
  const agent = new Agent({ connections: 1, connect: { timeout: 5_000 } });

  return {
    url,
    async call(method, path, { timeoutMs = 15_000, okStatuses = [] } = {}) {
      let res: Awaited<ReturnType<typeof request>>;
      try {
        res = await request(`${url}${path}`, {
          method,
          dispatcher: agent,
          headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        });
      } catch (err) {
        throw new CliError(`cannot reach the admin API at ${url}: ${reason(err)} — is proxykit running with admin.listen set to this address?`);
      }
      const text = await res.body.text();
      let body: unknown;
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch {
        throw new CliError(`the admin API at ${url} answered ${res.statusCode} with something that is not JSON — is --admin the right address?`);
      }
      const message = typeof (body as { error?: unknown })?.error === 'string' ? (body as { error: string }).error : undefined;
      if (res.statusCode === 401) {
        throw new CliError(
          token
            ? `the admin API at ${url} rejected the token (401) — check --token or PROXYKIT_ADMIN_TOKEN`
            : `the admin API at ${url} needs a token (401) — pass --token or set PROXYKIT_ADMIN_TOKEN`,
        );
      }
      if (res.statusCode >= 400 && !okStatuses.includes(res.statusCode)) {
        throw new CliError(`the admin API at ${url} answered ${res.statusCode}${message ? `: ${message}` : ''}`);
      }
      return { status: res.statusCode, body };
    },
    close: () => agent.close(),
  };
}

function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const code = e?.code === 'UND_ERR_CONNECT_TIMEOUT' ? e.code : (e?.cause?.code ?? e?.code);
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'connect timed out';
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return 'no answer in time';
    case 'UND_ERR_SOCKET':
    case 'ECONNRESET':
      return 'the connection was closed';
    default:
      return e instanceof Error ? e.message : String(err);
  }
}

// ---------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------

interface ConfigView {
  planId?: unknown;
  loadedAt?: unknown;
  file?: unknown;
  listeners?: unknown;
  routes?: unknown;
}

const STATE_WIDTH = 9;

function ago(iso: unknown, now: number): string {
  if (typeof iso !== 'string' && typeof iso !== 'number') return '';
  const t = new Date(iso).getTime();
  if (!Number.isFinite(t)) return '';
  const s = Math.max(0, Math.round((now - t) / 1000));
  const text = s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m ${s % 60}s` : s < 86_400 ? `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m` : `${Math.floor(s / 86_400)}d`;
  return `${text} ago`;
}

function listenerText(l: unknown): string {
  if (typeof l === 'string') return l;
  if (typeof l === 'object' && l !== null && typeof (l as { url?: unknown }).url === 'string') return (l as { url: string }).url;
  return JSON.stringify(l);
}

function latency(ms: number): string {
  if (!ms) return '-';
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

function upstreamLine(u: UpstreamStatus, width: number, now: number): string {
  const parts = [
    `  ${u.url.padEnd(width)}`,
    u.state.padEnd(STATE_WIDTH),
    `inflight ${String(u.inflight).padStart(3)}`,
    `latency ${latency(u.latencyMs).padStart(8)}`,
    `weight ${u.weight}`,
  ];
  if (u.state === 'ejected' && u.ejectedUntil) parts.push(`(back in ${Math.max(0, Math.ceil((u.ejectedUntil - now) / 1000))}s)`);
  return parts.join('  ');
}

/** The readable summary `proxykit status` prints. */
export function renderStatus(adminUrl: string, config: unknown, pools: PoolStatus[], now = Date.now()): string {
  const c = (typeof config === 'object' && config !== null ? config : {}) as ConfigView;
  const lines: string[] = [];
  const plan = c.planId !== undefined ? `plan ${String(c.planId)}` : 'plan ?';
  const loaded = c.loadedAt ? `, loaded ${ago(c.loadedAt, now) || String(c.loadedAt)}` : '';
  const file = typeof c.file === 'string' ? ` from ${c.file}` : '';
  lines.push(`proxykit at ${adminUrl}: serving ${plan}${loaded}${file}`);
  const listeners = Array.isArray(c.listeners) ? c.listeners.map(listenerText) : [];
  lines.push(`listeners: ${listeners.length ? listeners.join(', ') : 'none'}`);
  const routes = Array.isArray(c.routes) ? c.routes.length : typeof c.routes === 'number' ? c.routes : undefined;
  lines.push(`routes: ${routes ?? '?'}`);
  if (pools.length === 0) {
    lines.push('pools: none');
  } else {
    lines.push(`pools: ${pools.length}`);
    for (const p of pools) {
      const counts = new Map<string, number>();
      for (const u of p.upstreams) counts.set(u.state, (counts.get(u.state) ?? 0) + 1);
      const summary = [...counts].map(([s, n]) => `${n} ${s}`).join(', ') || 'no upstreams';
      lines.push(`pool ${p.name} (${p.balance}): ${summary}`);
      const width = Math.max(...p.upstreams.map((u) => u.url.length), 0);
      for (const u of p.upstreams) lines.push(upstreamLine(u, width, now));
    }
  }
  return `${lines.join('\n')}\n`;
}

export interface StatusOptions extends AdminClientOptions {
  json?: boolean;
}

export async function runStatus(opts: StatusOptions): Promise<void> {
  const client = createAdminClient(opts);
  try {
    const [config, upstreams] = await Promise.all([client.call('GET', '/config'), client.call('GET', '/upstreams')]);
    const c = config.body as { planId?: unknown } | undefined;
    if (typeof c !== 'object' || c === null || typeof c.planId !== 'number' || !Array.isArray(upstreams.body)) {
      throw new CliError(`${client.url} does not look like a proxykit admin API (unexpected answers to GET /config and /upstreams) — is --admin the right address?`);
    }
    const pools = upstreams.body as PoolStatus[];
    if (opts.json) process.stdout.write(`${JSON.stringify({ config: config.body, upstreams: pools }, null, 2)}\n`);
    else process.stdout.write(renderStatus(client.url, config.body, pools));
  } finally {
    await client.close();
  }
}

export function addAdminOptions(cmd: Command): Command {
  return cmd
    .option('--admin <url>', `admin API address (default: $PROXYKIT_ADMIN_URL or ${DEFAULT_ADMIN_URL})`)
    .option('--token <token>', 'admin API token (default: $PROXYKIT_ADMIN_TOKEN)');
}

export function registerStatus(program: Command): void {
  addAdminOptions(program.command('status').description('show what a running proxykit serves and how its upstreams are doing'))
    .option('--json', 'print the raw config summary and upstream states as JSON')
    .action(async (opts: StatusOptions) => {
      await runStatus(opts);
    });
}

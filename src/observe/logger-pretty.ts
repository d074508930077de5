/**
 * `proxykit dev` logger: one human-readable line per request and event,
 * `12:00:01 GET example.com/api 200 12ms 1.2kB → api/127.0.0.1:3001 cache uri-miss`, coloured on a terminal
 * (NO_COLOR turns colours off, FORCE_COLOR on).
 */
import type { AccessRecord, LogFields, Logger } from './logger.js';

export interface PrettyLoggerOptions {
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  color?: boolean;
  level?: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  access?: boolean;
}

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;

export function createPrettyLogger(opts: PrettyLoggerOptions = {}): Logger {
  const out = opts.stream ?? process.stdout;
  const color =
    opts.color ??
    (process.env.NO_COLOR ? false : process.env.FORCE_COLOR ? process.env.FORCE_COLOR !== '0' : Boolean(out.isTTY));
  const paint = (code: string) => (s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const dim = paint('2');
  const red = paint('31');
  const green = paint('32');
  const yellow = paint('33');
  const cyan = paint('36');
  const bold = paint('1');
  const min = LEVELS[opts.level ?? 'info'];

  const line = (s: string) => out.write(`${s}\n`);
  const clock = (t = Date.now()) => dim(new Date(t).toTimeString().slice(0, 8));
  const extra = (fields?: LogFields) => {
    if (!fields) return '';
    const parts = Object.entries(fields)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
    return parts.length ? ` ${dim(parts.join(' '))}` : '';
  };
  const at = (level: keyof typeof LEVELS, tag: (s: string) => string, label: string) => (msg: string, fields?: LogFields) => {
    if (LEVELS[level] < min) return;
    const text = msg.includes('\n') ? msg.replace(/\n/g, '\n         ') : msg;
    line(`${clock()} ${label ? `${tag(label)} ` : ''}${text}${extra(fields)}`);
  };
  const status = (s: number) => {
    const t = String(s);
    return s >= 500 ? red(t) : s >= 400 ? yellow(t) : s >= 300 ? cyan(t) : green(t);
  };

  return {
    debug: at('debug', dim, 'debug'),
    info: at('info', cyan, ''),
    warn: at('warn', yellow, 'warn'),
    error: at('error', red, 'error'),
    access(r: AccessRecord) {
      const dest = r.upstream ? ` ${dim('→')} ${r.upstream.replace(/\/[a-z]+:\/\//, '/')}` : '';
      const err = r.error ? ` ${red(r.error)}` : '';
      const cache = r.cache ? ` ${dim(`cache ${r.cache}`)}` : '';
      line(`${clock(r.time)} ${bold(r.method)} ${r.host}${r.path} ${status(r.status)} ${formatMs(r.durationMs)} ${formatBytes(r.bytes)}${dest}${cache}${err}`);
    },
    accessEnabled: opts.access !== false && min <= LEVELS.info,
  };
}

export function formatMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(1)}ms` : ms < 10_000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`;
}

export function formatBytes(n: number): string {
  if (n < 1000) return `${n}B`;
  if (n < 1_000_000) return `${(n / 1000).toFixed(1)}kB`;
  if (n < 1_000_000_000) return `${(n / 1_000_000).toFixed(1)}MB`;
  return `${(n / 1_000_000_000).toFixed(1)}GB`;
}

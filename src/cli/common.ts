/** Helpers shared by the CLI commands: config path resolution, package root, one-line errors. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, formatProblems } from '../config/errors.js';

export const DEFAULT_CONFIG = 'proxy.config.ts';

/** The package root (works from src/cli under tsx and from dist/cli once built). */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export function packageVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** An error the CLI prints as one line (plus hints) and exits on, without a stack. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Absolute path of the config, or a CliError saying how to get one. */
export function resolveConfigPath(option: string | undefined): string {
  const file = path.resolve(option ?? DEFAULT_CONFIG);
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(file);
  } catch {
    stat = undefined;
  }
  if (!stat) {
    throw new CliError(
      option === undefined
        ? `no ${DEFAULT_CONFIG} here (${process.cwd()}) — run \`proxykit init\` to create one, or pass -c PATH`
        : `config file not found: ${relative(file)} — check the path, or run \`proxykit init\``,
    );
  }
  if (stat.isDirectory()) {
    const inner = path.join(file, DEFAULT_CONFIG);
    if (fs.existsSync(inner)) return inner;
    throw new CliError(`${relative(file)} is a directory without ${DEFAULT_CONFIG} — run \`proxykit init ${relative(file)}\``);
  }
  return file;
}

export function relative(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** ConfigError problems with paths shown relative to the working directory. */
export function formatConfigError(err: ConfigError): string {
  return formatProblems(err.problems.map((p) => (p.at ? { ...p, at: { ...p.at, file: relative(p.at.file) } } : p)));
}

/** Turn any error into what a user should read: one clear line (or the config's problem list). */
export function describeError(err: unknown): string {
  if (err instanceof ConfigError) {
    const cause = (err as { cause?: unknown }).cause;
    const text = formatConfigError(err);
    const stack = cause instanceof Error && cause.stack && !err.problems.some((p) => p.at) ? `\n${cause.stack}` : '';
    return text + stack;
  }
  if (err instanceof CliError) return err.message;
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  const where = e?.address !== undefined || e?.port !== undefined ? `${e.address ?? ''}${e.port !== undefined ? `:${e.port}` : ''}` : '';
  switch (e?.code) {
    case 'EADDRINUSE':
      return `cannot listen on ${where || 'the address'}: the port is already in use — stop the other process or change \`listen\` in the config`;
    case 'EACCES':
      return `cannot listen on ${where || 'the address'}: permission denied (ports below 1024 need privileges) — use a port above 1024`;
    case 'EADDRNOTAVAIL':
      return `cannot listen on ${where || 'the address'}: that address is not on this machine — check \`listen\` in the config`;
    default:
      break;
  }
  if (err instanceof Error) {
    return process.env.PROXYKIT_DEBUG ? (err.stack ?? err.message) : `${err.message}${e.code ? ` (${e.code})` : ''}`;
  }
  return String(err);
}

/** Print the error to stderr and exit. */
export function fail(err: unknown, code = err instanceof CliError ? err.exitCode : 1): never {
  process.stderr.write(`${describeError(err)}\n`);
  process.exit(code);
}

/** Count the routes and distinct pools of a spec. */
export function summarize(spec: { routes: { target?: { kind: string; pool?: { name: string } } }[] }): { routes: number; pools: number } {
  const pools = new Set<string>();
  for (const r of spec.routes) if (r.target?.kind === 'pool' && r.target.pool) pools.add(r.target.pool.name);
  return { routes: spec.routes.length, pools: pools.size };
}

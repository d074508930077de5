/** `proxykit start [-c file] [--data-dir DIR] [--workers N|auto]`: production mode, JSON logs. */
import path from 'node:path';
import type { Command } from 'commander';
import { createJsonLogger } from '../observe/logger-json.js';
import { CliError, resolveConfigPath } from './common.js';
import { defaultDataDir, exitOnSignals, serve } from './serve.js';

export interface StartOptions {
  config?: string;
  dataDir?: string;
  workers?: string;
}

export function parseWorkers(value: string | undefined): number {
  if (value === undefined) return 1;
  if (value === 'auto') return Number.POSITIVE_INFINITY;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`--workers must be a whole number ≥ 1 or "auto" (got "${value}")`);
  return n;
}

export async function runStart(opts: StartOptions): Promise<void> {
  const workers = parseWorkers(opts.workers);
  const configPath = resolveConfigPath(opts.config);
  if (workers > 1) {
    process.stderr.write(`warning: --workers ${opts.workers}: multiple workers are not supported yet; running 1 worker\n`);
  }
  const server = await serve({
    configPath,
    mode: 'start',
    dataDir: opts.dataDir ? path.resolve(opts.dataDir) : defaultDataDir(configPath),
    makeLogger: (spec) => {
      const level = spec?.log?.level;
      const file = spec?.log?.file;
      return createJsonLogger({
        ...(level ? { level } : {}),
        access: spec?.log?.access !== false,
        ...(file ? { dest: path.resolve(path.dirname(configPath), file) } : {}),
      });
    },
  });
  process.on('SIGHUP', () => {
    server.logger.info('SIGHUP: reloading config');
    void server.reload('SIGHUP');
  });
  exitOnSignals(server);
}

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('serve the config in production mode (JSON logs; SIGHUP reloads)')
    .option('-c, --config <file>', 'config file (default: proxy.config.ts)')
    .option('--data-dir <dir>', 'where certificates and state are kept (default: .proxykit next to the config)')
    .option('--workers <n>', 'worker processes: a number or "auto" (only 1 is supported for now)')
    .action(async (opts: StartOptions) => {
      await runStart(opts);
    });
}

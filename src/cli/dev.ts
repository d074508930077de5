/** `proxykit dev [-c file]`: serve with human-readable logs, reloading on every save. */
import type { Command } from 'commander';
import { createPrettyLogger } from '../observe/logger-pretty.js';
import { resolveConfigPath } from './common.js';
import { exitOnSignals, serve, type Server } from './serve.js';

export async function runDev(configPath: string, onServing?: Parameters<typeof serve>[0]['onServing']): Promise<Server> {
  const server = await serve({
    configPath,
    mode: 'dev',
    makeLogger: (spec) => createPrettyLogger({ access: spec?.log?.access !== false, level: spec?.log?.level === 'debug' || spec?.log?.level === 'trace' ? 'debug' : 'info' }),
    ...(onServing ? { onServing } : {}),
  });
  return server;
}

export function registerDev(program: Command): void {
  program
    .command('dev')
    .description('serve the config with readable logs and hot reload')
    .option('-c, --config <file>', 'config file (default: proxy.config.ts)')
    .action(async (opts: { config?: string }) => {
      const server = await runDev(resolveConfigPath(opts.config));
      exitOnSignals(server);
    });
}

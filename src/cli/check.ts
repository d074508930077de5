/** `proxykit check [-c file]`: load and validate the config; list every problem and exit 1, or say ok. */
import type { Command } from 'commander';
import { createConfigLoader } from '../config/loader.js';
import { ConfigError } from '../config/errors.js';
import { describeError, relative, resolveConfigPath, summarize } from './common.js';

export async function runCheck(configOption: string | undefined): Promise<number> {
  const file = resolveConfigPath(configOption);
  const loader = createConfigLoader(file);
  try {
    const { spec } = await loader.load();
    const { routes, pools } = summarize(spec);
    process.stdout.write(`ok: ${routes} route${routes === 1 ? '' : 's'}, ${pools} pool${pools === 1 ? '' : 's'} (${relative(file)})\n`);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      const n = err.problems.length;
      process.stderr.write(`${describeError(err)}\n${n} problem${n === 1 ? '' : 's'} in ${relative(file)}\n`);
      return 1;
    }
    throw err;
  } finally {
    await loader.dispose();
  }
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('load and validate the config; exit 1 listing every problem')
    .option('-c, --config <file>', 'config file (default: proxy.config.ts)')
    .action(async (opts: { config?: string }) => {
      process.exitCode = await runCheck(opts.config);
    });
}

/** `proxykit init [dir] [--template name] [--force]`: write a starter proxy.config.ts. */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { CliError, DEFAULT_CONFIG, PACKAGE_ROOT, relative } from './common.js';

export const TEMPLATES = ['basic', 'api-gateway', 'static-cache', 'load-balancer'] as const;

export interface InitOptions {
  template?: string;
  force?: boolean;
}

export function runInit(dir: string | undefined, opts: InitOptions): string {
  const template = opts.template ?? 'basic';
  if (!(TEMPLATES as readonly string[]).includes(template)) {
    throw new CliError(`unknown template "${template}" — choose one of: ${TEMPLATES.join(', ')}`);
  }
  const src = path.join(PACKAGE_ROOT, 'templates', template, DEFAULT_CONFIG);
  const targetDir = path.resolve(dir ?? '.');
  const target = path.join(targetDir, DEFAULT_CONFIG);
  if (fs.existsSync(target) && !opts.force) {
    throw new CliError(`${relative(target)} already exists — not overwriting it (use --force to replace it)`);
  }
  fs.mkdirSync(targetDir, { recursive: true });
  fs.copyFileSync(src, target);
  return target;
}

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('write a starter proxy.config.ts')
    .argument('[dir]', 'directory to write into', '.')
    .option('-t, --template <name>', `one of ${TEMPLATES.join(', ')}`, 'basic')
    .option('-f, --force', 'overwrite an existing proxy.config.ts')
    .action((dir: string, opts: InitOptions) => {
      const target = runInit(dir, opts);
      const d = path.dirname(target);
      const cd = d === process.cwd() ? '' : `cd ${relative(d)}\n  `;
      process.stdout.write(
        `wrote ${relative(target)} (template: ${opts.template ?? 'basic'})\n\n` +
          `next steps:\n  ${cd}proxykit check        # validate the config\n  proxykit dev          # serve it, reloading on every save\n\n` +
          `for editor types, add proxykit to the project: npm install --save-dev proxykit\n`,
      );
    });
}

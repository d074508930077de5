/** The `proxykit` command line. `bin/proxykit.js` imports this module and calls `main()`. */
import { Command } from 'commander';
import { fail, packageVersion } from './common.js';
import { registerCheck } from './check.js';
import { registerDemo } from './demo.js';
import { registerDev } from './dev.js';
import { registerInit } from './init.js';
import { registerReload } from './reload.js';
import { registerStart } from './start.js';
import { registerStatus } from './status.js';

export function createProgram(): Command {
  const program = new Command('proxykit')
    .description('a programmable reverse proxy configured in TypeScript')
    .version(packageVersion(), '-v, --version', 'print the version')
    .showHelpAfterError('(run `proxykit --help` for usage)');
  registerInit(program);
  registerDev(program);
  registerStart(program);
  registerCheck(program);
  registerStatus(program);
  registerReload(program);
  registerDemo(program);
  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await createProgram().parseAsync(argv);
  } catch (err) {
    fail(err);
  }
}

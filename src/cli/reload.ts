/**
 * `proxykit reload [--admin URL] [--token T]`: ask a running proxykit to reload its config file
 * through the admin API. Prints `reloaded (plan N) in X ms`, or the config's problems and exits 1
 * (the running proxy keeps its previous config).
 */
import type { Command } from 'commander';
import { addAdminOptions, createAdminClient, type AdminClientOptions } from './status.js';
import { CliError } from './common.js';

/** Reloads can include an esbuild bundle and binding listeners: allow more than a status call. */
const RELOAD_TIMEOUT_MS = 60_000;

export async function runReload(opts: AdminClientOptions): Promise<number> {
  const client = createAdminClient(opts);
  try {
    const { status, body } = await client.call('POST', '/reload', { timeoutMs: RELOAD_TIMEOUT_MS, okStatuses: [422, 500] });
    const b = (typeof body === 'object' && body !== null ? body : {}) as { ok?: unknown; planId?: unknown; ms?: unknown; error?: unknown };
    if (status === 200 && b.ok === true) {
      process.stdout.write(`reloaded (plan ${String(b.planId)}) in ${String(b.ms)} ms\n`);
      return 0;
    }
    const error = typeof b.error === 'string' ? b.error : `the admin API answered ${status}`;
    if (status === 422) {
      process.stderr.write(`${error}\nreload failed: the config has problems; the previous config keeps serving\n`);
    } else {
      process.stderr.write(`reload failed: ${error}; the previous config keeps serving\n`);
    }
    return 1;
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`reload failed: ${(err as Error).message}`);
  } finally {
    await client.close();
  }
}

export function registerReload(program: Command): void {
  addAdminOptions(program.command('reload').description("reload a running proxykit's config through its admin API")).action(
    async (opts: AdminClientOptions) => {
      process.exitCode = await runReload(opts);
    },
  );
}

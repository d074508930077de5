/** What `dev`, `start` and `demo` share: load the config, start a Runtime, apply, reload. */
import { cacheAdminRoutes } from '../cache/admin-routes.js';
import { registerCacheMetrics } from '../cache/metrics.js';
import path from 'node:path';
import { createConfigLoader, type ConfigLoader } from '../config/loader.js';
import { ConfigError } from '../config/errors.js';
import type { ConfigSpec } from '../config/spec.js';
import { parseDuration } from '../config/units.js';
import { createReloader, watchConfig, type ConfigWatcher, type ReloadOutcome, type Reloader } from '../config/watch.js';
import { createRuntime } from '../engine/runtime.js';
import type { Runtime } from '../engine/runtime-api.js';
import type { Logger } from '../observe/logger.js';
import { describeError, relative, summarize } from './common.js';
import { createMetrics } from '../observe/metrics.js';
import { LiveStats } from '../observe/live-stats.js';
import type { Metrics } from '../observe/contracts.js';
import { createAdminServer } from '../observe/admin.js';
import { dashboardCsp, dashboardHtml } from '../observe/dashboard.js';
import { createAdminContext } from './admin-context.js';

type AdminServer = ReturnType<typeof createAdminServer>;

export interface ServeOptions {
  configPath: string;
  /** Make the logger once the first config is known (its `log` settings), or without one. */
  makeLogger: (spec: ConfigSpec | undefined) => Logger;
  /** dev: watch files and keep waiting on a broken config; start: SIGHUP reloads, broken config exits. */
  mode: 'dev' | 'start';
  dataDir?: string;
  /** Called once the first config serves. */
  onServing?: (runtime: Runtime, spec: ConfigSpec) => void;
}

export interface Server {
  runtime: Runtime;
  logger: Logger;
  metrics: Metrics;
  live: LiveStats;
  /** The serving config (for the admin API's summary). */
  spec(): ConfigSpec | undefined;
  configPath: string;
  reload(reason?: string): Promise<ReloadOutcome>;
  close(): Promise<void>;
}

const listenersOf = (r: Runtime) => r.listeners.map((l) => l.url).join(', ');

export async function serve(opts: ServeOptions): Promise<Server> {
  const loader: ConfigLoader = createConfigLoader(opts.configPath, opts.mode === 'dev' ? { prepare: devDefaults } : {});
  let current: ConfigSpec | undefined;
  let firstError: unknown;
  try {
    current = (await loader.load()).spec;
  } catch (err) {
    if (opts.mode === 'start' || !(err instanceof ConfigError)) {
      await loader.dispose();
      throw err;
    }
    firstError = err;
  }
  const logger = opts.makeLogger(current);
  const metrics = createMetrics();
  const live = new LiveStats();
  // `metrics: false` keeps the registry (the admin API still answers) but takes recording off the
  // request path. Read once at start: switching it needs a restart.
  const observe = current?.metrics !== false;
  const runtime = createRuntime({
    logger,
    ...(observe ? { metrics, live } : {}),
    ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
    configDir: path.dirname(path.resolve(opts.configPath)),
  });
  registerCacheMetrics(metrics.registry, () => runtime.httpCache());
  let serving = false;

  const announce = (spec: ConfigSpec) => {
    const { routes, pools } = summarize(spec);
    logger.info(`serving ${listenersOf(runtime)} — ${routes} route${routes === 1 ? '' : 's'}, ${pools} pool${pools === 1 ? '' : 's'} from ${relative(opts.configPath)}`);
  };

  if (current) {
    try {
      await runtime.apply(current);
    } catch (err) {
      // The file loaded and validated, so this is compile or listen (port in use…): nothing to wait for.
      await runtime.close(0).catch(() => {});
      await loader.dispose();
      throw err;
    }
  }
  if (current) {
    serving = true;
    announce(current);
    opts.onServing?.(runtime, current);
  } else {
    logger.error(describeError(firstError));
    logger.warn(`no config is serving yet — fix ${relative(opts.configPath)} and save; watching for changes`);
  }

  const apply = async (spec: ConfigSpec) => {
    const before = listenersOf(runtime);
    await runtime.apply(spec);
    current = spec;
    if (!serving) {
      serving = true;
      announce(spec);
      opts.onServing?.(runtime, spec);
    } else if (listenersOf(runtime) !== before) {
      logger.info(`now listening on ${listenersOf(runtime)}`);
    }
  };
  const onError = (err: unknown) => {
    logger.error(describeError(err));
    if (serving) logger.warn('kept the previous config serving');
  };

  let watcher: ConfigWatcher | undefined;
  let reloader: Reloader;
  if (opts.mode === 'dev') {
    watcher = await watchConfig({ loader, inputs: loader.inputs, apply, logger, onError });
    reloader = watcher;
    logger.debug(`watching ${loader.inputs.map(relative).join(', ')}`);
  } else {
    reloader = createReloader({ loader, apply, logger, onError });
  }

  let closing: Promise<void> | undefined;
  const server: Server = {
    runtime,
    logger,
    metrics,
    live,
    spec: () => current,
    configPath: opts.configPath,
    reload: (reason) => reloader.reload(reason),
    close() {
      return (closing ??= (async () => {
        await watcher?.close();
        await admin?.close();
        let drain: number | undefined;
        try {
          const d = current?.limits?.drainTimeout;
          drain = d === undefined ? undefined : parseDuration(d);
        } catch {
          drain = undefined;
        }
        await runtime.close(drain);
        await loader.dispose();
        logger.flush?.();
      })());
    },
  };

  // The admin API (and dashboard) on its own listener, when the config asks for one. It binds once:
  // moving `admin.listen` needs a restart (said in the log when a reload changes it).
  let admin: AdminServer | undefined;
  const adminSpec = current?.admin;
  if (adminSpec) {
    admin = createAdminServer({
      listen: adminSpec.listen,
      ...(adminSpec.token ? { token: adminSpec.token } : {}),
      context: createAdminContext(server),
      logger,
      dashboardHtml,
      dashboardCsp,
    });
    admin.register({ method: 'GET', path: '/certs', handle: async () => ({ status: 200, body: runtime.certificates() }) });
    for (const route of cacheAdminRoutes(() => runtime.httpCache())) admin.register(route);
    try {
      const url = await admin.start();
      logger.info(`admin API and dashboard on ${url}`);
    } catch (err) {
      await server.close();
      throw err;
    }
  }
  return server;
}

/**
 * `proxykit dev` serves https listeners from the internal CA when the config names no TLS source,
 * as Caddy does for local sites: `https://localhost:8443` just works (the CA's trust instructions
 * are printed once).
 */
export function devDefaults(spec: ConfigSpec): ConfigSpec {
  if (spec.tls !== undefined || !spec.listen.some((l) => l.startsWith('https:'))) return spec;
  return { ...spec, tls: 'internal' };
}

/** SIGINT/SIGTERM: graceful close, exit 0; a second signal exits at once. */
export function exitOnSignals(server: Pick<Server, 'close' | 'logger'>, extra?: () => Promise<void>): void {
  let stopping = false;
  const stop = (sig: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`${sig} again: exiting without waiting\n`);
      process.exit(1);
    }
    stopping = true;
    server.logger.info(`${sig}: draining and shutting down`);
    Promise.resolve()
      .then(() => server.close())
      .then(() => extra?.())
      .then(
        () => {
          server.logger.flush?.();
          process.exit(0);
        },
        (err: unknown) => {
          process.stderr.write(`error while shutting down: ${describeError(err)}\n`);
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

export const defaultDataDir = (configPath: string) => path.join(path.dirname(configPath), '.proxykit');

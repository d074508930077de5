/**
 * The admin API's view of a running server (AdminContext): a config summary, reload from the
 * config file, pool status, draining, metrics and live stats. Kept apart from the admin HTTP server
 * so that the server knows nothing about how the proxy is run.
 */
import { ConfigError } from '../config/errors.js';
import type { AdminContext, LiveSnapshot, Metrics, PoolStatus } from '../observe/contracts.js';
import type { Server } from './serve.js';
import { summarizeConfig } from '../observe/admin.js';

export function createAdminContext(server: Server): AdminContext {
  const { runtime } = server;
  let loadedAt = new Date().toISOString();

  const pools = (): PoolStatus[] => runtime.pools();

  // Health is state the engine keeps; export it as gauges at scrape time instead of on every change.
  const metrics: Metrics = {
    ...server.metrics,
    route: (label) => server.metrics.route(label),
    upstream: (pool, url) => server.metrics.upstream(pool, url),
    async exposition() {
      for (const p of pools()) for (const u of p.upstreams) server.metrics.upstreamHealth(p.name, u.url, u.state === 'healthy');
      return server.metrics.exposition();
    },
  };

  return {
    config() {
      return summarizeConfig(server.spec() ?? { routes: [] }, {
        planId: runtime.planId,
        listeners: runtime.listeners.map((l) => l.url),
        loadedAt,
        file: server.configPath,
      });
    },
    async reload() {
      const t0 = performance.now();
      const outcome = await server.reload('admin API');
      if (!outcome.ok) {
        throw outcome.error instanceof Error ? outcome.error : new ConfigError([{ message: String(outcome.error) }]);
      }
      loadedAt = new Date().toISOString();
      return { planId: runtime.planId, ms: Math.round(performance.now() - t0) };
    },
    pools,
    drain: (pool, url, draining) => runtime.drain(pool, url, draining),
    metrics,
    live(): LiveSnapshot {
      const snap: LiveSnapshot = server.live.snapshot(pools());
      const certs = runtime.certificates();
      if (certs.length > 0) snap.certificates = certs;
      const cache = runtime.httpCache()?.stats();
      if (cache !== undefined) {
        const seen = cache.hits + cache.misses;
        snap.cache = { hits: cache.hits, misses: cache.misses, ratio: seen === 0 ? 0 : cache.hits / seen };
      }
      return snap;
    },
  };
}

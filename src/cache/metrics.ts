/**
 * The cache's Prometheus metrics, read from the running cache when scraped (nothing is counted
 * twice on the hit path): requests by result, store size, entries, evictions.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { HttpCache } from './http-cache.js';

export function registerCacheMetrics(registry: Registry, current: () => HttpCache | null): void {
  const registers = [registry];
  new Counter({
    name: 'proxykit_cache_requests_total',
    help: 'Cacheable requests by result: hit (answered from the cache) or miss (went upstream).',
    labelNames: ['result'],
    registers,
    collect() {
      const s = current()?.stats();
      this.reset();
      this.inc({ result: 'hit' }, s?.hits ?? 0);
      this.inc({ result: 'miss' }, s?.misses ?? 0);
    },
  });
  new Counter({
    name: 'proxykit_cache_evictions_total',
    help: 'Entries evicted to stay within the cache size.',
    registers,
    collect() {
      this.reset();
      this.inc(current()?.stats().evictions ?? 0);
    },
  });
  const gauge = (name: string, help: string, read: (s: ReturnType<HttpCache['stats']>) => number): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        const s = current()?.stats();
        this.set(s === undefined ? 0 : read(s));
      },
    });
  };
  gauge('proxykit_cache_bytes', 'Bytes held by the cache store.', (s) => s.bytes);
  gauge('proxykit_cache_max_bytes', 'The cache store size limit in bytes.', (s) => s.maxBytes);
  gauge('proxykit_cache_entries', 'Stored responses (variants count separately).', (s) => s.entries);
}

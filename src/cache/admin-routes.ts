/**
 * The cache's admin endpoints:
 *   POST /cache/purge  {"url": "https://example.com/a?b"} | {"tag": "product-42"} | {"prefix": "https://example.com/img/"} | {"all": true}
 *   GET  /cache        store size, entries, hits, misses
 * The cache is looked up per call: it may appear, change or go with a reload.
 */
import type { AdminRoute } from '../observe/contracts.js';
import type { HttpCache } from './http-cache.js';

const NOT_ENABLED = { status: 501, body: { error: 'caching is not enabled: no route uses .cache()' } };

export function cacheAdminRoutes(current: () => HttpCache | null): AdminRoute[] {
  return [
    {
      method: 'POST',
      path: '/cache/purge',
      async handle(body) {
        const cache = current();
        if (cache === null) return NOT_ENABLED;
        if (typeof body !== 'object' || body === null || Array.isArray(body)) return usage();
        const b = body as Record<string, unknown>;
        const given = ['url', 'tag', 'prefix', 'all'].filter((k) => b[k] !== undefined);
        if (given.length !== 1) return usage();
        try {
          if (typeof b.url === 'string') return ok('url', b.url, cache.purgeUrl(b.url));
          if (typeof b.tag === 'string' && b.tag.length > 0) return ok('tag', b.tag, cache.purgeTag(b.tag));
          if (typeof b.prefix === 'string') return ok('prefix', b.prefix, cache.purgePrefix(b.prefix));
          if (b.all === true) return ok('all', true, cache.purgeAll());
        } catch (err) {
          return { status: 400, body: { error: (err as Error).message } };
        }
        return usage();
      },
    },
    {
      method: 'GET',
      path: '/cache',
      async handle() {
        const cache = current();
        return cache === null ? NOT_ENABLED : { status: 200, body: cache.stats() };
      },
    },
  ];
}

function ok(by: string, what: unknown, purged: number): { status: number; body: unknown } {
  return { status: 200, body: { ok: true, [by]: what, purged } };
}

function usage(): { status: number; body: unknown } {
  return {
    status: 400,
    body: { error: 'expected a JSON body with one of {"url": "<absolute URL>"}, {"tag": "<surrogate key>"}, {"prefix": "<URL prefix>"}, {"all": true}' },
  };
}

// proxykit config: a caching proxy in front of a static site or CDN origin.
// Every response says what the cache did in its Cache-Status header; see docs/caching.md.
import { defineConfig, pool, route } from 'proxykit';

const origin = pool('origin', ['http://127.0.0.1:3000'])
  .health({ path: '/', interval: '10s' });

export default defineConfig({
  listen: ['http://127.0.0.1:8080'],
  via: true,
  // One store for every caching route, kept across reloads. `disk: { path: './cache' }` keeps it
  // across restarts too.
  cache: { maxSize: '512mb', maxObjectSize: '32mb' },
  // Purge with `curl -XPOST 127.0.0.1:2019/cache/purge -d '{"url": "http://…"}'` (or {"tag": …}).
  admin: { listen: 'http://127.0.0.1:2019' },
  routes: [
    // Fingerprinted assets: the origin's headers decide; 1 h when it sends none. Served stale
    // while refreshing, and for a day if the origin is down.
    route('/assets/*').methods('GET', 'HEAD').to(origin).cache({ maxAge: '1h', staleWhileRevalidate: '10m', staleIfError: '1d' }),
    // Pages: follow the origin's Cache-Control, 60 s when it sends none; tracking parameters do
    // not split the cache.
    route('/*')
      .methods('GET', 'HEAD')
      .to(origin)
      .cache({
        maxAge: '60s',
        staleWhileRevalidate: '30s',
        staleIfError: '1h',
        key: { query: { exclude: ['utm_source', 'utm_medium', 'utm_campaign', 'fbclid', 'gclid'] } },
      }),
  ],
});

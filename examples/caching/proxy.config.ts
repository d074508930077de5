// An RFC 9111 shared cache in front of the demo origin (`node examples/caching/origin.mjs`).
// Every response carries a Cache-Status header saying what the cache did (hit, or why it went to
// the origin); the admin API on :2019 purges by URL or by surrogate key.
import { defineConfig, pool, route } from 'proxykit';

const origin = pool('origin', ['http://127.0.0.1:3201']);

export default defineConfig({
  listen: ['http://127.0.0.1:8080'],
  admin: { listen: 'http://127.0.0.1:2019' },
  // One store shared by every caching route, kept across reloads; `disk: { path: './cache' }`
  // keeps it across restarts too.
  cache: { maxSize: '256mb', maxObjectSize: '16mb' },
  routes: [
    // The origin's headers decide; marketing's tracking parameters do not split the cache.
    route('/*').to(origin).cache({
      key: { query: { exclude: ['utm_source', 'utm_medium', 'utm_campaign'] } },
      // Logged-in users (a session cookie) always go to the origin.
      bypass: { cookies: ['session'] },
      // When the origin says nothing about staleness: refresh in the background for 10 s, and
      // ride out origin failures for an hour.
      staleWhileRevalidate: '10s',
      staleIfError: '1h',
    }),
  ],
});

// proxykit config: a caching proxy in front of a static site or CDN origin.
import { defineConfig, pool, route } from 'proxykit';

const origin = pool('origin', ['http://127.0.0.1:3000'])
  .health({ path: '/', interval: '10s' });

export default defineConfig({
  listen: ['http://127.0.0.1:8080'],
  via: true,
  routes: [
    // Fingerprinted assets: cache long, refresh in the background.
    route('/assets/*').methods('GET', 'HEAD').to(origin).cache({ maxAge: '1h', staleWhileRevalidate: '10m' }),
    // Pages: follow the origin's Cache-Control, short default.
    route('/*').methods('GET', 'HEAD').to(origin).cache({ maxAge: '60s', staleWhileRevalidate: '30s' }),
  ],
});

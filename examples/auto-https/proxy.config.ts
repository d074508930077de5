// Automatic HTTPS for a real domain: proxykit obtains a certificate from Let's Encrypt for every
// host named in a route, serves HTTP/2 and HTTP/1.1 on :443, redirects :80 to HTTPS, and renews
// certificates by itself. See README.md in this folder before running it.
import { defineConfig, pool, route } from 'proxykit';

const app = pool('app', ['http://127.0.0.1:3000']).health({ path: '/healthz' });

export default defineConfig({
  listen: ['http://0.0.0.0:80', 'https://0.0.0.0:443'],
  tls: {
    acme: {
      email: process.env.ACME_EMAIL ?? 'ops@example.com',
      // Let's Encrypt's staging CA while you try things out (its certificates are not trusted by
      // browsers, but its rate limits are generous). Remove this line for real certificates.
      directory: 'https://acme-staging-v02.api.letsencrypt.org/directory',
    },
    hsts: true,
  },
  routes: [
    route('example.com/*').to(app),
    route('www.example.com/*').redirect('https://example.com', 308, { keepPath: true }),
  ],
});

/**
 * Type tests for the `tls` config forms and the pool `.tls()` method (issue 5), checked by
 * `tsc --noEmit -p tsconfig.json`. Negative cases must fail to compile (`@ts-expect-error`).
 */
import { defineConfig, pool, route, type Pool } from 'proxykit';
import type { AcmeOptions, TlsOptions, UpstreamTlsOptions } from '../../src/config/builder.types.js';
import type { AcmeSpec, TlsSpec, UpstreamTlsSpec } from '../../src/config/spec.js';
import { Expect, type Equal } from './utils.js';

// ---- the option types are the spec types ---------------------------------------------------------

Expect<Equal<AcmeOptions, AcmeSpec>>();
Expect<Equal<UpstreamTlsOptions, UpstreamTlsSpec>>();
// Every TlsOptions value is a valid ConfigSpec.tls.
const asSpec = (t: TlsOptions): TlsSpec | 'internal' => t;
void asSpec;

// ---- positive: the config-api.md forms and the new options --------------------------------------

const routes = [route('/').respond(200, 'ok')];
defineConfig({ listen: 'https://127.0.0.1:8443', routes, tls: 'internal' });
defineConfig({ listen: 'https://0.0.0.0:443', routes, tls: { acme: { email: 'ops@example.com' } } });
defineConfig({ routes, tls: { certs: [{ cert: 'a.pem', key: 'a.key' }] } });
defineConfig({ routes, tls: { internal: true, hsts: true } });
defineConfig({
  routes,
  tls: {
    acme: {
      email: 'ops@example.com',
      directory: 'https://acme-staging-v02.api.letsencrypt.org/directory',
      challenges: ['dns-01', 'http-01'],
      dns: {
        set: async (name, value) => void [name, value],
        remove: async () => {},
      },
      onDemand: { ask: async (name) => name.endsWith('.example.com'), perMinute: 5, retryAfter: '10m' },
    },
    certs: [{ cert: 'legacy.pem', key: 'legacy.key' }],
    domains: ['*.example.com', 'example.com'],
    hsts: { maxAge: '8760h', includeSubDomains: true, preload: true },
    redirectHttp: false,
  },
});
defineConfig({ routes, tls: { acme: { email: 'a@b.co', onDemand: { ask: () => true } } } });
defineConfig({ routes, tls: { certs: [{ cert: 'a.pem', key: 'a.key' }], hsts: { maxAge: 31_536_000_000 } } });

// Pool TLS to upstreams.
const secure = pool('secure', ['https://api.internal:8443']).tls({ ca: 'ca.pem', servername: 'api.internal' });
Expect<Equal<typeof secure, Pool<'tls'>>>();
pool('mtls', ['https://10.0.0.5']).tls({ cert: 'client.pem', key: 'client.key' }).health({ path: '/h' });
pool('dev', ['https://127.0.0.1:9443']).tls({ insecure: true });
const upstreamTls = { ca: 'ca.pem' } as const;
pool('v', ['https://v:1']).tls(upstreamTls);
route('/s').to(secure);

// ---- negative ------------------------------------------------------------------------------------

// @ts-expect-error tls is one of the documented forms
defineConfig({ routes, tls: 'auto' });
// @ts-expect-error acme needs an email
defineConfig({ routes, tls: { acme: {} } });
// @ts-expect-error wrong option name: emial
defineConfig({ routes, tls: { acme: { emial: 'a@b.co' } } });
// @ts-expect-error no certificate source (acme, certs or internal)
defineConfig({ routes, tls: { hsts: true } });
// @ts-expect-error acme and internal exclude each other
defineConfig({ routes, tls: { internal: true, acme: { email: 'a@b.co' } } });
// @ts-expect-error internal is `true` (or the string 'internal')
defineConfig({ routes, tls: { internal: 'yes' } });
// @ts-expect-error a cert file pair needs key
defineConfig({ routes, tls: { certs: [{ cert: 'a.pem' }] } });
// @ts-expect-error unknown challenge type
defineConfig({ routes, tls: { acme: { email: 'a@b.co', challenges: ['http-02'] } } });
// @ts-expect-error onDemand needs ask
defineConfig({ routes, tls: { acme: { email: 'a@b.co', onDemand: { perMinute: 5 } } } });
// @ts-expect-error ask returns a boolean
defineConfig({ routes, tls: { acme: { email: 'a@b.co', onDemand: { ask: (name: string) => name } } } });
// @ts-expect-error dns provider needs remove
defineConfig({ routes, tls: { acme: { email: 'a@b.co', dns: { set: async () => {} } } } });
// @ts-expect-error domains is a list
defineConfig({ routes, tls: { internal: true, domains: 'example.com' } });
// @ts-expect-error hsts maxAge is a duration
defineConfig({ routes, tls: { internal: true, hsts: { maxAge: 'forever' } } });
// @ts-expect-error redirectHttp is a boolean
defineConfig({ routes, tls: { internal: true, redirectHttp: 'yes' } });
defineConfig({ routes, tls: { internal: true, minVersion: '1.3' } });
// @ts-expect-error TLS 1.0 and 1.1 are never offered
defineConfig({ routes, tls: { internal: true, minVersion: '1.1' } });

// @ts-expect-error wrong option name: verify
pool('n', ['https://n:1']).tls({ verify: false });
const badUpstreamTls = { ca: 'ca.pem', cacert: 'x' };
// @ts-expect-error extra key through a variable
pool('n', ['https://n:1']).tls(badUpstreamTls);
// @ts-expect-error insecure is a boolean
pool('n', ['https://n:1']).tls({ insecure: 'yes' });
// @ts-expect-error .tls() is one-shot
pool('n', ['https://n:1']).tls({ ca: 'a.pem' }).tls({ ca: 'b.pem' });

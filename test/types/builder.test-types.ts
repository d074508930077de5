/**
 * Type tests for the config builder, checked by `tsc --noEmit -p tsconfig.json`.
 * Positive cases assert types; negative cases must fail to compile (`@ts-expect-error`), so `tsc`
 * fails if a misuse ever starts compiling.
 */
import { defineConfig, pool, route, type Config, type Pool, type Route } from 'proxykit';
import type { ConfigSpec } from '../../src/config/spec.js';
import { Expect, type Equal } from './utils.js';

const api = pool('api', ['http://127.0.0.1:3001']);

// ---- positive: state in the types ------------------------------------------------------------

const r0 = route('/x');
Expect<Equal<typeof r0, Route<false, never>>>();

const r1 = route('/x').methods('GET');
Expect<Equal<typeof r1, Route<false, 'methods'>>>();

const r2 = route('/x').methods('GET').to(api);
Expect<Equal<typeof r2, Route<true, 'methods' | 'to' | 'redirect' | 'respond'>>>();

const r3 = route('/x').respond(200, 'ok');
Expect<Equal<typeof r3, Route<true, 'to' | 'redirect' | 'respond'>>>();

const r4 = route('/x').to('http://127.0.0.1:3000').stripPrefix('/x').waf();
Expect<Equal<typeof r4, Route<true, 'to' | 'redirect' | 'respond' | 'stripPrefix' | 'waf'>>>();

const p1 = pool('a', ['http://a:1']).balance('least-conn').retry({ attempts: 1 });
Expect<Equal<typeof p1, Pool<'balance' | 'retry'>>>();

const cfg = defineConfig({ routes: [r2, r3, r4] });
Expect<Equal<typeof cfg, ConfigSpec>>();
Expect<Equal<Config, ConfigSpec>>();

// Options given through variables are fine when they only have known keys.
const rl = { perIp: '10/s', burst: 5 } as const;
route('/x').to(api).rateLimit(rl);
const h = { path: '/healthz', interval: '2s' } as const;
pool('b', ['http://b:1']).health(h);

// Every balance form.
pool('c', ['http://c:1']).balance({ hash: 'ip' });
pool('c', ['http://c:1']).balance({ hash: 'header:x-user' });
pool('c', ['http://c:1']).balance({ hash: 'cookie:sid' });
pool('c', ['http://c:1']).balance('p2c-ewma');
route('/r').redirect('/new');
route('/r').redirect('/new', 308, { keepPath: true });
route('/b').to(api).bodyLimit(false).hostHeader('upstream').hideHeaders([]).rewrite(/^\/b/, '/c');
route('/g').to(api).geo({ nearest: true });
defineConfig({ listen: 'http://127.0.0.1:9000', routes: [], tls: 'internal', log: { level: 'debug' } });
defineConfig({ routes: [], tls: { acme: { email: 'a@b.c', onDemand: { ask: async (name) => name.endsWith('.x') } } } });

// ---- negative: wrong option names --------------------------------------------------------------

// @ts-expect-error wrong option name: perIP (perIp)
route('/x').to(api).rateLimit({ perIP: '1/s' });
const rlTypo = { perIP: '1/s', burst: 2 };
// @ts-expect-error extra key through a variable (TS's own excess check misses this)
route('/x').to(api).rateLimit(rlTypo);
// @ts-expect-error wrong option name: paranioa
route('/x').to(api).waf({ paranioa: 2 });
// @ts-expect-error wrong option name: maxage
route('/x').to(api).cache({ maxage: '60s' });
// @ts-expect-error wrong option name: intervall
pool('d', ['http://d:1']).health({ path: '/h', intervall: '2s' });
// @ts-expect-error wrong option name: failure
pool('d', ['http://d:1']).passive({ failure: 5 });
// @ts-expect-error wrong option name: conect
pool('d', ['http://d:1']).timeouts({ conect: '2s' });
// @ts-expect-error wrong nested option name: sett
route('/x').to(api).headers({ request: { sett: { a: 'b' } } });
const hdr = { request: { set: { a: 'b' }, sett: { c: 'd' } } };
// @ts-expect-error wrong nested option name through a variable
route('/x').to(api).headers(hdr);
// @ts-expect-error wrong option name in defineConfig: listne
defineConfig({ listne: ['http://127.0.0.1:1'], routes: [] });
// @ts-expect-error wrong option name in upstream object: wieght
pool('e', [{ url: 'http://e:1', wieght: 2 }]);
// @ts-expect-error wrong option name in redirect options
route('/r').redirect('/n', 301, { keepPth: true });

// ---- negative: wrong option types --------------------------------------------------------------

// @ts-expect-error waf mode is 'block' | 'detect'
route('/x').to(api).waf({ mode: 'deny' });
// @ts-expect-error paranoia is 1..4
route('/x').to(api).waf({ paranoia: 5 });
// @ts-expect-error burst is a number
route('/x').to(api).rateLimit({ perIp: '1/s', burst: '2' });
// @ts-expect-error a rate needs a unit: '100/s'
route('/x').to(api).rateLimit({ perIp: '100' });
// @ts-expect-error bad duration string
pool('f', ['http://f:1']).timeouts({ connect: '30 seconds' });
// @ts-expect-error bad duration string
route('/x').to(api).cache({ maxAge: '1 day' });
// @ts-expect-error bad size string
route('/x').to(api).bodyLimit('10 megabytes');
// @ts-expect-error health needs a path
pool('f', ['http://f:1']).health({ interval: '2s' });
// @ts-expect-error redirect status must be a redirect status
route('/r').redirect('/n', 200);
// @ts-expect-error respond status is a number
route('/r').respond('200');
// @ts-expect-error geo pools are pool builders, not URLs
route('/x').to(api).geo({ pools: { EU: 'http://eu:1' } });
// @ts-expect-error weight is a number
pool('g', [{ url: 'http://g:1', weight: '2' }]);
// @ts-expect-error tls is one of the documented forms
defineConfig({ routes: [], tls: 'auto' });

// ---- negative: balance -------------------------------------------------------------------------

// @ts-expect-error bad balance name
pool('h', ['http://h:1']).balance('roundrobin');
// @ts-expect-error bad hash key
pool('h', ['http://h:1']).balance({ hash: 'query' });
// @ts-expect-error bad hash key (header needs the colon form)
pool('h', ['http://h:1']).balance({ hash: 'header' });

// ---- negative: state ---------------------------------------------------------------------------

// @ts-expect-error .to() twice
route('/x').to(api).to(api);
// @ts-expect-error .to() after .respond()
route('/x').respond(200).to(api);
// @ts-expect-error .redirect() after .to()
route('/x').to(api).redirect('/y');
// @ts-expect-error .respond() after .redirect()
route('/x').redirect('/y').respond(200);
// @ts-expect-error one-shot: .methods() twice
route('/x').methods('GET').methods('POST');
// @ts-expect-error one-shot: .stripPrefix() twice
route('/x').stripPrefix('/a').to(api).stripPrefix('/b');
// @ts-expect-error one-shot: .waf() twice
route('/x').to(api).waf().waf();
// @ts-expect-error one-shot pool method: .balance() twice
pool('i', ['http://i:1']).balance('random').balance('weighted');
// @ts-expect-error .methods() needs at least one method
route('/x').methods();

// @ts-expect-error a route with no target
defineConfig({ routes: [route('/x')] });
// @ts-expect-error a route with no target, after other methods
defineConfig({ routes: [route('/x').to(api), route('/y').methods('GET').stripPrefix('/y')] });
// @ts-expect-error routes is required
defineConfig({});
// @ts-expect-error .to() takes a pool or a URL string
route('/x').to(42);

// ---- $dynamic: conditional chaining ------------------------------------------------------------

let dyn = route('/d').to(api).$dynamic();
if (Math.random() > 0.5) dyn = dyn.stripPrefix('/d');
if (Math.random() > 0.5) dyn = dyn.bodyLimit('1mb');
defineConfig({ routes: [dyn] });
Expect<Equal<typeof dyn, Route<true, never, true>>>();
let dynPool = pool('dp', ['http://dp:1']).$dynamic();
if (Math.random() > 0.5) dynPool = dynPool.timeouts({ connect: '1s' });
route('/dp').to(dynPool);
// @ts-expect-error a dynamic route without a target is still rejected
defineConfig({ routes: [route('/d').$dynamic()] });
// @ts-expect-error options stay exact in dynamic mode
dyn.rateLimit({ perIP: '1/s' });

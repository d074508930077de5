/**
 * Type tests for `.cache()` and the top-level `cache` block, checked by
 * `tsc --noEmit -p tsconfig.json`. Negative cases must fail to compile (`@ts-expect-error`).
 */
import {
  defineConfig,
  pool,
  route,
  type CacheKeyFn,
  type CacheKeyRequest,
  type CacheOptions,
  type CacheStorageOptions,
  type Route,
} from 'proxykit';
import { Expect, type Equal } from './utils.js';

const origin = pool('origin', ['http://127.0.0.1:3000']);

// ---- positive ----------------------------------------------------------------------------------

const c0 = route('/a').to(origin).cache();
Expect<Equal<typeof c0, Route<true, 'to' | 'redirect' | 'respond' | 'cache'>>>();
route('/a').to(origin).cache({});
route('/a').cache({ maxAge: '60s' }).to(origin); // before the target is fine too
route('/a')
  .to(origin)
  .cache({
    maxAge: '5m',
    staleWhileRevalidate: '30s',
    staleIfError: 3_600_000,
    key: { query: { exclude: ['utm_source'] }, headers: ['accept-language'], cookies: ['currency'] },
    bypass: { cookies: ['session'], headers: ['authorization'] },
    ignoreOriginNoCache: true,
    tagHeaders: ['surrogate-key'],
    lockTimeout: '2s',
    heuristic: 0.05,
  });
route('/a').to(origin).cache({ key: { query: false } });
route('/a').to(origin).cache({ key: { query: true, headers: [] } });
route('/a').to(origin).cache({ key: { query: { include: ['page', 'sort'] } } });
route('/a').to(origin).cache({ heuristic: false, ignoreOriginNoCache: false, tagHeaders: [] });

// Functions: the request is typed, no annotation needed.
route('/a')
  .to(origin)
  .cache({
    key: (req) => `${req.host}${req.path}${req.cookie('currency') ?? ''}`,
    bypass: (req) => req.method === 'POST' || req.header('x-preview') !== undefined,
  });
const keyFn: CacheKeyFn = (req: CacheKeyRequest) => req.path;
route('/a').to(origin).cache({ key: keyFn });

// Options held in variables are fine when they only have known keys.
const opts = { maxAge: '60s', key: { query: false } } satisfies CacheOptions;
route('/a').to(origin).cache(opts);
const fromVar: CacheOptions = { staleIfError: '1h' };
route('/a').to(origin).cache(fromVar);

// The top-level block.
defineConfig({ routes: [], cache: {} });
defineConfig({ routes: [], cache: { maxSize: '1gb', maxObjectSize: '50mb', disk: { path: '.cache' }, name: 'edge-1' } });
const storage: CacheStorageOptions = { maxSize: 1024 * 1024 };
defineConfig({ routes: [], cache: { maxSize: '512MB', maxObjectSize: '16MB' } }); // the upper-case spelling works too
defineConfig({ routes: [route('/a').to(origin).cache()], cache: storage });

// ---- negative: unknown keys --------------------------------------------------------------------

// @ts-expect-error wrong option name: maxage
route('/a').to(origin).cache({ maxage: '60s' });
// @ts-expect-error wrong option name: staleWhileRevalidation
route('/a').to(origin).cache({ staleWhileRevalidation: '60s' });
const typo = { maxAge: '60s', ttl: '60s' } as const;
// @ts-expect-error extra key through a variable
route('/a').to(origin).cache(typo);
// @ts-expect-error wrong key option name: header
route('/a').to(origin).cache({ key: { header: ['accept'] } });
const keyTypo = { key: { query: false, cookie: ['sid'] } };
// @ts-expect-error wrong nested key option through a variable
route('/a').to(origin).cache(keyTypo);
// @ts-expect-error wrong bypass option name: cookie
route('/a').to(origin).cache({ bypass: { cookie: ['session'] } });
const bypassTypo = { bypass: { headers: ['authorization'], cookie: ['session'] } };
// @ts-expect-error wrong nested bypass option through a variable
route('/a').to(origin).cache(bypassTypo);
// @ts-expect-error wrong option name in the top-level block: maxsize
defineConfig({ routes: [], cache: { maxsize: '1gb' } });
// @ts-expect-error wrong option name in cache.disk: dir
defineConfig({ routes: [], cache: { disk: { dir: '.cache' } } });

// ---- negative: wrong types ---------------------------------------------------------------------

// @ts-expect-error include and exclude exclude each other
route('/a').to(origin).cache({ key: { query: { include: ['a'], exclude: ['b'] } } });
// @ts-expect-error query is true, false, { include } or { exclude }
route('/a').to(origin).cache({ key: { query: 'none' } });
// @ts-expect-error include lists names
route('/a').to(origin).cache({ key: { query: { include: 'page' } } });
// @ts-expect-error a bad duration string
route('/a').to(origin).cache({ maxAge: '1 day' });
// @ts-expect-error a bad duration string
route('/a').to(origin).cache({ staleIfError: 'forever' });
// @ts-expect-error a bad duration string
route('/a').to(origin).cache({ lockTimeout: '5sec' });
// @ts-expect-error bypass returns a boolean, not a string
route('/a').to(origin).cache({ bypass: () => 'yes' });
// @ts-expect-error a key function returns a string
route('/a').to(origin).cache({ key: (req: CacheKeyRequest) => req.path.length });
// @ts-expect-error the request has no `url` (it has host, path and query)
route('/a').to(origin).cache({ key: (req) => req.url });
// @ts-expect-error bypass headers are a list
route('/a').to(origin).cache({ bypass: { headers: 'authorization' } });
// @ts-expect-error heuristic is false or a fraction, not true
route('/a').to(origin).cache({ heuristic: true });
// @ts-expect-error ignoreOriginNoCache is a boolean
route('/a').to(origin).cache({ ignoreOriginNoCache: 'yes' });
// @ts-expect-error tagHeaders is a list
route('/a').to(origin).cache({ tagHeaders: 'surrogate-key' });
// @ts-expect-error options are an object, not a duration
route('/a').to(origin).cache('60s');
// @ts-expect-error options are an object, not a function
route('/a').to(origin).cache(() => true);
// @ts-expect-error one-shot: .cache() twice
route('/a').to(origin).cache().cache();
// @ts-expect-error a bad size string
defineConfig({ routes: [], cache: { maxSize: '1 gigabyte' } });
// @ts-expect-error disk needs a path
defineConfig({ routes: [], cache: { disk: {} } });
// @ts-expect-error disk is an object, not a path string
defineConfig({ routes: [], cache: { disk: '.cache' } });

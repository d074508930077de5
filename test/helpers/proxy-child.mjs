// Runs proxykit in its own process so a test can watch its memory (/proc/<pid>/status).
//
//   PK_CHILD_LIB=/path/to/compiled/proxykit (dist/)
//   PK_CHILD_CONFIG='{"routes":[{"match":"/*","to":["http://127.0.0.1:3000"],"bodyLimit":false}]}'
//   node test/helpers/proxy-child.mjs
//
// Config (JSON): { listen?: string, limits?: LimitsSpec, routes: [{ match, to: string[],
// stripPrefix?, bodyLimit?: ByteSize | false, timeouts? }] }. Prints `PROXYKIT_URL=<url>` on stdout
// once listening; closes gracefully on SIGTERM / SIGINT or when stdin ends (the parent died).
// Plain JS so that it can run the built dist/ without a TypeScript loader in the process (the
// loader alone adds ~30 MB of RSS, which would distort a memory test).
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const lib = process.env.PK_CHILD_LIB;
if (!lib) {
  console.error('PK_CHILD_LIB must point at dist/ or src/');
  process.exit(2);
}
const load = (rel) => import(pathToFileURL(path.join(lib, rel)).href);
const { defineConfig, route, pool } = await load('index.js');
const { createRuntime } = await load('engine/runtime.js');
const { createSilentLogger } = await load('observe/logger.js');

const cfg = JSON.parse(process.env.PK_CHILD_CONFIG ?? '{"routes":[]}');
const routes = cfg.routes.map((r, i) => {
  let p = pool(`p${i}`, r.to);
  if (r.timeouts) p = p.timeouts(r.timeouts);
  let b = route(r.match).to(p);
  if (r.stripPrefix) b = b.stripPrefix(r.stripPrefix);
  if (r.bodyLimit !== undefined) b = b.bodyLimit(r.bodyLimit);
  return b;
});

const rt = createRuntime({ logger: createSilentLogger() });
await rt.apply(
  defineConfig({
    listen: [cfg.listen ?? 'http://127.0.0.1:0'],
    ...(cfg.limits ? { limits: cfg.limits } : {}),
    log: { access: false },
    routes,
  }),
);
process.stdout.write(`PROXYKIT_URL=${rt.listeners[0].url}\n`);

let closing = false;
const shutdown = () => {
  if (closing) return;
  closing = true;
  setTimeout(() => process.exit(1), 5000).unref();
  rt.close(2000).then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
process.stdin.on('end', shutdown);
process.stdin.on('close', shutdown);
process.stdin.resume();

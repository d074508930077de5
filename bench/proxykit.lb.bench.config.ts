// proxykit config for the load-balancing case of `npm run bench`: one pool over UPSTREAMS
// (comma-separated URLs) balanced with BALANCE ('round-robin', 'p2c-ewma', ...), listening on
// 127.0.0.1:PORT, access log off. bench/run.ts starts it twice (round-robin and p2c-ewma).
import { defineConfig, route, pool, type BalanceAlgorithm } from 'proxykit';

const port = Number(process.env.PORT ?? 18384);
const upstreams = (process.env.UPSTREAMS ?? 'http://127.0.0.1:18390,http://127.0.0.1:18391,http://127.0.0.1:18392,http://127.0.0.1:18393')
  .split(',')
  .map((u) => u.trim())
  .filter((u) => u !== '');
const balance = (process.env.BALANCE ?? 'round-robin') as BalanceAlgorithm;

export default defineConfig({
  listen: [`http://127.0.0.1:${port}`],
  log: { access: false },
  routes: [route('/*').to(pool('lb', upstreams).balance(balance))],
});

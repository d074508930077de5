// Built-in HTTP/1.1 load generator, used by bench/run.ts when `wrk` is not on PATH.
//
//   node bench/loadgen.mjs --url http://127.0.0.1:18300/ --connections 50 --duration 10
//
// Closed loop like wrk: `connections` keep-alive connections (an undici Pool, no pipelining), each
// sending its next request as soon as the previous response body has been read. Runs for a fixed
// duration, then prints one JSON line: { requests, errors, non2xx, seconds, rps, p50Ms, p99Ms,
// bytes }. Latencies are kept in a fixed histogram (1 µs resolution up to 10 ms, then 100 µs up
// to 10 s), so memory stays constant however long it runs.
import { Pool } from 'undici';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    connections: { type: 'string', default: '50' },
    duration: { type: 'string', default: '10' },
  },
});
if (!values.url) {
  console.error('usage: loadgen.mjs --url URL [--connections N] [--duration S]');
  process.exit(2);
}
const url = new URL(values.url);
const connections = Math.max(1, Number(values.connections));
const durationMs = Math.max(0.2, Number(values.duration)) * 1000;
const hardStop = setTimeout(() => {
  console.error('loadgen: hard stop (duration + 15 s) reached');
  process.exit(3);
}, durationMs + 15_000);

const FINE = 10_000; // µs buckets below 10 ms
const COARSE = 100_000; // 100 µs buckets up to 10 s
const fine = new Float64Array(FINE);
const coarse = new Float64Array(COARSE);
let over = 0;
function record(us) {
  if (us < FINE) fine[Math.floor(us)]++;
  else if (us < FINE + COARSE * 100) coarse[Math.floor((us - FINE) / 100)]++;
  else over++;
}
function percentile(total, p) {
  const want = total * p;
  let seen = 0;
  for (let i = 0; i < FINE; i++) {
    seen += fine[i];
    if (seen >= want) return i / 1000;
  }
  for (let i = 0; i < COARSE; i++) {
    seen += coarse[i];
    if (seen >= want) return (FINE + i * 100) / 1000;
  }
  return Infinity;
}

const pool = new Pool(url.origin, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
const path = url.pathname + url.search;
let requests = 0;
let errors = 0;
let non2xx = 0;
let bytes = 0;
let stop = false;
const t0 = performance.now();

async function loop() {
  while (!stop) {
    const start = performance.now();
    try {
      const res = await pool.request({ path, method: 'GET' });
      for await (const chunk of res.body) bytes += chunk.length;
      if (res.statusCode < 200 || res.statusCode >= 300) non2xx++;
      requests++;
      record((performance.now() - start) * 1000);
    } catch {
      errors++;
      if (errors > 10_000) stop = true;
      await new Promise((r) => setTimeout(r, 1));
    }
  }
}

setTimeout(() => {
  stop = true;
}, durationMs);
await Promise.all(Array.from({ length: connections }, loop));
const seconds = (performance.now() - t0) / 1000;
await pool.close().catch(() => {});
clearTimeout(hardStop);
const total = requests;
console.log(
  JSON.stringify({
    requests,
    errors,
    non2xx,
    seconds,
    rps: requests / seconds,
    p50Ms: total ? percentile(total, 0.5) : null,
    p99Ms: total ? percentile(total, 0.99) : null,
    over10s: over,
    bytes,
  }),
);

/**
 * proxykit's own benchmark: `npm run bench [-- --duration 10 --connections 50 --quick]`.
 *
 * Starts, each in its own process:
 *   - a node:http backend (bench/backend.mjs): `/` = 12 bytes, `/16k` = 16 KiB;
 *   - proxykit: `node bin/proxykit.js start -c bench/proxykit.bench.config.ts` (one plain route,
 *     access log off);
 *   - node-ref: bench/ref-proxy.mjs, a bare node:http + undici Pool forwarder (the Node ceiling);
 * then, for the small and the 16 KiB body, measures req/s, p50/p99 latency and CPU µs per request
 * direct to the backend, through proxykit and through node-ref, and prints the ratios.
 *
 * Load: `wrk` when it is on PATH, otherwise bench/loadgen.mjs (undici, closed loop, like wrk).
 * Pinning (taskset, when present and there are >= 2 cores): load generator and backend on core 0,
 * the proxy under test alone on core 1 (with >= 3 cores the backend gets core 2).
 * Every process is started here and killed here by pid; nothing is looked up by name.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const benchDir = path.join(root, 'bench');

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string' },
    connections: { type: 'string', default: '50' },
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    warmup: { type: 'string' },
    'no-wrk': { type: 'boolean', default: false },
    'no-pin': { type: 'boolean', default: false },
    case: { type: 'string', default: 'all' },
    'lb-connections': { type: 'string', default: '10' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  console.log(`Usage: npm run bench -- [options]

  --duration S       seconds per measured run          (default 10, --quick: 2)
  --connections N    concurrent keep-alive connections (default 50)
  --rounds N         measured runs per target and case, interleaved (default 1)
  --warmup S         warm-up seconds before each target's first run (default 1, --quick: 0.5)
  --quick            smoke run: 2 s runs, short warm-up
  --no-wrk           use the built-in load generator even when wrk is installed
  --no-pin           do not use taskset
  --case C           which cases to run: 'proxy' (cost of the proxy: direct / proxykit / node-ref),
                     'p2c' (4 upstreams, one 10× slower: round-robin vs p2c-ewma), or 'all' (default)
  --lb-connections N connections for the p2c case (default 10: below saturation, where latency
                     reflects the upstreams rather than queueing in the proxy)`);
  process.exit(0);
}
const duration = Number(args.duration ?? (args.quick ? 2 : 10));
const connections = Number(args.connections);
const rounds = Number(args.rounds ?? 1);
const warmup = Number(args.warmup ?? (args.quick ? 0.5 : 1));
if (!(duration > 0) || !(connections > 0) || !(rounds >= 1)) {
  console.error('bad --duration / --connections / --rounds');
  process.exit(2);
}
const caseArg = args.case ?? 'all';
if (!['all', 'proxy', 'p2c'].includes(caseArg)) {
  console.error(`bad --case ${JSON.stringify(caseArg)}: use proxy, p2c or all`);
  process.exit(2);
}
/** The load-balancing case keeps each run short: at most 5 s (2 s with --quick). */
const lbDuration = Math.min(duration, 5);
const lbConnections = Number(args['lb-connections']);
if (!(lbConnections > 0)) {
  console.error('bad --lb-connections');
  process.exit(2);
}

const PORTS = { backend: 18380, proxykit: 18381, ref: 18382, observed: 18383, lbRoundRobin: 18386, lbP2c: 18387, lbBackends: 18390 };
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
const onPath = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const useWrk = !args['no-wrk'] && onPath('wrk');
const ncpu = cpus().length;
const pin = !args['no-pin'] && onPath('taskset') && ncpu >= 2;
const CORE = { load: '0', proxy: '1', backend: ncpu >= 3 ? '2' : '0' };

// ------------------------------------------------------------------ processes
const children: ChildProcess[] = [];
function start(name: string, cmd: string[], core: string | null, env: Record<string, string> = {}): ChildProcess {
  const argv = pin && core !== null ? ['taskset', '-c', core, ...cmd] : cmd;
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const keep = (c: Buffer): void => {
    log = (log + c.toString()).slice(-4000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  child.on('exit', (code, sig) => {
    if (!stopping) console.error(`[bench] ${name} exited (${code ?? sig}); last output:\n${log}`);
  });
  children.push(child);
  return child;
}
let stopping = false;
function stopAll(): void {
  stopping = true;
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  setTimeout(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }, 3000).unref();
}
process.on('SIGINT', () => {
  stopAll();
  process.exit(130);
});
process.on('SIGTERM', () => {
  stopAll();
  process.exit(143);
});
process.on('exit', stopAll);

function httpGet(port: number, p: string, timeoutMs = 2000): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error('timeout'));
    }, timeoutMs);
    s.on('connect', () => s.write(`GET ${p} HTTP/1.1\r\nHost: bench.test\r\nConnection: close\r\n\r\n`));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    s.on('close', () => {
      clearTimeout(t);
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(all.toString('latin1'))?.[1] ?? 0);
      let body = all.subarray(end + 4);
      if (/\r\ntransfer-encoding: chunked/i.test(all.subarray(0, end).toString('latin1'))) {
        const parts: Buffer[] = [];
        let pos = 0;
        for (;;) {
          const le = body.indexOf('\r\n', pos);
          const n = parseInt(body.subarray(pos, le).toString('latin1'), 16);
          if (!n) break;
          parts.push(body.subarray(le + 2, le + 2 + n));
          pos = le + 2 + n + 2;
        }
        body = Buffer.concat(parts);
      }
      resolve({ status, body });
    });
  });
}

async function waitReady(name: string, port: number, child: ChildProcess, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`${name} exited before it was ready`);
    try {
      const r = await httpGet(port, '/', 1000);
      if (r.status > 0) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} not ready on port ${port} within ${timeoutMs} ms`);
}

// ------------------------------------------------------------------ CPU accounting
/** utime + stime (in seconds) of pid and all its descendants. */
function treeCpuSeconds(pid: number): number {
  const parent = new Map<number, number>();
  const ticks = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(d), Number(f[1]));
      ticks.set(Number(d), Number(f[11]) + Number(f[12]));
    } catch {
      /* gone */
    }
  }
  let total = 0;
  const stack = [pid];
  const seen = new Set<number>();
  while (stack.length) {
    const p = stack.pop()!;
    if (seen.has(p)) continue;
    seen.add(p);
    total += ticks.get(p) ?? 0;
    for (const [c, pp] of parent) if (pp === p) stack.push(c);
  }
  return total / CLK_TCK;
}

function peakRssMiB(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

// ------------------------------------------------------------------ load
interface Load {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  errors: number;
  non2xx: number;
}

function parseWrkLatency(s: string | undefined): number {
  if (!s) return NaN;
  const m = /^([\d.]+)(us|ms|s)$/.exec(s.trim());
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

function runLoad(url: string, seconds: number, conns: number = connections): Promise<Load> {
  return new Promise((resolve, reject) => {
    const cmd = useWrk
      ? ['wrk', '-t1', `-c${conns}`, `-d${Math.max(1, Math.round(seconds))}s`, '--latency', url]
      : [process.execPath, path.join(benchDir, 'loadgen.mjs'), '--url', url, '--connections', String(conns), '--duration', String(seconds)];
    const argv = pin ? ['taskset', '-c', CORE.load, ...cmd] : cmd;
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000);
    child.on('exit', (code) => {
      clearTimeout(killer);
      if (code !== 0) return reject(new Error(`load generator failed (${code}): ${err || out}`));
      if (useWrk) {
        const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
        const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
        const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
        const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
        const errors = se ? se.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
        resolve({
          rps,
          p50Ms: parseWrkLatency(/^\s+50%\s+(\S+)/m.exec(out)?.[1]),
          p99Ms: parseWrkLatency(/^\s+99%\s+(\S+)/m.exec(out)?.[1]),
          requests,
          errors,
          non2xx,
        });
      } else {
        const j = JSON.parse(out.trim().split('\n').pop()!) as Load;
        resolve(j);
      }
    });
  });
}

// ------------------------------------------------------------------ main
interface Row {
  target: string;
  kase: string;
  load: Load;
  cpuUsPerReq: number;
  cpuPct: number;
  rssMiB: number;
}

async function main(): Promise<void> {
  const mainJs = path.join(root, 'dist', 'cli', 'main.js');
  if (!existsSync(mainJs)) {
    console.error('[bench] dist/ is missing: building (npm run build) ...');
    const b = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
    if (b.status !== 0) throw new Error('npm run build failed');
  }
  const lines: string[] = [];
  lines.push(`# proxykit benchmark`);
  lines.push('');
  if (caseArg === 'all' || caseArg === 'proxy') lines.push(...(await proxyCase()));
  if (caseArg === 'all' || caseArg === 'p2c') lines.push(...(await lbCase()));
  console.log(lines.join('\n'));
}

/** The cost of the proxy: direct vs proxykit vs node-ref, small and 16 KiB bodies. */
async function proxyCase(): Promise<string[]> {
  const upstream = `http://127.0.0.1:${PORTS.backend}`;
  console.error(
    `[bench] load: ${useWrk ? 'wrk -t1' : 'built-in (bench/loadgen.mjs)'}, ${connections} connections, ${duration} s per run, ${rounds} round(s); ` +
      (pin ? `pinned: load core ${CORE.load}, backend core ${CORE.backend}, proxy core ${CORE.proxy}` : 'not pinned (no taskset or 1 core)'),
  );

  const backend = start('backend', [process.execPath, path.join(benchDir, 'backend.mjs')], CORE.backend, { PORT: String(PORTS.backend) });
  await waitReady('backend', PORTS.backend, backend);
  const proxykit = start(
    'proxykit',
    [process.execPath, path.join(root, 'bin', 'proxykit.js'), 'start', '-c', path.join(benchDir, 'proxykit.bench.config.ts')],
    CORE.proxy,
    { PORT: String(PORTS.proxykit), UPSTREAM_URL: upstream },
  );
  const ref = start('node-ref', [process.execPath, path.join(benchDir, 'ref-proxy.mjs')], CORE.proxy, {
    PORT: String(PORTS.ref),
    UPSTREAM_URL: upstream,
  });
  const observed = start(
    'proxykit+obs',
    [process.execPath, path.join(root, 'bin', 'proxykit.js'), 'start', '-c', path.join(benchDir, 'proxykit.bench.config.ts')],
    CORE.proxy,
    { PORT: String(PORTS.observed), UPSTREAM_URL: upstream, OBSERVE: '1' },
  );
  await waitReady('proxykit', PORTS.proxykit, proxykit);
  await waitReady('proxykit+obs', PORTS.observed, observed);
  await waitReady('node-ref', PORTS.ref, ref);

  const targets = [
    { name: 'direct', port: PORTS.backend, pid: backend.pid! },
    { name: 'proxykit', port: PORTS.proxykit, pid: proxykit.pid! },
    { name: 'node-ref', port: PORTS.ref, pid: ref.pid! },
    { name: 'proxykit+obs', port: PORTS.observed, pid: observed.pid! },
  ];
  const cases = [
    { name: 'small (12 B)', path: '/', bytes: 12 },
    { name: '16 KiB', path: '/16k', bytes: 16384 },
  ];

  // Correctness first: every target must return the backend's exact body.
  for (const c of cases) {
    const want = await httpGet(PORTS.backend, c.path);
    for (const t of targets) {
      const got = await httpGet(t.port, c.path);
      if (got.status !== 200 || !got.body.equals(want.body)) {
        throw new Error(`${t.name} ${c.path}: expected 200 with the backend's ${want.body.length}-byte body, got ${got.status} with ${got.body.length} bytes`);
      }
    }
  }

  const rows: Row[] = [];
  for (const c of cases) {
    const warmed = new Set<string>();
    for (let r = 0; r < rounds; r++) {
      for (const t of targets) {
        const url = `http://127.0.0.1:${t.port}${c.path}`;
        if (!warmed.has(t.name) && warmup > 0) {
          await runLoad(url, warmup);
          warmed.add(t.name);
        }
        const cpu0 = treeCpuSeconds(t.pid);
        const w0 = performance.now();
        const load = await runLoad(url, duration);
        const wall = (performance.now() - w0) / 1000;
        const cpu = treeCpuSeconds(t.pid) - cpu0;
        const row: Row = {
          target: t.name,
          kase: c.name,
          load,
          cpuUsPerReq: load.requests ? (cpu / load.requests) * 1e6 : NaN,
          cpuPct: (cpu / wall) * 100,
          rssMiB: peakRssMiB(t.pid),
        };
        rows.push(row);
        console.error(
          `[bench] ${c.name.padEnd(12)} ${t.name.padEnd(9)} ${load.rps.toFixed(0).padStart(7)} req/s  p50 ${load.p50Ms.toFixed(2)} ms  p99 ${load.p99Ms.toFixed(2)} ms  ${row.cpuUsPerReq.toFixed(1)} CPU µs/req  (${row.cpuPct.toFixed(0)} % CPU)` +
            (load.errors || load.non2xx ? `  errors ${load.errors} non-2xx ${load.non2xx}` : ''),
        );
      }
    }
  }

  // Report: medians over rounds.
  const med = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const summary = (target: string, kase: string) => {
    const rs = rows.filter((r) => r.target === target && r.kase === kase);
    return {
      rps: med(rs.map((r) => r.load.rps)),
      p50: med(rs.map((r) => r.load.p50Ms)),
      p99: med(rs.map((r) => r.load.p99Ms)),
      cpu: med(rs.map((r) => r.cpuUsPerReq)),
      cpuPct: med(rs.map((r) => r.cpuPct)),
      rss: Math.max(...rs.map((r) => r.rssMiB)),
      errors: rs.reduce((n, r) => n + r.load.errors + r.load.non2xx, 0),
    };
  };
  const lines: string[] = [];
  lines.push(
    `node ${process.version}, ${ncpu} cores, load: ${useWrk ? 'wrk -t1' : 'built-in loadgen'} -c${connections}, ${duration} s × ${rounds}, ` +
      (pin ? `proxy alone on core ${CORE.proxy}` : 'not pinned'),
  );
  lines.push('');
  lines.push('| case | target | req/s | p50 ms | p99 ms | CPU µs/req | CPU % | peak RSS MiB | errors |');
  lines.push('|---|---|--:|--:|--:|--:|--:|--:|--:|');
  for (const c of cases) {
    for (const t of targets) {
      const s = summary(t.name, c.name);
      lines.push(
        `| ${c.name} | ${t.name === 'direct' ? 'direct (backend)' : t.name} | ${s.rps.toFixed(0)} | ${s.p50.toFixed(2)} | ${s.p99.toFixed(2)} | ${s.cpu.toFixed(1)} | ${s.cpuPct.toFixed(0)} | ${s.rss.toFixed(1)} | ${s.errors} |`,
      );
    }
  }
  lines.push('');
  lines.push('| case | proxykit / direct (req/s) | proxykit / node-ref (req/s) | CPU per request: proxykit / node-ref | with access log + metrics / without (req/s) |');
  lines.push('|---|--:|--:|--:|--:|');
  for (const c of cases) {
    const pk = summary('proxykit', c.name);
    const d = summary('direct', c.name);
    const nr = summary('node-ref', c.name);
    const ob = summary('proxykit+obs', c.name);
    lines.push(`| ${c.name} | ${(pk.rps / d.rps).toFixed(2)} | ${(pk.rps / nr.rps).toFixed(2)} | ${(pk.cpu / nr.cpu).toFixed(2)} | ${(ob.rps / pk.rps).toFixed(2)} |`);
  }
  lines.push('');
  lines.push(
    'CPU µs/req is the target process\'s own utime+stime per request (for "direct", the backend\'s). ' +
      'When a proxy is below 100 % CPU, the load side is the limit and CPU µs/req is the fairer comparison.',
  );
  lines.push('');
  return lines;
}

/**
 * "4 upstreams, one 10× slower": the same 4 backends (bench/lb-backends.mjs, 3 answering after
 * 1 ms, one after 10 ms) behind two proxykit processes, one with balance('round-robin') and one
 * with balance('p2c-ewma') (bench/proxykit.lb.bench.config.ts); the same load on each, in turns.
 * Reports req/s, p50, p99, the slow upstream's share of requests, and p99(p2c) / p99(rr).
 */
async function lbCase(): Promise<string[]> {
  const n = 4;
  const fastMs = 1;
  const slowMs = 10;
  const backendUrls = Array.from({ length: n }, (_, i) => `http://127.0.0.1:${PORTS.lbBackends + i}`);
  // The backends are not pinned: on a 2-core machine core 0 is the load generator's, and a backend
  // starved of CPU there would make every upstream slow, hiding the one that is slow by design.
  const backends = start('lb-backends', [process.execPath, path.join(benchDir, 'lb-backends.mjs')], null, {
    BASE_PORT: String(PORTS.lbBackends),
    COUNT: String(n),
    FAST_MS: String(fastMs),
    SLOW_MS: String(slowMs),
    SLOW_INDEX: String(n - 1),
  });
  for (let i = 0; i < n; i++) await waitReady('lb-backends', PORTS.lbBackends + i, backends);
  const cfg = path.join(benchDir, 'proxykit.lb.bench.config.ts');
  const variants = [
    { name: 'round-robin', port: PORTS.lbRoundRobin },
    { name: 'p2c-ewma', port: PORTS.lbP2c },
  ];
  const procs = variants.map((v) =>
    start(`proxykit (${v.name})`, [process.execPath, path.join(root, 'bin', 'proxykit.js'), 'start', '-c', cfg], CORE.proxy, {
      PORT: String(v.port),
      UPSTREAMS: backendUrls.join(','),
      BALANCE: v.name,
    }),
  );
  for (const [i, v] of variants.entries()) await waitReady(`proxykit (${v.name})`, v.port, procs[i]!);
  for (const v of variants) {
    const got = await httpGet(v.port, '/');
    if (got.status !== 200 || got.body.toString() !== 'hello world\n') throw new Error(`proxykit (${v.name}): expected 200 "hello world", got ${got.status}`);
  }
  const counts = async (): Promise<number[]> =>
    Promise.all(backendUrls.map(async (_, i) => Number((await httpGet(PORTS.lbBackends + i, '/__count')).body.toString())));

  interface LbRow {
    variant: string;
    load: Load;
    slowShare: number;
  }
  const rows: LbRow[] = [];
  const warmed = new Set<string>();
  for (let r = 0; r < rounds; r++) {
    for (const v of variants) {
      const url = `http://127.0.0.1:${v.port}/`;
      if (!warmed.has(v.name) && warmup > 0) {
        await runLoad(url, warmup, lbConnections);
        warmed.add(v.name);
      }
      const c0 = await counts();
      const load = await runLoad(url, lbDuration, lbConnections);
      const c1 = await counts();
      const served = c1.map((c, i) => c - c0[i]!);
      const total = served.reduce((a, b) => a + b, 0);
      const row = { variant: v.name, load, slowShare: total ? served[n - 1]! / total : NaN };
      rows.push(row);
      console.error(
        `[bench] 4 upstreams, 1 slow  ${v.name.padEnd(11)} ${load.rps.toFixed(0).padStart(7)} req/s  p50 ${load.p50Ms.toFixed(2)} ms  p99 ${load.p99Ms.toFixed(2)} ms  ` +
          `slow upstream ${(row.slowShare * 100).toFixed(1)} % of requests (${served.join('/')})` +
          (load.errors || load.non2xx ? `  errors ${load.errors} non-2xx ${load.non2xx}` : ''),
      );
    }
  }
  const med = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const summary = (variant: string) => {
    const rs = rows.filter((r) => r.variant === variant);
    return {
      rps: med(rs.map((r) => r.load.rps)),
      p50: med(rs.map((r) => r.load.p50Ms)),
      p99: med(rs.map((r) => r.load.p99Ms)),
      slow: med(rs.map((r) => r.slowShare)),
      errors: rs.reduce((k, r) => k + r.load.errors + r.load.non2xx, 0),
    };
  };
  const lines: string[] = [];
  lines.push(`## 4 upstreams, one 10× slower: round-robin vs p2c-ewma`);
  lines.push('');
  lines.push(
    `3 upstreams answer after ${fastMs} ms, 1 after ${slowMs} ms (bench/lb-backends.mjs); proxykit with balance('round-robin') and with ` +
      `balance('p2c-ewma'), same load: ${useWrk ? 'wrk -t1' : 'built-in loadgen'} -c${lbConnections}, ${lbDuration} s × ${rounds}; backends not pinned.`,
  );
  lines.push('');
  lines.push('| balance | req/s | p50 ms | p99 ms | slow upstream\'s share | errors |');
  lines.push('|---|--:|--:|--:|--:|--:|');
  for (const v of variants) {
    const s = summary(v.name);
    lines.push(`| ${v.name} | ${s.rps.toFixed(0)} | ${s.p50.toFixed(2)} | ${s.p99.toFixed(2)} | ${(s.slow * 100).toFixed(1)} % | ${s.errors} |`);
  }
  const rr = summary('round-robin');
  const p2c = summary('p2c-ewma');
  lines.push('');
  lines.push(
    `p99(p2c-ewma) / p99(round-robin) = **${(p2c.p99 / rr.p99).toFixed(2)}**; req/s p2c-ewma / round-robin = ${(p2c.rps / rr.rps).toFixed(2)}.`,
  );
  lines.push('');
  return lines;
}

main()
  .catch((e: unknown) => {
    console.error(`[bench] failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  })
  .finally(() => {
    stopAll();
    setTimeout(() => process.exit(), 500).unref();
  });

// Three demo backends for examples/load-balancing (plain Node, no dependencies):
//
//   127.0.0.1:3101  steady
//   127.0.0.1:3102  steady
//   127.0.0.1:3103  flaps: healthy for 10 s, then failing for 10 s (first 5 s answering 500 to
//                   everything, /healthz included; then 5 s not listening at all: connections are
//                   refused), and again.
//
// Every backend answers `GET /healthz` with 200 "ok" (when healthy) and anything else with a line
// of JSON naming itself. `GET /slow?ms=300` waits before answering. Ctrl-C stops them.
//
//   node examples/load-balancing/backends.mjs
import http from 'node:http';

const FLAP_MS = Number(process.env.FLAP_MS ?? 10_000);
const log = (name, msg) => console.log(`${new Date().toISOString().slice(11, 23)} [${name}] ${msg}`);

function makeServer(name, state) {
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (state.mode === 'error') {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`${name}: failing\n`);
      return;
    }
    if (url.pathname === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
      return;
    }
    const delay = Math.min(Number(url.searchParams.get('ms') ?? 0) || 0, 10_000);
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ backend: name, method: req.method, path: url.pathname }) + '\n');
    }, url.pathname === '/slow' ? delay : 0);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return { server, sockets };
}

function listen(name, port, state) {
  const { server, sockets } = makeServer(name, state);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve({
        close: () =>
          new Promise((r) => {
            server.close(() => r());
            for (const s of sockets) s.destroy();
          }),
      });
    });
  });
}

const steady = [
  ['backend-1', 3101],
  ['backend-2', 3102],
];
const servers = [];
for (const [name, port] of steady) {
  servers.push(await listen(name, port, { mode: 'ok' }));
  log(name, `listening on http://127.0.0.1:${port} (steady)`);
}

// The flapping one.
const flapName = 'backend-3';
const flapPort = 3103;
const flapState = { mode: 'ok' };
let flapServer = await listen(flapName, flapPort, flapState);
log(flapName, `listening on http://127.0.0.1:${flapPort} (flaps: healthy ${FLAP_MS / 1000} s, failing ${FLAP_MS / 1000} s, repeating)`);
log(flapName, `healthy for ${FLAP_MS / 1000} s`);

// A cycle of four half-periods: healthy, healthy, answering 500, down (connections refused).
const CYCLE = ['ok', 'ok', 'error', 'down'];
let tick = 0;
const timer = setInterval(async () => {
  tick = (tick + 1) % CYCLE.length;
  const next = CYCLE[tick];
  const prev = CYCLE[(tick + CYCLE.length - 1) % CYCLE.length];
  if (next === prev) return;
  if (next === 'error') {
    flapState.mode = 'error';
    log(flapName, `FAILING: answering 500 to everything (health checks too) for ${FLAP_MS / 2000} s`);
  } else if (next === 'down') {
    await flapServer.close();
    flapServer = null;
    log(flapName, `DOWN: not listening, connections are refused for ${FLAP_MS / 2000} s`);
  } else {
    flapState.mode = 'ok';
    flapServer = await listen(flapName, flapPort, flapState);
    log(flapName, `UP again: healthy for ${FLAP_MS / 1000} s`);
  }
}, FLAP_MS / 2);

async function stop() {
  clearInterval(timer);
  await Promise.all([...servers.map((s) => s.close()), flapServer?.close()]);
  process.exit(0);
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

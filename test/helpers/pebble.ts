/**
 * A real ACME CA for tests: Debian's Pebble + its DNS stub (pebble-challtestsrv), started on
 * loopback by `test/pebble-up.sh` in a temp dir, on 6 ports from `basePort` (keep each test file
 * on its own block inside 21000-21999). See ../shared/docs/acme-testing.md.
 *
 *   const pebble = await startPebble({ basePort: 21100, validitySeconds: 300 });
 *   new AcmeIssuer({ spec: { email, directory: pebble.directory }, ... })
 *   // answer HTTP-01 on pebble.httpPort, TLS-ALPN-01 on pebble.tlsPort (127.0.0.1)
 *   tls.connect({ ca: pebble.rootPem, servername })           // verify issued chains
 *   pebble.orderCount()                                       // newOrder requests so far
 *   await pebble.stop();
 *
 * No environment variables: Pebble's listener CA is added to acme-client's axios https agent
 * (`acme.axios.defaults.httpsAgent`) for this process. Fails (does not skip) when `pebble` is not
 * installed: `apt-get install pebble`.
 */
import { execFile, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import fs from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import acme from 'acme-client';

const SCRIPT = fileURLToPath(new URL('../pebble-up.sh', import.meta.url));

export interface Pebble {
  /** ACME directory URL. */
  directory: string;
  mgmt: string;
  /** Where Pebble validates HTTP-01 / TLS-ALPN-01 (on 127.0.0.1). */
  httpPort: number;
  tlsPort: number;
  /** pebble-challtestsrv management API (set-txt / clear-txt for DNS-01). */
  challMgmt: string;
  /** Pebble's issuing root (new at every start). */
  rootPem: string;
  /** The CA of Pebble's own HTTPS listeners. */
  listenerCaPem: string;
  workDir: string;
  /** newOrder requests Pebble has received so far (from its log). */
  orderCount(): Promise<number>;
  setTxt(host: string, value: string): Promise<void>;
  clearTxt(host: string): Promise<void>;
  stop(): Promise<void>;
}

export interface PebbleOptions {
  basePort: number;
  /** certificateValidityPeriod, seconds. Default 300. */
  validitySeconds?: number;
  /** PEBBLE_AUTHZREUSE. Default 0 (every order runs its challenges). */
  authzReuse?: number;
}

const extraCas = new Set<string>();

/** Trust `caPem` (plus the public roots) for acme-client's requests in this process. */
export function trustForAcmeClient(caPem: string): void {
  extraCas.add(caPem);
  (acme.axios.defaults as { httpsAgent?: unknown }).httpsAgent = new https.Agent({ ca: [...tls.rootCertificates, ...extraCas] });
}

function getText(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${url}: ${res.statusCode} ${body}`))));
      })
      .on('error', reject);
  });
}

async function postJson(url: string, body: unknown): Promise<void> {
  const res = await fetch(url, { method: 'POST', body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`POST ${url}: ${res.status}`);
  await res.arrayBuffer();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function startPebble(opts: PebbleOptions): Promise<Pebble> {
  try {
    execFileSync('sh', ['-c', 'command -v pebble && command -v pebble-challtestsrv'], { stdio: 'pipe' });
  } catch {
    throw new Error('pebble is not installed (the ACME tests need a real CA): apt-get install -y pebble');
  }
  const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'proxykit-pebble-'));
  const base = opts.basePort;
  const env = {
    ...process.env,
    PEBBLE_BASE_PORT: String(base),
    PEBBLE_VALIDITY: String(opts.validitySeconds ?? 300),
    PEBBLE_AUTHZREUSE: String(opts.authzReuse ?? 0),
  };
  const pids = (): number[] =>
    ['pebble.pid', 'challtestsrv.pid'].flatMap((f) => {
      try {
        return [Number(readFileSync(path.join(workDir, f), 'utf8').trim())];
      } catch {
        return [];
      }
    });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const pid of pids()) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    for (let i = 0; i < 50 && pids().some(alive); i++) await new Promise((r) => setTimeout(r, 20));
    await fs.rm(workDir, { recursive: true, force: true });
  };
  try {
    await promisify(execFile)('bash', [SCRIPT, workDir], { env });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    await stop();
    throw new Error(`pebble did not start on ports ${base}-${base + 5}: ${e.stderr || e.message}`);
  }
  const listenerCaPem = await fs.readFile(path.join(workDir, 'ca.pem'), 'utf8');
  trustForAcmeClient(listenerCaPem);
  const mgmt = `https://127.0.0.1:${base + 1}`;
  const rootPem = await getText(`${mgmt}/roots/0`, listenerCaPem);
  const challMgmt = `http://127.0.0.1:${base + 5}`;
  return {
    directory: `https://127.0.0.1:${base}/dir`,
    mgmt,
    httpPort: base + 2,
    tlsPort: base + 3,
    challMgmt,
    rootPem,
    listenerCaPem,
    workDir,
    async orderCount() {
      const log = await fs.readFile(path.join(workDir, 'pebble.log'), 'utf8');
      return log.split('\n').filter((l) => l.includes('POST /order-plz')).length;
    },
    setTxt: (host, value) => postJson(`${challMgmt}/set-txt`, { host, value }),
    clearTxt: (host) => postJson(`${challMgmt}/clear-txt`, { host }),
    stop,
  };
}

/** What the responders answer from (an AcmeIssuer, or a test double). */
export interface ChallengeSource {
  httpChallenge(token: string): string | null;
  alpnChallengeContext(servername: string): tls.SecureContext | null;
}

export interface Responders {
  /** Requests to /.well-known/acme-challenge/ seen, by Host header. */
  httpHits: string[];
  /** TLS-ALPN-01 handshakes seen, by SNI. */
  alpnHits: string[];
  /** Answer this instead of the key authorization (to make a challenge fail), by host name. */
  sabotage: Set<string>;
  close(): Promise<void>;
}

/**
 * The engine's part, played by plain servers: HTTP-01 on `pebble.httpPort` and TLS-ALPN-01 on
 * `pebble.tlsPort`, answering from `source()` (read at every request, so a test can swap issuers).
 */
export async function startResponders(pebble: Pebble, source: () => ChallengeSource | null): Promise<Responders> {
  const r: Responders = { httpHits: [], alpnHits: [], sabotage: new Set(), close: async () => {} };
  const prefix = '/.well-known/acme-challenge/';
  const h = createServer((req, res) => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    const url = req.url ?? '';
    if (!url.startsWith(prefix)) return void res.writeHead(404).end();
    r.httpHits.push(host);
    const keyAuth = source()?.httpChallenge(url.slice(prefix.length)) ?? null;
    if (keyAuth === null) return void res.writeHead(404).end('no such challenge');
    res.writeHead(200, { 'content-type': 'text/plain' }).end(r.sabotage.has(host) ? 'not-the-key-authorization' : keyAuth);
  });
  h.listen(pebble.httpPort, '127.0.0.1');
  await once(h, 'listening');
  const t = tls.createServer(
    {
      ALPNProtocols: ['acme-tls/1'],
      SNICallback: (name, cb) => {
        r.alpnHits.push(name);
        const ctx = r.sabotage.has(name) ? null : (source()?.alpnChallengeContext(name) ?? null);
        if (ctx) cb(null, ctx);
        else cb(new Error(`no TLS-ALPN-01 challenge for ${name}`));
      },
    },
    (s) => s.end(),
  );
  t.on('tlsClientError', () => {});
  t.listen(pebble.tlsPort, '127.0.0.1');
  await once(t, 'listening');
  r.close = async () => {
    h.closeAllConnections();
    await Promise.all([new Promise((res) => h.close(res)), new Promise((res) => t.close(res))]);
  };
  return r;
}

/**
 * Connects to a TLS server on 127.0.0.1:`port` with SNI `servername`, trusting only `ca`; resolves
 * the peer certificate when the chain verified, rejects otherwise.
 */
export function verifyTls(port: number, servername: string, ca: string): Promise<tls.PeerCertificate> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername, ca, rejectUnauthorized: true }, () => {
      const cert = s.getPeerCertificate();
      s.end();
      resolve(cert);
    });
    s.on('error', reject);
  });
}

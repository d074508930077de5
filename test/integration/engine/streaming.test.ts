/**
 * Streaming with backpressure: 1 GiB up and 1 GiB down through proxykit running in a child
 * process, whose RSS (VmRSS sampled every 100 ms, and VmHWM) must stay under 150 MiB; and a slow
 * reader that must not make the proxy buffer the upstream's body.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { startBackend, patternBuffer, patternSha256, waitUntil, sleep, type Backend, type RespondSpec } from '../../helpers/backend.js';
import { startChildProxy, MiB, type ChildProxy } from '../../helpers/child.js';

const GiB = 1024 * MiB;
// MiB, not MB: a bare node + undici proxy already peaks at ~147 MiB on these transfers with a fast
// client (chunks already forwarded, freed by V8 in batches; docs/architecture.md). Buffering the
// body would put the peak past 1 GiB, far above either figure.
const RSS_LIMIT = 150 * MiB;
const T = { timeout: 120_000 };

describe('streaming through a proxykit child process', () => {
  let be: Backend;
  let px: ChildProxy;
  let baseline = 0;

  before(async () => {
    be = await startBackend({
      respond: (rec): RespondSpec => {
        if (rec.url.startsWith('/download')) return { streamBytes: Number(new URL(rec.url, 'http://x').searchParams.get('n')) };
        return {};
      },
      keepBodyBytes: 0,
    });
    px = await startChildProxy({ routes: [{ match: '/*', to: [be.url], bodyLimit: false }] });
    await sleep(300);
    baseline = px.memory().rss;
  }, { timeout: 150_000 });
  after(async () => {
    await px?.stop();
    await be?.close();
  });

  it('1 GiB upload: bytes and hash match, proxy RSS < 150 MiB', T, async (t) => {
    const expected = patternSha256(GiB);
    const stop = px.sample(100);
    const result = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1',
        port: px.port,
        method: 'POST',
        path: '/upload',
        agent: false,
        headers: { 'content-length': String(GiB), 'content-type': 'application/octet-stream' },
      });
      const timer = setTimeout(() => req.destroy(new Error('upload did not finish within 100 s')), 100_000);
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, text });
        });
      });
      let sent = 0;
      const pump = (): void => {
        while (sent < GiB) {
          sent += patternBuffer.length;
          if (!req.write(patternBuffer)) {
            req.once('drain', pump);
            return;
          }
        }
        req.end();
      };
      pump();
    });
    const peak = stop();
    const { hwm } = px.memory();
    t.diagnostic(`child (${px.mode}) RSS baseline ${(baseline / MiB).toFixed(1)} MiB, sampled peak ${(peak / MiB).toFixed(1)} MiB, VmHWM ${(hwm / MiB).toFixed(1)} MiB`);
    assert.equal(result.status, 200, result.text.slice(0, 300));
    const e = JSON.parse(result.text) as { bodyBytes: number; bodySha256: string };
    assert.equal(e.bodyBytes, GiB);
    assert.equal(e.bodySha256, expected);
    assert.ok(
      peak < RSS_LIMIT && hwm < RSS_LIMIT,
      `proxy RSS peak ${(peak / MiB).toFixed(1)} MiB, VmHWM ${(hwm / MiB).toFixed(1)} MiB (baseline ${(baseline / MiB).toFixed(1)} MiB, child runs ${px.mode}), limit 150 MiB`,
    );
  });

  it('1 GiB download: bytes and hash match, proxy RSS < 150 MiB', T, async (t) => {
    const expected = patternSha256(GiB);
    const stop = px.sample(100);
    const got = await new Promise<{ status: number; bytes: number; sha: string }>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: px.port, path: `/download?n=${GiB}`, agent: false });
      const timer = setTimeout(() => req.destroy(new Error('download did not finish within 100 s')), 100_000);
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      req.on('response', (res) => {
        const h = createHash('sha256');
        let bytes = 0;
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          h.update(c);
        });
        res.on('error', reject);
        res.on('aborted', () => reject(new Error(`download aborted after ${bytes} bytes`)));
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, bytes, sha: h.digest('hex') });
        });
      });
    });
    const peak = stop();
    const { hwm } = px.memory();
    t.diagnostic(`child (${px.mode}) RSS baseline ${(baseline / MiB).toFixed(1)} MiB, sampled peak ${(peak / MiB).toFixed(1)} MiB, VmHWM ${(hwm / MiB).toFixed(1)} MiB`);
    assert.equal(got.status, 200);
    assert.equal(got.bytes, GiB);
    assert.equal(got.sha, expected);
    assert.ok(
      peak < RSS_LIMIT && hwm < RSS_LIMIT,
      `proxy RSS peak ${(peak / MiB).toFixed(1)} MiB, VmHWM ${(hwm / MiB).toFixed(1)} MiB (baseline ${(baseline / MiB).toFixed(1)} MiB, child runs ${px.mode}), limit 150 MiB`,
    );
  });

  it('a slow-reading client: the proxy does not buffer the upstream body (backpressure)', T, async (t) => {
    const total = 512 * MiB;
    const before = be.requests.length;
    const sentBefore = be.bytesSent;
    const stop = px.sample(100);
    let received = 0;
    const req = http.get({ host: '127.0.0.1', port: px.port, path: `/download?n=${total}`, agent: false });
    req.on('error', () => {});
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      req.on('response', resolve);
      setTimeout(() => reject(new Error('no response head within 5 s')), 5000);
    });
    res.on('error', () => {});
    res.pause();
    // Read about 2 MiB per 100 ms for 4 s: ~80 MiB consumed while the backend could send 512 MiB.
    const t0 = Date.now();
    while (Date.now() - t0 < 4000) {
      let chunk: Buffer | null;
      let n = 0;
      while (n < 2 * MiB && (chunk = res.read() as Buffer | null) !== null) n += chunk.length;
      received += n;
      await sleep(100);
    }
    const backendSent = be.bytesSent - sentBefore;
    const inFlight = backendSent - received;
    const peak = stop();
    req.destroy();
    t.diagnostic(`slow reader: backend sent ${(backendSent / MiB).toFixed(1)} MiB, client read ${(received / MiB).toFixed(1)} MiB, proxy RSS peak ${(peak / MiB).toFixed(1)} MiB`);
    assert.ok(backendSent < total, 'the backend should have been held back, not allowed to send everything');
    assert.ok(
      inFlight < 64 * MiB,
      `backend sent ${(backendSent / MiB).toFixed(1)} MiB, client read ${(received / MiB).toFixed(1)} MiB: ${(inFlight / MiB).toFixed(1)} MiB buffered in between`,
    );
    assert.ok(peak < RSS_LIMIT, `proxy RSS peak ${(peak / MiB).toFixed(1)} MiB during a slow read (child runs ${px.mode}), limit 150 MiB`);
    const rec = be.requests[before]!;
    await waitUntil(() => rec.closedEarly, 5000, 'the upstream response to be cancelled after the client went away');
  });
});

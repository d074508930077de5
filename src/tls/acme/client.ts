/**
 * acme-client's process-wide settings, set once, and the per-attempt trace that recovers what its
 * errors drop.
 *
 * acme-client turns a CA problem document into `new Error(detail)` (the RFC 8555 problem `type`,
 * e.g. `urn:ietf:params:acme:error:rateLimited`, and the Retry-After header are lost), and a
 * network or TLS error into `TypeError: Cannot read properties of undefined (reading 'config')`
 * (acme-testing.md pitfall 2). We wrap its axios adapter: every response and transport error is
 * recorded on the `AttemptTrace` of the issuance attempt running in the current async context.
 *
 * Settings (all on acme-client's shared axios instance, so they hold for every issuer):
 * - `retryMaxAttempts = 0`: acme-client would otherwise retry 5xx/429/network errors itself, for
 *   ~75 s, or for as long as a rate limit's Retry-After says (hours): the issuance would hang
 *   instead of failing into our retry schedule (renewal.ts), which logs and backs off properly.
 *   badNonce retries are separate (acme-client's HttpClient) and stay on.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createRequire } from 'node:module';
import acme from 'acme-client';
import type { Logger } from '../../observe/logger.js';
import type { AcmeProblem } from './renewal.js';

export interface AttemptTrace {
  logger?: Logger;
  /** The last problem document (cleared by every later successful response). */
  problem?: AcmeProblem;
  /** The last network/TLS error talking to the CA (cleared by every later response). */
  transport?: { code?: string; message: string };
}

export const attemptTrace = new AsyncLocalStorage<AttemptTrace>();

interface AxiosLikeResponse {
  status: number;
  headers: Record<string, unknown> & { get?: (n: string) => unknown };
  data: unknown;
}
type Adapter = (config: unknown) => Promise<AxiosLikeResponse>;

let installed = false;

function header(res: AxiosLikeResponse, name: string): string | undefined {
  const h = res.headers;
  const v = typeof h?.get === 'function' ? h.get(name) : h?.[name];
  return v === undefined || v === null ? undefined : String(v);
}

function retryAfterMs(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const sec = Number(v);
  if (Number.isFinite(sec) && sec >= 0) return sec * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function record(res: AxiosLikeResponse | undefined, err: unknown): void {
  const t = attemptTrace.getStore();
  if (!t) return;
  if (!res) {
    const e = err as { code?: string; message?: string; cause?: { code?: string } };
    t.transport = { code: e?.code ?? e?.cause?.code, message: e?.message ?? String(err) };
    return;
  }
  t.transport = undefined;
  if (res.status < 400) {
    t.problem = undefined;
    return;
  }
  let data = res.data as { type?: unknown; detail?: unknown } | string | undefined;
  if (typeof data === 'string') {
    try {
      data = JSON.parse(data) as { type?: unknown; detail?: unknown };
    } catch {
      data = undefined;
    }
  }
  const type = typeof data === 'object' && typeof data?.type === 'string' ? data.type : undefined;
  if (type === 'urn:ietf:params:acme:error:badNonce') return; // retried inside acme-client
  t.problem = {
    type,
    detail: typeof data === 'object' && typeof data?.detail === 'string' ? data.detail : undefined,
    status: res.status,
    retryAfterMs: retryAfterMs(header(res, 'retry-after')),
  };
}

/** Applies the settings above, once per process. */
export function setupAcmeClient(): void {
  if (installed) return;
  installed = true;
  const defaults = acme.axios.defaults as unknown as {
    acmeSettings: { retryMaxAttempts: number };
    adapter: unknown;
  };
  defaults.acmeSettings.retryMaxAttempts = 0;
  // The same axios module acme-client uses (it is acme-client's dependency, not ours).
  const axios = createRequire(createRequire(import.meta.url).resolve('acme-client'))('axios') as {
    getAdapter(name: unknown): Adapter;
  };
  const inner = axios.getAdapter(defaults.adapter ?? 'http');
  defaults.adapter = async (config: unknown): Promise<AxiosLikeResponse> => {
    try {
      const res = await inner(config);
      record(res, null);
      return res;
    } catch (err) {
      record((err as { response?: AxiosLikeResponse }).response, err);
      throw err;
    }
  };
  acme.setLogger((msg: string) => attemptTrace.getStore()?.logger?.debug(`acme-client: ${msg}`));
}

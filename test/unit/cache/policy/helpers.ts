import type { CachePolicyOptions, EntryMeta, HeaderGetter } from '../../../../src/cache/contracts.js';
import { evaluateResponse, formatHttpDate, type RequestFacts } from '../../../../src/cache/policy/index.js';

/** 2024-01-01T00:00:00Z */
export const T0 = Date.UTC(2024, 0, 1);
export const S = 1000;

export const OPTS: CachePolicyOptions = {
  defaultMaxAge: null,
  staleWhileRevalidate: null,
  staleIfError: null,
  ignoreOriginNoCache: false,
  heuristicFraction: 0.1,
  heuristicMax: 86400,
};

export function opts(o: Partial<CachePolicyOptions> = {}): CachePolicyOptions {
  return { ...OPTS, ...o };
}

/** HTTP-date `secs` seconds from T0. */
export function at(secs: number): string {
  return formatHttpDate(T0 + secs * S);
}

/** A getter over flat request headers (repeats joined with `, `). */
export function getter(...flat: string[]): HeaderGetter {
  return (name) => {
    let v: string | undefined;
    for (let i = 0; i < flat.length; i += 2) {
      if (flat[i].toLowerCase() === name) v = v === undefined ? flat[i + 1] : `${v}, ${flat[i + 1]}`;
    }
    return v;
  };
}

export function get(...flat: string[]): RequestFacts {
  return { method: 'GET', get: getter(...flat) };
}

/** Stores a 200 (by default) received at T0, asserting it was storable. */
export function stored(headers: string[], o: { status?: number; req?: RequestFacts; opts?: CachePolicyOptions; requestTime?: number; responseTime?: number } = {}): EntryMeta {
  const v = evaluateResponse(o.req ?? get(), o.status ?? 200, headers, o.requestTime ?? T0, o.responseTime ?? T0, o.opts ?? OPTS);
  if (!v.store) throw new Error(`expected storable, got ${v.reason}`);
  return v.meta;
}

/** A hand-made entry for tests of the per-request functions. */
export function meta(m: Partial<EntryMeta> = {}): EntryMeta {
  return {
    status: 200,
    headers: [],
    requestTime: T0,
    responseTime: T0,
    initialAge: 0,
    lifetime: 100,
    heuristic: false,
    staleWhileRevalidate: 0,
    staleIfError: 0,
    mustRevalidate: false,
    noCache: false,
    vary: [],
    varyValues: [],
    tags: [],
    etag: null,
    lastModified: null,
    ...m,
  };
}

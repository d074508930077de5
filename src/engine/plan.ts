/**
 * The compiled, immutable form of a configuration. The engine reads only this; it is built once per
 * (re)load by `compile()` and swapped in with a single assignment. Everything a request needs is
 * precomputed here: parsed patterns, numeric limits, header edit lists, resolved pools.
 */
import type { BlockList } from 'node:net';
import type { ParsedMatch } from './match.js';
import type { UpstreamPool } from '../balance/pool.js';
import type { Router } from './router.js';
import type { NameSet } from './headers.js';
import type { RouteMetrics } from '../observe/contracts.js';
import type { ResolvedCacheStorage, ResolvedRouteCache } from '../cache/contracts.js';

export interface CompiledHeaderEdits {
  /** Lower-case names to drop (the route's `remove` plus every `set` name). */
  remove: ReadonlySet<string>;
  /** Flat `[name, value…]` to set (after removal). */
  set: readonly string[];
  /** Flat `[name, value…]` to add. */
  add: readonly string[];
  /** True when there is nothing to do, so the hot path can skip this altogether. */
  empty: boolean;
}

export interface CompiledRewrite {
  from: RegExp;
  to: string;
  /** Whether `to` names `:params`. */
  usesParams: boolean;
}

export type RouteAction =
  | { kind: 'proxy'; pool: UpstreamPool }
  | { kind: 'redirect'; location: string; status: number; keepPath: boolean }
  | { kind: 'respond'; status: number; body: Buffer; headers: Record<string, string> };

export interface CompiledRoute {
  /** `api.example.com/v1/*` (with ` #i` only when two routes share a pattern), for logs and metrics. */
  label: string;
  match: ParsedMatch;
  /** Upper-case methods, or null for any. HEAD is allowed wherever GET is. */
  methods: ReadonlySet<string> | null;
  action: RouteAction;
  stripPrefix: string | null;
  rewrite: CompiledRewrite | null;
  requestHeaders: CompiledHeaderEdits;
  responseHeaders: CompiledHeaderEdits;
  /** Lower-case response header names hidden from clients (`server`, `x-powered-by` by default). */
  hide: ReadonlySet<string>;
  /** `preserve` | `upstream` | a literal Host value. */
  hostHeader: 'preserve' | 'upstream' | { literal: string };
  /** Bytes; Infinity for no limit. */
  bodyLimit: number;
  /** Request headers never forwarded on this route: hop-by-hop, forwarding headers, the route's removals. */
  requestDrop: NameSet;
  /** Response headers never returned on this route: hop-by-hop, hidden, the route's removals. */
  responseDrop: NameSet;
  /** Metric children for this route, resolved at compile time. */
  metrics: RouteMetrics;
  /** `.cache()` options, or null: this route never touches the cache. */
  cache: ResolvedRouteCache | null;
}

export interface ResolvedLimits {
  maxHeaderSize: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
  drainTimeoutMs: number;
}

export interface ListenAddress {
  url: string;
  protocol: 'http' | 'https';
  host: string;
  port: number;
}

export interface Plan {
  readonly id: number;
  readonly listen: readonly ListenAddress[];
  readonly routes: readonly CompiledRoute[];
  readonly router: Router;
  readonly limits: ResolvedLimits;
  /** Peers whose X-Forwarded-* / Forwarded headers we believe; null trusts nobody. */
  readonly trust: BlockList | null;
  /** `1.1 proxykit` (or a pseudonym) to append to Via, or null. */
  readonly via: string | null;
  readonly pools: ReadonlyMap<string, UpstreamPool>;
  readonly accessLog: boolean;
  /** Start a W3C `traceparent` for requests that arrive without one. */
  readonly startTraces: boolean;
  /** Port of the HTTPS listener plain HTTP is redirected to (managed hosts), or null: no redirect. */
  readonly httpsRedirect: number | null;
  /** `Strict-Transport-Security` value for HTTPS responses, or null. */
  readonly hsts: string | null;
  /** The shared cache store's settings; null when no route caches. */
  readonly cacheStorage: ResolvedCacheStorage | null;
}

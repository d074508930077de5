/**
 * One upstream server of a pool as a Plan sees it: address, weight, the long-lived state
 * (health, ejection, latency, in-flight) and the undici connection pool that talks to it. Both the
 * state and the connection pool outlive a reload when the same upstream is still configured.
 */
import type { Pool as UndiciPool } from 'undici';
import type { UpstreamState } from './state.js';
import type { UpstreamMetrics } from '../observe/contracts.js';

export class Upstream {
  /** The URL as configured (`http://api.internal:3001`), the identity of the upstream. */
  readonly url: string;
  /** `http://127.0.0.1:3001`: scheme, host and port, nothing else. */
  readonly origin: string;
  /** `127.0.0.1:3001`: what `hostHeader('upstream')` sends. */
  readonly authority: string;
  /** `api/http://127.0.0.1:3001`: names it in logs and metrics, never to clients. */
  readonly label: string;
  /** A short stable id (hash of pool name + URL): what a sticky cookie names. Reveals no address. */
  readonly id: string;
  readonly weight: number;
  readonly region: string | null;
  readonly state: UpstreamState;
  /** Replaced when DNS re-resolution sees the host's addresses change. */
  dispatcher: UndiciPool;

  /** Metric children for this upstream (resolved once; kept across reloads by the registry). */
  readonly metrics: UpstreamMetrics;

  constructor(
    poolName: string,
    url: string,
    weight: number,
    region: string | null,
    state: UpstreamState,
    dispatcher: UndiciPool,
    id: string,
    metrics: UpstreamMetrics,
  ) {
    this.metrics = metrics;
    this.url = url;
    this.origin = new URL(url).origin;
    this.authority = new URL(url).host;
    this.label = `${poolName}/${this.origin}`;
    this.id = id;
    this.weight = weight;
    this.region = region;
    this.state = state;
    this.dispatcher = dispatcher;
  }

  /** Requests in flight (shared across Plans through the state). */
  get inflight(): number {
    return this.state.inflight;
  }
}

/**
 * One upstream server of a pool: its address, weight, live counters, and the undici connection
 * pool that talks to it. The connection pool is owned by the DispatcherRegistry, so it outlives a
 * config reload whenever the same origin is still in use with the same connection settings.
 */
import type { Pool as UndiciPool } from 'undici';

export class Upstream {
  /** `http://127.0.0.1:3001`: scheme, host and port, nothing else. */
  readonly origin: string;
  /** `127.0.0.1:3001`: what `hostHeader('upstream')` sends. */
  readonly authority: string;
  /** `api/http://127.0.0.1:3001`: names it in logs and metrics, never to clients. */
  readonly label: string;
  readonly weight: number;
  readonly region: string | null;
  readonly dispatcher: UndiciPool;
  /** Requests now in flight to this upstream (for least-conn, and for logs). */
  inflight = 0;

  constructor(poolName: string, origin: string, weight: number, region: string | null, dispatcher: UndiciPool) {
    this.origin = origin;
    this.authority = new URL(origin).host;
    this.label = `${poolName}/${origin}`;
    this.weight = weight;
    this.region = region;
    this.dispatcher = dispatcher;
  }
}

/** Metrics that record nothing: for embedding and tests that do not look at metrics. */
import type { Metrics, RouteMetrics, UpstreamMetrics } from './contracts.js';

const noop = (): void => {};
const ROUTE: RouteMetrics = { done: noop };
const UPSTREAM: UpstreamMetrics = { attempt: noop };

export const NOOP_METRICS: Metrics = {
  route: () => ROUTE,
  upstream: () => UPSTREAM,
  unrouted: noop,
  connectionOpened: noop,
  connectionClosed: noop,
  reload: noop,
  upstreamHealth: noop,
  retry: noop,
  rejected: noop,
  exposition: async () => ({ contentType: 'text/plain; version=0.0.4', body: '' }),
};

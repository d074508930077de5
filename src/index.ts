/**
 * proxykit's public API: what a `proxy.config.ts` imports from `'proxykit'`.
 */
export { defineConfig, route, pool } from './config/builder.js';
export type { Route, Pool, HttpMethod } from './config/builder.js';
export type {
  AnyPool,
  AnyRoute,
  TargetedRoute,
  AcmeOptions,
  BalanceOptions,
  CacheOptions,
  CircuitBreakerOptions,
  ConfigOptions,
  DnsOptions,
  GeoOptions,
  HeaderOptions,
  HealthOptions,
  PassiveOptions,
  Rate,
  RateLimitOptions,
  RedirectOptions,
  RedirectStatus,
  RetryOptions,
  StickyOptions,
  Target,
  TimeoutOptions,
  TlsOptions,
  UpstreamInput,
  WafOptions,
} from './config/builder.types.js';
export type {
  BalanceAlgorithm,
  BalanceSpec,
  ByteSize,
  ConfigSpec,
  ConfigSpec as Config,
  DnsSpec,
  Duration,
  HashKey,
  HeaderEdits,
  HeaderRules,
  HealthSpec,
  PassiveSpec,
  PoolSpec,
  RetrySpec,
  RouteSpec,
  SourceLocation,
  StickySpec,
  TimeoutsSpec,
  UpstreamSpec,
} from './config/spec.js';
export type { ConfigProblem } from './config/errors.js';
export { ConfigError } from './config/errors.js';

/** Everything the cache stage needs to know about one request, gathered once by the Gateway. */
import type { IncomingMessage } from 'node:http';
import type { ClientResponse } from '../engine/client-response.js';
import type { Gateway, HeadFacts } from '../engine/gateway.js';
import type { CompiledRoute, Plan } from '../engine/plan.js';
import type { ParsedTarget } from '../engine/target.js';
import type { HttpCache } from './http-cache.js';

export interface CacheRequestContext {
  gateway: Gateway;
  cache: HttpCache;
  req: IncomingMessage;
  res: ClientResponse;
  plan: Plan;
  route: CompiledRoute;
  facts: HeadFacts;
  /** Upper-case request method. */
  method: string;
  target: ParsedTarget;
  /** Lower-case host name, without port. */
  host: string;
  /** The port from the authority, or ''. */
  port: string;
  /** Host (or absolute-form authority) as the client sent it. */
  authority: string;
  expectContinue: boolean;
}

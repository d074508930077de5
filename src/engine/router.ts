/**
 * First-match-wins routing over compiled routes. Routes are tested in order with string
 * comparisons only (see match.ts). Routes are bucketed by exact host so a config with many
 * virtual hosts does not scan every other host's routes: each request walks the routes of its
 * host bucket merged (by original order) with the host-independent ones.
 */
import { hostMatches, pathMatches } from './match.js';
import type { CompiledRoute } from './plan.js';

export class Router {
  private readonly routes: readonly CompiledRoute[];
  /** Exact host → indexes of routes that could match it (exact for that host, plus all non-exact). */
  private readonly byHost = new Map<string, readonly number[]>();
  /** Indexes of routes whose host pattern is not exact (any, wildcard). */
  private readonly generic: readonly number[];

  constructor(routes: readonly CompiledRoute[]) {
    this.routes = routes;
    const generic: number[] = [];
    const exactHosts = new Set<string>();
    routes.forEach((r, i) => {
      if (r.match.host.kind === 'exact') exactHosts.add(r.match.host.name);
      else generic.push(i);
    });
    this.generic = generic;
    for (const h of exactHosts) {
      const list: number[] = [];
      routes.forEach((r, i) => {
        if (r.match.host.kind !== 'exact' || r.match.host.name === h) list.push(i);
      });
      this.byHost.set(h, list);
    }
  }

  /** The first route that matches, or null. `host` is lower-case without port. */
  match(host: string, port: string, method: string, path: string): CompiledRoute | null {
    const candidates = this.byHost.get(host) ?? this.generic;
    const routes = this.routes;
    for (let k = 0; k < candidates.length; k++) {
      const r = routes[candidates[k]];
      if (r.methods !== null && !r.methods.has(method)) continue;
      if (!hostMatches(r.match.host, host, port)) continue;
      if (pathMatches(r.match.path, path) !== null) return r;
    }
    return null;
  }

  /** On a miss: the methods of routes that match host and path, for a 405 with Allow. */
  allowedMethods(host: string, port: string, path: string): string[] | null {
    const candidates = this.byHost.get(host) ?? this.generic;
    const allowed = new Set<string>();
    for (const i of candidates) {
      const r = this.routes[i];
      if (r.methods === null) continue;
      if (!hostMatches(r.match.host, host, port) || pathMatches(r.match.path, path) === null) continue;
      for (const m of r.methods) allowed.add(m);
    }
    return allowed.size > 0 ? [...allowed].sort() : null;
  }
}

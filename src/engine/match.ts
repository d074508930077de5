/**
 * Route match patterns: `[host][path]`.
 *
 * - host: omitted (any host), `example.com` (exact, case-insensitive, any port unless one is
 *   given), `*.example.com` (any subdomain, not the apex), `*` (any host).
 * - path: omitted or `/*` (everything), `/x` (exact), `/x/*` (`/x` itself and everything below it),
 *   `/users/:id` (a named segment), `/users/:id/*` (params then a prefix).
 *
 * Parsing happens once, at compile time; the result is a small object the router tests with
 * string comparisons only (no regular expressions on the hot path).
 */

export type HostPattern =
  | { kind: 'any' }
  | { kind: 'exact'; name: string; port: string | null }
  | { kind: 'suffix'; suffix: string; port: string | null };

export type PathPattern =
  | { kind: 'any' }
  | { kind: 'exact'; path: string }
  | { kind: 'prefix'; prefix: string }
  | { kind: 'params'; segments: Array<{ param: string } | { literal: string }>; rest: boolean };

export interface ParsedMatch {
  source: string;
  host: HostPattern;
  path: PathPattern;
}

const HOST_LABEL = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?$/;
const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parse a match pattern. Throws an Error whose message says what is wrong and how to write it. */
export function parseMatch(source: string): ParsedMatch {
  if (typeof source !== 'string' || source.length === 0) {
    throw new Error(`match pattern must be a non-empty string like 'example.com/api/*' or '/health'`);
  }
  if (/\s/.test(source)) throw new Error(`match pattern '${source}' contains whitespace`);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) {
    throw new Error(`match pattern '${source}' has a scheme; write it without one, e.g. 'example.com/path'`);
  }
  const slash = source.indexOf('/');
  const hostPart = slash === -1 ? source : source.slice(0, slash);
  const pathPart = slash === -1 ? '' : source.slice(slash);
  return { source, host: parseHost(hostPart, source), path: parsePath(pathPart, source) };
}

function parseHost(raw: string, source: string): HostPattern {
  if (raw === '' || raw === '*') return { kind: 'any' };
  let name = raw.toLowerCase();
  let port: string | null = null;
  const colon = name.lastIndexOf(':');
  if (colon !== -1 && !name.endsWith(']')) {
    port = name.slice(colon + 1);
    name = name.slice(0, colon);
    if (!/^[0-9]{1,5}$/.test(port) || Number(port) > 65535) {
      throw new Error(`match pattern '${source}': port '${port}' is not a number from 0 to 65535`);
    }
  }
  if (name.startsWith('[') && name.endsWith(']')) return { kind: 'exact', name, port };
  if (name.startsWith('*.')) {
    checkHostname(name.slice(2), source);
    return { kind: 'suffix', suffix: name.slice(1), port };
  }
  if (name.includes('*')) {
    throw new Error(`match pattern '${source}': a host wildcard must be the whole first label, e.g. '*.example.com'`);
  }
  checkHostname(name, source);
  return { kind: 'exact', name, port };
}

function checkHostname(name: string, source: string): void {
  const labels = name.split('.');
  for (const label of labels) {
    if (!HOST_LABEL.test(label)) {
      throw new Error(`match pattern '${source}': '${name}' is not a valid host name`);
    }
  }
}

function parsePath(raw: string, source: string): PathPattern {
  if (raw === '' || raw === '/*') return { kind: 'any' };
  if (raw.includes('?') || raw.includes('#')) {
    throw new Error(`match pattern '${source}': a path pattern cannot contain '?' or '#'; routes match the path only`);
  }
  if (raw.includes('//')) throw new Error(`match pattern '${source}': the path contains an empty segment '//'`);
  let rest = false;
  let body = raw;
  if (body.endsWith('/*')) {
    rest = true;
    body = body.slice(0, -2);
  }
  if (body.includes('*')) {
    throw new Error(`match pattern '${source}': '*' is only allowed as the last segment ('/x/*')`);
  }
  if (!body.includes('/:')) {
    return rest ? { kind: 'prefix', prefix: body } : { kind: 'exact', path: body };
  }
  const segments: Array<{ param: string } | { literal: string }> = [];
  const seen = new Set<string>();
  for (const seg of body.slice(1).split('/')) {
    if (seg.startsWith(':')) {
      const param = seg.slice(1);
      if (!PARAM_NAME.test(param)) {
        throw new Error(`match pattern '${source}': ':${param}' is not a valid parameter name (letters, digits, _)`);
      }
      if (seen.has(param)) throw new Error(`match pattern '${source}': parameter ':${param}' appears twice`);
      seen.add(param);
      segments.push({ param });
    } else {
      segments.push({ literal: seg });
    }
  }
  return { kind: 'params', segments, rest };
}

/** The `:name` parameters a pattern captures, in order. */
export function paramNames(match: ParsedMatch): string[] {
  if (match.path.kind !== 'params') return [];
  const names: string[] = [];
  for (const s of match.path.segments) if ('param' in s) names.push(s.param);
  return names;
}

/** True when `host` (lower-case, port stripped) and `port` satisfy the host pattern. */
export function hostMatches(p: HostPattern, host: string, port: string): boolean {
  switch (p.kind) {
    case 'any':
      return true;
    case 'exact':
      return host === p.name && (p.port === null || p.port === port);
    case 'suffix':
      return host.length > p.suffix.length && host.endsWith(p.suffix) && (p.port === null || p.port === port);
  }
}

/**
 * Tests `path` (no query) against the pattern. Returns null when it does not match, otherwise the
 * captured params (an empty shared object when there are none, so a miss-free hit allocates nothing).
 */
const NO_PARAMS: Readonly<Record<string, string>> = Object.freeze({});

export function pathMatches(p: PathPattern, path: string): Readonly<Record<string, string>> | null {
  switch (p.kind) {
    case 'any':
      return NO_PARAMS;
    case 'exact':
      return path === p.path ? NO_PARAMS : null;
    case 'prefix': {
      const pre = p.prefix;
      if (!path.startsWith(pre)) return null;
      // '/api/*' matches '/api' and '/api/…' but not '/apix'.
      return path.length === pre.length || path.charCodeAt(pre.length) === 47 /* / */ ? NO_PARAMS : null;
    }
    case 'params':
      return matchSegments(p, path);
  }
}

function matchSegments(p: Extract<PathPattern, { kind: 'params' }>, path: string): Record<string, string> | null {
  const params: Record<string, string> = {};
  let pos = 1; // after the leading '/'
  if (path.charCodeAt(0) !== 47) return null;
  for (let i = 0; i < p.segments.length; i++) {
    if (pos > path.length) return null;
    let end = path.indexOf('/', pos);
    if (end === -1) end = path.length;
    const seg = path.slice(pos, end);
    const want = p.segments[i];
    if ('param' in want) {
      if (seg.length === 0) return null;
      params[want.param] = seg;
    } else if (seg !== want.literal) {
      return null;
    }
    pos = end + 1;
  }
  if (pos > path.length) return params; // consumed exactly
  // Something is left after the last segment.
  return p.rest ? params : null;
}

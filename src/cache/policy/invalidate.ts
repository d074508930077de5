/**
 * Invalidation after unsafe requests (RFC 9111 §4.4).
 */
import type { HeaderList } from '../contracts.js';
import { first } from './fields.js';

/** RFC 9110 §9.2.1 safe methods; every other method (known or not) is unsafe. */
const SAFE: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/**
 * RFC 9111 §4.4: absolute URIs to invalidate after an unsafe request got a non-error (2xx/3xx)
 * response: the target URI (as given), plus the URIs in Location and Content-Location resolved
 * against it — but only those with the same origin (§4.4: "MUST NOT trigger an invalidation …
 * if the origin … differs"). Fragments are dropped; duplicates are removed.
 */
export function invalidationTargets(method: string, status: number, requestUri: string, headers: HeaderList): string[] {
  if (SAFE.has(method.toUpperCase()) || status < 200 || status > 399) return [];
  const out = [requestUri];
  let base: URL;
  try {
    base = new URL(requestUri);
  } catch {
    return out;
  }
  base.hash = '';
  const seen = new Set([base.href]);
  for (const name of ['location', 'content-location']) {
    const ref = first(headers, name);
    if (ref === undefined) continue;
    let u: URL;
    try {
      u = new URL(ref.trim(), base);
    } catch {
      continue;
    }
    u.hash = '';
    if (u.origin !== base.origin || u.origin === 'null' || seen.has(u.href)) continue;
    seen.add(u.href);
    out.push(u.href);
  }
  return out;
}

/**
 * The header section of a response served from the cache (RFC 9111 §4: "the Age header field …
 * replaced", §5.1).
 */
import type { EntryMeta } from '../contracts.js';
import { currentAge } from './freshness.js';

/** Headers for a response served from cache: meta.headers with a correct Age (replacing any stored Age), nothing else. */
export function servedHeaders(meta: EntryMeta, now: number): string[] {
  const h = meta.headers;
  const out: string[] = [];
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i];
    if (name.length === 3 && (name === 'age' || name.toLowerCase() === 'age')) continue;
    out.push(name, h[i + 1]);
  }
  out.push('Age', String(currentAge(meta, now)));
  return out;
}

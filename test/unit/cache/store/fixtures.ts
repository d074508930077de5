/** Shared helpers for the cache store tests. */
import type { CacheEntry, CacheStore, EntryMeta } from '../../../../src/cache/contracts.js';
import { meta as policyMeta } from '../policy/helpers.js';

/** A minimal valid EntryMeta (the policy tests' builder, with store-test defaults), overridable per test. */
export function meta(over: Partial<EntryMeta> = {}): EntryMeta {
  return policyMeta({
    headers: ['Content-Type', 'text/plain'],
    requestTime: 1_700_000_000_000,
    responseTime: 1_700_000_000_050,
    lifetime: 60,
    ...over,
  });
}

/** Stores `body` under `key` in one write; resolves with the committed entry (or null). */
export async function put(store: CacheStore, key: string, body: string | Buffer, m: EntryMeta = meta()): Promise<CacheEntry | null> {
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  const w = store.open(key, m, buf.length);
  if (!w) return null;
  if (buf.length > 0 && !w.write(buf)) return null;
  return w.commit();
}

/** The whole body (or a range) via `read`, whatever the entry holds. */
export async function readAll(store: CacheStore, entry: CacheEntry, start?: number, end?: number): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of store.read(entry, start, end)) parts.push(chunk);
  return Buffer.concat(parts).toString();
}

/** Which of `keys` are stored. Each check is a lookup, so it counts as a use. */
export function present(store: CacheStore, keys: readonly string[]): string[] {
  return keys.filter((k) => store.lookup(k).length > 0);
}

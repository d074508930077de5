/**
 * The one place that picks a store from the resolved `cache` block: disk when a directory is
 * configured, memory otherwise.
 */
import type { CacheStore, ResolvedCacheStorage } from '../contracts.js';
import { createDiskStore } from './disk.js';
import { createMemoryStore } from './memory.js';

export { createDiskStore } from './disk.js';
export { createMemoryStore } from './memory.js';

export type StoreStorage = Pick<ResolvedCacheStorage, 'maxBytes' | 'maxObjectBytes' | 'disk'>;

export async function createStore(storage: StoreStorage): Promise<CacheStore> {
  const { maxBytes, maxObjectBytes, disk } = storage;
  return disk ? createDiskStore({ maxBytes, maxObjectBytes, dir: disk.dir }) : createMemoryStore({ maxBytes, maxObjectBytes });
}

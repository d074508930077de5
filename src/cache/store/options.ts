import type { MemoryStoreOptions } from '../contracts.js';

/** Both stores refuse nonsense limits up front rather than evicting everything or nothing. */
export function checkLimits(opts: MemoryStoreOptions): void {
  for (const name of ['maxBytes', 'maxObjectBytes'] as const) {
    const v = opts[name];
    if (!Number.isSafeInteger(v) || v <= 0) throw new RangeError(`cache store: ${name} must be a positive integer, got ${v}`);
  }
}

/** Byte ranges for `CacheStore.read`, shared by both stores so they clamp identically. */

/** Inclusive [start, end] within a body of `size` bytes, or null when nothing is left to send. */
export function clampRange(size: number, start?: number, end?: number): { start: number; end: number } | null {
  const s = Math.max(0, Math.floor(start ?? 0));
  const e = Math.min(size - 1, Math.floor(end ?? size - 1));
  return s > e ? null : { start: s, end: e };
}

/** One view of the stored Buffer (no copy): the reader keeps it alive even if the entry goes. */
export async function* bufferRange(body: Buffer, start?: number, end?: number): AsyncGenerator<Buffer> {
  const r = clampRange(body.length, start, end);
  if (r) yield body.subarray(r.start, r.end + 1);
}

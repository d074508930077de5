/**
 * Startup for the disk store: read every complete entry's record, delete what a crash (or an
 * older run) left half-done, and order the survivors most recently used first.
 *
 * "Complete" is checked, not assumed: the meta must parse and be well-typed, and the body must be
 * a regular file whose size equals the recorded size. A body cut short by a crash therefore never
 * becomes a hit.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { bodyName, classify, decodeLru, decodeRecord, metaName, type DiskRecord } from './disk-format.js';
import { forEachLimit, unlinkQuiet } from './disk-io.js';

const SCAN_CONCURRENCY = 32;

export interface Recovered {
  /** Most recently used key first; within a key, most recently stored first. */
  records: DiskRecord[];
  /** Next store-order number (above every recovered one). */
  nextSeq: number;
  /** Files deleted as incomplete or orphaned. */
  removed: number;
}

export async function recover(dir: string): Promise<Recovered> {
  const bodies = new Set<string>();
  const metas: string[] = [];
  const garbage: string[] = [];
  let lruText: string | null = null;
  for (const name of await fs.readdir(dir)) {
    const { kind, id } = classify(name);
    if (kind === 'tmp') garbage.push(name);
    else if (kind === 'body') bodies.add(id!);
    else if (kind === 'meta') metas.push(id!);
    else if (kind === 'lru') lruText = await fs.readFile(path.join(dir, name), 'utf8').catch(() => null);
  }

  const records: DiskRecord[] = [];
  await forEachLimit(metas, SCAN_CONCURRENCY, async (id) => {
    const rec = await readComplete(dir, id, bodies.has(id));
    if (rec) records.push(rec);
    else garbage.push(metaName(id), bodyName(id));
    bodies.delete(id);
  });
  for (const id of bodies) garbage.push(bodyName(id)); // bodies whose meta never got written
  await forEachLimit(garbage, SCAN_CONCURRENCY, (name) => unlinkQuiet(path.join(dir, name)).catch(() => {}));

  const nextSeq = records.reduce((m, r) => Math.max(m, r.seq), 0) + 1;
  return { records: order(records, lruText === null ? null : decodeLru(lruText)), nextSeq, removed: garbage.length };
}

async function readComplete(dir: string, id: string, hasBody: boolean): Promise<DiskRecord | null> {
  if (!hasBody) return null;
  try {
    const rec = decodeRecord(await fs.readFile(path.join(dir, metaName(id)), 'utf8'), id);
    if (!rec) return null;
    const st = await fs.stat(path.join(dir, bodyName(id)));
    return st.isFile() && st.size === rec.size ? rec : null;
  } catch {
    return null;
  }
}

/**
 * LRU order from the last clean shutdown's snapshot. Keys it does not list were stored after it
 * was written (the run then crashed), so they count as more recent than every listed one, newest
 * first; without a snapshot, storage order stands in for use order.
 */
function order(records: DiskRecord[], lru: string[] | null): DiskRecord[] {
  const pos = new Map<string, number>();
  lru?.forEach((id, i) => pos.set(id, i));
  const groups = new Map<string, { records: DiskRecord[]; rank: number; seq: number }>();
  for (const r of records) {
    let g = groups.get(r.key);
    if (!g) groups.set(r.key, (g = { records: [], rank: Infinity, seq: 0 }));
    g.records.push(r);
    g.rank = Math.min(g.rank, pos.get(r.id) ?? Infinity);
    g.seq = Math.max(g.seq, r.seq);
  }
  const sorted = [...groups.values()].sort((a, b) => {
    const listedA = a.rank !== Infinity;
    const listedB = b.rank !== Infinity;
    if (listedA !== listedB) return listedA ? 1 : -1;
    return listedA ? a.rank - b.rank : b.seq - a.seq;
  });
  return sorted.flatMap((g) => g.records.sort((a, b) => b.seq - a.seq));
}

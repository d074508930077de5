/**
 * The disk store's on-disk format. One entry is two files in the store's directory:
 *
 *   <id>.body   the body bytes, nothing else (so reads are a plain ranged file read)
 *   <id>.meta   JSON `DiskRecord`: key, body size, store order, EntryMeta
 *
 * The `.meta` file is the commit point: it is written (temp file + rename) only after the body
 * has been fsync'd and renamed into place, and an entry exists only when its meta parses, its body
 * exists and the body's size equals the recorded one. Everything else found at startup (`*.tmp`,
 * bodies without meta, meta without a matching body, unparseable meta) is garbage from a crash
 * and is deleted. Files with other names are left alone.
 *
 * `lru.json` is written on clean shutdown: entry ids, most recently used first, so LRU order
 * survives a restart.
 */
import type { EntryMeta } from '../contracts.js';

export const FORMAT_VERSION = 1;

/** 128 random bits, hex: unique across restarts without coordination. */
export const ID_PATTERN = /^[0-9a-f]{32}$/;

export const LRU_FILE = 'lru.json';

export interface DiskRecord {
  v: number;
  id: string;
  key: string;
  size: number;
  /** Store order: higher was committed later (variant order; LRU order when lru.json is missing). */
  seq: number;
  meta: EntryMeta;
}

export type DiskFileKind = 'body' | 'meta' | 'tmp' | 'lru' | 'other';

export function classify(name: string): { kind: DiskFileKind; id: string | null } {
  if (name.endsWith('.tmp')) return { kind: 'tmp', id: null };
  if (name === LRU_FILE) return { kind: 'lru', id: null };
  const dot = name.lastIndexOf('.');
  const id = name.slice(0, dot);
  const ext = name.slice(dot + 1);
  if (dot > 0 && ID_PATTERN.test(id) && (ext === 'body' || ext === 'meta')) return { kind: ext, id };
  return { kind: 'other', id: null };
}

export const bodyName = (id: string): string => `${id}.body`;
export const metaName = (id: string): string => `${id}.meta`;

export function encodeRecord(rec: DiskRecord): string {
  return JSON.stringify(rec);
}

/** The record, or null when the text is not a complete, well-typed record for `id`. */
export function decodeRecord(text: string, id: string): DiskRecord | null {
  let rec: unknown;
  try {
    rec = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(rec)) return null;
  const { v, key, size, seq, meta } = rec;
  if (v !== FORMAT_VERSION || rec.id !== id || typeof key !== 'string') return null;
  if (!isCount(size) || typeof seq !== 'number' || !Number.isFinite(seq)) return null;
  return isEntryMeta(meta) ? { v, id, key, size, seq, meta } : null;
}

function isEntryMeta(m: unknown): m is EntryMeta {
  if (!isObject(m)) return false;
  const numbers = ['status', 'requestTime', 'responseTime', 'initialAge', 'lifetime', 'staleWhileRevalidate', 'staleIfError'];
  const flags = ['heuristic', 'mustRevalidate', 'noCache'];
  return (
    numbers.every((k) => typeof m[k] === 'number' && Number.isFinite(m[k])) &&
    flags.every((k) => typeof m[k] === 'boolean') &&
    isStrings(m.headers) &&
    m.headers.length % 2 === 0 &&
    isStrings(m.vary) &&
    Array.isArray(m.varyValues) &&
    m.varyValues.length === m.vary.length &&
    m.varyValues.every((x) => x === null || typeof x === 'string') &&
    isStrings(m.tags) &&
    (m.etag === null || typeof m.etag === 'string') &&
    (m.lastModified === null || (typeof m.lastModified === 'number' && Number.isFinite(m.lastModified)))
  );
}

/** The snapshot's ids in order, or null when it is unusable (then storage order is used). */
export function decodeLru(text: string): string[] | null {
  try {
    const v: unknown = JSON.parse(text);
    if (isObject(v) && v.v === FORMAT_VERSION && isStrings(v.order)) return v.order;
  } catch {
    // fall through
  }
  return null;
}

export function encodeLru(order: readonly string[]): string {
  return JSON.stringify({ v: FORMAT_VERSION, order });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isStrings(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * The in-memory index both stores keep: primary key → its variants, LRU order, byte accounting,
 * the tag index, and eviction. Stores decide what an entry costs and what removal means (memory:
 * nothing; disk: unlink files) through `onRemove`.
 *
 * The LRU unit is the primary key, not the entry. A lookup returns every variant of a key (the
 * stage picks one by Vary after the fact), so "used" is naturally per key, and touching one
 * doubly-linked node keeps `lookup` at a Map get + a few pointer moves with no allocation. Evicting
 * whole keys keeps the variant list coherent: a key is either fully there or gone, never a
 * half-evicted set that makes the stage miss on one language and hit on another. The price is
 * that a key with many large variants is evicted as one unit; a key whose variants alone exceed
 * the byte budget sheds its oldest variants first.
 *
 * Variant arrays are copy-on-write and frozen: `lookup` hands out the stored array itself, and a
 * caller holding it never sees it change underneath.
 *
 * Hand-rolled instead of `lru-cache`: that library sizes and evicts per Map value, so it would hold
 * the whole variant array as one value (re-measuring it on every change) and offers no hook to
 * maintain the tag index or to protect the group being inserted; the list below is ~40 lines.
 */
import type { CacheEntry } from '../contracts.js';
import { TagIndex } from './tags.js';
import { supersedes } from './variants.js';

/** Why an entry left the index: LRU pressure, superseded by a newer variant, or asked for. */
export type RemoveReason = 'evict' | 'replace' | 'delete';

export type RemoveHook = (entry: CacheEntry, reason: RemoveReason) => void;

interface Group {
  readonly key: string;
  /** Most recently stored first. Frozen; replaced (never mutated) on change. */
  entries: readonly CacheEntry[];
  bytes: number;
  /** Toward the most recently used end. */
  prev: Group | null;
  /** Toward the least recently used end. */
  next: Group | null;
}

interface Slot {
  entry: CacheEntry;
  cost: number;
  readonly group: Group;
}

const EMPTY: readonly CacheEntry[] = Object.freeze([]);

export class EntryIndex {
  private readonly groups = new Map<string, Group>();
  /** By entry id: stale entry objects (from before an update) still find the live one. */
  private readonly slots = new Map<string, Slot>();
  private readonly tags = new TagIndex();
  private head: Group | null = null;
  private tail: Group | null = null;
  private used = 0;
  private evicted = 0;

  constructor(
    readonly maxBytes: number,
    private readonly onRemove: RemoveHook,
  ) {}

  get bytes(): number {
    return this.used;
  }

  get entries(): number {
    return this.slots.size;
  }

  get evictions(): number {
    return this.evicted;
  }

  /** Every variant of `key`, most recently stored first; counts as a use. */
  lookup(key: string): readonly CacheEntry[] {
    const g = this.groups.get(key);
    if (!g) return EMPTY;
    if (g !== this.head) this.toHead(g);
    return g.entries;
  }

  /** The live version of `entry` (same id), or null when it is gone. No LRU effect. */
  current(entry: CacheEntry): CacheEntry | null {
    return this.slots.get(entry.id)?.entry ?? null;
  }

  /**
   * Adds a committed entry as its key's newest variant, dropping the variants it supersedes, then
   * evicts least recently used keys until the budget holds. False when `cost` alone exceeds the
   * budget (nothing changes).
   */
  insert(entry: CacheEntry, cost: number): boolean {
    if (cost > this.maxBytes || this.slots.has(entry.id)) return false;
    let g = this.groups.get(entry.key);
    if (!g) {
      g = { key: entry.key, entries: EMPTY, bytes: 0, prev: null, next: null };
      this.groups.set(entry.key, g);
      this.linkHead(g);
    } else if (g !== this.head) {
      this.toHead(g);
    }
    const removed: Array<[CacheEntry, RemoveReason]> = [];
    const kept: CacheEntry[] = [entry];
    for (const old of g.entries) {
      if (supersedes(entry.meta, old.meta)) {
        this.detach(old);
        removed.push([old, 'replace']);
      } else {
        kept.push(old);
      }
    }
    this.slots.set(entry.id, { entry, cost, group: g });
    this.tags.add(entry.id, entry.meta.tags);
    g.entries = Object.freeze(kept);
    g.bytes += cost;
    this.used += cost;
    this.fit(g, removed);
    this.notify(removed);
    return true;
  }

  /**
   * Swaps in `next` (same id) where `entry` was, at the same variant position, and counts as a use.
   * Null when the entry is gone or `cost` alone exceeds the budget (then it is removed).
   */
  replace(entry: CacheEntry, next: CacheEntry, cost: number): CacheEntry | null {
    const slot = this.slots.get(entry.id);
    if (!slot) return null;
    if (cost > this.maxBytes) {
      this.remove(entry);
      return null;
    }
    const g = slot.group;
    const old = slot.entry;
    g.entries = Object.freeze(g.entries.map((e) => (e === old ? next : e)));
    this.tags.remove(old.id, old.meta.tags);
    this.tags.add(next.id, next.meta.tags);
    g.bytes += cost - slot.cost;
    this.used += cost - slot.cost;
    slot.entry = next;
    slot.cost = cost;
    if (g !== this.head) this.toHead(g);
    const removed: Array<[CacheEntry, RemoveReason]> = [];
    this.fit(g, removed);
    this.notify(removed);
    return next;
  }

  /** Removes one entry (matched by id). */
  remove(entry: CacheEntry, reason: RemoveReason = 'delete'): boolean {
    const slot = this.slots.get(entry.id);
    if (!slot) return false;
    const live = slot.entry;
    const g = slot.group;
    this.detach(live);
    g.entries = Object.freeze(g.entries.filter((e) => e !== live));
    if (g.entries.length === 0) this.dropGroup(g);
    this.notify([[live, reason]]);
    return true;
  }

  /** Removes every variant of `key`; returns how many went. */
  removeKey(key: string): number {
    const g = this.groups.get(key);
    if (!g) return 0;
    const removed: Array<[CacheEntry, RemoveReason]> = [];
    this.removeGroup(g, 'delete', removed);
    this.notify(removed);
    return removed.length;
  }

  removeTag(tag: string): number {
    let n = 0;
    for (const id of this.tags.ids(tag)) {
      const slot = this.slots.get(id);
      if (slot && this.remove(slot.entry)) n++;
    }
    return n;
  }

  /** A scan over keys: purge by prefix is rare, so no trie is kept for it. */
  removePrefix(prefix: string): number {
    const removed: Array<[CacheEntry, RemoveReason]> = [];
    for (const g of [...this.groups.values()]) {
      if (g.key.startsWith(prefix)) this.removeGroup(g, 'delete', removed);
    }
    this.notify(removed);
    return removed.length;
  }

  /** Every entry, most recently used key first (variants newest first). No LRU effect. */
  *mru(): IterableIterator<CacheEntry> {
    for (let g = this.head; g; g = g.next) yield* g.entries;
  }

  /**
   * Restores the budget after `keep` grew: least recently used keys go first; when `keep` is the
   * only key left and still too big, its oldest variants go (its newest fits by construction).
   */
  private fit(keep: Group, removed: Array<[CacheEntry, RemoveReason]>): void {
    while (this.used > this.maxBytes) {
      const victim = this.tail;
      if (!victim) break;
      if (victim !== keep) {
        this.evicted += victim.entries.length;
        this.removeGroup(victim, 'evict', removed);
      } else if (keep.entries.length > 1) {
        const oldest = keep.entries[keep.entries.length - 1];
        this.detach(oldest);
        keep.entries = Object.freeze(keep.entries.slice(0, -1));
        this.evicted++;
        removed.push([oldest, 'evict']);
      } else {
        break;
      }
    }
  }

  private removeGroup(g: Group, reason: RemoveReason, removed: Array<[CacheEntry, RemoveReason]>): void {
    for (const e of g.entries) {
      this.detach(e);
      removed.push([e, reason]);
    }
    g.entries = EMPTY;
    this.dropGroup(g);
  }

  /** Forgets an entry's slot, tags and bytes; the caller fixes its group's array. */
  private detach(entry: CacheEntry): void {
    const slot = this.slots.get(entry.id)!;
    this.slots.delete(entry.id);
    this.tags.remove(entry.id, slot.entry.meta.tags);
    slot.group.bytes -= slot.cost;
    this.used -= slot.cost;
  }

  private dropGroup(g: Group): void {
    this.groups.delete(g.key);
    this.unlink(g);
  }

  /** Hooks run after the index is consistent again, so they may call back into it. */
  private notify(removed: ReadonlyArray<[CacheEntry, RemoveReason]>): void {
    for (const [entry, reason] of removed) this.onRemove(entry, reason);
  }

  private toHead(g: Group): void {
    this.unlink(g);
    this.linkHead(g);
  }

  private linkHead(g: Group): void {
    g.prev = null;
    g.next = this.head;
    if (this.head) this.head.prev = g;
    this.head = g;
    if (!this.tail) this.tail = g;
  }

  private unlink(g: Group): void {
    if (g.prev) g.prev.next = g.next;
    else if (this.head === g) this.head = g.next;
    if (g.next) g.next.prev = g.prev;
    else if (this.tail === g) this.tail = g.prev;
    g.prev = g.next = null;
  }
}

/**
 * Which stored variants a newly stored response makes obsolete (RFC 9111 §4.1). Both stores apply
 * the same rule at commit through `EntryIndex.insert`:
 *
 *  - a variant selected by the same request values (same Vary names, same normalised values) is
 *    replaced: that is the contract's "atomically replacing" rule;
 *  - a variant stored under a different Vary list is dropped too: the origin now varies on other
 *    fields, so the old variants were selected by a rule that no longer holds and would only shadow
 *    the new one (RFC 9111 §4.1 lets a cache prefer the most recent response). Without this, a key
 *    whose Vary changed would keep unselectable variants until LRU pushed them out.
 *
 * Names are compared as sets (order-insensitive), values by name, so `Vary: a, b` and `Vary: b, a`
 * describe the same variant space.
 */
import type { EntryMeta } from '../contracts.js';

/** Same set of Vary names (duplicates and order ignored). */
export function sameVaryNames(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  for (const name of a) if (!b.includes(name)) return false;
  for (const name of b) if (!a.includes(name)) return false;
  return true;
}

/** Same value for every Vary name; assumes `sameVaryNames(a.vary, b.vary)`. */
export function sameVaryValues(a: EntryMeta, b: EntryMeta): boolean {
  for (let i = 0; i < a.vary.length; i++) {
    const j = b.vary.indexOf(a.vary[i]);
    if (j < 0 || (a.varyValues[i] ?? null) !== (b.varyValues[j] ?? null)) return false;
  }
  return true;
}

/** True when storing `next` makes the stored `old` (same primary key) obsolete. */
export function supersedes(next: EntryMeta, old: EntryMeta): boolean {
  return !sameVaryNames(next.vary, old.vary) || sameVaryValues(next, old);
}

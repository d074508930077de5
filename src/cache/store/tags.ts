/**
 * Surrogate-key index: tag → ids of the entries carrying it, so `purgeTag` touches only the
 * entries it removes instead of scanning the store. Shared by both stores through `EntryIndex`,
 * which keeps it in step on every insert, update, eviction and delete.
 */
export class TagIndex {
  private readonly byTag = new Map<string, Set<string>>();

  add(id: string, tags: readonly string[]): void {
    for (const tag of tags) {
      let ids = this.byTag.get(tag);
      if (!ids) this.byTag.set(tag, (ids = new Set()));
      ids.add(id);
    }
  }

  remove(id: string, tags: readonly string[]): void {
    for (const tag of tags) {
      const ids = this.byTag.get(tag);
      if (!ids) continue;
      ids.delete(id);
      // Drop empty sets so tags seen once (per-URL surrogate keys are common) do not pile up.
      if (ids.size === 0) this.byTag.delete(tag);
    }
  }

  /** A snapshot (callers remove entries while walking it). */
  ids(tag: string): string[] {
    const ids = this.byTag.get(tag);
    return ids ? [...ids] : [];
  }

  /** Distinct tags indexed (for tests and diagnostics). */
  get size(): number {
    return this.byTag.size;
  }
}

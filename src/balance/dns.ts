/**
 * Re-resolution of upstream host names (`http://api.internal:3001`), so a host that moves is
 * followed without a reload. Each entry is looked up on its own unref'd timer; when the sorted
 * address list differs from the last good one, `onChange(addresses)` runs (the runtime then renews
 * that upstream's connection pool, so new connections go to the new addresses). The first
 * resolution only sets the baseline. Errors are logged and the last good list is kept: a resolver
 * hiccup never takes an upstream away.
 *
 * IP literals are never looked up (there is nothing to follow).
 */
import { promises as dnsPromises, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import type { Logger } from '../observe/logger.js';

/** `dns.promises.lookup(hostname, { all: true })`'s shape; injectable for tests. */
export type LookupAll = (hostname: string, options: { all: true }) => Promise<LookupAddress[]>;

export interface DnsEntry {
  /** Identity of the entry across reconciles, e.g. `pool|url`. */
  key: string;
  /** A host name; IP literals (also `[::1]`) are skipped. */
  hostname: string;
  refreshMs: number;
  /** Called with the new sorted address list when it changed (not on the first resolution). */
  onChange(addresses: string[]): void;
}

export interface DnsRefresherOptions {
  /** The resolver. Default `dns.promises.lookup` (the OS resolver, like connect itself uses). */
  lookup?: LookupAll;
}

/** True when `host` is a name to resolve, false for an IP literal (brackets allowed). */
export function isHostName(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return bare !== '' && isIP(bare) === 0;
}

interface Watch {
  entry: DnsEntry;
  timer: NodeJS.Timeout | null;
  /** Last good sorted address list; null before the first successful resolution. */
  addresses: string[] | null;
  failing: boolean;
  stopped: boolean;
  /** The lookup in flight, if any. */
  pending: Promise<void> | null;
}

/**
 * Keeps one re-resolution loop per entry key, across reloads.
 *
 * @example
 * const dns = new DnsRefresher(logger);
 * dns.reconcile([{ key: 'api|http://api.internal:3001', hostname: 'api.internal', refreshMs: 30_000,
 *   onChange: (addrs) => renewDispatcher('http://api.internal:3001') }]);
 * // … on shutdown
 * dns.stopAll();
 */
export class DnsRefresher {
  private readonly logger: Logger;
  private readonly lookup: LookupAll;
  private readonly watches = new Map<string, Watch>();

  constructor(logger: Logger, opts: DnsRefresherOptions = {}) {
    this.logger = logger;
    this.lookup = opts.lookup ?? (dnsPromises.lookup as LookupAll);
  }

  /**
   * Make the loops match `entries`: same key, host name and interval → keep the loop (and its
   * baseline), take the new `onChange`; changed → restart; gone → stop. IP literals are ignored.
   * New loops resolve at once (for the baseline), then every `refreshMs`.
   */
  reconcile(entries: readonly DnsEntry[]): void {
    const keep = new Set<string>();
    for (const entry of entries) {
      if (!isHostName(entry.hostname) || keep.has(entry.key)) continue;
      keep.add(entry.key);
      const cur = this.watches.get(entry.key);
      if (cur !== undefined && cur.entry.hostname === entry.hostname && cur.entry.refreshMs === entry.refreshMs) {
        cur.entry = entry;
        continue;
      }
      if (cur !== undefined) this.stop(cur);
      const w: Watch = { entry, timer: null, addresses: null, failing: false, stopped: false, pending: null };
      this.watches.set(entry.key, w);
      this.resolve(w);
    }
    for (const [key, w] of this.watches) {
      if (keep.has(key)) continue;
      this.stop(w);
      this.watches.delete(key);
    }
  }

  /** Keys being watched. */
  keys(): string[] {
    return [...this.watches.keys()];
  }

  /** The last good addresses of `key` (sorted), or undefined before the first resolution. */
  addresses(key: string): string[] | undefined {
    return this.watches.get(key)?.addresses ?? undefined;
  }

  /**
   * Resolve every entry now (waiting for lookups already in flight instead of doubling them).
   * Resolves when all are done. For tests and for an admin "re-resolve now".
   */
  async refreshNow(): Promise<void> {
    await Promise.all([...this.watches.values()].map((w) => w.pending ?? this.resolve(w)));
  }

  /** Stop every loop. */
  stopAll(): void {
    for (const w of this.watches.values()) this.stop(w);
    this.watches.clear();
  }

  private stop(w: Watch): void {
    w.stopped = true;
    if (w.timer !== null) clearTimeout(w.timer);
    w.timer = null;
  }

  private resolve(w: Watch): Promise<void> {
    if (w.timer !== null) {
      clearTimeout(w.timer);
      w.timer = null;
    }
    const run = this.resolveOnce(w).finally(() => {
      w.pending = null;
      if (w.stopped) return;
      w.timer = setTimeout(() => {
        w.timer = null;
        void this.resolve(w);
      }, w.entry.refreshMs);
      w.timer.unref();
    });
    w.pending = run;
    return run;
  }

  private async resolveOnce(w: Watch): Promise<void> {
    const { hostname, key } = w.entry;
    let found: string[];
    try {
      const list = await this.lookup(hostname, { all: true });
      found = [...new Set(list.map((a) => a.address))].sort();
      if (found.length === 0) throw new Error('no addresses');
    } catch (err) {
      if (w.stopped) return;
      const e = err as { code?: unknown; message?: unknown };
      this.logger.warn('upstream host name did not resolve; keeping its last addresses', {
        key,
        hostname,
        error: typeof e?.code === 'string' ? e.code : String(e?.message ?? err),
        addresses: w.addresses ?? [],
      });
      w.failing = true;
      return;
    }
    if (w.stopped) return;
    const previous = w.addresses;
    w.addresses = found;
    if (w.failing) {
      w.failing = false;
      if (previous !== null && sameList(previous, found)) this.logger.info('upstream host name resolves again', { key, hostname, addresses: found });
    }
    if (previous === null || sameList(previous, found)) return;
    this.logger.info('upstream addresses changed', { key, hostname, from: previous, to: found });
    try {
      w.entry.onChange(found);
    } catch (err) {
      this.logger.error('dns onChange callback threw', { key, hostname, err: String(err) });
    }
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

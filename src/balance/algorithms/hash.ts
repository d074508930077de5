/**
 * Consistent hashing with bounded loads, for `{ hash: 'ip' | 'path' | 'header:NAME' | 'cookie:NAME' }`.
 *
 * Ring (Karger et al.; Ketama layout): each upstream owns `160 × weight` points, placed at
 * `hash32(url + '#' + k)`. The points depend only on the upstream's URL, never on its index or on
 * the other upstreams, so when one of N upstreams leaves only the keys it owned (~1/N) move, each
 * to its clockwise successor, and when one joins it takes ~1/(N+1) from the others; every other
 * key stays put. The ring is built once, in the constructor, as a sorted Uint32Array searched by
 * bisection.
 *
 * Bounded load (Mirrokni, Thorup, Zadimoghaddam, "Consistent Hashing with Bounded Loads", 2018;
 * the scheme HAProxy's `hash-balance-factor` and Envoy's `hash_balance_factor` use): with T
 * requests in flight over the accepted upstreams, upstream u may hold at most
 *   capacity(u) = ceil(1.25 × (T + 1) × w(u) / W)
 * where w is the effective weight (slow start included) and W the accepted total. A key goes to
 * the first accepted upstream clockwise from its hash that is under capacity, so one hot key (or
 * an unlucky ring) can push an upstream to ~1.25× its fair share and no further; the overflow
 * spills to the next upstreams on the ring, which are the same ones for the same key, keeping
 * locality. Some accepted upstream is always under capacity (the capacities sum to more than T),
 * so the walk ends there; taking the first accepted one otherwise is only a guard.
 *
 * Keys: the client IP, the path, a header value or a cookie value (`NAME=` found in the Cookie
 * header by index, no parsing into objects). A missing or empty header or cookie falls back to the
 * client IP, so such clients are still spread and stay put.
 *
 * Cost per pick: one string hash, one bisection; when the key's home upstream is accepted and
 * idle, one `accept` call and done. Otherwise one pass over the upstreams (n `accept` calls) and a
 * clockwise walk that stops once every accepted upstream has been seen (bounded by the ring size).
 * No allocation: scratch arrays are reused.
 */
import { effectiveWeight } from '../balancer.js';
import type { Accept, Balancer, BalancerFactory, BalancerOptions, PickContext } from '../balancer.js';
import type { HashKey } from '../../config/spec.js';
import type { Upstream } from '../upstream.js';
import { cookieValueEnd, cookieValueStart, hash32 } from './key.js';

/** Ring points per unit of weight (Ketama uses 160 per server). */
export const POINTS_PER_WEIGHT = 160;
/** The bounded-load factor c: no upstream above ceil(c × fair share). 1.25 as in the paper's experiments and Vimeo's deployment. */
export const LOAD_FACTOR = 1.25;

export interface HashBalancerOptions extends BalancerOptions {
  key: HashKey;
}

const KEY_IP = 0;
const KEY_PATH = 1;
const KEY_HEADER = 2;
const KEY_COOKIE = 3;

export class HashBalancer implements Balancer {
  private readonly upstreams: readonly Upstream[];
  private readonly slowStartMs: number;
  private readonly keyKind: number;
  /** Lower-case header name for `header:NAME`. */
  private readonly headerName: string;
  /** `NAME=` for `cookie:NAME`. */
  private readonly cookieNeedle: string;
  /** Point hashes, ascending. */
  private readonly ring: Uint32Array;
  /** Upstream index owning each point. */
  private readonly owner: Uint32Array;
  /** Scratch: effective weight per upstream for the current pick, 0 when `accept` rejected it. */
  private readonly ew: Float64Array;
  /** Scratch: `seen[i] === epoch` when upstream i was met on this pick's ring walk. */
  private readonly seen: Uint32Array;
  private epoch = 0;

  constructor(upstreams: readonly Upstream[], opts: HashBalancerOptions) {
    this.upstreams = upstreams;
    this.slowStartMs = opts.slowStartMs ?? 0;
    const key = opts.key;
    this.headerName = '';
    this.cookieNeedle = '';
    if (key === 'ip') this.keyKind = KEY_IP;
    else if (key === 'path') this.keyKind = KEY_PATH;
    else if (typeof key === 'string' && key.startsWith('header:') && key.length > 7) {
      this.keyKind = KEY_HEADER;
      this.headerName = key.slice(7).toLowerCase();
    } else if (typeof key === 'string' && key.startsWith('cookie:') && key.length > 7) {
      this.keyKind = KEY_COOKIE;
      this.cookieNeedle = `${key.slice(7)}=`;
    } else {
      throw new TypeError(`expected hash key to be 'ip', 'path', 'header:<name>' or 'cookie:<name>', got ${JSON.stringify(key)}`);
    }
    const { ring, owner } = buildRing(upstreams);
    this.ring = ring;
    this.owner = owner;
    this.ew = new Float64Array(upstreams.length);
    this.seen = new Uint32Array(upstreams.length);
  }

  pick(ctx: PickContext, accept: Accept): Upstream | null {
    const ups = this.upstreams;
    const n = ups.length;
    if (n === 0) return null;
    const ring = this.ring;
    const owner = this.owner;
    let pos = lowerBound(ring, this.keyHash(ctx));
    if (pos === ring.length) pos = 0;

    // Fast path: the key's home upstream is accepted and idle, so it is under any capacity (>= 1).
    const home = owner[pos];
    const homeOk = accept(ups[home]);
    if (homeOk && ups[home].state.inflight === 0) return ups[home];

    // Accepted set: effective weights, total weight, total in flight.
    const ew = this.ew;
    const now = ctx.now;
    const slow = this.slowStartMs;
    let totalW = 0;
    let inflight = 0;
    let accepted = 0;
    for (let i = 0; i < n; i++) {
      const u = ups[i];
      if (i === home ? homeOk : accept(u)) {
        const w = effectiveWeight(u, now, slow);
        ew[i] = w;
        totalW += w;
        inflight += u.state.inflight;
        accepted++;
      } else {
        ew[i] = 0;
      }
    }
    if (accepted === 0) return null;

    // Walk clockwise to the first accepted upstream under capacity.
    const epoch = this.nextEpoch();
    const seen = this.seen;
    const scale = (LOAD_FACTOR * (inflight + 1)) / totalW;
    let first = -1;
    let met = 0;
    for (let step = 0; step < ring.length; step++) {
      const o = owner[pos];
      pos = pos + 1 === ring.length ? 0 : pos + 1;
      if (seen[o] === epoch) continue;
      seen[o] = epoch;
      if (ew[o] === 0) continue;
      if (first === -1) first = o;
      if (ups[o].state.inflight < Math.ceil(scale * ew[o])) return ups[o];
      if (++met === accepted) break;
    }
    return first === -1 ? null : ups[first];
  }

  /** The 32-bit hash of this request's key (the client IP when the header or cookie is absent). */
  private keyHash(ctx: PickContext): number {
    switch (this.keyKind) {
      case KEY_PATH:
        return hash32(ctx.path);
      case KEY_HEADER: {
        const v = ctx.header(this.headerName);
        return v === undefined || v.length === 0 ? hash32(ctx.clientIp) : hash32(v);
      }
      case KEY_COOKIE: {
        const h = ctx.header('cookie');
        if (h === undefined) return hash32(ctx.clientIp);
        const start = cookieValueStart(h, this.cookieNeedle);
        if (start < 0) return hash32(ctx.clientIp);
        const end = cookieValueEnd(h, start);
        return end === start ? hash32(ctx.clientIp) : hash32(h, start, end);
      }
      default:
        return hash32(ctx.clientIp);
    }
  }

  private nextEpoch(): number {
    this.epoch = (this.epoch + 1) >>> 0;
    if (this.epoch === 0) {
      this.seen.fill(0);
      this.epoch = 1;
    }
    return this.epoch;
  }
}

/** Ring points for the upstreams: `POINTS_PER_WEIGHT × weight` each, sorted by hash (ties by URL, then point number). */
function buildRing(upstreams: readonly Upstream[]): { ring: Uint32Array; owner: Uint32Array } {
  let total = 0;
  for (const u of upstreams) total += pointsFor(u);
  const hashes = new Uint32Array(total);
  const owners = new Uint32Array(total);
  const vnode = new Uint32Array(total);
  let p = 0;
  upstreams.forEach((u, i) => {
    const count = pointsFor(u);
    for (let k = 0; k < count; k++, p++) {
      hashes[p] = hash32(`${u.url}#${k}`);
      owners[p] = i;
      vnode[p] = k;
    }
  });
  const order = Array.from({ length: total }, (_, x) => x);
  order.sort((x, y) => {
    if (hashes[x] !== hashes[y]) return hashes[x] - hashes[y];
    const ux = upstreams[owners[x]].url;
    const uy = upstreams[owners[y]].url;
    if (ux !== uy) return ux < uy ? -1 : 1;
    return vnode[x] - vnode[y];
  });
  const ring = new Uint32Array(total);
  const owner = new Uint32Array(total);
  for (let x = 0; x < total; x++) {
    ring[x] = hashes[order[x]];
    owner[x] = owners[order[x]];
  }
  return { ring, owner };
}

/** Ring points owned by one upstream. */
export function pointsFor(u: Upstream): number {
  return Math.max(1, Math.round(POINTS_PER_WEIGHT * u.weight));
}

/** First index whose value is >= h (ring.length when none). */
function lowerBound(ring: Uint32Array, h: number): number {
  let lo = 0;
  let hi = ring.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ring[mid] < h) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

HashBalancer satisfies BalancerFactory<HashBalancerOptions>;

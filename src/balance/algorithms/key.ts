/**
 * Helpers shared by the key-based selectors (consistent hashing) and sticky sessions: a fast
 * non-cryptographic 32-bit string hash, and a Cookie-header scanner. Both work on index ranges of
 * the strings they are given, so the hot path never slices, splits or builds objects.
 *
 * The hash is FNV-1a over UTF-16 code units followed by murmur3's `fmix32` finaliser. FNV-1a alone
 * spreads similar short keys (`10.0.0.1`, `10.0.0.2`) poorly in the high bits; the finaliser gives
 * full avalanche, which matters because the ring lookup compares whole 32-bit values. It is not a
 * MAC: a client that can choose its key can choose its upstream, which consistent hashing allows
 * anyway (bounded load keeps one hot key from overloading an upstream).
 */

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** 32-bit hash (unsigned) of `s.slice(start, end)`, computed without slicing. */
export function hash32(s: string, start = 0, end: number = s.length): number {
  let h = FNV_OFFSET;
  for (let i = start; i < end; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  // murmur3 fmix32
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const SEMI = 0x3b; // ;
const SP = 0x20;
const HTAB = 0x09;

/**
 * Where the value of a cookie starts in a Cookie header (RFC 6265 §4.2.1: `name=value` pairs
 * separated by `; `), or -1 when absent. `needle` is the cookie name followed by `=`, built once by
 * the caller. A match must start the header or follow `;` or whitespace, so `sid=` does not match
 * inside `xsid=…`. Bounded: each iteration moves `from` forward.
 */
export function cookieValueStart(header: string, needle: string): number {
  let from = 0;
  while (from <= header.length - needle.length) {
    const i = header.indexOf(needle, from);
    if (i === -1) return -1;
    if (i === 0) return needle.length;
    const c = header.charCodeAt(i - 1);
    if (c === SEMI || c === SP || c === HTAB) return i + needle.length;
    from = i + 1;
  }
  return -1;
}

/** End (exclusive) of the cookie value starting at `start`: the next `;` or the header's end, trailing whitespace dropped. */
export function cookieValueEnd(header: string, start: number): number {
  let end = header.indexOf(';', start);
  if (end === -1) end = header.length;
  while (end > start) {
    const c = header.charCodeAt(end - 1);
    if (c !== SP && c !== HTAB) break;
    end--;
  }
  return end;
}

/**
 * The little DER reading proxykit does by hand (an OCSP request's issuer hash, an ARI certificate
 * id): one tag-length-value at a time, short-form tags, definite lengths up to 4 bytes. Anything
 * else throws; callers treat that as "not a certificate we can read".
 */

export interface Tlv {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  /** Offset of the contents. */
  content: number;
  /** Offset after the contents. */
  end: number;
}

export function readTlv(b: Uint8Array, off: number, limit = b.length): Tlv {
  if (off + 2 > limit) throw new Error('DER: truncated');
  const tag = b[off]!;
  if ((tag & 0x1f) === 0x1f) throw new Error('DER: multi-byte tag');
  let p = off + 1;
  let len = b[p++]!;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new Error('DER: bad length');
    if (p + n > limit) throw new Error('DER: truncated');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[p++]!;
  }
  if (p + len > limit) throw new Error('DER: truncated');
  return { tag, start: off, content: p, end: p + len };
}

/** The TLVs directly inside a constructed one. */
export function childrenOf(b: Uint8Array, t: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = t.content; p < t.end; ) {
    const c = readTlv(b, p, t.end);
    out.push(c);
    p = c.end;
  }
  return out;
}

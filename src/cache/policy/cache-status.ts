/**
 * The Cache-Status response field (RFC 9211): one list member for this cache, a Structured Field
 * Item (RFC 8941) with parameters.
 */

export interface CacheStatusParts {
  hit?: boolean;
  fwd?: 'uri-miss' | 'vary-miss' | 'miss' | 'request' | 'stale' | 'bypass' | 'method';
  fwdStatus?: number;
  ttl?: number;
  stored?: boolean;
  collapsed?: boolean;
  key?: string;
  detail?: string;
}

/** RFC 8941 §3.3.4 sf-token: ( ALPHA / "*" ) *( tchar / ":" / "/" ). */
function isSfToken(s: string): boolean {
  if (s.length === 0) return false;
  const c0 = s.charCodeAt(0);
  if (!((c0 >= 65 && c0 <= 90) || (c0 >= 97 && c0 <= 122) || c0 === 42)) return false;
  for (let i = 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok =
      (c >= 65 && c <= 90) ||
      (c >= 97 && c <= 122) ||
      (c >= 48 && c <= 57) ||
      c === 58 ||
      c === 47 ||
      "!#$%&'*+-.^_`|~".includes(s[i]);
    if (!ok) return false;
  }
  return true;
}

/** RFC 8941 §3.3.3 sf-string: printable ASCII, `"` and `\` escaped; anything else becomes `?`. */
function sfString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 34 || c === 92) out += `\\${s[i]}`;
    else if (c < 0x20 || c > 0x7e) out += '?';
    else out += s[i];
  }
  return `${out}"`;
}

/** RFC 8941 §3.3.1 sf-integer range. */
function sfInteger(n: number): string {
  const v = Math.round(n);
  const max = 999_999_999_999_999;
  return String(Number.isFinite(v) ? Math.max(-max, Math.min(max, v)) : 0);
}

/**
 * RFC 9211 §2 member for this cache, e.g. `proxykit; hit; ttl=42`,
 * `proxykit; fwd=stale; fwd-status=304; ttl=60`, `proxykit; fwd=uri-miss; stored`,
 * `proxykit; fwd=bypass; detail="no-store"`. The name is an sf-token when it can be, else an
 * sf-string. Parameters come in the order the RFC defines them (§2.1–§2.8); false flags are omitted.
 */
export function cacheStatus(name: string, parts: CacheStatusParts): string {
  let out = isSfToken(name) ? name : sfString(name);
  if (parts.hit === true) out += '; hit';
  if (parts.fwd !== undefined) out += `; fwd=${parts.fwd}`;
  if (parts.fwdStatus !== undefined) out += `; fwd-status=${sfInteger(parts.fwdStatus)}`;
  if (parts.ttl !== undefined) out += `; ttl=${sfInteger(parts.ttl)}`;
  if (parts.stored === true) out += '; stored';
  if (parts.collapsed === true) out += '; collapsed';
  if (parts.key !== undefined) out += `; key=${sfString(parts.key)}`;
  if (parts.detail !== undefined) out += `; detail=${sfString(parts.detail)}`;
  return out;
}

/**
 * The request target (RFC 9112 §3.2): split into path and query, absolute-form reduced to
 * origin-form, and the path made safe to match on.
 *
 * Decision on dot-segments (anchors disagree; we take the safe side): `.` and `..` segments, raw
 * or percent-encoded (`%2e`, `%2E`), are resolved (RFC 3986 §5.2.4) before matching, and the
 * resolved path is what goes upstream, so the backend sees exactly the path the proxy matched.
 * A path that would climb above the root, or that contains `%00`, a backslash or an encoded slash
 * next to dots is refused with 400: no route can be bypassed with `/public/../admin`.
 * A path with none of `%`, `/.`, `\` is passed through byte for byte (the fast path).
 */

export interface ParsedTarget {
  /** The path to match and to forward (normalised only when it had to be). */
  path: string;
  /** `?…` including the '?', or ''. */
  query: string;
  /** Authority from an absolute-form target, else null. */
  authority: string | null;
}

/** Returns null when the target must be refused with 400. */
export function parseTarget(url: string): ParsedTarget | null {
  let authority: string | null = null;
  let rest = url;
  const c0 = url.charCodeAt(0);
  if (c0 !== 47 /* / */) {
    // absolute-form: http://host[:port]/path?query
    const m = /^https?:\/\/([^/?#]*)(.*)$/i.exec(url);
    if (m === null) return null;
    authority = m[1];
    if (authority.length === 0 || authority.includes('@')) return null;
    rest = m[2] === '' ? '/' : m[2];
    if (rest.charCodeAt(0) === 63 /* ? */) rest = '/' + rest;
  }
  const q = rest.indexOf('?');
  let path = q === -1 ? rest : rest.slice(0, q);
  const query = q === -1 ? '' : rest.slice(q);
  const hash = path.indexOf('#');
  if (hash !== -1) return null; // a fragment never belongs in a request target
  if (path.indexOf('%') !== -1 || path.indexOf('/.') !== -1 || path.indexOf('\\') !== -1) {
    const normal = normalisePath(path);
    if (normal === null) return null;
    path = normal;
  }
  return { path, query, authority };
}

/** Resolve dot-segments; null when the path escapes the root or carries a forbidden byte. */
export function normalisePath(path: string): string | null {
  if (path.indexOf('\\') !== -1) return null;
  const lower = path.toLowerCase();
  if (lower.indexOf('%00') !== -1) return null;
  // %2f / %5c next to dot-segments are a classic traversal trick; refuse them outright.
  if ((lower.indexOf('%2f') !== -1 || lower.indexOf('%5c') !== -1) && lower.indexOf('.') !== -1) return null;
  const segments = path.split('/');
  const out: string[] = [];
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i];
    const dots = dotSegment(seg);
    if (dots === 1) {
      if (i === segments.length - 1) out.push('');
      continue;
    }
    if (dots === 2) {
      if (out.length === 0) return null; // above the root
      out.pop();
      if (i === segments.length - 1) out.push('');
      continue;
    }
    out.push(seg);
  }
  return '/' + out.join('/');
}

/** 1 for '.', 2 for '..' (raw or %2e-encoded), else 0. */
function dotSegment(seg: string): 0 | 1 | 2 {
  if (seg.length === 0 || seg.length > 6) return 0;
  const s = seg.toLowerCase().replaceAll('%2e', '.');
  return s === '.' ? 1 : s === '..' ? 2 : 0;
}

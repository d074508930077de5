/**
 * Every storage key the ACME code uses is built here, and nowhere else (CertMagic's KeyBuilder).
 * Keys are `/`-separated, relative, lower-case where names are case-insensitive, and every
 * component is made safe to be a file name: nothing outside `[a-z0-9._@+-]`, no `..`, no empty
 * component. A wildcard label becomes `wildcard_` (`*.example.com` → `wildcard_.example.com`).
 *
 *   acme/<issuer>/accounts/<email>.json
 *   certificates/<issuer>/<name>/cert.pem | key.pem | meta.json
 *   locks: issue_cert_<issuer>_<name>, account_<issuer>_<email>   (names for CertStorage.lock)
 *
 * `<issuer>` is the directory URL's host, plus `-<port>` when it has one and plus the path when
 * one host serves several directories (Let's Encrypt's production and staging differ by host).
 */

/** One safe path component. */
export function safeKeyPart(s: string): string {
  const out = s
    .trim()
    .toLowerCase()
    .replace(/^\*\./, 'wildcard_.')
    .replace(/[^a-z0-9._@+-]/g, '_')
    .replace(/\.{2,}/g, '_');
  return out === '' || out === '.' ? '_' : out;
}

/** `https://acme-v02.api.letsencrypt.org/directory` → `acme-v02.api.letsencrypt.org-directory`. */
export function issuerKey(directoryUrl: string): string {
  let u: URL;
  try {
    u = new URL(directoryUrl);
  } catch {
    return safeKeyPart(directoryUrl);
  }
  const host = u.port ? `${u.hostname}-${u.port}` : u.hostname;
  const path = u.pathname.replace(/^\/+|\/+$/g, '');
  return safeKeyPart(path ? `${host}-${path.replace(/\//g, '-')}` : host);
}

export const StorageKeys = {
  /** Prefix under which all of one CA's certificates are stored. */
  certificatesPrefix(directoryUrl: string): string {
    return `certificates/${issuerKey(directoryUrl)}`;
  },
  siteDir(directoryUrl: string, name: string): string {
    return `${StorageKeys.certificatesPrefix(directoryUrl)}/${safeKeyPart(name)}`;
  },
  siteCert(directoryUrl: string, name: string): string {
    return `${StorageKeys.siteDir(directoryUrl, name)}/cert.pem`;
  },
  sitePrivateKey(directoryUrl: string, name: string): string {
    return `${StorageKeys.siteDir(directoryUrl, name)}/key.pem`;
  },
  siteMeta(directoryUrl: string, name: string): string {
    return `${StorageKeys.siteDir(directoryUrl, name)}/meta.json`;
  },
  account(directoryUrl: string, email: string): string {
    return `acme/${issuerKey(directoryUrl)}/accounts/${safeKeyPart(email || 'default')}.json`;
  },
  /** Lock name held while obtaining or renewing the certificate for `name`. */
  issueLock(directoryUrl: string, name: string): string {
    return `issue_cert_${issuerKey(directoryUrl)}_${safeKeyPart(name)}`;
  },
  /** Lock name held while registering the ACME account. */
  accountLock(directoryUrl: string, email: string): string {
    return `account_${issuerKey(directoryUrl)}_${safeKeyPart(email || 'default')}`;
  },
} as const;

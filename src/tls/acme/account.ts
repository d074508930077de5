/**
 * The ACME account (RFC 8555 §7.3): an ECDSA P-256 key, registered once per CA directory and
 * e-mail, stored (0600) as `acme/<issuer>/accounts/<email>.json` and reused by every later run
 * and by every process sharing the storage. Registration runs under a lock, re-checking storage
 * after taking it, so two processes starting together register one account.
 */
import acme from 'acme-client';
import type { CertStorage } from './storage.js';
import { StorageKeys } from './keys.js';

export interface StoredAccount {
  email: string;
  directory: string;
  /** PEM, PKCS#8. */
  keyPem: string;
  /** The account URL (`kid`); absent when it must be (re-)registered. */
  url?: string;
  createdAt: string;
}

export interface AccountOptions {
  directory: string;
  email: string;
  storage: CertStorage;
  lockTtlMs?: number;
  signal?: AbortSignal;
  /** acme-client polling of pending objects. */
  backoff: { backoffAttempts: number; backoffMin: number; backoffMax: number };
}

function parse(buf: Buffer | null): StoredAccount | null {
  if (!buf) return null;
  try {
    const v = JSON.parse(buf.toString('utf8')) as StoredAccount;
    return typeof v.keyPem === 'string' && v.keyPem.includes('PRIVATE KEY') ? v : null;
  } catch {
    return null;
  }
}

/** A client for the stored account, registering it first when needed. */
export async function loadOrRegisterAccount(opts: AccountOptions): Promise<{ client: acme.Client; registered: boolean }> {
  const key = StorageKeys.account(opts.directory, opts.email);
  const make = (rec: StoredAccount): acme.Client =>
    new acme.Client({ directoryUrl: opts.directory, accountKey: rec.keyPem, accountUrl: rec.url, ...opts.backoff });

  const stored = parse(await opts.storage.load(key));
  if (stored?.url) return { client: make(stored), registered: false };

  const unlock = await opts.storage.lock(StorageKeys.accountLock(opts.directory, opts.email), opts.lockTtlMs, { signal: opts.signal });
  try {
    const again = parse(await opts.storage.load(key));
    if (again?.url) return { client: make(again), registered: false };
    // Keep an existing key (a CA that forgot the account re-registers the same key).
    const keyPem = again?.keyPem ?? (await acme.crypto.createPrivateEcdsaKey('P-256')).toString('utf8');
    const rec: StoredAccount = { email: opts.email, directory: opts.directory, keyPem, createdAt: new Date().toISOString() };
    const client = make(rec);
    await client.createAccount({
      termsOfServiceAgreed: true,
      ...(opts.email ? { contact: [`mailto:${opts.email}`] } : {}),
    });
    rec.url = client.getAccountUrl();
    await opts.storage.store(key, JSON.stringify(rec, null, 2), { secret: true });
    return { client, registered: true };
  } finally {
    await unlock();
  }
}

/** Drops the stored account URL (the CA said the account does not exist); keeps the key. */
export async function forgetAccountUrl(storage: CertStorage, directory: string, email: string): Promise<void> {
  const key = StorageKeys.account(directory, email);
  const rec = parse(await storage.load(key));
  if (!rec?.url) return;
  delete rec.url;
  await storage.store(key, JSON.stringify(rec, null, 2), { secret: true });
}

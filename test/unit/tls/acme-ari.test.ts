/**
 * ACME Renewal Information (RFC 9773) pieces: the certificate identifier (against the RFC's
 * example), renewalInfo answers, Retry-After, and the choice of a renewal time in the window.
 * The issuer's use of them (and the fallback with Pebble, which has no ARI) is in
 * test/integration/tls/acme-ari.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import {
  ARI_DEFAULT_POLL_MS,
  ARI_MAX_POLL_MS,
  ARI_MIN_POLL_MS,
  ariCertId,
  ariPollDelay,
  chooseRenewalTime,
  parseRenewalInfo,
} from '../../../src/tls/acme/ari.js';
import { testCa } from '../../helpers/tls-certs.js';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

/** RFC 9773 Appendix A: AKI 69:88:5B:…:D4, serial 0x0087654321 (validity in the year 1). */
const RFC_EXAMPLE = `-----BEGIN CERTIFICATE-----
MIIBQzCB66ADAgECAgUAh2VDITAKBggqhkjOPQQDAjAVMRMwEQYDVQQDEwpFeGFt
cGxlIENBMCIYDzAwMDEwMTAxMDAwMDAwWhgPMDAwMTAxMDEwMDAwMDBaMBYxFDAS
BgNVBAMTC2V4YW1wbGUuY29tMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEeBZu
7cbpAYNXZLbbh8rNIzuOoqOOtmxA1v7cRm//AwyMwWxyHz4zfwmBhcSrf47NUAFf
qzLQ2PPQxdTXREYEnKMjMCEwHwYDVR0jBBgwFoAUaYhba4dGQEHhs3uEe6CuLN4B
yNQwCgYIKoZIzj0EAwIDRwAwRAIge09+S5TZAlw5tgtiVvuERV6cT4mfutXIlwTb
+FYN/8oCIClDsqBklhB9KAelFiYt9+6FDj3z4KGVelYM5MdsO3pK
-----END CERTIFICATE-----
`;

async function selfSigned(serialNumber: string, extensions: x509.Extension[]): Promise<string> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber,
    name: 'CN=ari.example.com',
    notBefore: new Date(Date.now() - 1000),
    notAfter: new Date(Date.now() + 86_400_000),
    keys,
    signingAlgorithm: alg,
    extensions,
  });
  return cert.toString('pem');
}

test('the certificate identifier of RFC 9773’s example, from PEM, a chain, and DER', () => {
  assert.equal(ariCertId(RFC_EXAMPLE), 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
  assert.equal(ariCertId(RFC_EXAMPLE + RFC_EXAMPLE.replace('MIIBQz', 'MIIBQy')), 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE', 'first of a chain');
  const der = Buffer.from(RFC_EXAMPLE.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  assert.equal(ariCertId(der), 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
});

test('identifier of real certificates: serial content octets (leading zero kept), AKI keyIdentifier', async (t) => {
  const keyId = '0102030405060708090a0b0c0d0e0f1011121314';
  const aki = new x509.AuthorityKeyIdentifierExtension(keyId);
  const b64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64url');
  // High bit set: DER keeps a 0x00 in front (the RFC example's serial is of this kind).
  assert.equal(ariCertId(await selfSigned('80a1b2', [aki])), `${b64(keyId)}.${b64('0080a1b2')}`);
  assert.equal(ariCertId(await selfSigned('7f', [aki])), `${b64(keyId)}.${b64('7f')}`);
  // With `critical` and other extensions around it.
  const crit = new x509.AuthorityKeyIdentifierExtension(keyId, true);
  const bc = new x509.BasicConstraintsExtension(false, undefined, true);
  assert.equal(ariCertId(await selfSigned('0a0b', [bc, crit])), `${b64(keyId)}.${b64('0a0b')}`);
  // An internal-CA leaf, checked against @peculiar/x509's own reading.
  const ca = await testCa(t);
  const leaf = await ca.issue(['leaf.example.com']);
  const parsed = new x509.X509Certificate(leaf.certPem);
  const ext = parsed.getExtension(x509.AuthorityKeyIdentifierExtension)!;
  let serial = parsed.serialNumber.toLowerCase();
  if (serial.length % 2) serial = `0${serial}`;
  if (parseInt(serial.slice(0, 2), 16) >= 0x80) serial = `00${serial}`;
  assert.equal(ariCertId(leaf.certPem), `${b64(ext.keyId!)}.${b64(serial)}`);
});

test('no identifier without an Authority Key Identifier keyIdentifier, or for garbage', async () => {
  assert.equal(ariCertId(await selfSigned('01', [])), null, 'no AKI');
  assert.equal(ariCertId(await selfSigned('01', [new x509.BasicConstraintsExtension(true)])), null, 'other extensions only');
  assert.equal(ariCertId('not a certificate'), null);
  assert.equal(ariCertId('-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n'), null);
  assert.equal(ariCertId(Buffer.from([0x30, 0x82, 0xff, 0xff, 0x00])), null, 'truncated');
  assert.equal(ariCertId(Buffer.alloc(0)), null);
  for (let i = 0; i < 500; i++) {
    const b = Buffer.from(RFC_EXAMPLE.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    b[Math.floor(Math.random() * b.length)] = Math.floor(Math.random() * 256);
    const id = ariCertId(b); // a corrupted certificate: an identifier or null, never a throw
    assert.ok(id === null || /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(id));
  }
});

test('renewalInfo answers: a valid window, or null', () => {
  const ok = { suggestedWindow: { start: '2025-01-02T04:00:00Z', end: '2025-01-03T04:00:00Z' }, explanationURL: 'https://acme.example.com/docs/ari' };
  assert.deepEqual(parseRenewalInfo(ok), {
    window: { start: Date.parse('2025-01-02T04:00:00Z'), end: Date.parse('2025-01-03T04:00:00Z') },
    explanationURL: 'https://acme.example.com/docs/ari',
  });
  assert.deepEqual(parseRenewalInfo(JSON.stringify(ok))?.window.start, Date.parse('2025-01-02T04:00:00Z'), 'a JSON string');
  assert.equal(parseRenewalInfo(Buffer.from(JSON.stringify(ok)))?.explanationURL, 'https://acme.example.com/docs/ari', 'bytes');
  // RFC 9773 §4.2: end equal to or before start is invalid, treated as no answer.
  assert.equal(parseRenewalInfo({ suggestedWindow: { start: '2025-01-03T04:00:00Z', end: '2025-01-03T04:00:00Z' } }), null);
  assert.equal(parseRenewalInfo({ suggestedWindow: { start: '2025-01-03T04:00:00Z', end: '2025-01-02T04:00:00Z' } }), null);
  assert.equal(parseRenewalInfo({ suggestedWindow: { start: 'soon', end: '2025-01-02T04:00:00Z' } }), null);
  assert.equal(parseRenewalInfo({ suggestedWindow: { start: 1, end: 2 } }), null);
  assert.equal(parseRenewalInfo({}), null);
  assert.equal(parseRenewalInfo(null), null);
  assert.equal(parseRenewalInfo('{not json'), null);
});

test('Retry-After: seconds or an HTTP date, clamped to one minute … one day; six hours when absent', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  assert.equal(ariPollDelay('21600', now), 21600_000);
  assert.equal(ariPollDelay('5', now), ARI_MIN_POLL_MS);
  assert.equal(ariPollDelay('0', now), ARI_MIN_POLL_MS);
  assert.equal(ariPollDelay(String(10 * 86400), now), ARI_MAX_POLL_MS);
  assert.equal(ariPollDelay('Wed, 01 Jan 2025 02:00:00 GMT', now), 2 * 3600_000);
  assert.equal(ariPollDelay('Tue, 31 Dec 2024 00:00:00 GMT', now), ARI_MIN_POLL_MS, 'a date in the past');
  assert.equal(ariPollDelay(undefined, now), ARI_DEFAULT_POLL_MS);
  assert.equal(ariPollDelay('', now), ARI_DEFAULT_POLL_MS);
  assert.equal(ariPollDelay('-3', now), ARI_DEFAULT_POLL_MS);
  assert.equal(ariPollDelay('soon', now), ARI_DEFAULT_POLL_MS);
  assert.equal(ARI_DEFAULT_POLL_MS, 6 * 3600_000);
});

test('the renewal time is uniform in the window; a past window means now', () => {
  const w = { start: 1_000_000, end: 1_000_000 + 86_400_000 };
  assert.equal(chooseRenewalTime(w, () => 0), w.start);
  assert.ok(chooseRenewalTime(w, () => 0.9999999999) < w.end);
  assert.equal(chooseRenewalTime(w, () => 0.5), w.start + 43_200_000);
  // Spread: 10 buckets, 5000 draws, each bucket near 10 %.
  const buckets = new Array<number>(10).fill(0);
  for (let i = 0; i < 5000; i++) {
    const t = chooseRenewalTime(w);
    assert.ok(t >= w.start && t < w.end);
    buckets[Math.floor(((t - w.start) / (w.end - w.start)) * 10)]!++;
  }
  for (const b of buckets) assert.ok(b > 350 && b < 650, `bucket ${b} of 5000`);
  // A window entirely in the past gives a time in the past: the issuer renews at once.
  const past = { start: Date.now() - 2 * 3600_000, end: Date.now() - 3600_000 };
  assert.ok(chooseRenewalTime(past) < Date.now());
});

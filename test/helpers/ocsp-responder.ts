/**
 * A real, tiny OCSP responder for tests (node:http on 127.0.0.1) and a test PKI made with
 * @peculiar/x509: a CA, a leaf whose AIA points at the responder, a leaf without an OCSP URL, and a
 * delegated OCSP signing certificate.
 *
 * The responder parses each POSTed OCSPRequest, and answers a BasicOCSPResponse for every CertID
 * in it, signed (ECDSA P-256, SHA-256) by the CA or the delegated responder. Per-serial statuses,
 * validity offsets and failure modes are configurable while it runs.
 */
import { createHash, createPrivateKey, sign as cryptoSign, webcrypto } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import * as x509 from '@peculiar/x509';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate } from '@peculiar/asn1-x509';
import {
  BasicOCSPResponse,
  CertStatus,
  KeyHash,
  OCSPRequest,
  OCSPResponse,
  OCSPResponseStatus,
  ResponderID,
  ResponseBytes,
  ResponseData,
  RevokedInfo,
  SingleResponse,
  id_pkix_ocsp_basic,
} from '@peculiar/asn1-ocsp';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ECDSA = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const DAY = 24 * 60 * 60 * 1000;

export interface Issued {
  /** The certificate alone, PEM. */
  certPem: string;
  /** The certificate then the CA, PEM (what a server serves). */
  chainPem: string;
  keyPem: string;
  der: Buffer;
  /** Serial, lower-case hex as written in the certificate. */
  serial: string;
}

export interface TestPki {
  caPem: string;
  caDer: Buffer;
  caKeyPem: string;
  /** Leaf for `localhost`/127.0.0.1 whose AIA has the OCSP URL. */
  leaf: Issued;
  /** Leaf for `localhost`/127.0.0.1 without any AIA. */
  plainLeaf: Issued;
  /** An id-kp-OCSPSigning certificate issued by the CA. */
  delegated: Issued;
  /** Mint another leaf (e.g. with another OCSP URL). */
  issue(opts: { ocspUrl?: string | null; serial: string; eku?: 'server' | 'ocsp' }): Promise<Issued>;
}

function toPem(der: ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}

export async function makeTestPki(opts: { ocspUrl: string }): Promise<TestPki> {
  const now = Date.now();
  const caKeys = (await webcrypto.subtle.generateKey(ECDSA, true, ['sign', 'verify'])) as CryptoKeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=proxykit OCSP test CA',
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + 30 * DAY),
    keys: caKeys,
    signingAlgorithm: ECDSA,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const caPem = ca.toString('pem');
  const caKeyPem = toPem(await webcrypto.subtle.exportKey('pkcs8', caKeys.privateKey), 'PRIVATE KEY');

  const issue: TestPki['issue'] = async ({ ocspUrl = null, serial, eku = 'server' }) => {
    const keys = (await webcrypto.subtle.generateKey(ECDSA, true, ['sign', 'verify'])) as CryptoKeyPair;
    const extensions: x509.Extension[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.ExtendedKeyUsageExtension([eku === 'ocsp' ? x509.ExtendedKeyUsage.ocspSigning : x509.ExtendedKeyUsage.serverAuth]),
      await x509.AuthorityKeyIdentifierExtension.create(ca, false),
    ];
    if (eku === 'server') {
      extensions.push(
        new x509.SubjectAlternativeNameExtension([
          { type: 'dns', value: 'localhost' },
          { type: 'ip', value: '127.0.0.1' },
        ]),
      );
    }
    if (ocspUrl) extensions.push(new x509.AuthorityInfoAccessExtension({ ocsp: [new x509.GeneralName('url', ocspUrl)] }));
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial,
      subject: eku === 'ocsp' ? 'CN=proxykit OCSP test responder' : 'CN=localhost',
      issuer: ca.subject,
      notBefore: new Date(now - DAY),
      notAfter: new Date(now + 20 * DAY),
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: ECDSA,
      extensions,
    });
    const certPem = cert.toString('pem');
    return {
      certPem: `${certPem}\n`,
      chainPem: `${certPem}\n${caPem}\n`,
      keyPem: toPem(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY'),
      der: Buffer.from(cert.rawData),
      serial: cert.serialNumber.toLowerCase(),
    };
  };

  return {
    caPem: `${caPem}\n`,
    caDer: Buffer.from(ca.rawData),
    caKeyPem,
    leaf: await issue({ ocspUrl: opts.ocspUrl, serial: '0a11' }),
    plainLeaf: await issue({ ocspUrl: null, serial: '0b22' }),
    delegated: await issue({ serial: '0c33', eku: 'ocsp' }),
    issue,
  };
}

export type OcspStatus = 'good' | 'revoked' | 'unknown';

export interface OcspResponder {
  url: string;
  /** Requests received (parsed), newest last: the serials asked for, lower-case hex. */
  readonly requests: string[][];
  /** Status per serial (lower-case hex, as `Issued.serial`); others get `defaultStatus`. */
  statuses: Map<string, OcspStatus>;
  defaultStatus: OcspStatus;
  /** `ok`; `tryLater` (an OCSP error status); `http500`; `badSignature` (flipped signature byte); `hang` (never answers). */
  mode: 'ok' | 'tryLater' | 'http500' | 'badSignature' | 'hang';
  /** Sign with the delegated responder certificate (included in `certs`) instead of the CA key. */
  delegated: boolean;
  /** thisUpdate = now + this; nextUpdate = now + nextUpdateMs (null: omitted). */
  thisUpdateMs: number;
  nextUpdateMs: number | null;
  /** Set who signs (after `makeTestPki`). */
  setPki(pki: TestPki): void;
  close(): Promise<void>;
}

function serialHex(ab: ArrayBuffer): string {
  const b = Buffer.from(ab);
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i).toString('hex');
}

function publicKeyBits(certDer: Buffer): Buffer {
  const cert = AsnConvert.parse(certDer, Certificate);
  return Buffer.from(cert.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey);
}

/** Start a responder on 127.0.0.1 (closed after the test). Call `setPki` before it gets requests. */
export async function startOcspResponder(t: TestContext): Promise<OcspResponder> {
  let pki: TestPki | null = null;
  const hanging = new Set<http.ServerResponse>();
  const state: Omit<OcspResponder, 'url' | 'close' | 'setPki'> = {
    requests: [],
    statuses: new Map(),
    defaultStatus: 'good',
    mode: 'ok',
    delegated: false,
    thisUpdateMs: -60_000,
    nextUpdateMs: 60 * 60_000,
  };

  const answer = (reqDer: Buffer): Buffer => {
    if (state.mode === 'tryLater') return Buffer.from(AsnConvert.serialize(new OCSPResponse({ responseStatus: OCSPResponseStatus.tryLater })));
    if (!pki) throw new Error('responder has no PKI');
    const req = AsnConvert.parse(reqDer, OCSPRequest);
    const now = Date.now();
    const serials = req.tbsRequest.requestList.map((r) => serialHex(r.reqCert.serialNumber));
    state.requests.push(serials);
    const responses = req.tbsRequest.requestList.map((r) => {
      const st = state.statuses.get(serialHex(r.reqCert.serialNumber)) ?? state.defaultStatus;
      const certStatus =
        st === 'good'
          ? new CertStatus({ good: null })
          : st === 'revoked'
            ? new CertStatus({ revoked: new RevokedInfo({ revocationTime: new Date(now - DAY) }) })
            : new CertStatus({ unknown: null });
      return new SingleResponse({
        certID: r.reqCert,
        certStatus,
        thisUpdate: new Date(Math.floor((now + state.thisUpdateMs) / 1000) * 1000),
        ...(state.nextUpdateMs !== null ? { nextUpdate: new Date(Math.floor((now + state.nextUpdateMs) / 1000) * 1000) } : {}),
      });
    });
    const signerDer = state.delegated ? pki.delegated.der : pki.caDer;
    const signerKey = createPrivateKey(state.delegated ? pki.delegated.keyPem : pki.caKeyPem);
    const tbs = new ResponseData({
      responderID: new ResponderID({ byKey: new KeyHash(createHash('sha1').update(publicKeyBits(signerDer)).digest()) }),
      producedAt: new Date(Math.floor(now / 1000) * 1000),
      responses,
    });
    const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
    const signature = cryptoSign('sha256', tbsDer, signerKey);
    if (state.mode === 'badSignature') signature[signature.length - 1]! ^= 0x01;
    const basic = new BasicOCSPResponse({
      tbsResponseData: tbs,
      signatureAlgorithm: new AlgorithmIdentifier({ algorithm: ECDSA_SHA256 }),
      signature: new Uint8Array(signature).buffer,
      ...(state.delegated ? { certs: [AsnConvert.parse(pki.delegated.der, Certificate)] } : {}),
    });
    const basicDer = AsnConvert.serialize(basic);
    return Buffer.from(
      AsnConvert.serialize(
        new OCSPResponse({
          responseStatus: OCSPResponseStatus.successful,
          responseBytes: new ResponseBytes({ responseType: id_pkix_ocsp_basic, response: new OctetString(basicDer) }),
        }),
      ),
    );
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (state.mode === 'hang') {
        hanging.add(res);
        return;
      }
      if (state.mode === 'http500') {
        res.writeHead(500).end();
        return;
      }
      if (req.method !== 'POST' || req.headers['content-type'] !== 'application/ocsp-request') {
        res.writeHead(400).end();
        return;
      }
      try {
        const body = answer(Buffer.concat(chunks));
        res.writeHead(200, { 'content-type': 'application/ocsp-response', 'content-length': body.length }).end(body);
      } catch (err) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(String(err));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    for (const r of hanging) r.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  t.after(close);
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}/ocsp`,
    setPki(p: TestPki) {
      pki = p;
    },
    close,
  }) as OcspResponder;
}

/** Validation of `tls` and pool `.tls()` (issue 5). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defineConfig, pool, route } from 'proxykit';
import type { ConfigProblem } from '../../../src/config/errors.js';
import type { ConfigSpec } from '../../../src/config/spec.js';
import { validateConfig } from '../../../src/config/validate.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- these tests play a plain-JS user */
type Loose = any;
const cfg = (opts: Loose): ConfigSpec => defineConfig({ routes: [], ...opts });
const p = pool as (n: string, u: string[]) => Loose;

function problems(spec: ConfigSpec): ConfigProblem[] {
  const list = validateConfig(spec);
  for (const pr of list) {
    assert.ok(pr.at, `problem has a location: ${pr.message}`);
    assert.ok(pr.hint, `problem has a hint: ${pr.message}`);
  }
  return list;
}

function expectOne(spec: ConfigSpec, message: RegExp, hint?: RegExp): void {
  const list = problems(spec);
  const hits = list.filter((x) => message.test(x.message));
  assert.equal(hits.length, 1, `expected one problem matching ${message}, got:\n${list.map((x) => x.message).join('\n')}`);
  if (hint) assert.match(hits[0]!.hint!, hint);
}

const dns = { set: async () => {}, remove: async () => {} };

test('valid tls forms', () => {
  for (const tls of [
    'internal',
    { internal: true },
    { acme: { email: 'ops@example.com' } },
    { certs: [{ cert: 'a.pem', key: 'a.key' }] },
    { certs: [{ cert: 'a.pem', key: 'a.key' }], acme: { email: 'ops@example.com' } },
    {
      acme: {
        email: 'ops@example.com',
        directory: 'https://127.0.0.1:14000/dir',
        challenges: ['dns-01', 'http-01', 'tls-alpn-01'],
        dns,
        onDemand: { ask: () => true, perMinute: 3, retryAfter: '5m' },
      },
      domains: ['*.example.com', 'example.com', 'xn--bcher-kva.example', '127.0.0.1'],
      hsts: { maxAge: '8760h', includeSubDomains: true, preload: true },
      redirectHttp: false,
    },
    { internal: true, hsts: true, domains: ['app.localhost'] },
  ]) {
    assert.deepEqual(problems(cfg({ listen: ['https://127.0.0.1:8443'], tls })), [], JSON.stringify(tls));
  }
});

test('an https listener needs tls', () => {
  expectOne(cfg({ listen: ['http://127.0.0.1:8080', 'https://127.0.0.1:8443'] }), /listen "https:\/\/127.0.0.1:8443" is https but the config has no tls/, /add tls: 'internal' for local development or tls: \{ acme: \{ email/);
  assert.deepEqual(problems(cfg({ listen: ['http://127.0.0.1:8080'] })), []);
});

test('tls shape problems', () => {
  expectOne(cfg({ tls: { hsts: true } }), /tls has no certificate source/);
  expectOne(cfg({ tls: { internal: true, acme: { email: 'a@b.co' } } }), /tls has both acme and internal/);
  expectOne(cfg({ tls: { internal: 'yes' } }), /tls.internal must be true or false/);
  expectOne(cfg({ tls: { internal: true, redirect: true } }), /tls: unknown option "redirect"/, /did you mean "redirectHttp"/);
  expectOne(cfg({ tls: { internal: true, domains: 'example.com' } }), /tls.domains must be an array/);
  expectOne(cfg({ tls: { internal: true, domains: ['a*.example.com'] } }), /"a\*\.example\.com" is not a valid wildcard host name/, /whole left-most label/);
  expectOne(cfg({ tls: { internal: true, domains: ['*.*.example.com'] } }), /not a valid wildcard host name/);
  expectOne(cfg({ tls: { internal: true, domains: ['bad_name.example.com'] } }), /"bad_name.example.com" is not a valid host name/);
  expectOne(cfg({ tls: { internal: true, domains: ['bücher.example'] } }), /is not in ASCII form/, /xn--bcher-kva\.example/);
  expectOne(cfg({ tls: { internal: true, hsts: { maxAge: 'forever' } } }), /tls.hsts.maxAge/);
  expectOne(cfg({ tls: { internal: true, hsts: { preload: true } } }), /preload needs includeSubDomains/);
  expectOne(cfg({ tls: { internal: true, hsts: { maxAge: '1h', includeSubDomains: true, preload: true } } }), /preload needs includeSubDomains and a maxAge of at least a year/);
  expectOne(cfg({ tls: { internal: true, hsts: { maxAg: 1 } } }), /tls.hsts: unknown option "maxAg"/);
  expectOne(cfg({ tls: { internal: true, redirectHttp: 'no' } }), /tls.redirectHttp must be true or false/);
  expectOne(cfg({ tls: { internal: true, minVersion: '1.1' } }), /tls.minVersion must be '1.2' or '1.3', got "1.1"/);
  expectOne(cfg({ tls: { internal: true, minVersion: 'TLSv1.3' } }), /tls.minVersion must be '1.2' or '1.3'/);
  expectOne(cfg({ tls: { certs: [] } }), /tls.certs must be a non-empty array/);
  expectOne(cfg({ tls: { certs: [{ cert: 'a.pem' }] } }), /tls.certs\[0\] needs cert and key/);
});

test('tls.acme problems', () => {
  const acme = (a: Loose, extra: Loose = {}): ConfigSpec => cfg({ tls: { acme: { email: 'ops@example.com', ...a }, ...extra } });
  expectOne(cfg({ tls: { acme: { email: 'nobody' } } }), /tls.acme.email "nobody" is not an email address/);
  expectOne(cfg({ tls: { acme: { email: 'a@localhost' } } }), /is not an email address/);
  expectOne(acme({ directory: 'http://acme.test/dir' }), /tls.acme.directory "http:\/\/acme.test\/dir" is not https/, /RFC 8555/);
  expectOne(acme({ directory: 'not a url' }), /tls.acme.directory "not a url" is not a URL/);
  expectOne(acme({ ari: 'no' }), /tls.acme.ari must be true or false, got "no"/);
  expectOne(acme({ challenges: [] }), /lists no challenge type/);
  expectOne(acme({ challenges: ['http-01', 'http-01'] }), /lists "http-01" twice/);
  expectOne(acme({ challenges: ['dns-01'] }), /has 'dns-01' but tls.acme.dns is not set/);
  expectOne(acme({ dns: { set: async () => {} } }), /tls.acme.dns must be a provider with set/);
  expectOne(acme({}, { domains: ['*.example.com'] }), /wildcard "\*\.example\.com" but tls.acme.dns is not set/, /DNS-01/);
  expectOne(acme({ onDemand: { perMinute: 2 } }), /onDemand needs an ask function/);
  expectOne(acme({ onDemand: { ask: () => true, perMinute: 0 } }), /onDemand.perMinute must be a positive whole number/);
  expectOne(acme({ onDemand: { ask: () => true, retryAfter: '0s' } }), /onDemand.retryAfter must be longer than zero/);
  expectOne(acme({ onDemand: { ask: () => true, perminute: 2 } }), /onDemand: unknown option "perminute"/, /did you mean "perMinute"/);
});

test('pool .tls() problems', () => {
  const withPool = (po: Loose): ConfigSpec => cfg({ routes: [route('/').to(po)] });
  assert.deepEqual(problems(withPool(p('ok', ['https://a.internal:8443']).tls({ ca: 'ca.pem', cert: 'c.pem', key: 'c.key', servername: 'a.internal', insecure: false }))), []);
  expectOne(withPool(p('a', ['https://a:1']).tls({ cert: 'c.pem' })), /pool "a": tls needs both cert and key/);
  expectOne(withPool(p('b', ['https://a:1']).tls({ ca: '' })), /pool "b": tls.ca must be a file path/);
  expectOne(withPool(p('c', ['https://a:1']).tls({ insecure: 'yes' })), /tls.insecure must be true or false/);
  expectOne(withPool(p('d', ['https://a:1']).tls({ servername: 'bad name' })), /tls.servername "bad name" is not a valid host name/);
  expectOne(withPool(p('e', ['https://a:1']).tls({ verify: false })), /pool "e": tls: unknown option "verify"/);
});

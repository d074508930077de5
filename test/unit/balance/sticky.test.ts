import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StickyCookie } from '../../../src/balance/sticky.js';
import { upstream } from './fixtures.js';

/** The `name=value` part of a Set-Cookie header value. */
const pair = (setCookie: string) => setCookie.split(';')[0];

test('round trip: the Set-Cookie value reads back as the upstream id', () => {
  const s = new StickyCookie({ cookie: 'pk_srv', secret: 'k1' });
  const u = upstream('http://10.1.2.3:8080');
  const sc = s.setCookieValue(u.id);
  assert.match(sc, /^pk_srv=[^;]+\.[A-Za-z0-9_-]{16}; Path=\/; HttpOnly; SameSite=Lax$/);
  assert.equal(s.read(pair(sc)), u.id);
  assert.equal(s.read(`theme=dark; ${pair(sc)}; lang=en`), u.id);
  assert.equal(s.read(`theme=dark;${pair(sc)}`), u.id);
  assert.equal(s.read(`${pair(sc)}`), u.id, 'a second read (cached) agrees');
});

test('Max-Age comes from ttl; without ttl it is a session cookie', () => {
  assert.match(new StickyCookie({ cookie: 'a', ttl: '1h' }).setCookieValue('x1'), /; Max-Age=3600$/);
  assert.match(new StickyCookie({ cookie: 'a', ttl: 90_500 }).setCookieValue('x1'), /; Max-Age=90$/);
  assert.doesNotMatch(new StickyCookie({ cookie: 'a' }).setCookieValue('x1'), /Max-Age/);
});

test('absent, malformed or tampered cookies are rejected', () => {
  const s = new StickyCookie({ cookie: 'pk', secret: 'k1' });
  const good = pair(s.setCookieValue('abc123')).slice('pk='.length);
  const [id, sig] = [good.slice(0, good.lastIndexOf('.')), good.slice(good.lastIndexOf('.') + 1)];
  assert.equal(s.read(undefined), null);
  assert.equal(s.read(''), null);
  assert.equal(s.read('other=1'), null);
  assert.equal(s.read(`xpk=${good}`), null, 'a cookie whose name merely ends in pk');
  assert.equal(s.read(`pk=${id}`), null);
  assert.equal(s.read(`pk=${id}.`), null);
  const flipped = sig.slice(0, -1) + (sig.endsWith('A') ? 'B' : 'A');
  assert.equal(s.read(`pk=${id}.${flipped}`), null, 'tampered signature');
  assert.equal(s.read(`pk=abc124.${sig}`), null, 'tampered id');
  assert.equal(s.read(`pk=${id}.${sig}x`), null, 'extended signature');
  assert.equal(s.read(`pk=${id}.${sig}`), id, 'the genuine one still reads');
});

test('a cookie signed with another secret is rejected; the same secret is shared across instances', () => {
  const a = new StickyCookie({ cookie: 'pk', secret: 'one' });
  const b = new StickyCookie({ cookie: 'pk', secret: 'two' });
  const a2 = new StickyCookie({ cookie: 'pk', secret: 'one' });
  const v = pair(a.setCookieValue('abc123'));
  assert.equal(b.read(v), null);
  assert.equal(a2.read(v), 'abc123');
});

test('the default secret is random per instance', () => {
  const a = new StickyCookie({ cookie: 'pk' });
  const b = new StickyCookie({ cookie: 'pk' });
  const v = pair(a.setCookieValue('abc123'));
  assert.equal(a.read(v), 'abc123');
  assert.equal(b.read(v), null);
});

test('the cookie names no address', () => {
  const s = new StickyCookie({ cookie: 'pk', secret: 'k' });
  for (const url of ['http://10.1.2.3:8080', 'http://api.internal:3001', 'https://[2001:db8::7]:8443']) {
    const u = upstream(url);
    const sc = s.setCookieValue(u.id);
    const host = new URL(url).hostname;
    assert.ok(!sc.includes(host), `${sc} contains ${host}`);
    assert.ok(!sc.includes(new URL(url).port), `${sc} contains the port`);
  }
});

test('bad options and ids fail when given, with what was expected', () => {
  assert.throws(() => new StickyCookie({ cookie: 'bad name' }), /expected sticky.cookie to be a cookie name/);
  assert.throws(() => new StickyCookie({ cookie: 'pk', ttl: '500ms' }), /expected sticky.ttl to be at least 1s/);
  assert.throws(() => new StickyCookie({ cookie: 'pk', ttl: 'soon' as never }), /invalid duration/);
  assert.throws(() => new StickyCookie({ cookie: 'pk', secret: '' }), /expected sticky.secret to be a non-empty string/);
  assert.throws(() => new StickyCookie({ cookie: 'pk' }).setCookieValue('a;b'), /cookie-value characters/);
});

#!/usr/bin/env node
// Checks the dev provider on its own, acting as the relying party with plain fetch and a
// small cookie jar: discovery, JWKS, the login form (unknown user and wrong password
// refused), code + PKCE exchange with client_secret_basic, ID token and userinfo claims,
// one-time refresh tokens, introspection, revocation and RP-initiated logout.
//
//   ISSUER=http://127.0.0.1:9000 CLIENT_ID=... CLIENT_SECRET=... REDIRECT_URI=... node provider-selftest.mjs
//
// Exits non-zero on the first failure. Used by run.sh before the browser scenarios, so
// that a provider problem is not mistaken for a gateway one.

import * as crypto from 'node:crypto';
import { strict as assert } from 'node:assert';

const env = process.env;
const issuer = env.ISSUER || 'http://127.0.0.1:9000';
const clientId = env.CLIENT_ID || 'portcullis';
const clientSecret = env.CLIENT_SECRET || 'portcullis-dev-secret';
const redirectUri = env.REDIRECT_URI || 'http://127.0.0.1:8080/oauth2/callback';
const postLogout = `${new URL(redirectUri).origin}/`;

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const basic = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;

class Jar {
  #cookies = new Map(); // name|path -> {name, value, path}

  store(res, url) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let path = '/';
      let expired = false;
      for (const a of attrs) {
        const [k, v] = a.split('=');
        if (k.toLowerCase() === 'path') path = v;
        if (k.toLowerCase() === 'expires' && Date.parse(v) < Date.now()) expired = true;
        if (k.toLowerCase() === 'max-age' && Number(v) <= 0) expired = true;
      }
      const key = `${name}|${path}`;
      if (expired || value === '') this.#cookies.delete(key);
      else this.#cookies.set(key, { name, value, path });
    }
    void url;
  }

  header(url) {
    const { pathname } = new URL(url);
    return [...this.#cookies.values()]
      .filter((c) => pathname === c.path || pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .map((c) => `${c.name}=${c.value}`).join('; ');
  }
}

async function request(jar, url, init = {}) {
  const headers = { ...(init.headers || {}) };
  const cookie = jar.header(url);
  if (cookie) headers.cookie = cookie;
  const res = await fetch(url, { ...init, headers, redirect: 'manual' });
  jar.store(res, url);
  return res;
}

// Follows redirects on the provider's origin; stops at the first one leaving it.
async function follow(jar, url, init) {
  let res = await request(jar, url, init);
  let current = url;
  for (let i = 0; i < 10 && res.status >= 300 && res.status < 400; i += 1) {
    const next = new URL(res.headers.get('location'), current).href;
    if (new URL(next).origin !== new URL(issuer).origin) return { res, url: current, location: next };
    current = next;
    res = await request(jar, next);
  }
  return { res, url: current, location: res.headers.get('location') };
}

function formAction(html, id) {
  const m = html.match(new RegExp(`<form[^>]*id="${id}"[^>]*action="([^"]+)"`))
    || html.match(new RegExp(`<form[^>]*action="([^"]+)"[^>]*id="${id}"`));
  assert.ok(m, `form ${id} not found in:\n${html}`);
  return m[1].replace(/&amp;/g, '&');
}

async function tokenRequest(params) {
  const res = await fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params),
  });
  return { status: res.status, body: await res.json() };
}

function decodeJwt(jwt) {
  const [h, p] = jwt.split('.');
  return { header: JSON.parse(Buffer.from(h, 'base64url')), payload: JSON.parse(Buffer.from(p, 'base64url')) };
}

let passed = 0;
async function step(name, fn) {
  try {
    await fn();
    passed += 1;
    console.log(`ok - provider: ${name}`);
  } catch (err) {
    console.log(`not ok - provider: ${name}\n${err.stack || err}`);
    process.exit(1);
  }
}

let discovery;
let jwks;
await step('discovery and JWKS', async () => {
  discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  assert.equal(discovery.issuer, issuer);
  for (const k of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri',
    'end_session_endpoint', 'revocation_endpoint', 'introspection_endpoint']) {
    assert.ok(discovery[k]?.startsWith(issuer), `${k}: ${discovery[k]}`);
  }
  assert.deepEqual(discovery.code_challenge_methods_supported, ['S256']);
  jwks = await (await fetch(discovery.jwks_uri)).json();
  assert.equal(jwks.keys[0].kty, 'RSA');
  assert.equal(jwks.keys[0].alg, 'RS256');
});

function authorizeUrl({ verifier, state, nonce, extra = {} }) {
  const u = new URL(discovery.authorization_endpoint);
  const challenge = b64url(crypto.createHash('sha256').update(verifier).digest());
  Object.entries({
    client_id: clientId, response_type: 'code', scope: 'openid profile email groups',
    redirect_uri: redirectUri, state, nonce, code_challenge: challenge, code_challenge_method: 'S256', ...extra,
  }).forEach(([k, v]) => u.searchParams.set(k, v));
  return u.href;
}

await step('PKCE is required', async () => {
  const u = new URL(authorizeUrl({ verifier: 'x'.repeat(43), state: 's', nonce: 'n' }));
  u.searchParams.delete('code_challenge');
  u.searchParams.delete('code_challenge_method');
  const { location } = await follow(new Jar(), u.href);
  assert.ok(location?.startsWith(redirectUri), location);
  assert.equal(new URL(location).searchParams.get('error'), 'invalid_request');
});

async function login(jar, username, password, opts = {}) {
  const verifier = b64url(crypto.randomBytes(32));
  const state = b64url(crypto.randomBytes(8));
  const nonce = b64url(crypto.randomBytes(8));
  const start = await follow(jar, authorizeUrl({ verifier, state, nonce, extra: opts.extra }));
  if (opts.expectNoForm) return { start, verifier, state, nonce };
  assert.equal(start.res.status, 200, `login form status ${start.res.status} at ${start.url}`);
  const html = await start.res.text();
  const action = new URL(formAction(html, 'login-form'), start.url).href;
  const done = await follow(jar, action, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ login: username, password }),
  });
  return { done, verifier, state, nonce };
}

await step('unknown user and wrong password are refused on the form', async () => {
  for (const [u, p] of [['mallory', 'mallory'], ['alice', 'wrong'], ['', 'x']]) {
    const { done } = await login(new Jar(), u, p);
    assert.equal(done.res.status, 401, `${u}/${p}: ${done.res.status}`);
    assert.match(await done.res.text(), /Unknown user or wrong password/);
  }
});

const jar = new Jar();
let tokens;
await step('alice logs in: code, token exchange, ID token', async () => {
  const { done, verifier, state, nonce } = await login(jar, 'alice', 'alice');
  assert.ok(done.location?.startsWith(`${redirectUri}?`), `redirect: ${done.location} (status ${done.res.status})`);
  const cb = new URL(done.location).searchParams;
  assert.equal(cb.get('state'), state);
  assert.equal(cb.get('iss'), issuer);
  const code = cb.get('code');
  assert.ok(code);
  const wrong = await tokenRequest({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: b64url(crypto.randomBytes(32)) });
  assert.equal(wrong.status, 400, 'a wrong PKCE verifier must be refused');
  // The failed attempt consumed the code (oidc-provider treats codes as one-time); log in again.
  const again = await login(jar, 'alice', 'alice', { expectNoForm: true });
  const loc = again.start.location;
  assert.ok(loc?.startsWith(`${redirectUri}?`), `second authorization (provider session): ${loc}`);
  const code2 = new URL(loc).searchParams.get('code');
  const ok = await tokenRequest({ grant_type: 'authorization_code', code: code2, redirect_uri: redirectUri, code_verifier: again.verifier });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  tokens = ok.body;
  assert.ok(tokens.access_token && tokens.refresh_token && tokens.id_token, Object.keys(tokens).join(','));
  const { header, payload } = decodeJwt(tokens.id_token);
  assert.equal(header.alg, 'RS256');
  assert.equal(header.kid, jwks.keys[0].kid);
  assert.equal(payload.iss, issuer);
  assert.equal(payload.aud, clientId);
  assert.equal(payload.sub, 'alice');
  assert.equal(payload.nonce, again.nonce);
  void verifier; void nonce;
});

await step('userinfo has username, email and groups', async () => {
  const res = await fetch(discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  assert.equal(res.status, 200);
  const info = await res.json();
  assert.deepEqual(info, {
    sub: 'alice', preferred_username: 'alice', name: 'Alice Admin', given_name: 'Alice', family_name: 'Admin',
    email: 'alice@example.com', email_verified: true, groups: ['admins', 'staff'],
  });
});

await step('refresh tokens rotate and are one-time', async () => {
  const first = await tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.notEqual(first.body.refresh_token, tokens.refresh_token);
  const replay = await tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
  assert.equal(replay.status, 400, 'a used refresh token must be refused');
  assert.equal(replay.body.error, 'invalid_grant');
  // Reuse detection revokes the whole grant (RFC 6819 / OAuth 2.1): the new one dies too.
  const after = await tokenRequest({ grant_type: 'refresh_token', refresh_token: first.body.refresh_token });
  assert.equal(after.status, 400);
});

await step('introspection and revocation', async () => {
  const { done, verifier } = await login(new Jar(), 'bob', 'bob');
  const code = new URL(done.location).searchParams.get('code');
  const t = (await tokenRequest({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier })).body;
  const introspect = async (token) => (await (await fetch(discovery.introspection_endpoint, {
    method: 'POST',
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }),
  })).json());
  const active = await introspect(t.access_token);
  assert.equal(active.active, true);
  assert.equal(active.sub, 'bob');
  const revoke = await fetch(discovery.revocation_endpoint, {
    method: 'POST',
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: t.refresh_token, token_type_hint: 'refresh_token' }),
  });
  assert.equal(revoke.status, 200);
  const refreshed = await tokenRequest({ grant_type: 'refresh_token', refresh_token: t.refresh_token });
  assert.equal(refreshed.status, 400, 'a revoked refresh token must be refused');
});

await step('RP-initiated logout ends the provider session', async () => {
  const u = new URL(discovery.end_session_endpoint);
  u.searchParams.set('id_token_hint', tokens.id_token);
  u.searchParams.set('post_logout_redirect_uri', postLogout);
  u.searchParams.set('client_id', clientId);
  u.searchParams.set('state', 'bye');
  const page = await request(jar, u.href);
  assert.equal(page.status, 200);
  const html = await page.text();
  const action = new URL(formAction(html, 'op.logoutForm'), u.href).href;
  const xsrf = html.match(/name="xsrf" value="([^"]+)"/)[1];
  const confirm = await request(jar, action, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ xsrf, logout: 'yes' }),
  });
  assert.equal(confirm.status, 303);
  assert.equal(confirm.headers.get('location'), `${postLogout}?state=bye`);
  // The provider session is gone: a new authorization shows the login form again.
  const { start } = await login(jar, 'alice', 'alice', { expectNoForm: true });
  assert.equal(start.res.status, 200);
  assert.match(await start.res.text(), /id="login-form"/);
});

console.log(`provider self-test: ${passed} passed, 0 failed`);

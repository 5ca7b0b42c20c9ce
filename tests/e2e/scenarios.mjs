#!/usr/bin/env node
// Browser SSO scenarios: Debian's chromium driven by playwright-core against a running
// portcullis (GW_URL) whose provider is the dev oidc-provider (ISSUER), with the echo
// upstream behind it, configured as deploy/dev/portcullis.dev.yaml:
//   route app   (auth: session, path_prefix /)
//   route admin (auth: session, path_prefix /admin, allow.groups [admins])
//   route api   (auth: any, path_prefix /api/)
//   route both  (auth: session, path_prefix /both/, providers [dev, partner]: a second
//                provider at PARTNER_ISSUER, see chooser.mjs)
// Started by run.sh (free ports); also runs against the dev stack of deploy/dev/up.sh:
//
//   GW_URL=http://127.0.0.1:8080 ISSUER=http://127.0.0.1:9000 node scenarios.mjs [name-filter]
//
// Prints one `ok`/`not ok` line per scenario and `N passed, N failed` at the end; exits 1
// when any failed. On a failure the page's URL, a screenshot and its HTML go to
// $E2E_ARTIFACTS (default ./artifacts), and the navigation trail is printed.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { strict as assert } from 'node:assert';

import { chromium } from 'playwright-core';

import { registerChooser } from './chooser.mjs';
import { registerCors } from './cors.mjs';

const env = process.env;
const GW = (env.GW_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
const ISSUER = (env.ISSUER || 'http://127.0.0.1:9000').replace(/\/$/, '');
const COOKIE = env.COOKIE_NAME || 'portcullis';
const CHROMIUM = env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = path.resolve(env.E2E_ARTIFACTS || path.join(path.dirname(new URL(import.meta.url).pathname), 'artifacts'));
const TIMEOUT = Number(env.E2E_TIMEOUT_MS || 15000); // per wait; a whole scenario is bounded below
const SCENARIO_TIMEOUT = Number(env.E2E_SCENARIO_TIMEOUT_MS || 90000);
const filter = process.argv[2];

const USERS = { alice: 'alice', bob: 'bob', carol: 'carol' }; // username -> password (see provider.mjs)

const gwOrigin = new URL(GW).origin;
const opOrigin = new URL(ISSUER).origin;
const isGw = (u) => new URL(u).origin === gwOrigin;
const isOp = (u) => new URL(u).origin === opOrigin;
const isLoginForm = (u) => isOp(u) && new URL(u).pathname.startsWith('/interaction/');
const sessionCookie = new RegExp(`^(__Host-)?${COOKIE}(_\\d+)?$`);
const ownCookie = new RegExp(`^(__Host-)?${COOKIE}(_|$)`);

// ---------------------------------------------------------------------------------------
// Browser

// playwright's launch() always gives chromium a fresh temporary --user-data-dir (it refuses
// that flag in args) under os.tmpdir(); point that at a directory of our own, removed at
// the end, so that nothing is left behind in /tmp.
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-e2e-chromium-'));
process.env.TMPDIR = userDataDir;
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  timeout: 60000,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic',
    '--disable-dev-shm-usage',
  ],
});

const contexts = [];
async function newContext(label) {
  const context = await browser.newContext({ ignoreHTTPSErrors: false });
  context.setDefaultTimeout(TIMEOUT);
  context.setDefaultNavigationTimeout(TIMEOUT);
  const page = await context.newPage();
  const trail = [];
  page.on('response', (r) => {
    if (r.request().isNavigationRequest() || r.request().resourceType() === 'fetch' || r.request().resourceType() === 'xhr') {
      const loc = r.headers().location;
      trail.push(`${r.request().method()} ${r.url()} -> ${r.status()}${loc ? ` Location: ${loc}` : ''}`);
    }
  });
  page.on('requestfailed', (r) => trail.push(`FAILED ${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  const c = { label, context, page, trail, mark: 0 };
  contexts.push(c);
  return c;
}

// ---------------------------------------------------------------------------------------
// Helpers

/** The echo upstream's JSON as shown in the current page. */
async function echoed(page) {
  const text = await page.locator('body').innerText();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`page at ${page.url()} is not the echo JSON:\n${text.slice(0, 2000)}`);
  }
}

/** First value of header `name` in an echo response. */
const header = (echo, name) => echo.headers?.[name]?.[0];

/** Cookie names the gateway's upstream request carried. */
const upstreamCookieNames = (echo) => (echo.headers?.cookie || [])
  .flatMap((h) => h.split(';')).map((p) => p.trim().split('=')[0]).filter(Boolean);

async function waitForLoginForm(page) {
  try {
    await page.waitForURL(isLoginForm, { waitUntil: 'domcontentloaded' });
    await page.locator('#login-form').waitFor({ state: 'visible' });
  } catch (err) {
    const body = await page.locator('body').innerText({ timeout: 2000 }).catch(() => '');
    throw new Error(`expected the provider's login form, the browser is at ${page.url()}:\n${body.slice(0, 600)}\n(${err.message.split('\n')[0]})`);
  }
}

/**
 * On the provider's login form: signs in as `user` and waits until the browser is back
 * on `expectedUrl` at the gateway. Returns the final navigation response.
 */
async function submitLogin(page, user, expectedUrl) {
  await waitForLoginForm(page);
  await page.fill('#username', user);
  await page.fill('#password', USERS[user]);
  const final = page.waitForResponse(
    (r) => r.request().isNavigationRequest() && r.url() === expectedUrl && r.status() < 300,
  );
  await page.click('#sign-in');
  const response = await final;
  await page.waitForURL(expectedUrl, { waitUntil: 'load' });
  return response;
}

/** Visits `url` (a protected gateway page) and logs in at the provider as `user`. */
async function loginVia(page, url, user) {
  await page.goto(url);
  return submitLogin(page, user, url);
}

/** Runs fetch() inside the page (same origin as the page). */
async function pageFetch(page, url, init = {}) {
  return page.evaluate(async ([u, i]) => {
    const r = await fetch(u, i);
    const text = await r.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return {
      status: r.status, type: r.type, redirected: r.redirected, url: r.url,
      contentType: r.headers.get('content-type'), wwwAuthenticate: r.headers.get('www-authenticate'),
      text, json,
    };
  }, [url, init]);
}

/** What the provider saw from the gateway since `since` (provider.mjs's test aid). */
async function opRequests(since = -1) {
  const all = await (await fetch(`${ISSUER}/__e2e/requests`)).json();
  return all.filter((r) => r.seq > since);
}
const lastSeq = async () => (await opRequests()).at(-1)?.seq ?? -1;

async function sessionCookies(context) {
  return (await context.cookies(GW)).filter((c) => sessionCookie.test(c.name));
}

// ---------------------------------------------------------------------------------------
// Scenarios

const scenarios = [];
const scenario = (name, fn) => scenarios.push({ name, fn });
const shared = {}; // alice's signed-in context, reused by later scenarios

/** Alice's signed-in browser context (from scenario a, or a fresh login when run alone). */
async function aliceSession() {
  if (!shared.alice) {
    const alice = await newContext('alice');
    await loginVia(alice.page, `${GW}/hello`, 'alice');
    shared.alice = alice;
  }
  return shared.alice;
}

scenario('a: protected page -> provider login -> back on the original URL with identity headers', async () => {
  const alice = await newContext('alice');
  const { page } = alice;
  const target = `${GW}/hello?x=1`;
  const mark = await lastSeq();
  await page.goto(target);
  await waitForLoginForm(page);
  // Only a login attempt cookie so far, no session.
  assert.deepEqual(await sessionCookies(alice.context), [], 'no session before login');
  const response = await submitLogin(page, 'alice', target);
  assert.equal(response.status(), 200);
  const echo = await echoed(page);
  assert.equal(echo.method, 'GET');
  assert.equal(echo.path, '/hello');
  assert.equal(echo.query, 'x=1');
  assert.equal(header(echo, 'x-auth-user'), 'alice');
  assert.equal(header(echo, 'x-auth-email'), 'alice@example.com');
  assert.equal(header(echo, 'x-auth-groups'), 'admins,staff');
  assert.equal(header(echo, 'x-auth-subject'), 'alice');
  const leaked = upstreamCookieNames(echo).filter((n) => ownCookie.test(n));
  assert.deepEqual(leaked, [], 'the gateway\'s own cookies must not reach the upstream');
  const cookies = await sessionCookies(alice.context);
  assert.ok(cookies.length >= 1, 'a session cookie is set');
  const size = cookies.reduce((n, c) => n + c.name.length + 1 + c.value.length, 0);
  console.log(`  # session cookie: ${size} bytes in ${cookies.length} cookie(s): ${cookies.map((c) => c.name).join(', ')}`);
  for (const c of cookies) {
    assert.equal(c.httpOnly, true, `${c.name} HttpOnly`);
    assert.equal(c.sameSite, 'Lax', `${c.name} SameSite=Lax`);
    assert.equal(c.path, '/', `${c.name} Path=/`);
  }
  // The login attempt cookie is consumed by the callback.
  const attempts = (await alice.context.cookies(GW)).filter((c) => c.name.startsWith(`${COOKIE}_login_`));
  assert.deepEqual(attempts.map((c) => c.name), [], 'login attempt cookie cleared after the callback');
  // The protocol as the provider saw it.
  const seen = await opRequests(mark);
  const authz = seen.find((r) => r.route === 'authorization');
  assert.ok(authz, 'an authorization request reached the provider');
  assert.equal(authz.response_type, 'code');
  assert.equal(authz.code_challenge_method, 'S256');
  assert.ok(authz.has_state && authz.has_nonce, 'state and nonce sent');
  assert.ok(authz.scope.split(' ').includes('openid'), `scope ${authz.scope}`);
  const token = seen.filter((r) => r.route === 'token');
  assert.equal(token.length, 1, `one token request: ${JSON.stringify(token)}`);
  assert.deepEqual(
    { grant_type: token[0].grant_type, status: token[0].status, pkce: token[0].has_code_verifier, auth: token[0].client_auth },
    { grant_type: 'authorization_code', status: 200, pkce: true, auth: 'client_secret_basic' },
  );
  shared.alice = alice;
});

scenario('b: fetch() from the signed-in page reaches the api route with identity headers', async () => {
  const { page } = await aliceSession();
  const r = await pageFetch(page, '/api/data?y=2', { headers: { Accept: 'application/json' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.redirected, false);
  assert.equal(r.json?.path, '/api/data');
  assert.equal(r.json?.query, 'y=2');
  assert.equal(header(r.json, 'x-auth-user'), 'alice');
  assert.equal(header(r.json, 'x-auth-email'), 'alice@example.com');
  assert.equal(header(r.json, 'x-auth-groups'), 'admins,staff');
  // A POST from the page works too (session, not a navigation).
  const post = await pageFetch(page, '/api/items', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"a":1}',
  });
  assert.equal(post.status, 200, post.text);
  assert.equal(post.json?.method, 'POST');
  assert.equal(header(post.json, 'x-auth-user'), 'alice');
  // The session's identity for single-page apps.
  const me = await pageFetch(page, '/oauth2/userinfo', { headers: { Accept: 'application/json' } });
  assert.equal(me.status, 200, me.text);
  assert.ok(me.json && JSON.stringify(me.json).includes('alice'), `userinfo: ${me.text}`);
});

scenario('c: group policy: bob gets 403 on /admin/, alice 200', async () => {
  const bob = await newContext('bob');
  // Bob enters on the admin page itself: login succeeds, the policy refuses him afterwards.
  await bob.page.goto(`${GW}/admin/`);
  await waitForLoginForm(bob.page);
  await bob.page.fill('#username', 'bob');
  await bob.page.fill('#password', USERS.bob);
  const final = bob.page.waitForResponse(
    (r) => r.request().isNavigationRequest() && isGw(r.url()) && new URL(r.url()).pathname === '/admin/',
  );
  await bob.page.click('#sign-in');
  const refused = await final;
  assert.equal(refused.status(), 403, `bob on /admin/: ${refused.status()}`);
  // He is signed in all the same: the app route shows him.
  const hello = await bob.page.goto(`${GW}/hello`);
  assert.equal(hello.status(), 200);
  const echo = await echoed(bob.page);
  assert.equal(header(echo, 'x-auth-user'), 'bob');
  assert.equal(header(echo, 'x-auth-groups'), 'staff');
  // And stays refused on a second visit.
  const again = await bob.page.goto(`${GW}/admin/`);
  assert.equal(again.status(), 403);
  assert.ok(isGw(bob.page.url()), 'a refusal is not a redirect to the provider');

  const { page } = await aliceSession();
  const ok = await page.goto(`${GW}/admin/`);
  assert.equal(ok.status(), 200);
  const adminEcho = await echoed(page);
  assert.equal(adminEcho.path, '/admin/');
  assert.equal(header(adminEcho, 'x-auth-user'), 'alice');
});

scenario('d: sign-out ends the session at the gateway and at the provider', async () => {
  const { page, context } = await aliceSession();
  shared.alice = undefined; // signed out below
  assert.ok((await sessionCookies(context)).length >= 1, 'alice is signed in before sign-out');
  const mark = await lastSeq();
  await page.goto(`${GW}/oauth2/sign_out`);
  // The provider asks for confirmation (its session is still alive).
  await page.waitForURL((u) => isOp(u) && new URL(u).pathname.startsWith('/session/end'), { waitUntil: 'domcontentloaded' });
  const seen = await opRequests(mark);
  // Tokens revoked at the provider (RFC 7009): the refresh token, then the access token.
  const revocations = seen.filter((r) => r.route === 'revocation');
  assert.deepEqual(revocations.map((r) => [r.token_type_hint, r.status]),
    [['refresh_token', 200], ['access_token', 200]], `revocations: ${JSON.stringify(revocations)}`);
  assert.equal(revocations[0].found, 'RefreshToken', 'the refresh token revoked was a live one');
  const endSession = seen.find((r) => r.route === 'end_session');
  assert.ok(endSession?.has_id_token_hint, `end_session with id_token_hint: ${JSON.stringify(endSession)}`);
  assert.equal(endSession.client_id, env.CLIENT_ID || 'portcullis');
  assert.ok(endSession.post_logout_redirect_uri && isGw(endSession.post_logout_redirect_uri),
    `post_logout_redirect_uri on the gateway: ${endSession.post_logout_redirect_uri}`);
  await page.locator('#logout-yes').click();
  // Back at the gateway (post_logout_redirect_uri), which may pass on to the login form
  // when that page is protected; or the provider's own "signed out" page.
  await page.waitForURL((u) => isGw(u) || isLoginForm(u) || (isOp(u) && new URL(u).pathname.includes('/session/end/success')),
    { waitUntil: 'load' });
  assert.deepEqual((await sessionCookies(context)).map((c) => c.name), [], 'gateway session cookie gone');
  // Not silently signed back in: the provider session has ended too.
  await page.goto(`${GW}/hello`);
  await waitForLoginForm(page);
  assert.deepEqual((await sessionCookies(context)).map((c) => c.name), [], 'still no session cookie');
  // And the api route now refuses the browser's fetch.
  await page.goto(`${GW}/oauth2/userinfo`);
  const r = await pageFetch(page, '/api/data', { headers: { Accept: 'application/json' } });
  assert.equal(r.status, 401, r.text);
});

scenario('e: fetch without a session gets 401 JSON, not a redirect', async () => {
  const anon = await newContext('anonymous');
  // A gateway-origin document to run fetch() from: the userinfo endpoint (401 without a session).
  const first = await anon.page.goto(`${GW}/oauth2/userinfo`);
  assert.equal(first.status(), 401, 'GET /oauth2/userinfo without a session');
  assert.ok(isGw(anon.page.url()));
  for (const [what, url, init] of [
    ['fetch Accept: application/json', '/api/data', { headers: { Accept: 'application/json' } }],
    ['fetch default Accept', '/api/data', {}],
    ['XHR-style header', '/api/data', { headers: { 'X-Requested-With': 'XMLHttpRequest' } }],
    ['POST', '/api/data', { method: 'POST', body: 'x=1', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }],
    ['fetch on a session route', '/hello', { headers: { Accept: 'application/json' } }],
  ]) {
    const r = await pageFetch(anon.page, url, { ...init, redirect: 'manual' });
    assert.equal(r.type, 'basic', `${what}: response type ${r.type} (opaqueredirect = the gateway redirected)`);
    assert.equal(r.status, 401, `${what}: ${r.status} ${r.text.slice(0, 300)}`);
    assert.match(r.contentType || '', /json/, `${what}: content-type ${r.contentType}`);
    assert.ok(r.json !== undefined, `${what}: body is JSON: ${r.text.slice(0, 300)}`);
  }
  assert.deepEqual((await sessionCookies(anon.context)).map((c) => c.name), []);
});

scenario('f: login_hint from the start URL reaches the provider form', async () => {
  const c = await newContext('hint');
  await c.page.goto(`${GW}/oauth2/start?rd=${encodeURIComponent('/hinted?z=3')}&login_hint=bob`);
  await waitForLoginForm(c.page);
  const authorize = c.trail.find((l) => l.includes(`${opOrigin}/auth?`)) || '';
  assert.match(authorize, /login_hint=bob/, `authorization request: ${authorize}`);
  assert.equal(await c.page.inputValue('#username'), 'bob');
  await c.page.fill('#password', USERS.bob);
  const target = `${GW}/hinted?z=3`;
  const final = c.page.waitForResponse((r) => r.request().isNavigationRequest() && r.url() === target);
  await c.page.click('#sign-in');
  assert.equal((await final).status(), 200);
  await c.page.waitForURL(target, { waitUntil: 'load' });
  assert.equal(header(await echoed(c.page), 'x-auth-user'), 'bob');
});

scenario('g: two tabs logging in at once both end up on their own page', async () => {
  const c = await newContext('tabs');
  const tab1 = c.page;
  const tab2 = await c.context.newPage();
  const u1 = `${GW}/tab?n=1`;
  const u2 = `${GW}/tab?n=2`;
  await tab1.goto(u1);
  await tab2.goto(u2);
  await waitForLoginForm(tab1);
  await waitForLoginForm(tab2);
  await submitLogin(tab1, 'alice', u1);
  assert.equal((await echoed(tab1)).query, 'n=1');
  // Tab 2 still shows its own (older) login form: finishing it returns to its own URL.
  await submitLogin(tab2, 'alice', u2);
  const echo2 = await echoed(tab2);
  assert.equal(echo2.query, 'n=2');
  assert.equal(header(echo2, 'x-auth-user'), 'alice');
});

scenario('h: refresh: expiring access tokens are renewed transparently, once per burst, session kept', async () => {
  // carol's access tokens live CAROL_ACCESS_TOKEN_TTL (35 s) at the provider, so the gateway
  // must refresh within seconds. Time has to pass here: poll (1 s steps, bounded) until the
  // provider sees a refresh.
  const c = await newContext('carol');
  const mark = await lastSeq();
  await loginVia(c.page, `${GW}/hello?r=1`, 'carol');
  const refreshes = async (since) => (await opRequests(since))
    .filter((r) => r.route === 'token' && r.grant_type === 'refresh_token' && r.account === 'carol');
  const api = () => pageFetch(c.page, '/api/data', { headers: { Accept: 'application/json' } });

  async function untilRefreshed(since, what) {
    const deadline = Date.now() + Number(env.E2E_REFRESH_WAIT_MS || 60000);
    for (;;) {
      const r = await api();
      assert.equal(r.status, 200, `${what}: api call during refresh wait: ${r.status} ${r.text.slice(0, 300)}`);
      assert.equal(header(r.json, 'x-auth-user'), 'carol');
      const seen = await refreshes(since);
      if (seen.length) return seen;
      assert.ok(Date.now() < deadline, `${what}: no refresh_token grant at the provider within the wait`);
      await c.page.waitForTimeout(1000);
    }
  }

  // 1. A plain request near expiry is refreshed; the user notices nothing.
  const first = await untilRefreshed(mark, 'first refresh');
  assert.deepEqual(first.map((r) => r.status), [200], `first refresh: ${JSON.stringify(first)}`);

  // 2. A burst of parallel requests once the next refresh is due: all succeed, and the
  //    provider sees one refresh (a second one with the already rotated refresh token would
  //    make oidc-provider revoke the whole grant, and the session would end).
  //    Due = issued + TTL - the gateway's refresh margin (30 s: src/pipeline/session.rs).
  const ttl = Number(env.CAROL_ACCESS_TOKEN_TTL || 35);
  const margin = Number(env.E2E_REFRESH_MARGIN_S || 30);
  const dueAt = Date.now() + Math.max(0, ttl - margin) * 1000 + 1000;
  while (Date.now() < dueAt) await c.page.waitForTimeout(250); // no requests meanwhile
  let since = await lastSeq();
  const burst = await c.page.evaluate(async () => Promise.all(Array.from({ length: 6 }, (_, i) => fetch(`/api/data?burst=${i}`, {
    headers: { Accept: 'application/json' },
  }).then((r) => r.status))));
  assert.deepEqual(burst, [200, 200, 200, 200, 200, 200], `burst statuses: ${burst}`);
  const burstRefreshes = await refreshes(since);
  assert.deepEqual(burstRefreshes.map((r) => r.status), [200], `one refresh for the burst: ${JSON.stringify(burstRefreshes)}`);

  // 3. The rotated refresh token the browser kept is the live one: the next refresh works
  //    (reusing a rotated one makes oidc-provider revoke the whole grant).
  since = await lastSeq();
  const later = await untilRefreshed(since, 'refresh after the burst');
  assert.ok(later.every((r) => r.status === 200), `refresh after the burst: ${JSON.stringify(later)}`);
  const page = await c.page.goto(`${GW}/hello?r=2`);
  assert.equal(page.status(), 200);
  assert.equal(header(await echoed(c.page), 'x-auth-user'), 'carol');
});

scenario('i: cancelling at the provider (error=access_denied) gives a 403 page, no session', async () => {
  const c = await newContext('cancel');
  await c.page.goto(`${GW}/hello?cancel=1`);
  await waitForLoginForm(c.page);
  const callback = c.page.waitForResponse((r) => r.request().isNavigationRequest() && isGw(r.url())
    && new URL(r.url()).pathname === '/oauth2/callback');
  await c.page.click('#cancel');
  const r = await callback;
  assert.equal(new URL(r.url()).searchParams.get('error'), 'access_denied');
  assert.equal(r.status(), 403, `callback with error=access_denied: ${r.status()}`);
  await c.page.waitForLoadState('load');
  assert.ok(isGw(c.page.url()), `stays on the gateway's error page: ${c.page.url()}`);
  assert.deepEqual((await sessionCookies(c.context)).map((x) => x.name), []);
});

scenario('j: rd pointing elsewhere falls back to the gateway after login', async () => {
  const c = await newContext('redirect');
  const isEvil = (u) => new URL(u).hostname.includes('evil.example');
  const port = new URL(GW).port;
  for (const rd of ['//evil.example/steal', 'https://evil.example/steal', `http://127.0.0.1.evil.example:${port}/`,
    `${GW}@evil.example/`, '/\\evil.example', '/%5Cevil.example']) {
    await c.context.clearCookies();
    await c.page.goto(`${GW}/oauth2/start?rd=${encodeURIComponent(rd)}`);
    await waitForLoginForm(c.page);
    await c.page.fill('#username', 'bob');
    await c.page.fill('#password', USERS.bob);
    // Either the browser lands somewhere after the callback, or it is sent to evil.example.
    const landed = c.page.waitForResponse((r) => r.request().isNavigationRequest() && !isOp(r.url())
      && new URL(r.url()).pathname !== '/oauth2/callback' && r.status() < 300).then((r) => r.url());
    const evil = c.page.waitForRequest((r) => isEvil(r.url())).then((r) => r.url());
    landed.catch(() => {});
    evil.catch(() => {});
    await c.page.click('#sign-in');
    const where = await Promise.race([landed, evil]);
    assert.ok(isGw(where), `rd=${rd}: after login the browser went to ${where}`);
    await c.page.waitForLoadState('load');
    // Log out of the provider for the next round (the gateway session goes with the cookies).
    await c.page.goto(`${ISSUER}/session/end`);
    await c.page.locator('#logout-yes').click();
    await c.page.waitForURL((u) => isOp(u) && new URL(u).pathname.includes('/session/end/success'));
  }
});

// k: CORS from a page of another origin (tests/e2e/cors.mjs).
registerCors({ scenario, newContext, aliceSession, GW, env });

// l, m: several providers on one route, the chooser and login_hint (tests/e2e/chooser.mjs).
registerChooser({ scenario, newContext, GW, env, echoed, header });

// ---------------------------------------------------------------------------------------
// Runner

let passed = 0;
let failed = 0;
const started = Date.now();
for (const s of scenarios) {
  if (filter && !s.name.includes(filter)) continue;
  const t0 = Date.now();
  for (const c of contexts) c.mark = c.trail.length;
  let timer;
  try {
    await Promise.race([
      s.fn(),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`scenario timed out after ${SCENARIO_TIMEOUT} ms`)), SCENARIO_TIMEOUT); }),
    ]);
    passed += 1;
    console.log(`ok - ${s.name} (${Date.now() - t0} ms)`);
  } catch (err) {
    failed += 1;
    console.log(`not ok - ${s.name} (${Date.now() - t0} ms)`);
    console.log(`  ${String(err.stack || err).split('\n').join('\n  ')}`);
    await dumpArtifacts(s.name);
  } finally {
    clearTimeout(timer);
  }
}

async function dumpArtifacts(name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const slug = name.split(':')[0].replace(/\W+/g, '_');
  for (const c of contexts) {
    const lines = c.trail.slice(c.mark);
    if (!lines.length) continue; // not used by this scenario
    console.log(`  [${c.label}] navigation trail in this scenario:`);
    for (const line of lines.slice(-30)) console.log(`    ${line}`);
    for (const [i, p] of c.context.pages().entries()) {
      const base = path.join(ARTIFACTS, `${slug}-${c.label}-${i}`);
      try {
        console.log(`  [${c.label}] page ${i} at ${p.url()} -> ${base}.{png,html}`);
        await p.screenshot({ path: `${base}.png`, timeout: 5000 });
        fs.writeFileSync(`${base}.html`, await p.content());
      } catch (e) {
        console.log(`  [${c.label}] (no artifacts: ${e.message.split('\n')[0]})`);
      }
    }
  }
}

await browser.close().catch(() => {});
fs.rmSync(userDataDir, { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed (${((Date.now() - started) / 1000).toFixed(1)} s)`);
process.exit(failed ? 1 : 0);

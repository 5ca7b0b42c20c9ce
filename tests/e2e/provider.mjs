#!/usr/bin/env node
// Dev/test OpenID provider for portcullis: the certified `oidc-provider` package with one
// confidential code-flow client and a fixed set of users.
//
//   node tests/e2e/provider.mjs [port]
//
// Environment (all optional):
//   PROVIDER_PORT              listen port (default 9000; argv[2] wins)
//   PROVIDER_HOST              host used in the issuer URL and to listen on (default 127.0.0.1)
//   CLIENT_ID / CLIENT_SECRET  the gateway's client (default portcullis / portcullis-dev-secret)
//   CLIENT_AUTH                token_endpoint_auth_method (default client_secret_basic)
//   REDIRECT_URIS              space/comma separated (default http://127.0.0.1:8080/oauth2/callback)
//   POST_LOGOUT_REDIRECT_URIS  space/comma separated (default: "<origin>/" of every redirect URI)
//   POST_LOGOUT_SAME_ORIGIN    1 (default) = also accept any post_logout_redirect_uri on the
//                              origin of a registered one (logged); 0 = exact match only
//   ACCESS_TOKEN_TTL           seconds (default 600)
//   ID_TOKEN_TTL               seconds (default 600)
//   REFRESH_TOKEN_TTL          seconds (default 86400)
//   CONFORM_ID_TOKEN_CLAIMS    1 (default): profile/email/groups claims only at userinfo when an
//                              access token is issued (the spec's behaviour); 0: also in the ID token
//   PROVIDER_USERS             dev (default) | partner: which users this instance knows (a second
//                              instance with the partner users stands for another organisation)
//   PROVIDER_LABEL             the provider's name on its pages (default "dev provider")
//
// Users (login form with a password check; unknown users and wrong passwords are refused;
// the username or the e-mail address signs in):
//   dev:
//   alice / alice   groups [admins, staff]   alice@example.com
//   bob   / bob     groups [staff]           bob@example.com
//   carol / carol   groups [staff]           carol@example.com   access tokens live only
//                   CAROL_ACCESS_TOKEN_TTL seconds (default 35), to watch the gateway refresh
//   partner:
//   dana  / dana    groups [partners]        dana@partner.example
//   erin  / erin    groups [partners]        erin@partner.example
//
// Why not `devInteractions`: oidc-provider's built-in dev login form signs in ANY login
// value without calling findAccount (the session gets that accountId; with findAccount
// returning undefined for an unknown one, the browser then lands on a 500 `server_error`
// page at the authorization endpoint — checked with oidc-provider 8.8.1). The small
// interaction handler below is the package's documented way to plug in a real login: it
// refuses unknown users and wrong passwords on the form itself and grants consent
// automatically (the gateway is a first-party client).
//
// Test aid: GET /__e2e/requests lists what relying parties asked of the protocol endpoints
// (authorization parameters, token grant types and client auth, revocation hints,
// end_session parameters, statuses); the browser scenarios assert on it.
//
// Prints `READY <issuer>` on stdout once listening.

import * as crypto from 'node:crypto';
import * as http from 'node:http';
import { strict as assert } from 'node:assert';

import Provider, { errors } from 'oidc-provider';

const env = process.env;
const port = Number(process.argv[2] || env.PROVIDER_PORT || 9000);
const host = env.PROVIDER_HOST || '127.0.0.1';
const issuer = `http://${host}:${port}`;
const list = (s) => (s || '').split(/[\s,]+/).filter(Boolean);
const seconds = (name, dflt) => {
  const v = Number(env[name] || dflt);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} must be a positive integer`);
  return v;
};

const clientId = env.CLIENT_ID || 'portcullis';
const clientSecret = env.CLIENT_SECRET || 'portcullis-dev-secret';
const clientAuth = env.CLIENT_AUTH || 'client_secret_basic';
const redirectUris = list(env.REDIRECT_URIS || 'http://127.0.0.1:8080/oauth2/callback');
const postLogoutRedirectUris = list(env.POST_LOGOUT_REDIRECT_URIS).length
  ? list(env.POST_LOGOUT_REDIRECT_URIS)
  : [...new Set(redirectUris.map((u) => `${new URL(u).origin}/`))];
const postLogoutSameOrigin = (env.POST_LOGOUT_SAME_ORIGIN ?? '1') !== '0';

// ---------------------------------------------------------------------------------------
// Accounts

const DEV_USERS = {
  alice: {
    password: 'alice',
    claims: {
      preferred_username: 'alice',
      name: 'Alice Admin',
      given_name: 'Alice',
      family_name: 'Admin',
      email: 'alice@example.com',
      email_verified: true,
      groups: ['admins', 'staff'],
    },
  },
  bob: {
    password: 'bob',
    claims: {
      preferred_username: 'bob',
      name: 'Bob Staff',
      given_name: 'Bob',
      family_name: 'Staff',
      email: 'bob@example.com',
      email_verified: true,
      groups: ['staff'],
    },
  },
  carol: {
    password: 'carol',
    accessTokenTTL: seconds('CAROL_ACCESS_TOKEN_TTL', 35),
    claims: {
      preferred_username: 'carol',
      name: 'Carol Shortlived',
      given_name: 'Carol',
      family_name: 'Shortlived',
      email: 'carol@example.com',
      email_verified: true,
      groups: ['staff'],
    },
  },
};

const partner = (name, given) => ({
  password: name,
  claims: {
    preferred_username: name,
    name: `${given} Partner`,
    given_name: given,
    family_name: 'Partner',
    email: `${name}@partner.example`,
    email_verified: true,
    groups: ['partners'],
  },
});

const USER_SETS = { dev: DEV_USERS, partner: { dana: partner('dana', 'Dana'), erin: partner('erin', 'Erin') } };
if (!Object.hasOwn(USER_SETS, env.PROVIDER_USERS || 'dev')) {
  throw new Error(`PROVIDER_USERS must be one of ${Object.keys(USER_SETS).join(', ')}`);
}
export const USERS = USER_SETS[env.PROVIDER_USERS || 'dev'];
const label = env.PROVIDER_LABEL || 'dev provider';

/** The account a login form value names: a username, or a user's e-mail address. */
function lookup(login) {
  if (Object.hasOwn(USERS, login)) return [login, USERS[login]];
  const found = Object.entries(USERS).find(([, u]) => u.claims.email === login.toLowerCase());
  return found || [login, undefined];
}

async function findAccount(ctx, sub) {
  const user = Object.hasOwn(USERS, sub) ? USERS[sub] : undefined;
  if (!user) return undefined; // unknown subject: no account
  return {
    accountId: sub,
    // oidc-provider filters these by the granted scopes/claims.
    async claims() {
      return { sub, ...user.claims };
    },
  };
}

// ---------------------------------------------------------------------------------------
// Pages (self-contained: no external fonts or scripts, the test machines are offline)

const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
}[c]));

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;background:#f4f4f6;margin:40px}
.box{max-width:340px;margin:0 auto;background:#fff;padding:24px 32px;border-radius:6px;box-shadow:0 1px 3px rgba(0,0,0,.2)}
h1{font-size:1.4em;font-weight:500}
input{display:block;width:100%;box-sizing:border-box;margin:0 0 10px;padding:8px;font-size:15px}
button{width:100%;padding:9px;font-size:15px;margin:0 0 8px;cursor:pointer}
.err{color:#b00020}.hint{color:#666;font-size:.85em}
pre{white-space:pre-wrap;word-break:break-word}
</style></head><body><div class="box">${body}</div></body></html>`;
}

function loginPage({ uid, clientName, loginHint, error, username }) {
  return page(`Sign in - ${label}`, `
<h1>Sign in to continue to ${esc(clientName)}</h1>
${error ? `<p class="err" id="login-error">${esc(error)}</p>` : ''}
<form id="login-form" method="post" action="/interaction/${esc(uid)}/login" autocomplete="off">
  <input id="username" name="login" type="text" required placeholder="Username"
    value="${esc(username ?? loginHint ?? '')}" ${username || loginHint ? '' : 'autofocus'}>
  <input id="password" name="password" type="password" required placeholder="Password"
    ${username || loginHint ? 'autofocus' : ''}>
  <button id="sign-in" type="submit">Sign in</button>
</form>
<form method="post" action="/interaction/${esc(uid)}/abort">
  <button id="cancel" type="submit">Cancel</button>
</form>
<p class="hint" id="provider-label">${esc(label)} test users: ${Object.keys(USERS).map((u) => `<code>${u}</code> / <code>${esc(USERS[u].password)}</code>`).join(', ')}</p>`);
}

async function logoutSource(ctx, form) {
  ctx.type = 'html';
  ctx.body = page('Sign out', `
<h1>Sign out of the ${esc(label)}?</h1>
${form}
<button id="logout-yes" autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button id="logout-no" type="submit" form="op.logoutForm">No, stay signed in</button>`);
}

async function postLogoutSuccessSource(ctx) {
  ctx.type = 'html';
  ctx.body = page('Signed out', `<h1 id="signed-out">You are signed out of the ${esc(label)}.</h1>`);
}

async function renderError(ctx, out) {
  ctx.type = 'html';
  ctx.body = page('Provider error', `<h1 id="op-error">Provider error</h1>
${Object.entries(out).map(([k, v]) => `<pre><strong>${esc(k)}</strong>: ${esc(v)}</pre>`).join('')}`);
}

// ---------------------------------------------------------------------------------------
// Provider

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }), kid: `e2e-${crypto.randomBytes(4).toString('hex')}`, alg: 'RS256', use: 'sig',
};

const accessTokenTTL = seconds('ACCESS_TOKEN_TTL', 600);

const configuration = {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    client_name: 'portcullis',
    redirect_uris: redirectUris,
    post_logout_redirect_uris: postLogoutRedirectUris,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: clientAuth,
    id_token_signed_response_alg: 'RS256',
  }],
  findAccount,
  claims: {
    openid: ['sub'],
    profile: ['preferred_username', 'name', 'given_name', 'family_name'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  scopes: ['openid', 'offline_access', 'profile', 'email', 'groups'],
  conformIdTokenClaims: (env.CONFORM_ID_TOKEN_CLAIMS ?? '1') !== '0',
  pkce: { methods: ['S256'], required: () => true },
  responseTypes: ['code'],
  features: {
    devInteractions: { enabled: false }, // see the header comment
    rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
    revocation: { enabled: true },
    introspection: { enabled: true },
    userinfo: { enabled: true },
  },
  // Refresh tokens for this client whether or not offline_access was asked for, one-time use.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  ttl: {
    AccessToken: (ctx, token) => USERS[token.accountId]?.accessTokenTTL ?? accessTokenTTL,
    AuthorizationCode: 60,
    IdToken: seconds('ID_TOKEN_TTL', 600),
    RefreshToken: seconds('REFRESH_TOKEN_TTL', 86400),
    Interaction: 600,
    Session: 12 * 3600,
    Grant: 14 * 24 * 3600,
  },
  cookies: { keys: ['portcullis-e2e-provider-cookie-key-1'] },
  jwks: { keys: [signingKey] },
  renderError,
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
};

const provider = new Provider(issuer, configuration);

// Post-logout redirect: optionally accept any URI on a registered one's origin (the gateway
// picks the path: its rd parameter, "/", ...). Exact match stays the fallback.
{
  const original = provider.Client.prototype.postLogoutRedirectUriAllowed;
  provider.Client.prototype.postLogoutRedirectUriAllowed = function allowed(value) {
    if (original.call(this, value)) return true;
    if (!postLogoutSameOrigin) return false;
    let origin;
    try { origin = new URL(value).origin; } catch { return false; }
    const ok = this.postLogoutRedirectUris.some((u) => new URL(u).origin === origin);
    if (ok) log(`post_logout_redirect_uri ${value} accepted (same origin as a registered one)`);
    return ok;
  };
}

function log(msg) {
  process.stderr.write(`${new Date().toISOString()} ${msg}\n`);
}

// What the relying party did, for the browser scenarios' assertions (GET /__e2e/requests):
// one record per request to a protocol endpoint, with the parameters that matter.
const requests = [];
let requestSeq = 0;
provider.use(async (ctx, next) => {
  await next();
  const { oidc } = ctx;
  if (!oidc?.route || ['discovery', 'jwks'].includes(oidc.route)) return;
  const p = oidc.params || {};
  const rec = { seq: requestSeq++, route: oidc.route, method: ctx.method, status: ctx.status };
  if (oidc.route === 'authorization') {
    Object.assign(rec, {
      response_type: p.response_type, scope: p.scope, code_challenge_method: p.code_challenge_method,
      has_state: !!p.state, has_nonce: !!p.nonce, login_hint: p.login_hint, prompt: p.prompt,
    });
  } else if (oidc.route === 'token') {
    const account = oidc.entities?.RefreshToken?.accountId ?? oidc.entities?.AuthorizationCode?.accountId;
    Object.assign(rec, {
      grant_type: p.grant_type, has_code_verifier: !!p.code_verifier, client_auth: oidc.client?.clientAuthMethod, account,
      error: ctx.status >= 400 ? ctx.body?.error : undefined,
    });
  } else if (oidc.route === 'revocation') {
    const kind = ['RefreshToken', 'AccessToken'].find((k) => oidc.entities?.[k]);
    Object.assign(rec, { token_type_hint: p.token_type_hint, found: kind || null });
  } else if (oidc.route === 'end_session') {
    Object.assign(rec, { has_id_token_hint: !!p.id_token_hint, post_logout_redirect_uri: p.post_logout_redirect_uri, client_id: p.client_id });
  }
  requests.push(rec);
  if (requests.length > 1000) requests.splice(0, 500);
});

for (const ev of [
  'authorization.success', 'grant.success', 'end_session.success', 'interaction.ended',
  'refresh_token.destroyed', 'access_token.destroyed',
]) {
  provider.on(ev, (ctx) => log(ctx?.method ? `${ev} ${ctx.method} ${ctx.path}` : `${ev} ${ctx?.kind ?? ''}`));
}
for (const ev of [
  'authorization.error', 'grant.error', 'end_session.error', 'introspection.error',
  'revocation.error', 'userinfo.error', 'server_error', 'jwks.error', 'discovery.error',
]) {
  provider.on(ev, (ctx, err) => log(`${ev} ${ctx.method} ${ctx.path}: ${err.name} ${err.message}${err.error_description ? ` (${err.error_description})` : ''}`));
}

// ---------------------------------------------------------------------------------------
// Interactions: login form with password check, automatic consent.

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > 64 * 1024) throw new Error('form too large');
    chunks.push(c);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function send(res, status, html) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(html);
}

async function grantConsent(req, res, details) {
  const { prompt: { details: missing }, grantId, session, params } = details;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  if (missing.missingResourceScopes) {
    for (const [indicator, scope] of Object.entries(missing.missingResourceScopes)) {
      grant.addResourceScope(indicator, scope.join(' '));
    }
  }
  const id = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId: id } }, { mergeWithLastSubmission: true });
}

async function interaction(req, res, url) {
  const m = url.pathname.match(/^\/interaction\/([\w-]+)(?:\/(login|abort))?$/);
  if (!m) return send(res, 404, page('Not found', '<h1>Not found</h1>'));
  const [, uid, action] = m;
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, page('Error', '<h1>Interaction mismatch</h1>'));
  const client = await provider.Client.find(details.params.client_id);
  const clientName = client?.clientName || details.params.client_id;

  if (req.method === 'GET' && !action) {
    if (details.prompt.name === 'login') {
      return send(res, 200, loginPage({ uid, clientName, loginHint: details.params.login_hint }));
    }
    if (details.prompt.name === 'consent') {
      return grantConsent(req, res, details);
    }
    return send(res, 501, page('Error', `<h1>Unsupported prompt ${esc(details.prompt.name)}</h1>`));
  }
  if (req.method === 'POST' && action === 'abort') {
    return provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
  }
  if (req.method === 'POST' && action === 'login') {
    assert.equal(details.prompt.name, 'login');
    const form = await readForm(req);
    const username = (form.get('login') || '').trim();
    const password = form.get('password') || '';
    const [accountId, user] = lookup(username);
    if (!user || !crypto.timingSafeEqual(
      crypto.createHash('sha256').update(password).digest(),
      crypto.createHash('sha256').update(user.password).digest(),
    )) {
      log(`login refused for ${JSON.stringify(username)}`);
      return send(res, 401, loginPage({ uid, clientName, username, error: 'Unknown user or wrong password.' }));
    }
    log(`login ok for ${accountId}`);
    return provider.interactionFinished(req, res, {
      login: { accountId, amr: ['pwd'] },
    }, { mergeWithLastSubmission: false });
  }
  return send(res, 405, page('Error', '<h1>Method not allowed</h1>'));
}

// ---------------------------------------------------------------------------------------
// HTTP server

const callback = provider.callback();
const server = http.createServer((req, res) => {
  const url = new URL(req.url, issuer);
  if (url.pathname === '/healthz') {
    res.end('ok\n');
    return;
  }
  if (url.pathname === '/__e2e/requests') { // test aid: see `requests` above
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(requests));
    return;
  }
  if (url.pathname.startsWith('/interaction/')) {
    interaction(req, res, url).catch((err) => {
      log(`interaction error: ${err.name}: ${err.message}`);
      if (res.headersSent) return res.end();
      const status = err instanceof errors.SessionNotFound ? 400 : (err.statusCode || err.status || 500);
      return send(res, status, page('Error', `<h1 id="op-error">${esc(err.name)}</h1><pre>${esc(err.message)}</pre>`));
    });
    return;
  }
  callback(req, res);
});

server.listen(port, host, () => {
  log(`client ${clientId} (${clientAuth}) redirect_uris=${redirectUris.join(' ')} post_logout_redirect_uris=${postLogoutRedirectUris.join(' ')}${postLogoutSameOrigin ? ' (+same origin)' : ''}`);
  process.stdout.write(`READY ${issuer}\n`);
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

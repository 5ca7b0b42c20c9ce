// CORS in a real browser: a page served by a tiny static server of its own origin
// (http://127.0.0.1:$DEV_SPA_PORT, same site as the gateway but another origin) calls the
// gateway's api route with fetch(), which the dev config gives
//   cors: { allow_origins: [http://127.0.0.1:<spa>, http://*.localhost:<spa>],
//           allow_headers: [Authorization, Content-Type], allow_credentials: true, ... }
// Chromium enforces CORS itself: a response without the right fields, or a refused
// preflight, makes fetch() reject with a TypeError the page's script cannot look behind.
// Registered by scenarios.mjs (`registerCors`), which owns the browser and the runner.

import * as http from 'node:http';
import { strict as assert } from 'node:assert';

const PAGE = '<!doctype html><html><head><meta charset="utf-8"><title>spa</title></head><body><p>spa</p></body></html>';

/** Serves PAGE on 127.0.0.1:port until closed. */
async function startSpa(port) {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(PAGE);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return server;
}

/** fetch() inside the page; a network/CORS failure comes back as { error: name }. */
async function crossFetch(page, url, init = {}) {
  return page.evaluate(async ([u, i]) => {
    try {
      const r = await fetch(u, i);
      const text = await r.text();
      let json;
      try { json = JSON.parse(text); } catch { json = undefined; }
      return {
        status: r.status, type: r.type, text, json,
        wwwAuthenticate: r.headers.get('www-authenticate'),
        requestId: r.headers.get('x-request-id'),
      };
    } catch (e) {
      return { error: e.name, message: String(e.message) };
    }
  }, [url, init]);
}

export function registerCors({ scenario, newContext, aliceSession, GW, env }) {
  const port = Number(env.DEV_SPA_PORT || 8082);
  const spa = `http://127.0.0.1:${port}`;
  const api = `${GW}/api/data`;

  scenario('k: CORS: a page on another origin reads the api route, its 401 JSON included; other origins cannot', async () => {
    const server = await startSpa(port);
    try {
      // 1. Without credentials: the gateway's own 401 is readable, challenge included.
      const anon = await newContext('spa-anonymous');
      await anon.page.goto(`${spa}/`);
      let r = await crossFetch(anon.page, api);
      assert.equal(r.error, undefined, `fetch from ${spa}: ${r.message}`);
      assert.equal(r.type, 'cors');
      assert.equal(r.status, 401, r.text);
      assert.equal(r.json?.error, 'unauthorized', r.text);
      assert.match(r.wwwAuthenticate || '', /^Bearer realm="api"/, 'WWW-Authenticate exposed on the denial');
      assert.ok(r.requestId, 'X-Request-Id exposed (expose_headers)');
      // 2. A preflighted call (Authorization): the gateway answers the preflight, the
      //    token is then refused, and the page reads why.
      r = await crossFetch(anon.page, api, { headers: { Authorization: 'Bearer not-a-token' } });
      assert.equal(r.error, undefined, `preflighted fetch: ${r.message}`);
      assert.equal(r.status, 401, r.text);
      assert.equal(r.json?.error, 'invalid_token', r.text);
      r = await crossFetch(anon.page, `${GW}/api/items`, {
        method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: '{"a":1}',
      });
      assert.equal(r.status, 401, `PUT with JSON: ${r.text}`);
      // 3. A header the route does not allow: the preflight is refused, fetch fails.
      r = await crossFetch(anon.page, api, { headers: { 'X-Not-Allowed': '1' } });
      assert.equal(r.error, 'TypeError', `disallowed header: ${JSON.stringify(r)}`);
      r = await crossFetch(anon.page, api, { method: 'DELETE' });
      assert.equal(r.error, 'TypeError', `disallowed method: ${JSON.stringify(r)}`);

      // 4. With credentials: alice's session cookie (same site, SameSite=Lax) goes along
      //    and the page reads her identity; without credentials it does not.
      const alice = await aliceSession();
      const page = await alice.context.newPage();
      await page.goto(`${spa}/`);
      r = await crossFetch(page, `${api}?who=1`, { credentials: 'include' });
      assert.equal(r.error, undefined, `credentialed fetch: ${r.message}`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json?.headers?.['x-auth-user']?.[0], 'alice', r.text);
      r = await crossFetch(page, api, { credentials: 'omit' });
      assert.equal(r.status, 401, `credentials: omit: ${r.text}`);
      await page.close();

      // 5. One-label pattern: http://spa.localhost:<port> is allowed…
      const pattern = await newContext('spa-pattern');
      await pattern.page.goto(`http://spa.localhost:${port}/`);
      r = await crossFetch(pattern.page, api);
      assert.equal(r.error, undefined, `spa.localhost: ${r.message}`);
      assert.equal(r.status, 401, r.text);
      // …the bare parent and a deeper name are not.
      for (const origin of [`http://localhost:${port}`, `http://a.b.localhost:${port}`]) {
        const other = await newContext(`spa-${origin}`);
        await other.page.goto(`${origin}/`);
        r = await crossFetch(other.page, api);
        assert.equal(r.error, 'TypeError', `${origin} must not read the api: ${JSON.stringify(r)}`);
        r = await crossFetch(other.page, api, { credentials: 'include', headers: { Authorization: 'Bearer x' } });
        assert.equal(r.error, 'TypeError', `${origin} preflighted: ${JSON.stringify(r)}`);
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
}

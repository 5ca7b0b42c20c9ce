// Several providers on one browser route, with two real OpenID providers at once: the dev
// provider (ISSUER: alice, bob, carol) and the partner provider (PARTNER_ISSUER, another
// oidc-provider instance with other users: dana, erin; started by run.sh). The dev config
// gives route both (/both/) `providers: [dev, partner]` with display names "Dev SSO" and
// "Partner ID" and the login_hint domains example.com and partner.example; route app (/)
// signs in with the dev provider only.
// Registered by scenarios.mjs (`registerChooser`), which owns the browser and the runner.

import { strict as assert } from 'node:assert';

const LABEL = 'Or sign in with your work e-mail address';

export function registerChooser({ scenario, newContext, GW, env, echoed, header }) {
  const issuer = (env.ISSUER || 'http://127.0.0.1:9000').replace(/\/$/, '');
  const partnerIssuer = (env.PARTNER_ISSUER || 'http://127.0.0.1:9001').replace(/\/$/, '');
  const dev = new URL(issuer).origin;
  const partner = new URL(partnerIssuer).origin;
  const gw = new URL(GW).origin;

  /** Waits for the login form of the provider at `origin`. */
  async function loginForm(page, origin) {
    try {
      await page.waitForURL((u) => new URL(u).origin === origin && new URL(u).pathname.startsWith('/interaction/'),
        { waitUntil: 'domcontentloaded' });
      await page.locator('#login-form').waitFor({ state: 'visible' });
    } catch (err) {
      const body = await page.locator('body').innerText({ timeout: 2000 }).catch(() => '');
      throw new Error(`expected the login form of ${origin}, the browser is at ${page.url()}:\n${body.slice(0, 600)}\n(${err.message.split('\n')[0]})`);
    }
  }

  /** On a login form: the password, submit, and back on `expectedUrl` at the gateway. */
  async function signIn(page, password, expectedUrl) {
    await page.fill('#password', password);
    const back = page.waitForResponse((r) => r.request().isNavigationRequest() && r.url() === expectedUrl);
    await page.click('#sign-in');
    assert.equal((await back).status(), 200, `back on ${expectedUrl}`);
    await page.waitForURL(expectedUrl, { waitUntil: 'load' });
  }

  const chooserShown = (trail) => trail.some((l) => l.startsWith(`GET ${gw}/oauth2/start`) && l.includes(' -> 200'));

  scenario('l: two providers: the chooser lists both, the user picks the partner, signs in there and reaches the app', async () => {
    const c = await newContext('chooser');
    const { page } = c;
    const refused = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) refused.push(m.text());
    });
    const target = `${GW}/both/page?q=1`;
    const response = await page.goto(target);
    assert.equal(response.status(), 200);
    assert.equal(new URL(page.url()).origin, gw, `the chooser is the gateway's page: ${page.url()}`);
    assert.equal(new URL(page.url()).pathname, '/oauth2/start');
    assert.equal(await page.title(), 'Sign in');
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    assert.match(response.headers()['content-security-policy'] || '', /default-src 'none'/);
    assert.deepEqual(await page.getByRole('list').getByRole('link').allInnerTexts(), ['Dev SSO', 'Partner ID']);
    assert.equal(await page.locator('script').count(), 0, 'no script on the page');
    assert.equal(await page.getByLabel(LABEL).count(), 1, 'the e-mail field has its label');

    // The page's own style applies (the CSP allows it by hash), in light and dark mode.
    const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(await background(), 'rgb(244, 245, 247)');
    await page.emulateMedia({ colorScheme: 'dark' });
    assert.equal(await background(), 'rgb(21, 23, 26)');
    await page.emulateMedia({ colorScheme: 'light' });

    // Keyboard users see where they are.
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const el = document.activeElement;
      const s = getComputedStyle(el);
      return { text: el.textContent, outline: `${s.outlineStyle} ${s.outlineWidth}` };
    });
    assert.deepEqual(focused, { text: 'Dev SSO', outline: 'solid 3px' });

    // Dana picks the partner and signs in there.
    await page.getByRole('link', { name: 'Partner ID' }).click();
    await loginForm(page, partner);
    assert.match(await page.locator('#provider-label').innerText(), /partner provider/);
    await page.fill('#username', 'dana');
    await signIn(page, 'dana', target);
    const echo = await echoed(page);
    assert.equal(echo.path, '/both/page');
    assert.equal(header(echo, 'x-auth-user'), 'dana');
    assert.equal(header(echo, 'x-auth-email'), 'dana@partner.example');
    const me = await page.evaluate(async () => (await fetch('/oauth2/userinfo', { headers: { Accept: 'application/json' } })).json());
    assert.equal(me.provider, 'partner', JSON.stringify(me));

    // Route app signs in with the dev provider only: the partner's session does not count
    // there, the browser is sent to the dev provider's login.
    await page.goto(`${GW}/hello`);
    await loginForm(page, dev);
    assert.deepEqual(refused, [], 'the CSP refused nothing the page uses');
  });

  scenario('m: a login_hint domain skips the chooser: on the navigation, and through the chooser\'s e-mail form', async () => {
    const c = await newContext('hint-partner');
    const target = `${GW}/both/hinted?login_hint=${encodeURIComponent('dana@partner.example')}`;
    await c.page.goto(target);
    await loginForm(c.page, partner);
    assert.equal(await c.page.inputValue('#username'), 'dana@partner.example', 'the hint reached the provider');
    assert.ok(!chooserShown(c.trail), `no chooser on the way:\n${c.trail.join('\n')}`);
    await signIn(c.page, 'dana', target);
    assert.equal(header(await echoed(c.page), 'x-auth-user'), 'dana');

    // The chooser's form: the address typed in picks the provider by its domain.
    const d = await newContext('hint-form');
    const page = `${GW}/both/form`;
    await d.page.goto(page);
    assert.ok(chooserShown(d.trail), `the chooser first:\n${d.trail.join('\n')}`);
    await d.page.getByLabel(LABEL).fill('erin@partner.example');
    await d.page.keyboard.press('Enter');
    await loginForm(d.page, partner);
    assert.equal(await d.page.inputValue('#username'), 'erin@partner.example');
    await signIn(d.page, 'erin', page);
    assert.equal(header(await echoed(d.page), 'x-auth-user'), 'erin');

    // And an example.com address goes to the dev provider.
    const e = await newContext('hint-dev');
    const devTarget = `${GW}/both/dev?login_hint=${encodeURIComponent('bob@example.com')}`;
    await e.page.goto(devTarget);
    await loginForm(e.page, dev);
    await signIn(e.page, 'bob', devTarget);
    assert.equal(header(await echoed(e.page), 'x-auth-user'), 'bob');
  });
}

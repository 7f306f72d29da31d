// The emulator's dashboard in real headless Chromium, through `entra up`: the one-time
// link `entra up` prints, the login form (admin token), screenshots at phone (390x844)
// and desktop (1440x900) widths into tests/interop/node/out/dashboard/ (git-ignored), no
// horizontal overflow at phone width, the rotate button, and the sign-in page's
// development user picker that `entra up` turns on.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';
import { DAEMON, DAEMON_SECRET, TENANT } from './emulator.mjs';
import { startStack } from './broker.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUT = join(dirname(fileURLToPath(import.meta.url)), 'out', 'dashboard');
const PUBLIC = 'c1000000-0000-4000-8000-0000000000c1';
const REDIRECT = 'http://localhost:53117';

// A request from the test process (trusting the emulator's CA): status and text.
function https(stack, method, path, { headers = {}, body } = {}) {
  const url = new URL(path, stack.authority);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method, headers, ca: readFileSync(stack.caFile), timeout: 20000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('timeout', () => req.destroy(new Error(`${path}: timeout`)));
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

// The one-time link `entra up` printed (bounded wait for the line).
async function printedLink(stack) {
  for (let i = 0; i < 100; i++) {
    const m = stack.log().match(/dashboard \(.*?\): (https:\/\/\S+\/dashboard\?once=\S+)/);
    if (m) return m[1];
    await sleep(100);
  }
  throw new Error(`entra up printed no dashboard link:\n${stack.log()}`);
}

const noOverflow = (page) => page.evaluate(() => ({
  scrollWidth: document.scrollingElement.scrollWidth,
  innerWidth: window.innerWidth,
}));

describe('the emulator dashboard in Chromium', () => {
  let stack;
  let browser;
  let token;

  before(async () => {
    mkdirSync(OUT, { recursive: true });
    stack = await startStack();
    // A token, so the token events have something to show.
    const form = new URLSearchParams({
      grant_type: 'client_credentials', client_id: DAEMON, client_secret: DAEMON_SECRET,
      scope: 'api://contoso-api/.default',
    }).toString();
    const r = await https(stack, 'POST', `/${TENANT}/oauth2/v2.0/token`, {
      headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form,
    });
    assert.equal(r.status, 200, r.text);
    token = JSON.parse(r.text).access_token;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      timeout: 30000,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--no-proxy-server',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        // A DNS-rebinding page: its own name resolves to this machine.
        '--host-resolver-rules=MAP attacker.example 127.0.0.1'],
    });
  });

  after(async () => {
    try { if (browser) await Promise.race([browser.close(), new Promise((r) => setTimeout(r, 10000))]); } catch { /* gone */ }
    if (stack) await stack.stop();
  });

  async function context(viewport) {
    // The emulator's CA is not in Chromium's store; the name (localhost) is its own.
    const ctx = await browser.newContext({ viewport, ignoreHTTPSErrors: true });
    ctx.setDefaultTimeout(20000);
    ctx.setDefaultNavigationTimeout(20000);
    return ctx;
  }

  test('desktop: the printed one-time link, the page, the rotate button', async () => {
    const link = await printedLink(stack);
    const ctx = await context({ width: 1440, height: 900 });
    try {
      const page = await ctx.newPage();
      // CSP violations show as console errors (the favicon's 404 is not one).
      const errors = [];
      page.on('console', (m) => { if (m.type() === 'error' && !/status of 404/.test(m.text())) errors.push(m.text()); });
      page.on('response', (r) => { if (r.status() === 404 && !r.url().endsWith('/favicon.ico')) errors.push(`404 ${r.url()}`); });
      await page.goto(link);
      assert.equal(new URL(page.url()).pathname, '/dashboard');
      assert.equal(new URL(page.url()).search, '', 'the one-time secret leaves the address bar');
      await page.locator('#keys').waitFor();
      const html = await page.content();
      assert.ok(!html.includes(token), 'no raw token in the page');
      assert.ok(!html.includes(DAEMON_SECRET), 'no client secret in the page');
      assert.ok(html.includes('api://contoso-api'));
      assert.equal(await page.locator('#token-list details').count() >= 1, true);
      assert.deepEqual(errors, [], 'no CSP or console errors');
      await page.screenshot({ path: join(OUT, 'desktop-1440.png'), fullPage: true });

      // Rotate: announce the next key.
      await page.locator('#rotate-announce').click();
      await page.locator('#flash').waitFor();
      assert.match(await page.locator('#flash').innerText(), /Announced key/);
      assert.equal(await page.locator('#key-table .tag.announced').count(), 1);
      assert.equal(await page.locator('#key-table .tag.signing').count(), 1);
      await page.screenshot({ path: join(OUT, 'desktop-1440-rotated.png') });

      // The link was used: a second visit gets the login page.
      const other = await ctx.browser().newContext({ ignoreHTTPSErrors: true });
      try {
        const p2 = await other.newPage();
        await p2.goto(link);
        assert.ok(await p2.locator('#token').isVisible(), 'the used link shows the login form');
      } finally { await other.close(); }
    } finally { await ctx.close(); }
  });

  test('phone: the login form, no horizontal overflow', async () => {
    const ctx = await context({ width: 390, height: 844 });
    try {
      const page = await ctx.newPage();
      await page.goto(`${stack.authority}/dashboard`);
      await page.locator('#token').fill('wrong-token');
      await page.locator('#sign-in').click();
      await page.locator('#error').waitFor();
      assert.match(await page.locator('#error').innerText(), /not this emulator/, await page.content());
      await page.locator('#token').fill(stack.ready.admin_token);
      await page.locator('#sign-in').click();
      await page.locator('#keys').waitFor();
      const { scrollWidth, innerWidth } = await noOverflow(page);
      assert.ok(scrollWidth <= innerWidth, `horizontal overflow at phone width: ${scrollWidth} > ${innerWidth}`);
      await page.screenshot({ path: join(OUT, 'phone-390.png'), fullPage: true });
      await page.screenshot({ path: join(OUT, 'phone-390-top.png') });
      await page.locator('#directory').screenshot({ path: join(OUT, 'phone-390-directory.png') });
      // The danger switch from the phone.
      await page.locator('#rotate-immediate').click();
      await page.locator('#flash').waitFor();
      assert.match(await page.locator('#flash').innerText(), /signs now/);
    } finally { await ctx.close(); }
  });

  test('a rebinding page gets neither the dashboard nor a session', async () => {
    const ctx = await context({ width: 1440, height: 900 });
    try {
      const page = await ctx.newPage();
      const port = new URL(stack.authority).port;
      const landing = await page.goto(`https://attacker.example:${port}/dashboard`);
      assert.equal(landing.status(), 403);
      // A page the emulator serves to anyone (no CSP), now at the rebound origin: its
      // requests are same-origin, and it holds the admin token (the worst case).
      const open = await page.goto(`https://attacker.example:${port}/${TENANT}/v2.0/.well-known/openid-configuration`);
      assert.equal(open.status(), 200);
      const r = await page.evaluate(async (token) => {
        const res = await fetch('/dashboard/login', {
          method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ token }).toString(), redirect: 'manual',
        });
        return { status: res.status, body: await res.text() };
      }, stack.ready.admin_token);
      assert.equal(r.status, 403, r.body);
      assert.match(r.body, /does not name this emulator/);
      assert.equal((await ctx.cookies()).length, 0, 'no cookie was set');
    } finally { await ctx.close(); }
  });

  test('sign-in page: the development users as one click', async () => {
    const ctx = await context({ width: 390, height: 844 });
    try {
      const page = await ctx.newPage();
      let redirected = null;
      await page.route(`${REDIRECT}/**`, (route) => { redirected = route.request().url(); route.fulfill({ status: 200, body: 'ok' }); });
      const q = new URLSearchParams({
        client_id: PUBLIC, response_type: 'code', redirect_uri: REDIRECT, scope: 'openid api://contoso-api/Data.Read',
        code_challenge: 'x'.repeat(43), code_challenge_method: 'S256',
      });
      await page.goto(`${stack.authority}/${TENANT}/oauth2/v2.0/authorize?${q}`);
      await page.locator('#pick-alice').waitFor();
      assert.ok(!(await page.content()).includes('alice-dev-password'), 'no password in the page');
      const { scrollWidth, innerWidth } = await noOverflow(page);
      assert.ok(scrollWidth <= innerWidth, `sign-in page overflows: ${scrollWidth} > ${innerWidth}`);
      await page.screenshot({ path: join(OUT, 'sign-in-picker-390.png'), fullPage: true });
      await page.locator('#pick-alice').click();
      for (let i = 0; i < 100 && !redirected; i++) {
        if (await page.locator('#accept').count()) await page.locator('#accept').click();
        await sleep(100);
      }
      assert.ok(redirected && new URL(redirected).searchParams.get('code'), `no code: ${redirected} ${page.url()}`);
    } finally { await ctx.close(); }
  });
});

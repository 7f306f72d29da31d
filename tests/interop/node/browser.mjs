// Drive the emulator's sign-in pages in headless Debian Chromium (playwright-core,
// never a downloaded browser) the way a person would.
//
// Usage: node browser.mjs '<json config>'
//   mode            "authcode" (default) | "device"
//   url             page to open first (auth_uri, or the device verification_uri)
//   username, password
//   redirect_prefix authcode: the redirect URI; the navigation to it is intercepted
//                   (no server needed) and reported
//   user_code       device: the code to type at the device-login page
//   consent         "accept" (default) | "cancel": what to press on consent/confirm pages
//   step_timeout_ms bound for every single wait (default 20000)
//   total_timeout_ms bound for the whole run (default 90000)
//   artifacts       directory for a screenshot + HTML dump on failure
//   proxy           optional HTTP proxy URL (the emulator's intercept proxy): Chromium
//                   then reaches Microsoft's real hostnames through it
//   trust_spki      optional base64 SHA-256 of a CA's SubjectPublicKeyInfo (the intercept
//                   CA): certificates chaining to that key are accepted, and, unlike the
//                   default run, no other certificate error is ignored
//
// Prints one JSON line: {ok, redirect, method, post_data, consent_seen, steps, ...}
// and exits 0 on success, 1 on failure, 2 on overall timeout. The browser is
// always closed and its profile directory removed.

import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const mode = cfg.mode ?? 'authcode';
const STEP = cfg.step_timeout_ms ?? 20000;
const TOTAL = cfg.total_timeout_ms ?? 90000;
const consent = cfg.consent ?? 'accept';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const result = { ok: false, mode, steps: [], consent_seen: false, consent_pages: 0 };
let context = null;
let page = null;
const profileDir = mkdtempSync(join(tmpdir(), 'entra-chromium-'));

let captured = null;
let onCaptured;
const capturedPromise = new Promise((r) => { onCaptured = r; });

function matchesRedirect(url) {
  return mode === 'authcode' && cfg.redirect_prefix && url.startsWith(cfg.redirect_prefix);
}

function capture(req) {
  if (captured) return;
  captured = { url: req.url(), method: req.method(), post_data: req.postData() ?? '' };
  onCaptured(captured);
}

async function cleanup() {
  try { if (context) await Promise.race([context.close(), new Promise((r) => setTimeout(r, 10000))]); } catch { /* ignore */ }
  try { rmSync(profileDir, { recursive: true, force: true }); } catch { /* ignore */ }
}

async function dumpFailure(err) {
  result.error = String(err && err.stack ? err.stack : err);
  if (!page) return;
  try { result.url = page.url(); } catch { /* ignore */ }
  try { result.page_text = (await page.locator('body').innerText({ timeout: 3000 })).slice(0, 2000); } catch { /* ignore */ }
  if (cfg.artifacts) {
    try {
      mkdirSync(cfg.artifacts, { recursive: true });
      await page.screenshot({ path: join(cfg.artifacts, 'failure.png'), timeout: 5000 });
      writeFileSync(join(cfg.artifacts, 'failure.html'), await page.content());
    } catch { /* ignore */ }
  }
}

const overall = setTimeout(async () => {
  await dumpFailure(new Error(`overall timeout ${TOTAL} ms`));
  console.log(JSON.stringify(result));
  await cleanup();
  process.exit(2);
}, TOTAL);

const UI = '#login, #passwd, #approve, #accept, #cancel, #otc, #done, #other';

async function visible(sel) {
  try { return await page.locator(sel).first().isVisible(); } catch { return false; }
}

// Click and wait for the resulting navigation (or for the redirect to be captured).
async function clickAndWait(sel, what) {
  result.steps.push({ action: what, url: page.url().split('?')[0] });
  const nav = page.waitForNavigation({ timeout: STEP, waitUntil: 'domcontentloaded' }).catch((e) => e);
  await page.locator(sel).first().click({ timeout: STEP });
  const r = await Promise.race([nav, capturedPromise]);
  if (r instanceof Error && !captured) {
    // A failed navigation is fine only when it was the redirect we wanted.
    if (!/ERR_|net::/.test(String(r))) throw new Error(`no navigation after ${what}: ${r}`);
  }
}

async function main() {
  const args = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ];
  if (cfg.trust_spki) args.push(`--ignore-certificate-errors-spki-list=${cfg.trust_spki}`);
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    ignoreHTTPSErrors: !cfg.trust_spki,
    timeout: 30000,
    ...(cfg.proxy ? { proxy: { server: cfg.proxy } } : {}),
    args,
  });
  context.setDefaultTimeout(STEP);
  context.setDefaultNavigationTimeout(STEP);
  // The redirect URI has no server: catch the request (also when it is the target
  // of a 302, which routes do not see) and answer it here when we can.
  context.on('request', (req) => { if (matchesRedirect(req.url())) capture(req); });
  await context.route((u) => matchesRedirect(u.href), async (route) => {
    capture(route.request());
    await route.fulfill({ status: 200, contentType: 'text/html', body: '<html><body><p id="captured">redirect captured</p></body></html>' });
  });
  page = context.pages()[0] ?? (await context.newPage());

  const first = page.goto(cfg.url, { timeout: STEP, waitUntil: 'domcontentloaded' }).catch((e) => e);
  const r0 = await Promise.race([first, capturedPromise]);
  if (r0 instanceof Error && !captured) throw new Error(`opening ${cfg.url}: ${r0}`);

  let finished = false;
  let lastAction = '';
  let repeats = 0;
  for (let i = 0; i < 15 && !captured && !finished; i++) {
    const what = await Promise.race([
      capturedPromise.then(() => 'captured'),
      page.locator(UI).filter({ visible: true }).first().waitFor({ state: 'visible', timeout: STEP })
        .then(() => 'ui', (e) => { if (captured) return 'captured'; throw e; }),
    ]);
    if (what === 'captured' || captured) break;

    let action;
    if (await visible('#done')) {
      result.steps.push({ action: 'done', url: page.url().split('?')[0] });
      result.done = true;
      finished = true;
      break;
    } else if (await visible('#otc')) {
      action = 'enter-code';
      await page.fill('#otc', cfg.user_code ?? '');
      await clickAndWait('#submit', action);
    } else if ((await visible('#login')) || (await visible('#passwd'))) {
      action = 'sign-in';
      if (await visible('#login')) await page.fill('#login', cfg.username ?? '');
      if (await visible('#passwd')) await page.fill('#passwd', cfg.password ?? '');
      await clickAndWait('#submit', action);
    } else if (await visible('#other')) {
      // Account picker (prompt=select_account): always sign in explicitly.
      action = 'use-another-account';
      await clickAndWait('#other', action);
    } else if (await visible('#approve')) {
      action = 'mfa-approve';
      await clickAndWait('#approve', action);
    } else if ((await visible('#accept')) || (await visible('#cancel'))) {
      result.consent_seen = true;
      result.consent_pages += 1;
      (result.consent_texts ??= []).push((await page.locator('body').innerText()).slice(0, 500));
      if (consent === 'cancel') {
        action = 'cancel';
        await clickAndWait('#cancel', action);
        if (mode === 'device') {
          result.done = await visible('#done');
          result.final_text = (await page.locator('body').innerText()).slice(0, 500);
          finished = true;
        }
      } else {
        action = 'accept';
        await clickAndWait('#accept', action);
      }
    } else {
      // The page changed between the wait and the checks: look again.
      await page.waitForTimeout(200);
      continue;
    }
    repeats = action === lastAction ? repeats + 1 : 0;
    lastAction = action;
    if (repeats >= 2) throw new Error(`stuck: "${action}" three times in a row`);
  }

  if (mode === 'authcode') {
    if (!captured) throw new Error('never reached the redirect URI');
    result.redirect = captured.url;
    result.method = captured.method;
    result.post_data = captured.post_data;
  } else if (!finished) {
    throw new Error('device flow never finished');
  } else if (result.done) {
    result.final_text ??= (await page.locator('body').innerText()).slice(0, 500);
  }
  result.ok = true;
}

let code = 0;
try {
  await main();
} catch (e) {
  await dumpFailure(e);
  code = 1;
}
clearTimeout(overall);
console.log(JSON.stringify(result));
await cleanup();
process.exit(code);

// A person at a browser, for code that opens one: `node signin_browser.mjs URL` opens URL
// in headless Debian Chromium (playwright-core, never a downloaded browser), signs in as a
// development user and follows the redirect wherever it goes (MSAL's loopback listener, a
// web app's callback), then reports where it ended. tests/interop/bin/headless-signin
// runs it as `$BROWSER`, which Python's webbrowser module (and so MSAL's
// acquire_token_interactive) calls with the URL.
//
// Only the environment configures it, as it does a real browser started by that code:
//   HTTPS_PROXY / https_proxy    --proxy-server (the emulator's proxy for Microsoft's hosts)
//   NO_PROXY / no_proxy          --proxy-bypass-list (the loopback redirect never goes
//                                through the proxy; Chromium also bypasses loopback itself)
//   SSL_CERT_FILE                the CAs to trust, imported into a fresh NSS database in a
//                                temporary HOME (certutil, Debian's libnss3-tools), which
//                                is where Chromium on Linux reads locally trusted roots.
//                                Certificate checks stay on: no --ignore-certificate-errors.
//   ENTRA_TEST_BROWSER_USER      the user: "alice" clicks the sign-in page's development
//                                user picker (button #pick-alice); with
//   ENTRA_TEST_BROWSER_PASSWORD  the name and password are typed instead (a full UPN then)
//   ENTRA_TEST_BROWSER_RESULT    a file the JSON result line is appended to (also stdout)
//   ENTRA_TEST_BROWSER_TIMEOUT_MS bound for the whole run (default 60000; each step 20000)
//
// Consent pages are accepted, MFA approved. Done when the browser has left the URL's
// origin (the redirect) and that page has loaded. The result names the final origin and
// path and the names of its query parameters, never their values (codes, tokens).
// Exit 0 on success, 1 on failure, 2 on the overall timeout; the browser is always
// closed and the temporary HOME and profile removed.

import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const url = process.argv[2] ?? '';
const env = process.env;
const STEP = 20000;
const TOTAL = Number(env.ENTRA_TEST_BROWSER_TIMEOUT_MS ?? 60000);
const CHROMIUM = env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const user = env.ENTRA_TEST_BROWSER_USER ?? '';
const password = env.ENTRA_TEST_BROWSER_PASSWORD;
const resultFile = env.ENTRA_TEST_BROWSER_RESULT;

const t0 = Date.now();
const result = { ok: false, steps: [] };
const home = mkdtempSync(join(tmpdir(), 'entra-signin-home-'));
let context = null;
let page = null;

function describe(u) {
  try {
    const p = new URL(u);
    return { origin: p.origin, path: p.pathname, params: [...p.searchParams.keys()] };
  } catch {
    return { origin: '', path: '', params: [] };
  }
}

function report(code) {
  const line = JSON.stringify(result);
  console.log(line);
  if (resultFile) {
    try { appendFileSync(resultFile, line + '\n'); } catch { /* stdout has it */ }
  }
  return code;
}

async function cleanup() {
  try { if (context) await Promise.race([context.close(), new Promise((r) => setTimeout(r, 10000))]); } catch { /* ignore */ }
  try { rmSync(home, { recursive: true, force: true }); } catch { /* ignore */ }
}

// The PEM certificates of `file`, each imported as a trusted CA ("C,,") into a new NSS
// database at HOME/.pki/nssdb: trust for this browser profile only, nothing global.
function trustCas(file) {
  const db = join(home, '.pki', 'nssdb');
  mkdirSync(db, { recursive: true });
  execFileSync('certutil', ['-N', '-d', `sql:${db}`, '--empty-password'], { stdio: 'pipe', timeout: 20000 });
  const pems = readFileSync(file, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (pems.length === 0) throw new Error(`no certificate in ${file}`);
  pems.forEach((pem, i) => {
    const one = join(home, `ca-${i}.pem`);
    writeFileSync(one, pem + '\n');
    execFileSync('certutil', ['-A', '-d', `sql:${db}`, '-n', `entrakit-local-${i}`, '-t', 'C,,', '-i', one],
      { stdio: 'pipe', timeout: 20000 });
  });
  result.trusted_cas = pems.length;
}

function chromiumArgs() {
  const args = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'];
  const proxy = env.HTTPS_PROXY ?? env.https_proxy;
  if (proxy) {
    args.push(`--proxy-server=${proxy}`);
    const bypass = (env.NO_PROXY ?? env.no_proxy ?? '').split(',').map((s) => s.trim()).filter(Boolean)
      .map((h) => (h.includes(':') && !h.startsWith('[') ? `[${h}]` : h));
    if (bypass.length) args.push(`--proxy-bypass-list=${bypass.join(';')}`);
  }
  return args;
}

async function visible(sel) {
  try { return await page.locator(sel).first().isVisible(); } catch { return false; }
}

async function click(sel, action) {
  result.steps.push({ action, path: describe(page.url()).path, ms: Date.now() - t0 });
  await Promise.all([
    page.waitForNavigation({ timeout: STEP, waitUntil: 'domcontentloaded' }),
    page.locator(sel).first().click({ timeout: STEP }),
  ]);
}

async function main() {
  const start = new URL(url); // throws on garbage
  if (env.SSL_CERT_FILE) trustCas(env.SSL_CERT_FILE);
  context = await chromium.launchPersistentContext(join(home, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30000,
    args: chromiumArgs(),
    env: { ...env, HOME: home },
  });
  context.setDefaultTimeout(STEP);
  context.setDefaultNavigationTimeout(STEP);
  page = context.pages()[0] ?? (await context.newPage());
  await page.goto(url, { waitUntil: 'domcontentloaded' });

  let last = '';
  let repeats = 0;
  for (let i = 0; i < 12; i++) {
    if (new URL(page.url()).origin !== start.origin) break;
    // A control to press, or the redirect (a 302, or form_post's self-submitting page).
    await Promise.race([
      page.locator('#login, #approve, #accept, #other, #error, #pick-' + (user || 'none'))
        .filter({ visible: true }).first().waitFor({ state: 'visible', timeout: STEP }),
      page.waitForURL((u) => u.origin !== start.origin, { timeout: STEP, waitUntil: 'commit' }),
    ]).catch(() => { /* neither in time: the checks below say what the page is */ });
    if (new URL(page.url()).origin !== start.origin) break;
    let action;
    if (password === undefined && user && (await visible(`#pick-${user}`))) {
      action = 'pick-user';
      await click(`#pick-${user}`, action);
    } else if (password !== undefined && (await visible('#login'))) {
      action = 'sign-in';
      await page.fill('#login', user);
      await page.fill('#passwd', password);
      await click('#submit', action);
    } else if (await visible('#other')) {
      action = 'use-another-account';
      await click('#other', action);
    } else if (await visible('#approve')) {
      action = 'mfa-approve';
      await click('#approve', action);
    } else if (await visible('#accept')) {
      action = 'accept';
      result.consent_seen = true;
      await click('#accept', action);
    } else if (await visible('#error')) {
      throw new Error(`the sign-in page shows an error: ${await page.locator('#error').first().innerText()}`);
    } else {
      const text = await page.locator('body').innerText().catch(() => '');
      throw new Error(`no known control on ${page.url().split('?')[0]}: ${text.slice(0, 500)}`);
    }
    repeats = action === last ? repeats + 1 : 0;
    last = action;
    if (repeats >= 2) throw new Error(`stuck: "${action}" three times in a row`);
  }
  if (new URL(page.url()).origin === start.origin) throw new Error('never left the sign-in pages');
  await page.waitForLoadState('domcontentloaded', { timeout: STEP });
  result.final = describe(page.url());
  result.final_text = (await page.locator('body').innerText().catch(() => '')).slice(0, 300);
  result.ok = true;
  result.ms = Date.now() - t0;
}

const overall = setTimeout(async () => {
  result.error = `overall timeout ${TOTAL} ms`;
  report(2);
  await cleanup();
  process.exit(2);
}, TOTAL);

let code = 0;
try {
  await main();
} catch (e) {
  result.error = String(e && e.message ? e.message : e).slice(0, 2000);
  try { if (page) result.at = describe(page.url()); } catch { /* ignore */ }
  code = 1;
}
clearTimeout(overall);
report(code);
await cleanup();
process.exit(code);

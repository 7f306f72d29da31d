// DNS rebinding in real headless Chromium: a web page must never get a token from the
// broker or the emulator of `entra up`.
//
// Chromium resolves attacker.example to 127.0.0.1 (--host-resolver-rules), which is what
// a rebinding attacker's DNS does after the page has loaded. Two attacks:
//
// - cross-origin: a page served by a small server here, http://attacker.example:PAGE/,
//   fetches the broker's and the emulator's token and admin routes. The browser sends a
//   CORS preflight (the requests carry Metadata / X-IDENTITY-HEADER / Authorization), or
//   the request itself (no-cors); the servers must refuse what reaches them: the
//   broker's audit log and the emulator's counters show each refusal.
// - same-origin (the real rebinding): the page's origin is the server's own,
//   http://attacker.example:BROKER/ and https://attacker.example:EMULATOR/, so its fetch
//   needs no preflight and could read the answer. Every attempt must be a 403 from the
//   server, naming why, with no token.
//
// The worst case is tested: the page holds the broker's caller secret, the emulator's
// IDENTITY_HEADER and admin token (a leak elsewhere), and the browser ignores the
// emulator's certificate mismatch for attacker.example. No token is issued to the
// browser at all (no `ok` audit line, no managed-identity event in that time), while
// @azure/identity and msal-node, run next, still get theirs.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { DAEMON, TENANT } from './emulator.mjs';
import { hostEnv, runBrokerClient, startStack } from './broker.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const RESOURCE = 'api://contoso-api';
const IMDS_PATH = `/metadata/identity/oauth2/token?api-version=2018-02-01&resource=${RESOURCE}`;
const APP_SERVICE_PATH = `/msi/token?resource=${RESOURCE}&api-version=2019-08-01`;

// Requests from the test process itself (trusting the emulator's CA).
function httpsJson(stack, path, headers = {}) {
  const url = new URL(path, stack.authority);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { headers, ca: readFileSync(stack.caFile), timeout: 20000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => { try { resolve(JSON.parse(body)); } catch (e) { reject(new Error(`${path}: ${body}`)); } });
    });
    req.on('timeout', () => req.destroy(new Error(`${path}: timeout`)));
    req.on('error', reject);
    req.end();
  });
}

function auditLines(stack) {
  let text = '';
  try { text = readFileSync(join(stack.stateDir, 'broker-audit.jsonl'), 'utf8'); } catch { /* not yet */ }
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

// Audit lines are written by a thread that polls every few ms: wait (bounded) for `n`.
async function auditWhen(stack, pred, n) {
  let lines = [];
  for (let i = 0; i < 100; i++) {
    lines = auditLines(stack);
    if (lines.filter(pred).length >= n) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return lines;
}

// In the page: each attempt's status and body, or the error the browser reported.
async function attempts(page, list) {
  return page.evaluate(async (list) => {
    const out = [];
    for (const a of list) {
      try {
        const r = await fetch(a.url, { method: a.method ?? 'GET', headers: a.headers ?? {}, body: a.body, mode: a.mode ?? 'cors', credentials: 'omit', cache: 'no-store' });
        out.push({ name: a.name, status: r.status, type: r.type, body: await r.text() });
      } catch (e) {
        out.push({ name: a.name, error: String(e) });
      }
    }
    return out;
  }, list);
}

function assertNoToken(results) {
  for (const r of results) {
    assert.ok(!(r.status >= 200 && r.status < 300), `${r.name}: the page read a success: ${JSON.stringify(r)}`);
    assert.doesNotMatch(r.body ?? '', /access_token|eyJ[A-Za-z0-9_-]{10,}/, `${r.name}: a token reached the page`);
  }
}

describe('DNS rebinding: web pages get no token (headless Chromium)', () => {
  let stack;
  let browser;
  let context;
  let server;
  let pagePort;
  let b; // broker: { port, secret }
  let e; // emulator: { port, identityHeader, admin }

  before(async () => {
    stack = await startStack();
    b = { port: new URL(stack.broker.imds_endpoint).port, secret: stack.broker.identity_header };
    e = { port: new URL(stack.authority).port, identityHeader: stack.ready.identity_header, admin: stack.ready.admin_token };
    server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><title>a page on the web</title><p>nothing to see</p>');
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    pagePort = server.address().port;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      timeout: 30000,
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--no-proxy-server', '--host-resolver-rules=MAP attacker.example 127.0.0.1',
      ],
    });
    context = await browser.newContext({ ignoreHTTPSErrors: true });
    context.setDefaultTimeout(20000);
    context.setDefaultNavigationTimeout(20000);
  });

  after(async () => {
    try { if (browser) await Promise.race([browser.close(), new Promise((r) => setTimeout(r, 10000))]); } catch { /* gone */ }
    if (server) await new Promise((r) => server.close(r));
    if (stack) await stack.stop();
  });

  test('cross-origin: the servers refuse what the page sends them', async () => {
    const okBefore = auditLines(stack).filter((l) => l.outcome === 'ok').length;
    const refusedBefore = auditLines(stack).filter((l) => l.status === 403).length;
    const countersBefore = await httpsJson(stack, '/admin/counters', { authorization: `Bearer ${e.admin}` });
    const page = await context.newPage();
    await page.goto(`http://attacker.example:${pagePort}/`);
    const brokerAt = (host) => `http://${host}:${b.port}`;
    const emulatorAt = (host) => `https://${host}:${e.port}`;
    const form = `resource=${encodeURIComponent(RESOURCE)}`;
    const formType = { 'content-type': 'application/x-www-form-urlencoded' };
    const brokerAttempts = [
      { name: 'broker IMDS, rebound name', url: brokerAt('attacker.example') + IMDS_PATH, headers: { Metadata: 'true' } },
      { name: 'broker IMDS, 127.0.0.1', url: brokerAt('127.0.0.1') + IMDS_PATH, headers: { Metadata: 'true' } },
      { name: 'broker Cloud Shell, no-cors', url: `${brokerAt('attacker.example')}/oauth2/token`, method: 'POST', headers: formType, body: form, mode: 'no-cors' },
      { name: 'broker Cloud Shell, 127.0.0.1', url: `${brokerAt('127.0.0.1')}/oauth2/token`, method: 'POST', headers: { ...formType, Metadata: 'true' }, body: form },
      { name: 'broker App Service', url: brokerAt('attacker.example') + APP_SERVICE_PATH, headers: { 'X-IDENTITY-HEADER': b.secret } },
    ];
    const emulatorAttempts = [
      { name: 'emulator IMDS, localhost', url: emulatorAt('localhost') + IMDS_PATH, headers: { Metadata: 'true' } },
      { name: 'emulator IMDS, rebound name', url: emulatorAt('attacker.example') + IMDS_PATH, headers: { Metadata: 'true' } },
      { name: 'emulator App Service', url: emulatorAt('localhost') + APP_SERVICE_PATH, headers: { 'X-IDENTITY-HEADER': e.identityHeader } },
      { name: 'emulator admin', url: `${emulatorAt('localhost')}/admin/directory`, headers: { authorization: `Bearer ${e.admin}` } },
    ];
    const results = await attempts(page, [...brokerAttempts, ...emulatorAttempts]);
    await page.close();
    assertNoToken(results);
    for (const r of results) {
      // The browser reports a network error (failed preflight) or an opaque answer.
      assert.ok(r.error || r.type === 'opaque', `${r.name}: ${JSON.stringify(r)}`);
    }
    // Each attempt reached the server and was refused there: one audit line per broker
    // attempt (the preflight, or the no-cors POST), one counter per emulator attempt.
    const lines = await auditWhen(stack, (l) => l.status === 403, refusedBefore + brokerAttempts.length);
    const refused = lines.filter((l) => l.status === 403).slice(refusedBefore);
    assert.equal(refused.length, brokerAttempts.length, JSON.stringify(refused));
    for (const l of refused) {
      assert.equal(l.outcome, 'denied');
      assert.match(l.reason, /web browser|does not name this broker/, l.reason);
    }
    assert.equal(lines.filter((l) => l.outcome === 'ok').length, okBefore, 'no token was issued meanwhile');
    const counters = await httpsJson(stack, '/admin/counters', { authorization: `Bearer ${e.admin}` });
    const refusedOf = (c) => (c['refused:browser'] ?? 0) + (c['refused:host'] ?? 0);
    assert.equal(refusedOf(counters) - refusedOf(countersBefore), emulatorAttempts.length, JSON.stringify(counters));
  });

  test('same-origin (rebound to the broker): every route answers 403, no token', async () => {
    const okBefore = auditLines(stack).filter((l) => l.outcome === 'ok').length;
    const page = await context.newPage();
    // The page's origin is the broker's own: its requests need no preflight.
    const landing = await page.goto(`http://attacker.example:${b.port}/healthz`);
    assert.equal(new URL(page.url()).origin, `http://attacker.example:${b.port}`);
    const form = `resource=${encodeURIComponent(RESOURCE)}`;
    const results = await attempts(page, [
      { name: 'IMDS', url: IMDS_PATH, headers: { Metadata: 'true' } },
      { name: 'IMDS, trailing slash', url: IMDS_PATH.replace('token?', 'token/?'), headers: { Metadata: 'true' } },
      { name: 'App Service', url: APP_SERVICE_PATH, headers: { 'X-IDENTITY-HEADER': b.secret } },
      { name: 'App Service 2017', url: `/msi/token?resource=${RESOURCE}&api-version=2017-09-01`, headers: { secret: b.secret } },
      { name: 'Cloud Shell', url: '/oauth2/token', method: 'POST', headers: { Metadata: 'true', 'content-type': 'application/x-www-form-urlencoded' }, body: form },
      { name: 'native', url: '/api/v1/token', method: 'POST', headers: { authorization: `Bearer ${b.secret}`, 'content-type': 'application/json' }, body: JSON.stringify({ scopes: [`${RESOURCE}/.default`] }) },
      { name: 'identities', url: '/api/v1/identities', headers: { authorization: `Bearer ${b.secret}` } },
      { name: 'metrics', url: '/metrics' },
      { name: 'readyz', url: '/readyz' },
      { name: 'admin', url: '/admin/tokens' },
    ]);
    await page.close();
    assertNoToken(results);
    assert.equal(landing.status(), 403, 'even the landing page is refused');
    for (const r of results) {
      assert.equal(r.status, 403, `${r.name}: ${JSON.stringify(r)}`);
      const body = JSON.parse(r.body);
      assert.equal(body.error, 'forbidden', r.body);
      // The Host names the rebound name (a POST also carries Origin, which IMDS and Cloud
      // Shell refuse first).
      assert.match(body.error_description, new RegExp(`Host "attacker\\.example:${b.port}" does not name this broker|web browser \\(Origin header\\)`), r.body);
    }
    const lines = await auditWhen(stack, () => true, 0);
    assert.equal(lines.filter((l) => l.outcome === 'ok').length, okBefore, 'no token was issued to the page');
  });

  test('same-origin (rebound to the emulator): managed identity and admin answer 403', async () => {
    const eventsBefore = await httpsJson(stack, '/admin/events', { authorization: `Bearer ${e.admin}` });
    const page = await context.newPage();
    // A page the emulator serves to anyone (discovery), now at the rebound origin.
    const landing = await page.goto(`https://attacker.example:${e.port}/${TENANT}/v2.0/.well-known/openid-configuration`);
    assert.equal(landing.status(), 200);
    const results = await attempts(page, [
      { name: 'discovery (not guarded: proves the page reaches the emulator)', url: `/${TENANT}/v2.0/.well-known/openid-configuration` },
      { name: 'IMDS', url: IMDS_PATH, headers: { Metadata: 'true' } },
      { name: 'IMDS, trailing slash', url: IMDS_PATH.replace('token?', 'token/?'), headers: { Metadata: 'true' } },
      { name: 'App Service', url: APP_SERVICE_PATH, headers: { 'X-IDENTITY-HEADER': e.identityHeader } },
      { name: 'admin directory', url: '/admin/directory', headers: { authorization: `Bearer ${e.admin}` } },
      { name: 'admin key rotation', url: '/admin/keys/rotate', method: 'POST', headers: { authorization: `Bearer ${e.admin}` } },
    ]);
    await page.close();
    const [discovery, ...guarded] = results;
    assert.equal(discovery.status, 200, JSON.stringify(discovery));
    assertNoToken(guarded);
    for (const r of guarded) {
      assert.equal(r.status, 403, `${r.name}: ${JSON.stringify(r)}`);
      // Chromium sends Sec-Fetch-* to an HTTPS origin; the Host names attacker.example.
      assert.match(r.body, /web browser|does not name this emulator/, r.body);
    }
    const eventsAfter = await httpsJson(stack, '/admin/events', { authorization: `Bearer ${e.admin}` });
    const mi = (ev) => JSON.stringify(ev).split('"managed_identity"').length - 1;
    assert.equal(mi(eventsAfter), mi(eventsBefore), 'no managed-identity token was issued to the page');
  });

  test('the same requests from @azure/identity and msal-node still get tokens', () => {
    const check = (out, what, app = DAEMON) => {
      assert.ok(out.token && out.claims && !out.error, `${what}: ${JSON.stringify(out)}\nentra up output:\n${stack.log()}`);
      assert.equal(out.claims.ver === '2.0' ? out.claims.azp : out.claims.appid, app, what);
    };
    check(runBrokerClient(stack, 'identity', hostEnv(stack, 'imds')), '@azure/identity, broker IMDS');
    check(runBrokerClient(stack, 'identity', hostEnv(stack, 'app-service')), '@azure/identity, broker App Service');
    check(runBrokerClient(stack, 'identity', hostEnv(stack, 'cloud-shell')), '@azure/identity, broker Cloud Shell');
    check(runBrokerClient(stack, 'msal-node', hostEnv(stack, 'imds')), 'msal-node, broker IMDS');
    // The emulator's own App Service endpoint, as the emulator's first managed identity.
    check(runBrokerClient(stack, 'identity', {
      IDENTITY_ENDPOINT: stack.ready.identity_endpoint, IDENTITY_HEADER: stack.ready.identity_header,
    }), '@azure/identity, emulator App Service', 'b0000000-0000-4000-8000-0000000000b1');
  });
});

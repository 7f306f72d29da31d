// Client credentials through @azure/msal-node and @azure/identity against the
// emulator; each token is verified with jose (signature via the remote JWKS,
// issuer, audience) in the client process, and its claims are checked here.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { API_APP, DAEMON, TENANT, runClient, startEmulator } from './emulator.mjs';

describe('client credentials (Node clients)', () => {
  let emu;
  before(async () => { emu = await startEmulator(); });
  after(async () => { if (emu) await emu.stop(); });

  function checkAppToken(out, azpacr) {
    const c = out.claims;
    assert.equal(out.header.alg, 'RS256');
    assert.ok(out.header.kid, 'kid in header');
    assert.equal(c.iss, `${emu.ready.authority}/${TENANT}/v2.0`);
    assert.equal(out.discovery_issuer, `${emu.ready.authority}/${TENANT}/v2.0`);
    assert.equal(c.aud, API_APP);
    assert.equal(c.ver, '2.0');
    assert.equal(c.tid, TENANT);
    assert.equal(c.azp, DAEMON);
    assert.equal(c.azpacr, azpacr);
    assert.equal(c.idtyp, 'app');
    assert.ok(Array.isArray(c.roles) && c.roles.includes('Data.Read.All'), `roles: ${JSON.stringify(c.roles)}`);
    assert.equal(c.scp, undefined);
    assert.ok(c.exp > c.iat);
  }

  test('msal-node with a client secret', () => {
    const out = runClient(emu, 'msal-secret');
    checkAppToken(out, '1');
    assert.equal(out.fromCache, false);
    assert.equal(out.secondFromCache, true, 'msal-node caches the token (expires_in present)');
    assert.equal(out.sameToken, true);
  });

  test('msal-node with a certificate (thumbprintSha256, PS256)', () => {
    checkAppToken(runClient(emu, 'msal-cert'), '2');
  });

  test('msal-node with a certificate and x5c', () => {
    checkAppToken(runClient(emu, 'msal-cert-x5c'), '2');
  });

  test('msal-node with a certificate (SHA-1 thumbprint, RS256)', () => {
    checkAppToken(runClient(emu, 'msal-cert-sha1'), '2');
  });

  test('@azure/identity ClientSecretCredential', () => {
    const out = runClient(emu, 'identity-secret');
    checkAppToken(out, '1');
    assert.ok(out.expiresOnTimestamp > Date.now());
  });

  test('@azure/identity ClientCertificateCredential', () => {
    checkAppToken(runClient(emu, 'identity-cert'), '2');
  });

  test('@azure/identity ClientCertificateCredential with sendCertificateChain', () => {
    checkAppToken(runClient(emu, 'identity-cert-chain'), '2');
  });

  test('msal-node asks with a claims challenge and gets the authentication context', () => {
    // Not client credentials, but the same client library and emulator: alice's token
    // carries the capability msal-node declared, and the one asked for with the claims
    // of an API's challenge (acrs c1) carries the context too.
    const out = runClient(emu, 'msal-claims');
    assert.deepEqual(out.first_claims.xms_cc, ['cp1'], JSON.stringify(out.first_claims));
    assert.equal(out.first_claims.acrs, undefined);
    assert.deepEqual(out.claims.acrs, ['c1'], JSON.stringify(out.claims));
    assert.deepEqual(out.claims.xms_cc, ['cp1']);
    assert.equal(out.claims.preferred_username, 'alice@contoso.onmicrosoft.com');
  });

  test('msal-node sees invalid_client for a wrong secret', () => {
    const out = runClient(emu, 'msal-wrong-secret');
    assert.equal(out.error, 'invalid_client', JSON.stringify(out));
    assert.match(out.message, /AADSTS7000215/);
  });
});

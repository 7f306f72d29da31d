// entra-validate (through `entra validate`) against an OIDC issuer that is not ours:
// oauth2-mock-server, a third-party Node implementation, serving discovery and JWKS over
// HTTPS (with the emulator's localhost certificate, the emulator being started only for
// it). Its tokens are accepted with `--issuer`; a wrong audience, a key that is not in
// its JWKS, an expired token and a missing scope are refused with their reasons, and a
// discovery document that names another issuer than the configured one is not used.
// The same server signing with EC (P-256, P-384), Ed25519 and RSA-PSS keys: accepted
// only when `--alg` allows the algorithm, and only with a key of its type.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { OAuth2Server } from 'oauth2-mock-server';
import { ENTRA_BIN, REPO, startEmulator } from './emulator.mjs';

const AUDIENCE = 'api://foreign-api';

const claims = (extra = {}) => (_header, payload) => {
  Object.assign(payload, { aud: AUDIENCE, sub: 'user-1', scp: 'Data.Read' }, extra);
};

// `entra validate TOKEN --issuer ISS` with the emulator's CA. Asynchronously: the issuer
// answers from this very process, so blocking it (spawnSync) would leave `entra` waiting
// for discovery until its timeout.
function runValidate(emu, iss, token, ...extra) {
  return new Promise((done) => {
    const env = { ...process.env, NO_PROXY: '127.0.0.1,localhost' };
    for (const k of Object.keys(env)) if (/^(AZURE_|ENTRA_|HTTPS?_PROXY|https?_proxy)/.test(k)) delete env[k];
    execFile(ENTRA_BIN, [
      'validate', token, '--issuer', iss, '--audience', AUDIENCE,
      '--ca-file', emu.ready.ca_file, ...extra,
    ], { cwd: REPO, encoding: 'utf8', timeout: 30000, env }, (error, stdout, stderr) => {
      let verdict = null;
      try { verdict = JSON.parse(stdout); } catch { /* reported by the assertions */ }
      done({ status: error ? error.code : 0, verdict, out: `${stdout}\n${stderr}` });
    });
  });
}

test('entra validate checks a third-party issuer\'s tokens through its discovery and JWKS', { timeout: 120000 }, async (t) => {
  const emu = await startEmulator();
  t.after(() => emu.stop());
  const server = new OAuth2Server(join(emu.stateDir, 'tls-key.pem'), join(emu.stateDir, 'tls-cert.pem'));
  await server.issuer.keys.generate('RS256');
  await server.start(0, '127.0.0.1');
  t.after(() => server.stop());
  const issuer = server.issuer.url;
  assert.match(issuer, /^https:\/\/(localhost|127\.0\.0\.1):\d+$/);

  const validate = (token, ...extra) => validateAt(issuer, token, ...extra);
  const validateAt = (iss, token, ...extra) => runValidate(emu, iss, token, ...extra);

  // A token of the issuer: valid, with its subject and scope.
  const good = await server.issuer.buildToken({ scopesOrTransform: claims() });
  let r = await validate(good, '--scope', 'Data.Read');
  assert.equal(r.status, 0, r.out);
  assert.equal(r.verdict.valid, true, r.out);
  assert.equal(r.verdict.principal.sub, 'user-1', r.out);
  assert.deepEqual(r.verdict.principal.scopes, ['Data.Read'], r.out);
  assert.ok(!r.out.includes(good), 'the token is never printed');

  // Wrong audience.
  const otherAud = await server.issuer.buildToken({ scopesOrTransform: claims({ aud: 'api://someone-else' }) });
  r = await validate(otherAud);
  assert.equal(r.status, 1, r.out);
  assert.equal(r.verdict.valid, false);
  assert.match(JSON.stringify(r.verdict), /audience/i);

  // The same issuer name, but signed with a key its JWKS does not have.
  const impostor = new OAuth2Server();
  await impostor.issuer.keys.generate('RS256');
  impostor.issuer.url = issuer;
  const forged = await impostor.issuer.buildToken({ scopesOrTransform: claims() });
  r = await validate(forged);
  assert.equal(r.status, 1, r.out);
  assert.equal(r.verdict.valid, false);

  // Expired (beyond the 5 minutes of skew), and a scope it does not carry.
  const expired = await server.issuer.buildToken({
    scopesOrTransform: claims({ exp: Math.floor(Date.now() / 1000) - 3600, nbf: Math.floor(Date.now() / 1000) - 7200 }),
  });
  r = await validate(expired);
  assert.equal(r.status, 1, r.out);
  assert.match(JSON.stringify(r.verdict), /expired/i);
  r = await validate(good, '--scope', 'Data.Write');
  assert.equal(r.status, 1, r.out);
  assert.match(JSON.stringify(r.verdict), /Data\.Write/);

  // The same server under another name for the same address: its discovery document
  // names "localhost", so configured as 127.0.0.1 its keys are not used (OIDC
  // Discovery 1.0 section 4.3), though the token's own iss is not even looked at yet.
  const port = new URL(issuer).port;
  const alias = issuer.includes('localhost') ? `https://127.0.0.1:${port}` : `https://localhost:${port}`;
  r = await validateAt(alias, good);
  assert.equal(r.status, 1, r.out);
  assert.equal(r.verdict.code, 'keys_unavailable', r.out);
  assert.match(r.verdict.reason, /section 4\.3/, r.out);
});

test('entra validate takes a third-party issuer\'s EC, Ed25519 and PSS tokens only with --alg', { timeout: 120000 }, async (t) => {
  const emu = await startEmulator();
  t.after(() => emu.stop());
  const server = new OAuth2Server(join(emu.stateDir, 'tls-key.pem'), join(emu.stateDir, 'tls-cert.pem'));
  const rsa = await server.issuer.keys.generate('RS256');
  const keys = {};
  for (const alg of ['ES256', 'ES384', 'EdDSA', 'PS384']) keys[alg] = await server.issuer.keys.generate(alg);
  await server.start(0, '127.0.0.1');
  t.after(() => server.stop());
  const issuer = server.issuer.url;
  const validate = (token, ...extra) => runValidate(emu, issuer, token, ...extra);

  for (const [alg, key] of Object.entries(keys)) {
    const token = await server.issuer.buildToken({ kid: key.kid, scopesOrTransform: claims() });
    assert.equal(JSON.parse(Buffer.from(token.split('.')[0], 'base64url')).alg, alg);
    // Entra's RS256 is the default: anything else needs saying.
    let r = await validate(token);
    assert.equal(r.status, 1, r.out);
    assert.equal(r.verdict.code, 'alg_not_allowed', r.out);
    r = await validate(token, '--alg', alg, '--scope', 'Data.Read');
    assert.equal(r.status, 0, `${alg}: ${r.out}`);
    assert.equal(r.verdict.valid, true, r.out);
    assert.equal(r.verdict.principal.sub, 'user-1', r.out);
  }
  // The RSA key's tokens still pass beside them, with both algorithms allowed.
  const rs = await server.issuer.buildToken({ kid: rsa.kid, scopesOrTransform: claims() });
  let r = await validate(rs, '--alg', 'RS256', '--alg', 'ES256');
  assert.equal(r.status, 0, r.out);

  // Signed by the P-256 key but naming the RSA key: refused for the key's type, before
  // any signature check.
  const swap = (token) => { token.header.kid = rsa.kid; };
  server.issuer.once('beforeSigning', swap);
  const confused = await server.issuer.buildToken({ kid: keys.ES256.kid, scopesOrTransform: claims() });
  r = await validate(confused, '--alg', 'ES256');
  assert.equal(r.status, 1, r.out);
  assert.equal(r.verdict.code, 'key_mismatch', r.out);

  // An unknown algorithm name is a usage error.
  r = await validate(rs, '--alg', 'ES256K');
  assert.equal(r.status, 2, r.out);
  assert.match(r.out, /not a JWS algorithm/, r.out);
});

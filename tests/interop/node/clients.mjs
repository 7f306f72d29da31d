// One client scenario per run, in a process started with NODE_EXTRA_CA_CERTS set
// to the emulator's CA (see emulator.mjs). Acquires a token with a real Microsoft
// client, verifies it with jose against the emulator's JWKS, prints
// `RESULT {"header":..., "claims":..., ...}`.
//
// Usage: ENTRA_AUTHORITY=https://localhost:PORT ENTRA_STATE_DIR=... node clients.mjs <scenario>

import { ConfidentialClientApplication, PublicClientApplication } from '@azure/msal-node';
import { ClientCertificateCredential, ClientSecretCredential } from '@azure/identity';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const TENANT = 'c0ffee00-0000-4000-8000-000000000001';
const API_APP = 'a0000000-0000-4000-8000-0000000000a1';
const SCOPE = 'api://contoso-api/.default';
const DAEMON = 'd0000000-0000-4000-8000-0000000000d1';
const DAEMON_SECRET = 'daemon-dev-secret';
const PUBLIC_CLIENT = 'c1000000-0000-4000-8000-0000000000c1';
const ALICE = 'alice@contoso.onmicrosoft.com';
const ALICE_PASSWORD = 'alice-dev-password';

const authority = process.env.ENTRA_AUTHORITY.replace(/\/+$/, '');
const stateDir = process.env.ENTRA_STATE_DIR;
const host = new URL(authority).host; // localhost:PORT
const pemPath = join(stateDir, 'daemon.pem');

function certParts() {
  const pem = readFileSync(pemPath, 'utf8');
  const certPem = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)[0];
  const keyPem = pem.match(/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+?-----END [A-Z ]*PRIVATE KEY-----/)[0];
  const x509 = new X509Certificate(certPem);
  return {
    certPem,
    privateKey: createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'pem' }).toString(),
    thumbprintSha256: x509.fingerprint256.replace(/:/g, '').toLowerCase(),
    thumbprint: x509.fingerprint.replace(/:/g, '').toLowerCase(),
  };
}

function msalApp(auth) {
  return new ConfidentialClientApplication({
    auth: {
      clientId: DAEMON,
      authority: `${authority}/${TENANT}`,
      knownAuthorities: [host],
      ...auth,
    },
  });
}

async function verify(token) {
  const disc = await (await fetch(`${authority}/${TENANT}/v2.0/.well-known/openid-configuration`)).json();
  const JWKS = createRemoteJWKSet(new URL(disc.jwks_uri), { timeoutDuration: 20000 });
  const { payload, protectedHeader } = await jwtVerify(token, JWKS, {
    issuer: `${authority}/${TENANT}/v2.0`,
    audience: API_APP,
    algorithms: ['RS256'],
    requiredClaims: ['exp', 'iat', 'iss', 'aud', 'tid', 'ver'],
  });
  return { header: protectedHeader, claims: payload, discovery_issuer: disc.issuer };
}

const scenarios = {
  async 'msal-secret'() {
    const app = msalApp({ clientSecret: DAEMON_SECRET });
    const r = await app.acquireTokenByClientCredential({ scopes: [SCOPE] });
    const again = await app.acquireTokenByClientCredential({ scopes: [SCOPE] });
    return { token: r.accessToken, fromCache: r.fromCache, secondFromCache: again.fromCache, sameToken: again.accessToken === r.accessToken };
  },
  async 'msal-cert'() {
    const { privateKey, thumbprintSha256 } = certParts();
    const app = msalApp({ clientCertificate: { thumbprintSha256, privateKey } });
    const r = await app.acquireTokenByClientCredential({ scopes: [SCOPE] });
    return { token: r.accessToken };
  },
  async 'msal-cert-x5c'() {
    const { privateKey, thumbprintSha256, certPem } = certParts();
    const app = msalApp({ clientCertificate: { thumbprintSha256, privateKey, x5c: certPem } });
    const r = await app.acquireTokenByClientCredential({ scopes: [SCOPE] });
    return { token: r.accessToken };
  },
  async 'msal-cert-sha1'() {
    const { privateKey, thumbprint } = certParts();
    const app = msalApp({ clientCertificate: { thumbprint, privateKey } });
    const r = await app.acquireTokenByClientCredential({ scopes: [SCOPE] });
    return { token: r.accessToken };
  },
  async 'identity-secret'() {
    const cred = new ClientSecretCredential(TENANT, DAEMON, DAEMON_SECRET, {
      authorityHost: authority, disableInstanceDiscovery: true,
    });
    const t = await cred.getToken(SCOPE);
    return { token: t.token, expiresOnTimestamp: t.expiresOnTimestamp };
  },
  async 'identity-cert'() {
    const cred = new ClientCertificateCredential(TENANT, DAEMON, { certificatePath: pemPath }, {
      authorityHost: authority, disableInstanceDiscovery: true,
    });
    const t = await cred.getToken(SCOPE);
    return { token: t.token, expiresOnTimestamp: t.expiresOnTimestamp };
  },
  async 'identity-cert-chain'() {
    const cred = new ClientCertificateCredential(TENANT, DAEMON,
      { certificate: readFileSync(pemPath, 'utf8') },
      { authorityHost: authority, disableInstanceDiscovery: true, sendCertificateChain: true });
    const t = await cred.getToken(SCOPE);
    return { token: t.token, expiresOnTimestamp: t.expiresOnTimestamp };
  },
  // A Conditional Access authentication context: alice's token, then one asked for with
  // the claims an API's challenge carries; msal-node merges its client capabilities in.
  async 'msal-claims'() {
    const app = new PublicClientApplication({
      auth: {
        clientId: PUBLIC_CLIENT,
        authority: `${authority}/${TENANT}`,
        knownAuthorities: [host],
        clientCapabilities: ['cp1'],
      },
    });
    const request = { scopes: ['api://contoso-api/Data.Read'], username: ALICE, password: ALICE_PASSWORD };
    const first = await app.acquireTokenByUsernamePassword(request);
    const claims = JSON.stringify({ access_token: { acrs: { essential: true, value: 'c1' } } });
    const second = await app.acquireTokenByUsernamePassword({ ...request, claims });
    const payload = (t) => JSON.parse(Buffer.from(t.split('.')[1], 'base64url').toString());
    return { token: second.accessToken, first_claims: payload(first.accessToken) };
  },
  async 'msal-wrong-secret'() {
    const app = msalApp({ clientSecret: 'not-the-secret' });
    try {
      await app.acquireTokenByClientCredential({ scopes: [SCOPE] });
      return { error: null };
    } catch (e) {
      return { error: e.errorCode, suberror: e.subError, errorNo: e.errorNo, message: String(e.errorMessage ?? e.message) };
    }
  },
};

const name = process.argv[2];
const run = scenarios[name];
if (!run) {
  console.error(`unknown scenario ${name}; known: ${Object.keys(scenarios).join(', ')}`);
  process.exit(64);
}
const timer = setTimeout(() => { console.error(`scenario ${name} timed out`); process.exit(3); }, 45000);
try {
  const out = await run();
  if (out.token) Object.assign(out, await verify(out.token));
  console.log('RESULT ' + JSON.stringify(out));
  clearTimeout(timer);
} catch (e) {
  console.error(e && e.stack ? e.stack : e);
  if (e && e.errorCode) console.error(`errorCode=${e.errorCode} errorMessage=${e.errorMessage}`);
  process.exit(1);
}

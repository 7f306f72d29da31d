// One managed-identity client scenario against the token broker, in a process whose
// environment broker.mjs built: the hosting environment's variables (App Service, IMDS
// override, Cloud Shell), BROKER_TEST_RESOURCE, and BROKER_TEST_AUTHORITY (the emulator,
// trusted through NODE_EXTRA_CA_CERTS) whose JWKS verifies the token. Prints
// `RESULT {"token"?, "expiresOnTimestamp"?, "claims"?, "error"?, "message"?, "elapsedMs"}`.
//
// Usage: node broker_clients.mjs identity|msal-node

import { ManagedIdentityCredential } from '@azure/identity';
import { ManagedIdentityApplication } from '@azure/msal-node';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';

const TENANT = 'c0ffee00-0000-4000-8000-000000000001';
const authority = process.env.BROKER_TEST_AUTHORITY.replace(/\/+$/, '');
const resource = process.env.BROKER_TEST_RESOURCE;

const scenarios = {
  async identity() {
    const t = await new ManagedIdentityCredential().getToken(`${resource.replace(/\/+$/, '')}/.default`);
    return { token: t.token, expiresOnTimestamp: t.expiresOnTimestamp };
  },
  async 'msal-node'() {
    const app = new ManagedIdentityApplication();
    const r = await app.acquireToken({ resource });
    const again = await app.acquireToken({ resource });
    return {
      token: r.accessToken, expiresOnTimestamp: r.expiresOn.getTime(), source: app.getManagedIdentitySource(),
      fromCache: r.fromCache, secondFromCache: again.fromCache, same: again.accessToken === r.accessToken,
    };
  },
};

// Signature (the emulator's JWKS), issuer for the token's version, expiry.
async function verify(token) {
  const ver = decodeJwt(token).ver;
  const issuer = ver === '2.0' ? `${authority}/${TENANT}/v2.0` : `${authority}/${TENANT}/`;
  const jwks = createRemoteJWKSet(new URL(`${authority}/${TENANT}/discovery/v2.0/keys`), { timeoutDuration: 20000 });
  const { payload } = await jwtVerify(token, jwks, {
    issuer, algorithms: ['RS256'],
    requiredClaims: ['exp', 'iat', 'iss', 'aud', 'tid'],
  });
  return payload;
}

const name = process.argv[2];
if (!scenarios[name]) {
  console.error(`unknown scenario ${name}; known: ${Object.keys(scenarios).join(', ')}`);
  process.exit(64);
}
const timer = setTimeout(() => { console.error(`scenario ${name} timed out`); process.exit(3); }, 45000);
const start = Date.now();
let out;
try {
  out = await scenarios[name]();
  out.claims = await verify(out.token);
} catch (e) {
  out = { ...out, error: e?.name ?? typeof e, message: String(e?.message ?? e), errorCode: e?.errorCode };
}
out.elapsedMs = Date.now() - start;
console.log('RESULT ' + JSON.stringify(out));
clearTimeout(timer);

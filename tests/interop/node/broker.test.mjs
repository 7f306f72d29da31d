// The token broker of `entra up` through @azure/identity's ManagedIdentityCredential
// and @azure/msal-node's ManagedIdentityApplication, each in a child process that sees
// only the variables of the hosting environment it plays. Tokens are verified with jose
// against the emulator's JWKS in the child; audience and client are checked here.
//
// Client facts (read in the pinned packages): msal-node picks App Service from
// IDENTITY_ENDPOINT + IDENTITY_HEADER, Cloud Shell from MSI_ENDPOINT alone (POST, form
// `resource`, `Metadata: true`), and IMDS otherwise at AZURE_POD_IDENTITY_AUTHORITY_HOST,
// to which it appends `/metadata/identity/oauth2/token/` (with a trailing slash).
// MSI_ENDPOINT + MSI_SECRET is Azure ML to it (needs DEFAULT_IDENTITY_CLIENT_ID and an
// epoch `expires_on`), so the legacy App Service protocol is left to the Python suite.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { API_APP, DAEMON } from './emulator.mjs';
import { hostEnv, runBrokerClient, startStack } from './broker.mjs';

const API = 'api://contoso-api';
const GRAPH = 'https://graph.microsoft.com';

describe('token broker (Node managed-identity clients)', () => {
  let stack;
  before(async () => { stack = await startStack(); });
  after(async () => { if (stack) await stack.stop(); });

  function tokenFrom(scenario, kind, resource = API) {
    const out = runBrokerClient(stack, scenario, hostEnv(stack, kind), { resource });
    assert.ok(out.token && out.claims && !out.error,
      `${scenario} (${kind}) got no verified token: ${JSON.stringify(out)}\nentra up output:\n${stack.log()}`);
    const c = out.claims;
    const audiences = resource === API ? [API, API_APP] : [resource];
    assert.ok(audiences.includes(c.aud), `aud ${c.aud} is not ${audiences}`);
    assert.equal(c.ver === '2.0' ? c.azp : c.appid, DAEMON, 'the token is the daemon app\'s');
    const now = Date.now();
    assert.ok(out.expiresOnTimestamp > now + 300_000 && out.expiresOnTimestamp < now + 2 * 86_400_000,
      `expiresOnTimestamp ${out.expiresOnTimestamp} (now ${now})`);
    assert.ok(Math.abs(out.expiresOnTimestamp / 1000 - c.exp) <= 300, `expiresOn ${out.expiresOnTimestamp} vs exp ${c.exp}`);
    return out;
  }

  test('@azure/identity through App Service variables', () => { tokenFrom('identity', 'app-service'); });
  test('@azure/identity through App Service variables, Graph (v1 token)', () => { tokenFrom('identity', 'app-service', GRAPH); });
  test('@azure/identity through the IMDS override', () => { tokenFrom('identity', 'imds'); });
  test('@azure/identity through Cloud Shell (MSI_ENDPOINT)', () => { tokenFrom('identity', 'cloud-shell'); });

  test('msal-node ManagedIdentityApplication through App Service, then its cache', () => {
    const out = tokenFrom('msal-node', 'app-service');
    assert.equal(out.source, 'AppService');
    assert.equal(out.fromCache, false);
    assert.equal(out.secondFromCache, true);
    assert.equal(out.same, true);
  });

  test('msal-node ManagedIdentityApplication through the IMDS override', () => {
    assert.equal(tokenFrom('msal-node', 'imds', GRAPH).source, 'DefaultToImds'); // msal-node's name for IMDS when no other host's variables are set
  });

  test('a wrong IDENTITY_HEADER is a clear error, not a hang', () => {
    const vars = { ...hostEnv(stack, 'app-service'), IDENTITY_HEADER: 'not-the-identity-header' };
    const out = runBrokerClient(stack, 'identity', vars, { timeoutMs: 40000 });
    assert.equal(out.token, undefined, 'no token with a wrong header');
    assert.equal(out.error, 'CredentialUnavailableError', JSON.stringify(out));
    assert.ok(out.elapsedMs < 30000, `failing took ${out.elapsedMs} ms`);
    // msal-node copies the broker's error and error_description into the message.
    assert.doesNotMatch(out.message, /Message undefined|Description: undefined/, out.message);
  });
});

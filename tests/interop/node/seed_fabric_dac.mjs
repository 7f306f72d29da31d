// Seed 000's managed-identity scenario in Node, shaped as a user would write it:
// @azure/identity's DefaultAzureCredential with no options, a Fabric token, then
// GET https://api.fabric.microsoft.com/v1/workspaces with node:https. Node's own HTTP
// clients read no proxy variable, so the call goes through HTTPS_PROXY with
// https-proxy-agent, as Node users do; the CA comes from NODE_EXTRA_CA_CERTS.
// Everything else comes from the environment (entra up's exports). Prints one JSON line:
// the token's claims (never the token) and Fabric's status and body.

import https from 'node:https';
import { DefaultAzureCredential } from '@azure/identity';
import { HttpsProxyAgent } from 'https-proxy-agent';

function get(url, token) {
  const proxy = process.env.HTTPS_PROXY ?? process.env.https_proxy;
  const agent = proxy ? new HttpsProxyAgent(proxy) : undefined;
  return new Promise((resolve, reject) => {
    const req = https.get(url, { agent, headers: { Authorization: `Bearer ${token}` }, timeout: 30000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

const out = {};
try {
  const credential = new DefaultAzureCredential();
  const t = await credential.getToken('https://api.fabric.microsoft.com/.default');
  out.claims = JSON.parse(Buffer.from(t.token.split('.')[1], 'base64url').toString('utf8'));
  const r = await get('https://api.fabric.microsoft.com/v1/workspaces', t.token);
  out.status = r.status;
  try { out.body = JSON.parse(r.body); } catch { out.body = r.body.slice(0, 1000); }
} catch (e) {
  out.error = `${e.name}: ${e.message}`.slice(0, 3000);
}
console.log(JSON.stringify(out));

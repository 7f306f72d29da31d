// node `jose` (panva) validating an RS256 token with the same checks as the Rust
// benchmark: signature, iss, aud, exp/nbf with 5 minutes of tolerance, then tid/ver/scp by
// hand. Prints JSON: {"per_second": ..., "median_ns": ...}.
// Usage: node bench/validate/node_jose_verify.mjs [CALLS]   (jose from bench/node_modules:
// `npm ci --prefix bench`)
import { generateKeyPairSync } from "node:crypto";
import { SignJWT, jwtVerify } from "jose";

const TENANT = "c0ffee00-0000-4000-8000-000000000001";
const AUD = "api://contoso-api";
const ISS = `https://login.microsoftonline.com/${TENANT}/v2.0`;

const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const now = Math.floor(Date.now() / 1000);
const token = await new SignJWT({
  azp: "c1000000-0000-4000-8000-0000000000c1",
  scp: "Data.Read Data.Write",
  tid: TENANT,
  ver: "2.0",
  oid: "a11ce000-0000-4000-8000-000000000001",
  name: "Alice Example",
  preferred_username: "alice@contoso.onmicrosoft.com",
})
  .setProtectedHeader({ alg: "RS256", kid: "bench-key" })
  .setAudience(AUD)
  .setIssuer(ISS)
  .setIssuedAt(now)
  .setNotBefore(now)
  .setExpirationTime(now + 3600)
  .sign(privateKey);

async function once() {
  const { payload: c } = await jwtVerify(token, publicKey, {
    algorithms: ["RS256"],
    audience: AUD,
    issuer: ISS,
    clockTolerance: 300,
  });
  if (!(c.tid === TENANT && c.ver === "2.0" && c.scp.split(" ").includes("Data.Read"))) {
    throw new Error("claims check failed");
  }
}

const n = Number(process.argv[2] ?? 5000);
for (let i = 0; i < 200; i++) await once();
const rounds = [];
for (let r = 0; r < 5; r++) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < Math.floor(n / 5); i++) await once();
  rounds.push(Number(process.hrtime.bigint() - start) / Math.floor(n / 5));
}
rounds.sort((a, b) => a - b);
const median = rounds[2];
console.log(JSON.stringify({ per_second: 1e9 / median, median_ns: median, calls: n }));

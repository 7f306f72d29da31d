"""PyJWT (with `cryptography`, as MSAL Python installs it) validating an RS256 token
with the same checks as the Rust benchmark: signature, iss, aud, exp/nbf with 5 minutes
of leeway, then tid/ver/scp by hand. Prints JSON: {"per_second": ..., "median_ns": ...}."""

import json
import statistics
import sys
import time

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

TENANT = "c0ffee00-0000-4000-8000-000000000001"
AUD = "api://contoso-api"
ISS = f"https://login.microsoftonline.com/{TENANT}/v2.0"

key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
now = int(time.time())
claims = {
    "aud": AUD, "iss": ISS, "iat": now, "nbf": now, "exp": now + 3600,
    "azp": "c1000000-0000-4000-8000-0000000000c1", "scp": "Data.Read Data.Write",
    "tid": TENANT, "ver": "2.0", "oid": "a11ce000-0000-4000-8000-000000000001",
    "name": "Alice Example", "preferred_username": "alice@contoso.onmicrosoft.com",
}
token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "bench-key"})
public = key.public_key()


def once():
    c = jwt.decode(token, public, algorithms=["RS256"], audience=AUD, issuer=ISS, leeway=300)
    assert c["tid"] == TENANT and c["ver"] == "2.0" and "Data.Read" in c["scp"].split(" ")


n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
for _ in range(200):
    once()
rounds = []
for _ in range(5):
    start = time.perf_counter_ns()
    for _ in range(n // 5):
        once()
    rounds.append((time.perf_counter_ns() - start) / (n // 5))
median = statistics.median(rounds)
print(json.dumps({"per_second": 1e9 / median, "median_ns": median, "calls": n}))

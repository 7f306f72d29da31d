"""Cache-hit latency of MSAL Python and azure-identity against a running emulator.

Usage: python cache_hit.py READY_JSON [ITERATIONS]
Prints one JSON object: median/min nanoseconds per call (of 7 timeit repeats) for
MSAL `ConfidentialClientApplication.acquire_token_for_client` and azure-identity
`ClientSecretCredential.get_token`, each after one warm-up call that fills the cache.
"""
import json
import os
import statistics
import sys
import timeit

ready = json.load(open(sys.argv[1]))
n = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
os.environ["REQUESTS_CA_BUNDLE"] = ready["ca_file"]
os.environ["SSL_CERT_FILE"] = ready["ca_file"]

import msal  # noqa: E402
from azure.identity import ClientSecretCredential  # noqa: E402

TENANT = "contoso.onmicrosoft.com"
CLIENT = "d0000000-0000-4000-8000-0000000000d1"
SECRET = "daemon-dev-secret"
SCOPE = "api://contoso-api/.default"
authority = ready["authority"]


def per_call_ns(fn):
    runs = timeit.repeat(fn, number=n, repeat=7)
    per = [r / n * 1e9 for r in runs]
    return {"median_ns": statistics.median(per), "min_ns": min(per), "iterations": n * 7}


app = msal.ConfidentialClientApplication(
    CLIENT,
    client_credential=SECRET,
    authority=f"{authority}/{TENANT}",
    instance_discovery=False,
)
first = app.acquire_token_for_client(scopes=[SCOPE])
assert "access_token" in first, first
assert app.acquire_token_for_client(scopes=[SCOPE])["token_source"] == "cache"
msal_r = per_call_ns(lambda: app.acquire_token_for_client(scopes=[SCOPE]))

cred = ClientSecretCredential(
    TENANT, CLIENT, SECRET, authority=authority, disable_instance_discovery=True
)
cred.get_token(SCOPE)
azid_r = per_call_ns(lambda: cred.get_token(SCOPE))

print(json.dumps({"msal": msal_r, "azure_identity": azid_r}))

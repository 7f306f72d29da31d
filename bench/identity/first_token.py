"""First token in a fresh process with MSAL Python against a running emulator.

Usage: python first_token.py AUTHORITY CA_FILE
Prints two integers (microseconds): from before `import msal` to the token, and from
application creation (after the import) to the token. Process start-up itself (the
interpreter) is measured outside, by hyperfine or a shell loop.
"""
import os
import sys
import time

t0 = time.perf_counter()
authority, ca_file = sys.argv[1], sys.argv[2]
os.environ["REQUESTS_CA_BUNDLE"] = ca_file
import msal  # noqa: E402

t1 = time.perf_counter()
app = msal.ConfidentialClientApplication(
    "d0000000-0000-4000-8000-0000000000d1",
    client_credential="daemon-dev-secret",
    authority=f"{authority}/contoso.onmicrosoft.com",
    instance_discovery=False,
)
r = app.acquire_token_for_client(scopes=["api://contoso-api/.default"])
t2 = time.perf_counter()
assert "access_token" in r, r
print(int((t2 - t0) * 1e6), int((t2 - t1) * 1e6))

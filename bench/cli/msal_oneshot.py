"""MSAL Python doing what `entra token` does when the token is cached: start, load the
token cache file, get the app's token silently (from the cache), print it.

Usage:
  python msal_oneshot.py fill   AUTHORITY CACHE_FILE   # get a token, write the file
  python msal_oneshot.py silent AUTHORITY CACHE_FILE   # the timed one-shot

The emulator's CA comes from REQUESTS_CA_BUNDLE. The file is MSAL's plaintext JSON
(`SerializableTokenCache`). MSAL Python fetches the authority's OpenID configuration when
the app object is created; `http_cache` (persisted beside the cache, as MSAL's docs
suggest for command-line tools) lets the one-shot skip that request, so MSAL is timed at
its best: no request at all, like entra. `silent` fails (exit 1) if the token did not come from the
cache, so a fast run can never be a network run in disguise.
"""
import os
import pickle
import sys

import msal

TENANT = "c0ffee00-0000-4000-8000-000000000001"
CLIENT = "d0000000-0000-4000-8000-0000000000d1"
SECRET = "daemon-dev-secret"
SCOPES = ["api://contoso-api/.default"]

mode, authority, path = sys.argv[1:4]
cache = msal.SerializableTokenCache()
if os.path.exists(path):
    with open(path) as f:
        cache.deserialize(f.read())
http_cache_path = path + ".http"
http_cache = {}
if os.path.exists(http_cache_path):
    with open(http_cache_path, "rb") as f:
        http_cache = pickle.load(f)
app = msal.ConfidentialClientApplication(
    CLIENT,
    client_credential=SECRET,
    authority=f"{authority}/{TENANT}",
    token_cache=cache,
    instance_discovery=False,
    http_cache=http_cache,
)
if mode == "fill":
    result = app.acquire_token_for_client(SCOPES)
    if "access_token" not in result:
        sys.exit(f"no token: {result.get('error')}: {result.get('error_description')}")
    with open(path, "w") as f:
        f.write(cache.serialize())
    os.chmod(path, 0o600)
    with open(http_cache_path, "wb") as f:
        pickle.dump(http_cache, f)
else:
    # For an app's own token, MSAL Python's silent lookup is acquire_token_for_client:
    # cache first since 1.23 (acquire_token_silent(account=None) is a no-op in 1.39).
    result = app.acquire_token_for_client(SCOPES)
    if not result or result.get("token_source") != "cache":
        sys.exit(f"not served from the cache: {result and result.get('token_source')}")
    sys.stdout.write(result["access_token"] + "\n")

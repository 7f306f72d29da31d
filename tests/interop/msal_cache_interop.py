"""MSAL Python's side of the shared token-cache test (crates/identity/tests/persist.rs).

    msal_cache_interop.py COMMAND --authority https://localhost:PORT --cache FILE

acquire  Gets tokens from the emulator into one msal.SerializableTokenCache and writes
         it to FILE: ConfidentialClientApplication (the daemon, client credentials,
         api://contoso-api/.default) and PublicClientApplication (alice,
         username/password, api://contoso-api/Data.Read).
silent   Loads FILE and asks for the same tokens without signing in:
         acquire_token_silent (alice) and acquire_token_for_client (daemon). Both must
         come from the cache (token_source "cache").
refresh  Loads FILE and makes MSAL redeem the refresh token it finds there for alice
         (acquire_token_silent_with_error with force_refresh=True).

Prints one JSON object on stdout with SHA-256 digests of the tokens (never a token).
Exits 1 with a message on stderr when MSAL is missing or anything is not as expected.
The caller sets REQUESTS_CA_BUNDLE / SSL_CERT_FILE to the emulator's CA.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

try:
    import msal
    import msal.authority
except ImportError as e:  # The Rust test reports this message as its failure.
    sys.exit(f"msal is not importable from {sys.executable} ({e}): run scripts/setup-test-deps")

import entra_support as es

# MSAL Python asks https://<host>/common/userrealm/... with the authority's port dropped
# before username/password; mark localhost as a host without user realm discovery, as
# MSAL itself does after a 404 (same as conftest.py).
msal.authority.Authority._domains_without_user_realm_discovery.add("localhost")


def fail(message: str, detail=None) -> None:
    if isinstance(detail, dict):
        detail = {k: v for k, v in detail.items() if "token" not in k or k == "token_source"}
    sys.exit(f"{message}: {detail!r}" if detail is not None else message)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def apps(authority: str, cache: msal.SerializableTokenCache):
    tenant_authority = f"{authority}/{es.TENANT}"
    daemon = msal.ConfidentialClientApplication(
        es.DAEMON, client_credential=es.DAEMON_SECRET, authority=tenant_authority,
        instance_discovery=False, token_cache=cache,
    )
    public = msal.PublicClientApplication(
        es.PUBLIC_CLIENT, authority=tenant_authority, instance_discovery=False, token_cache=cache,
    )
    return daemon, public


def load(path: Path) -> msal.SerializableTokenCache:
    cache = msal.SerializableTokenCache()
    cache.deserialize(path.read_text())
    return cache


def alice(public) -> dict:
    accounts = public.get_accounts(username=es.ALICE[0])
    if len(accounts) != 1:
        fail("expected exactly one account for alice in the cache", accounts)
    return accounts[0]


def acquire(authority: str, path: Path) -> dict:
    cache = msal.SerializableTokenCache()
    daemon, public = apps(authority, cache)
    app = daemon.acquire_token_for_client(scopes=[es.API_DEFAULT])
    if "access_token" not in app:
        fail("client credentials failed", app)
    user = public.acquire_token_by_username_password(*es.ALICE, scopes=[es.API_READ])
    if "access_token" not in user or "id_token" not in user:
        fail("username/password failed", user)
    rts = list(cache.search(msal.TokenCache.CredentialType.REFRESH_TOKEN))
    if len(rts) != 1:
        fail(f"expected one refresh token in MSAL's cache, found {len(rts)}")
    path.write_text(cache.serialize())
    return {
        "app_token": digest(app["access_token"]),
        "user_token": digest(user["access_token"]),
        "id_token": digest(user["id_token"]),
        "refresh_token": digest(rts[0]["secret"]),
        "home_account_id": alice(public)["home_account_id"],
    }


def silent(authority: str, path: Path) -> dict:
    daemon, public = apps(authority, load(path))
    account = alice(public)
    user = public.acquire_token_silent([es.API_READ], account=account)
    if not user or user.get("token_source") != "cache":
        fail("acquire_token_silent did not find alice's token in the cache", user)
    app = daemon.acquire_token_for_client(scopes=[es.API_DEFAULT])
    if app.get("token_source") != "cache":
        fail("acquire_token_for_client did not find the daemon's token in the cache", app)
    return {
        "user_token": digest(user["access_token"]),
        "app_token": digest(app["access_token"]),
        "home_account_id": account["home_account_id"],
        "username": account["username"],
    }


def refresh(authority: str, path: Path) -> dict:
    _, public = apps(authority, load(path))
    result = public.acquire_token_silent_with_error(
        [es.API_READ], account=alice(public), force_refresh=True,
    )
    if not result or "access_token" not in result:
        fail("MSAL could not redeem the refresh token from the cache", result)
    if result.get("token_source") != "identity_provider":
        fail("force_refresh did not go to the emulator", result)
    return {"user_token": digest(result["access_token"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["acquire", "silent", "refresh"])
    parser.add_argument("--authority", required=True)
    parser.add_argument("--cache", required=True, type=Path)
    args = parser.parse_args()
    run = {"acquire": acquire, "silent": silent, "refresh": refresh}[args.command]
    print(json.dumps(run(args.authority.rstrip("/"), args.cache)))


if __name__ == "__main__":
    main()

"""The token broker of `entra up` through real Microsoft clients: azure-identity's
ManagedIdentityCredential (sync, and async for the legacy protocol), and MSAL Python's
ManagedIdentityClient, each in a subprocess whose environment holds only the variables
of the hosting environment it plays (App Service, IMDS, legacy App Service, Cloud Shell).

Tokens are checked against the emulator's JWKS: audience = the resource asked for,
client = the development daemon app the broker is wired to.

Client facts these tests rely on (read in the pinned packages' source):
- azure-identity (sync) and MSAL Python pick App Service from IDENTITY_ENDPOINT +
  IDENTITY_HEADER, and IMDS otherwise, at AZURE_POD_IDENTITY_AUTHORITY_HOST when set
  (`msal/managed_identity.py` `_obtain_token_on_azure_vm`; `azure/identity/_credentials/imds.py`).
- MSI_ENDPOINT + MSI_SECRET: the sync azure-identity hands it to MSAL's Azure ML source,
  which needs `expires_on` as an integer; only azure-identity's async credential parses the
  legacy App Service date (`azure_ml._parse_expires_on`), so the 2017 protocol is tested
  through `azure.identity.aio` (with azure-core's requests-based asyncio transport).
- MSI_ENDPOINT alone: azure-identity's CloudShellCredential (POST, form `resource`,
  `Metadata: true`). MSAL Python has no Cloud Shell managed-identity source.
"""

from __future__ import annotations

import os
import re
import time

import pytest

import broker_support as bs
import entra_support as es

CHILD = r"""
import json, os, sys, time
client, resource = os.environ["BROKER_TEST_CLIENT"], os.environ["BROKER_TEST_RESOURCE"]
scope = resource.rstrip("/") + "/.default"
out = {}
start = time.monotonic()
try:
    if client == "azure-identity":
        from azure.identity import ManagedIdentityCredential
        t = ManagedIdentityCredential().get_token(scope)
        out.update(token=t.token, expires_on=t.expires_on)
    elif client == "azure-identity-aio":
        import asyncio
        from azure.core.pipeline.transport import AsyncioRequestsTransport
        from azure.identity.aio import ManagedIdentityCredential

        async def get():
            async with ManagedIdentityCredential(transport=AsyncioRequestsTransport()) as cred:
                return await cred.get_token(scope)

        t = asyncio.run(get())
        out.update(token=t.token, expires_on=t.expires_on)
    elif client == "msal":
        import msal, requests
        app = msal.ManagedIdentityClient(msal.SystemAssignedManagedIdentity(), http_client=requests.Session())
        r = app.acquire_token_for_client(resource=resource)
        if "access_token" not in r:
            raise RuntimeError(f"msal returned {r}")
        again = app.acquire_token_for_client(resource=resource)
        out.update(token=r["access_token"], expires_on=int(time.time()) + int(r["expires_in"]),
                   source=r.get("token_source"), second_source=again.get("token_source"),
                   same=again.get("access_token") == r["access_token"])
    else:
        sys.exit(f"unknown client {client}")
except Exception as e:
    out.update(error_type=type(e).__name__, message=str(e))
out["elapsed"] = time.monotonic() - start
print(json.dumps(out))
"""

# A client that meets a refusal must say so well within this (no retry loop, no hang).
ERROR_BOUND_S = 30


@pytest.fixture(scope="module")
def stack():
    base = es.mkdtemp("entra-broker-interop-")
    try:
        s = bs.start_stack(base / "up")
    except RuntimeError as e:
        es.rmtree(base)
        pytest.fail(f"could not start `entra up`: {e}", pytrace=False)
    try:
        yield s
    finally:
        es.stop_process(s.proc)
        if not os.environ.get("ENTRA_KEEP_STATE"):
            es.rmtree(base)


def get_token(stack: bs.Stack, client: str, env: dict[str, str], resource: str = es.API_URI) -> dict:
    got = bs.run_client(CHILD, {**env, "BROKER_TEST_CLIENT": client, "BROKER_TEST_RESOURCE": resource})
    assert "token" in got, f"{client} got no token: {got}\nentra up log:\n{stack.log_tail()}"
    return got


def check(stack: bs.Stack, got: dict, resource: str = es.API_URI) -> dict:
    claims = stack.verify_token(got["token"], resource)
    now = time.time()
    # Emulator tokens live 60-90 minutes; a cached one may have used some of that.
    assert now + 300 < got["expires_on"] < now + 2 * 86400, (got["expires_on"], now)
    assert abs(got["expires_on"] - claims["exp"]) <= 300, (got["expires_on"], claims["exp"])
    return claims


# --- App Service (2019-08-01) and IMDS -----------------------------------------------------
@pytest.mark.parametrize("resource", [es.API_URI, bs.GRAPH])
def test_azure_identity_app_service(stack, resource):
    check(stack, get_token(stack, "azure-identity", stack.app_service_env(), resource), resource)


def test_azure_identity_imds(stack):
    check(stack, get_token(stack, "azure-identity", stack.imds_env()))


def test_msal_python_app_service(stack):
    got = get_token(stack, "msal", stack.app_service_env())
    check(stack, got)
    assert got["source"] == "identity_provider", got
    assert got["second_source"] == "cache" and got["same"], "MSAL keeps the broker's token in its cache"


def test_msal_python_imds(stack):
    check(stack, get_token(stack, "msal", stack.imds_env(), bs.GRAPH), bs.GRAPH)


# --- the legacy App Service protocol (2017-09-01) and Cloud Shell ----------------------
def test_azure_identity_async_legacy_app_service(stack):
    check(stack, get_token(stack, "azure-identity-aio", stack.legacy_env()))


def test_azure_identity_cloud_shell(stack):
    check(stack, get_token(stack, "azure-identity", stack.cloud_shell_env()))


# --- refusals -------------------------------------------------------------------------
@pytest.mark.parametrize("client", ["azure-identity", "msal"])
def test_wrong_identity_header_is_a_clear_error(stack, client):
    env = dict(stack.app_service_env(), IDENTITY_HEADER="not-the-identity-header")
    got = bs.run_client(CHILD, {**env, "BROKER_TEST_CLIENT": client, "BROKER_TEST_RESOURCE": es.API_URI})
    assert "token" not in got, f"{client} got a token with a wrong IDENTITY_HEADER"
    assert got.get("error_type"), f"{client} did not raise: {got}"
    assert got["elapsed"] < ERROR_BOUND_S, f"{client} took {got['elapsed']:.1f}s to fail"
    # What the app sees: azure-identity raises CredentialUnavailableError, MSAL (through
    # the snippet) the error dict it returned.
    expected = "CredentialUnavailableError" if client == "azure-identity" else "RuntimeError"
    assert got["error_type"] == expected, got


@pytest.mark.parametrize("client", ["azure-identity", "msal"])
def test_wrong_identity_header_message_says_why(stack, client):
    # MSAL Python reads App Service errors as App Service writes them, `statusCode` and
    # `message` (`_obtain_token_on_app_service`); without them the app sees only
    # "(invalid_scope) None, None".
    env = dict(stack.app_service_env(), IDENTITY_HEADER="not-the-identity-header")
    got = bs.run_client(CHILD, {**env, "BROKER_TEST_CLIENT": client, "BROKER_TEST_RESOURCE": es.API_URI})
    assert "None, None" not in got.get("message", ""), f"{client} cannot tell the app why: {got.get('message')!r}"


def test_wrong_identity_header_on_the_wire(stack):
    r = stack.broker_get(
        stack.broker["identity_endpoint"],
        params={"resource": es.API_URI, "api-version": "2019-08-01"},
        headers={"X-IDENTITY-HEADER": "not-the-identity-header"},
    )
    assert r.status_code in (401, 403), (r.status_code, r.text)
    body = r.json()
    assert body.get("error") and body.get("error_description"), body
    assert "access_token" not in body


# --- the wire shapes the clients above depend on ------------------------------------------
def test_imds_shape_and_metadata_header(stack):
    params = {"resource": es.API_URI, "api-version": "2018-02-01"}
    r = stack.broker_get(stack.imds_token_url, params=params)
    assert r.status_code == 400, (r.status_code, r.text)
    assert r.json().get("error"), r.text
    r = stack.broker_get(stack.imds_token_url, params=params, headers={"Metadata": "true"})
    assert r.status_code == 200, r.text
    body = r.json()
    for k in ("access_token", "refresh_token", "expires_in", "expires_on", "ext_expires_in",
              "not_before", "resource", "token_type", "client_id"):
        assert isinstance(body.get(k), str), f"IMDS `{k}` must be a JSON string: {body}"
    assert body["token_type"] == "Bearer" and body["client_id"] == bs.BROKER_APP, body
    assert int(body["expires_on"]) - int(body["expires_in"]) == pytest.approx(time.time(), abs=60), body
    stack.verify_token(body["access_token"], es.API_URI)


def test_legacy_expires_on_is_a_date(stack):
    r = stack.broker_get(
        stack.broker["identity_endpoint"],
        params={"resource": es.API_URI, "api-version": "2017-09-01"},
        headers={"secret": stack.broker["identity_header"]},
    )
    assert r.status_code == 200, r.text
    assert re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}:\d{2} [AP]M \+00:00", r.json()["expires_on"]), r.text


def test_health_and_metrics(stack):
    for path in ("/healthz", "/readyz"):
        r = stack.broker_get(stack.imds_base + path)
        assert r.status_code == 200, (path, r.status_code, r.text)
    r = stack.broker_get(stack.broker["metrics_url"])
    assert r.status_code == 200, r.text
    assert r.headers.get("content-type", "").startswith(("text/plain", "application/openmetrics-text")), r.headers
    assert re.search(r"^# (TYPE|HELP) ", r.text, re.M), r.text[:500]

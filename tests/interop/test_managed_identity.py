"""Managed identity through azure-identity's ManagedIdentityCredential, over the
App Service protocol and over IMDS, each in a subprocess with a clean env."""

from __future__ import annotations

import json

import pytest

import entra_support as es

CHILD = r"""
import json, os, sys
from azure.identity import ManagedIdentityCredential
kw = json.loads(os.environ["MI_TEST_KWARGS"])
cred = ManagedIdentityCredential(**kw)
tok = cred.get_token(os.environ["MI_TEST_SCOPE"])
print(json.dumps({"token": tok.token, "expires_on": tok.expires_on}))
"""


def get_mi_token(emulator, env: dict, kwargs: dict, scope: str = es.API_DEFAULT) -> dict:
    full = {
        "REQUESTS_CA_BUNDLE": emulator.ca_file,
        "SSL_CERT_FILE": emulator.ca_file,
        "NO_PROXY": "localhost,127.0.0.1,::1",
        "MI_TEST_KWARGS": json.dumps(kwargs),
        "MI_TEST_SCOPE": scope,
        **env,
    }
    out = es.run_python(CHILD, full, timeout=120)
    assert out.returncode == 0, f"child failed ({out.returncode}):\n{out.stderr[-4000:]}"
    return json.loads(out.stdout.strip().splitlines()[-1])


def app_service_env(emulator) -> dict:
    return {
        "IDENTITY_ENDPOINT": emulator.ready["identity_endpoint"],
        "IDENTITY_HEADER": emulator.ready["identity_header"],
    }


def imds_env(emulator) -> dict:
    return {"AZURE_POD_IDENTITY_AUTHORITY_HOST": emulator.ready["imds_endpoint"]}


def check_mi_token(emulator, token: str, mi_client_id: str, expect_role: bool) -> dict:
    claims = emulator.verify(token, audience=es.API_APP, ver="2.0")
    assert claims.get("idtyp") == "app", claims
    assert claims.get("azp") == mi_client_id, claims
    assert "scp" not in claims, claims
    if expect_role:
        assert "Data.Read.All" in claims.get("roles", []), claims
    return claims


@pytest.mark.parametrize("source", ["app_service", "imds"])
def test_system_assigned(emulator, source):
    env = app_service_env(emulator) if source == "app_service" else imds_env(emulator)
    got = get_mi_token(emulator, env, {})
    assert got["expires_on"] > 0
    check_mi_token(emulator, got["token"], es.MI_SYSTEM, expect_role=True)


@pytest.mark.parametrize("source", ["app_service", "imds"])
def test_user_assigned_by_client_id(emulator, source):
    env = app_service_env(emulator) if source == "app_service" else imds_env(emulator)
    got = get_mi_token(emulator, env, {"client_id": es.MI_USER})
    claims = check_mi_token(emulator, got["token"], es.MI_USER, expect_role=False)
    assert claims["oid"] != es.MI_SYSTEM


def test_app_service_wrong_header_is_refused(emulator):
    r = emulator.get(
        emulator.ready["identity_endpoint"],
        params={"resource": es.API_URI, "api-version": "2019-08-01"},
        headers={"X-IDENTITY-HEADER": "not-the-header"},
    )
    assert r.status_code in (400, 401, 403), (r.status_code, r.text)
    assert "access_token" not in r.text


def test_imds_requires_metadata_header(emulator):
    r = emulator.get(
        emulator.ready["imds_endpoint"].rstrip("/") + "/metadata/identity/oauth2/token",
        params={"resource": es.API_URI, "api-version": "2018-02-01"},
    )
    assert r.status_code == 400, (r.status_code, r.text)
    assert r.json().get("error") == "invalid_request", r.text


def test_imds_raw_response_shape(emulator):
    r = emulator.get(
        emulator.ready["imds_endpoint"].rstrip("/") + "/metadata/identity/oauth2/token",
        params={"resource": es.API_URI, "api-version": "2018-02-01"},
        headers={"Metadata": "true"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    for k in ("access_token", "expires_in", "expires_on", "not_before", "resource", "token_type"):
        assert k in body, f"IMDS response lacks {k}: {body}"
        assert isinstance(body[k], str), f"IMDS {k} must be a JSON string: {body}"
    check_mi_token(emulator, body["access_token"], es.MI_SYSTEM, expect_role=True)


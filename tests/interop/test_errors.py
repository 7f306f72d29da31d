"""Error paths as MSAL Python sees them: `result["error"]` and `result["error_codes"]`,
with Entra's `AADSTS<code>:` descriptions, trace/correlation ids and timestamps.

Tests that move the clock or revoke grants live in test_errors_isolated.py."""

from __future__ import annotations

import json
import subprocess
import time

import msal
import pytest
import requests

import entra_support as es


def _cca(emulator, client_id=es.DAEMON, secret=es.DAEMON_SECRET, authority=None):
    return msal.ConfidentialClientApplication(
        client_id, client_credential=secret,
        authority=authority or emulator.tenant_authority, instance_discovery=False,
    )


def _public(emulator):
    return msal.PublicClientApplication(
        es.PUBLIC_CLIENT, authority=emulator.tenant_authority, instance_discovery=False,
    )


def browser_code(emulator, artifacts, user=es.ALICE, scopes=(es.API_READ,)):
    """Sign in through the browser and return (app, flow, authorization response)."""
    app = _public(emulator)
    flow = app.initiate_auth_code_flow(
        scopes=list(scopes), redirect_uri=f"http://localhost:{es.free_loopback_port()}",
    )
    seen = es.run_browser(
        {"mode": "authcode", "url": flow["auth_uri"], "username": user[0], "password": user[1],
         "redirect_prefix": flow["redirect_uri"]},
        artifacts,
    )
    params = es.response_params(seen)
    assert "code" in params, params
    return app, flow, params


# --- client authentication ------------------------------------------------------------
def test_wrong_secret(emulator):
    result = _cca(emulator, secret="not-the-secret").acquire_token_for_client([es.API_DEFAULT])
    es.assert_aad_error(result, "invalid_client", 7000215)


def test_expired_secret(emulator):
    result = _cca(emulator, secret=es.DAEMON_EXPIRED_SECRET).acquire_token_for_client([es.API_DEFAULT])
    es.assert_aad_error(result, "invalid_client", 7000222)


def test_unknown_app(emulator):
    result = _cca(emulator, client_id="deadbeef-0000-4000-8000-00000000dead").acquire_token_for_client([es.API_DEFAULT])
    es.assert_aad_error(result, "unauthorized_client", 700016)


def test_unknown_tenant_token_endpoint(emulator):
    tenant = "0badbad0-0000-4000-8000-000000000bad"
    r = emulator.post(
        f"{emulator.authority}/{tenant}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "client_id": es.DAEMON,
              "client_secret": es.DAEMON_SECRET, "scope": es.API_DEFAULT},
    )
    assert r.status_code == 400, (r.status_code, r.text)
    es.assert_aad_error(r.json(), "invalid_request", 90002)


def test_unknown_tenant_msal(emulator):
    """MSAL reads the tenant's discovery document first; for an unknown tenant that
    fails with AADSTS90002 and MSAL refuses to build the app."""
    tenant = "0badbad0-0000-4000-8000-000000000bad"
    r = emulator.get(f"{emulator.authority}/{tenant}/v2.0/.well-known/openid-configuration")
    assert r.status_code == 400, (r.status_code, r.text)
    assert "AADSTS90002" in r.json().get("error_description", ""), r.text
    with pytest.raises(ValueError):
        _cca(emulator, authority=f"{emulator.authority}/{tenant}").acquire_token_for_client([es.API_DEFAULT])


def test_admin_api_requires_the_admin_token(emulator):
    r = emulator.post(f"{emulator.authority}/admin/clock", json={"advance_seconds": 1})
    assert r.status_code in (401, 403), (r.status_code, r.text)
    r = emulator.post(
        f"{emulator.authority}/admin/clock", json={"advance_seconds": 1},
        headers={"Authorization": "Bearer not-the-admin-token"},
    )
    assert r.status_code in (401, 403), (r.status_code, r.text)


# --- scopes ---------------------------------------------------------------------------
def test_client_credentials_without_default(emulator):
    result = _cca(emulator).acquire_token_for_client([es.API_READ])
    es.assert_aad_error(result, "invalid_scope", 1002012)


def test_invalid_scope(emulator):
    result = _public(emulator).acquire_token_by_username_password(
        *es.ALICE, scopes=["api://contoso-api/No.Such.Scope"],
    )
    es.assert_aad_error(result, "invalid_scope", 70011)


# --- users ----------------------------------------------------------------------------
def test_missing_consent(emulator):
    result = _public(emulator).acquire_token_by_username_password(*es.BOB, scopes=["api://contoso-api/Data.Write"])
    es.assert_aad_error(result, "invalid_grant", 65001)


def test_mfa_required(emulator):
    result = _public(emulator).acquire_token_by_username_password(*es.MFA, scopes=[es.API_READ])
    es.assert_aad_error(result, "interaction_required", 50076)


def test_wrong_password(emulator):
    result = _public(emulator).acquire_token_by_username_password(es.ALICE[0], "wrong-password", scopes=[es.API_READ])
    es.assert_aad_error(result, "invalid_grant", 50126)


# --- refresh tokens -------------------------------------------------------------------
def test_replayed_refresh_token(emulator):
    app = _public(emulator)
    first = app.acquire_token_by_username_password(*es.ALICE, scopes=[es.API_READ])
    assert "refresh_token" in first, first
    rt = first["refresh_token"]
    ok = app.acquire_token_by_refresh_token(rt, scopes=[es.API_READ])
    assert "access_token" in ok, ok
    assert ok.get("refresh_token") and ok["refresh_token"] != rt, "refresh tokens rotate"
    emulator.verify(ok["access_token"], audience=es.API_APP)
    replay = app.acquire_token_by_refresh_token(rt, scopes=[es.API_READ])
    es.assert_aad_error(replay, "invalid_grant", 70008)


# --- device code ----------------------------------------------------------------------
def test_bad_device_code(emulator):
    r = emulator.post(
        emulator.token_endpoint,
        data={"grant_type": "urn:ietf:params:oauth:grant-type:device_code",
              "client_id": es.PUBLIC_CLIENT, "device_code": "not-a-real-device-code"},
    )
    assert r.status_code == 400, (r.status_code, r.text)
    es.assert_aad_error(r.json(), "bad_verification_code", 70018)


def test_device_code_pending(emulator):
    app = _public(emulator)
    flow = app.initiate_device_flow(scopes=[es.API_READ])
    r = emulator.post(
        emulator.token_endpoint,
        data={"grant_type": "urn:ietf:params:oauth:grant-type:device_code",
              "client_id": es.PUBLIC_CLIENT, "device_code": flow["device_code"]},
    )
    assert r.status_code == 400, (r.status_code, r.text)
    es.assert_aad_error(r.json(), "authorization_pending", 70016)


# --- authorization code ---------------------------------------------------------------
@pytest.mark.browser
def test_code_reuse(emulator, artifacts):
    app, flow, params = browser_code(emulator, artifacts)
    first = app.acquire_token_by_auth_code_flow(dict(flow), params)
    assert "access_token" in first, first
    second = app.acquire_token_by_auth_code_flow(dict(flow), params)
    es.assert_aad_error(second, "invalid_grant", 54005)


@pytest.mark.browser
def test_pkce_mismatch(emulator, artifacts):
    app, flow, params = browser_code(emulator, artifacts)
    flow = dict(flow, code_verifier="x" * 43 + "-wrong-verifier")
    result = app.acquire_token_by_auth_code_flow(flow, params)
    es.assert_aad_error(result, "invalid_grant", 501481)


@pytest.mark.browser
def test_redirect_mismatch_at_token(emulator, artifacts):
    app, flow, params = browser_code(emulator, artifacts)
    flow = dict(flow, redirect_uri=flow["redirect_uri"] + "/elsewhere")
    result = app.acquire_token_by_auth_code_flow(flow, params)
    es.assert_aad_error(result, "invalid_request", 50011)


# --- request size ---------------------------------------------------------------------
def _post_oversized(url: str, verify) -> requests.Response:
    # 5 MB, sent whole before the response is read (requests does not watch for an
    # early answer): a server that closes while the client is still sending makes the
    # kernel reset the connection, and requests raises ConnectionError / SSLError.
    body = b"client_id=x&grant_type=client_credentials&pad=" + b"a" * (5 * 1024 * 1024)
    return requests.post(
        url, data=body, verify=verify, timeout=60,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


def test_oversized_token_body_gets_413_json(emulator, tmp_path):
    """A 5 MB POST to the token endpoint gets the 413 AADSTS9002313 JSON back, over the
    emulator's HTTPS and over plain HTTP (--danger-plain-http), and the connection keeps
    serving afterwards."""
    state = tmp_path / "plain"
    state.mkdir(mode=0o700)
    log = open(state / "emulator.log", "wb")
    plain = subprocess.Popen(
        [str(es.entra_bin()), "emulator", "--port", "0", "--state-dir", str(state), "--danger-plain-http"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )
    log.close()
    try:
        deadline = time.monotonic() + es.READY_TIMEOUT
        while not (state / "ready.json").exists():
            assert plain.poll() is None and time.monotonic() < deadline, (state / "emulator.log").read_text()
            time.sleep(0.1)
        plain_base = json.loads((state / "ready.json").read_text())["authority"].rstrip("/")
        for base, verify in ((emulator.authority, emulator.ca_file), (plain_base, False)):
            assert base.startswith("https://" if verify else "http://"), base
            url = f"{base}/{es.TENANT}/oauth2/v2.0/token"
            for _ in range(2):
                r = _post_oversized(url, verify)
                assert r.status_code == 413, (base, r.status_code, r.text[:300])
                body = r.json()
                assert body["error"] == "invalid_request", body
                assert body["error_codes"] == [9002313], body
                assert body["error_description"].startswith("AADSTS9002313:"), body
            # Still up, and a normal request still works.
            with requests.Session() as s:
                ok = s.post(url, verify=verify, timeout=30, data={
                    "client_id": es.DAEMON, "client_secret": es.DAEMON_SECRET,
                    "grant_type": "client_credentials", "scope": es.API_DEFAULT,
                })
            assert ok.status_code == 200, ok.text[:300]
    finally:
        es.stop_process(plain)

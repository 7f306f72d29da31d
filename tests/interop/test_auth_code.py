"""Authorization code + PKCE through the real sign-in and consent pages, in
headless Chromium, redeemed by MSAL Python."""

from __future__ import annotations

import msal
import pytest

import entra_support as es

pytestmark = pytest.mark.browser


def public_app(emulator: es.Emulator, cache: msal.TokenCache | None = None) -> msal.PublicClientApplication:
    return msal.PublicClientApplication(
        es.PUBLIC_CLIENT, authority=emulator.tenant_authority, instance_discovery=False, token_cache=cache,
    )


def sign_in(emulator, flow, user, artifacts, consent="accept", redirect_prefix=None):
    return es.run_browser(
        {
            "mode": "authcode",
            "url": flow["auth_uri"],
            "username": user[0],
            "password": user[1],
            "redirect_prefix": redirect_prefix or flow["redirect_uri"],
            "consent": consent,
        },
        artifacts,
    )


def check_user_token(emulator, token: str, *, azp: str, scp: str, azpacr: str) -> dict:
    claims = emulator.verify(token, audience=es.API_APP, ver="2.0")
    assert scp in claims.get("scp", "").split(), claims
    assert claims.get("azp") == azp, claims
    assert claims.get("azpacr") == azpacr, claims
    assert claims.get("oid") and claims.get("sub"), claims
    assert "roles" not in claims or "Data.Read.All" not in claims["roles"], claims
    return claims


def test_public_client_pkce_alice_then_refresh(emulator, artifacts):
    app = public_app(emulator)
    redirect = f"http://localhost:{es.free_loopback_port()}"
    flow = app.initiate_auth_code_flow(scopes=[es.API_READ], redirect_uri=redirect)
    assert "code_challenge=" in flow["auth_uri"] and "code_challenge_method=S256" in flow["auth_uri"]

    seen = sign_in(emulator, flow, es.ALICE, artifacts)
    assert not seen["consent_seen"], f"alice has consented; no consent page expected: {seen}"
    params = es.response_params(seen)
    assert "code" in params and params.get("state") == flow["state"], params

    result = app.acquire_token_by_auth_code_flow(flow, params)
    assert "access_token" in result, result
    assert "refresh_token" in result and "id_token" in result, sorted(result)
    claims = check_user_token(emulator, result["access_token"], azp=es.PUBLIC_CLIENT, scp="Data.Read", azpacr="0")
    assert claims["oid"] == es.ALICE_OID, claims
    idc = result["id_token_claims"]
    assert idc["aud"] == es.PUBLIC_CLIENT and idc["tid"] == es.TENANT, idc
    assert idc["iss"] == f"{emulator.authority}/{es.TENANT}/v2.0", idc
    assert idc.get("preferred_username", "").lower() == es.ALICE[0], idc
    assert idc["oid"] == claims["oid"], (idc, claims)
    # id token is signed by the same keys, audience = the client
    emulator.verify(result["id_token"], audience=es.PUBLIC_CLIENT, ver="2.0")

    accounts = app.get_accounts(username=es.ALICE[0])
    assert len(accounts) == 1, accounts
    assert accounts[0]["home_account_id"] == f"{claims['oid']}.{es.TENANT}", accounts[0]

    # Silent with force_refresh goes through the refresh token.
    again = app.acquire_token_silent([es.API_READ], account=accounts[0], force_refresh=True)
    assert again and "access_token" in again, again
    assert again.get("token_source") == "identity_provider", again.get("token_source")
    assert again["access_token"] != result["access_token"]
    claims2 = check_user_token(emulator, again["access_token"], azp=es.PUBLIC_CLIENT, scp="Data.Read", azpacr="0")
    assert claims2["oid"] == claims["oid"]

    # Without force_refresh: served from the cache.
    cached = app.acquire_token_silent([es.API_READ], account=accounts[0])
    assert cached["access_token"] == again["access_token"]
    assert cached.get("token_source") == "cache"


def test_public_client_bob_sees_consent_and_accepts(emulator, artifacts):
    app = public_app(emulator)
    redirect = f"http://localhost:{es.free_loopback_port()}"
    flow = app.initiate_auth_code_flow(scopes=[es.API_READ], redirect_uri=redirect)
    seen = sign_in(emulator, flow, es.BOB, artifacts, consent="accept")
    assert seen["consent_seen"], f"bob has not consented; the consent page must show: {seen}"
    result = app.acquire_token_by_auth_code_flow(flow, es.response_params(seen))
    assert "access_token" in result, result
    claims = check_user_token(emulator, result["access_token"], azp=es.PUBLIC_CLIENT, scp="Data.Read", azpacr="0")
    assert claims["oid"] == es.BOB_OID, claims
    assert result["id_token_claims"].get("preferred_username", "").lower() == es.BOB[0]


def test_mfa_user_approves_second_factor(emulator, artifacts):
    app = public_app(emulator)
    redirect = f"http://localhost:{es.free_loopback_port()}"
    flow = app.initiate_auth_code_flow(scopes=[es.API_READ], redirect_uri=redirect)
    seen = sign_in(emulator, flow, es.MFA, artifacts)
    actions = [s["action"] for s in seen["steps"]]
    assert "mfa-approve" in actions, f"the MFA page (#approve) must show for the MFA user: {seen}"
    result = app.acquire_token_by_auth_code_flow(flow, es.response_params(seen))
    assert "access_token" in result, result
    claims = check_user_token(emulator, result["access_token"], azp=es.PUBLIC_CLIENT, scp="Data.Read", azpacr="0")
    assert claims["oid"] == es.MFA_OID, claims


def test_consent_cancel_returns_access_denied(emulator, artifacts):
    app = public_app(emulator)
    redirect = f"http://localhost:{es.free_loopback_port()}"
    # A scope bob has not consented to (bob may have accepted Data.Read above).
    flow = app.initiate_auth_code_flow(scopes=["api://contoso-api/Data.Write"], redirect_uri=redirect)
    seen = sign_in(emulator, flow, es.BOB, artifacts, consent="cancel")
    assert seen["consent_seen"], seen
    params = es.response_params(seen)
    assert params.get("error") == "access_denied", params
    assert params.get("state") == flow["state"], params
    assert "code" not in params
    result = app.acquire_token_by_auth_code_flow(flow, params)
    assert result.get("error") == "access_denied", result


@pytest.mark.parametrize("response_mode", ["query", "form_post"])
def test_confidential_web_app(emulator, artifacts, response_mode):
    app = msal.ConfidentialClientApplication(
        es.WEB_APP, client_credential=es.WEB_SECRET,
        authority=emulator.tenant_authority, instance_discovery=False,
    )
    flow = app.initiate_auth_code_flow(
        scopes=[es.API_READ], redirect_uri=es.WEB_CALLBACK, response_mode=response_mode,
    )
    seen = sign_in(emulator, flow, es.ALICE, artifacts)
    assert not seen["consent_seen"], f"admin consent covers the web app: {seen}"
    if response_mode == "form_post":
        assert seen["method"] == "POST", seen
    else:
        assert seen["method"] == "GET", seen
    params = es.response_params(seen)
    assert "code" in params, params
    result = app.acquire_token_by_auth_code_flow(flow, params)
    assert "access_token" in result, result
    claims = check_user_token(emulator, result["access_token"], azp=es.WEB_APP, scp="Data.Read", azpacr="1")
    assert claims["oid"] == es.ALICE_OID, claims
    assert result["id_token_claims"]["oid"] == claims["oid"]

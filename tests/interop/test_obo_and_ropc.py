"""On-behalf-of (web app exchanges alice's token for a downstream API token) and
the username/password flow on the public client."""

from __future__ import annotations

import msal

import entra_support as es


def _public(emulator):
    return msal.PublicClientApplication(
        es.PUBLIC_CLIENT, authority=emulator.tenant_authority, instance_discovery=False,
    )


def test_ropc_alice(emulator):
    result = _public(emulator).acquire_token_by_username_password(*es.ALICE, scopes=[es.API_READ])
    assert "access_token" in result, result
    claims = emulator.verify(result["access_token"], audience=es.API_APP, ver="2.0")
    assert "Data.Read" in claims["scp"].split(), claims
    assert claims["azp"] == es.PUBLIC_CLIENT, claims
    assert claims["oid"] == es.ALICE_OID, claims
    assert result["id_token_claims"].get("preferred_username", "").lower() == es.ALICE[0]


def test_v1_token_for_graph(emulator):
    """Microsoft Graph accepts v1 tokens: issuer https://host/{tid}/, appid/appidacr."""
    result = _public(emulator).acquire_token_by_username_password(*es.ALICE, scopes=["User.Read"])
    assert "access_token" in result, result
    claims = emulator.verify(
        result["access_token"], audience=["https://graph.microsoft.com", es.GRAPH_APP], ver="1.0",
    )
    assert claims["iss"] == f"{emulator.authority}/{es.TENANT}/", claims
    assert "User.Read" in claims.get("scp", "").split(), claims
    assert claims.get("appid") == es.PUBLIC_CLIENT, claims
    assert claims.get("appidacr") == "0", claims
    assert claims["oid"] == es.ALICE_OID, claims
    assert (claims.get("upn") or claims.get("unique_name", "")).lower() == es.ALICE[0], claims


def test_on_behalf_of(emulator):
    # 1. alice signs in to the public client for the web app's own API.
    user = _public(emulator).acquire_token_by_username_password(*es.ALICE, scopes=[es.WEB_API_SCOPE])
    assert "access_token" in user, user
    incoming = emulator.verify(user["access_token"], audience=[es.WEB_APP, "api://contoso-web"], ver=None)
    assert "access_as_user" in incoming.get("scp", "").split(), incoming
    alice_oid = incoming["oid"]

    # 2. The web app exchanges it for a token to the downstream API.
    web = msal.ConfidentialClientApplication(
        es.WEB_APP, client_credential=es.WEB_SECRET,
        authority=emulator.tenant_authority, instance_discovery=False,
    )
    result = web.acquire_token_on_behalf_of(user_assertion=user["access_token"], scopes=[es.API_READ])
    assert "access_token" in result, result
    claims = emulator.verify(result["access_token"], audience=es.API_APP, ver="2.0")
    assert claims.get("scp") == "Data.Read", claims
    assert claims["azp"] == es.WEB_APP, claims
    assert claims.get("azpacr") == "1", claims
    assert claims["oid"] == alice_oid == es.ALICE_OID, (claims, incoming)
    assert claims["tid"] == es.TENANT


def test_on_behalf_of_rejects_token_for_another_audience(emulator):
    """An assertion whose audience is not the calling app is refused."""
    user = _public(emulator).acquire_token_by_username_password(*es.ALICE, scopes=[es.API_READ])
    assert "access_token" in user, user
    web = msal.ConfidentialClientApplication(
        es.WEB_APP, client_credential=es.WEB_SECRET,
        authority=emulator.tenant_authority, instance_discovery=False,
    )
    result = web.acquire_token_on_behalf_of(user_assertion=user["access_token"], scopes=[es.API_READ])
    assert "access_token" not in result, "OBO must refuse an assertion issued for another audience"
    assert result.get("error") in ("invalid_grant", "invalid_request"), result

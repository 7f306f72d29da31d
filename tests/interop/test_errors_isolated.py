"""Error paths that change emulator state for everyone (revoking a user's grants,
moving the clock): they run against a dedicated emulator (`clock_emulator`)."""

from __future__ import annotations

import time

import msal
import pytest

import entra_support as es


def _public(emu):
    return msal.PublicClientApplication(
        es.PUBLIC_CLIENT, authority=emu.tenant_authority, instance_discovery=False,
    )


def test_revoked_refresh_token(clock_emulator):
    emu = clock_emulator
    app = _public(emu)
    first = app.acquire_token_by_username_password(*es.ALICE, scopes=[es.API_READ])
    assert "refresh_token" in first, first
    emu.admin(f"users/{es.ALICE[0]}/revoke")
    result = app.acquire_token_by_refresh_token(first["refresh_token"], scopes=[es.API_READ])
    es.assert_aad_error(result, "invalid_grant", 50173)
    # A fresh sign-in after the revocation works again.
    again = app.acquire_token_by_username_password(*es.ALICE, scopes=[es.API_READ])
    assert "access_token" in again, again


def test_device_code_expired(clock_emulator):
    emu = clock_emulator
    app = _public(emu)
    flow = app.initiate_device_flow(scopes=[es.API_READ])
    assert "device_code" in flow, flow
    emu.advance_clock(1000)
    deadline = time.time() + 60
    result = app.acquire_token_by_device_flow(flow, exit_condition=lambda f: time.time() > deadline)
    es.assert_aad_error(result, "expired_token", 70019)


@pytest.mark.browser
def test_expired_authorization_code(clock_emulator, artifacts):
    emu = clock_emulator
    app = _public(emu)
    flow = app.initiate_auth_code_flow(
        scopes=[es.API_READ], redirect_uri=f"http://localhost:{es.free_loopback_port()}",
    )
    seen = es.run_browser(
        {"mode": "authcode", "url": flow["auth_uri"], "username": es.ALICE[0], "password": es.ALICE[1],
         "redirect_prefix": flow["redirect_uri"]},
        artifacts,
    )
    params = es.response_params(seen)
    assert "code" in params, params
    emu.advance_clock(700)
    result = app.acquire_token_by_auth_code_flow(flow, params)
    es.assert_aad_error(result, "invalid_grant", 70008)

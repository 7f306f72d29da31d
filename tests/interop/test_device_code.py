"""Device code flow: MSAL Python polls while headless Chromium enters the code,
signs in and approves (or declines)."""

from __future__ import annotations

import subprocess
import threading
import time

import msal
import pytest

import entra_support as es

pytestmark = pytest.mark.browser

POLL_BOUND = 90  # seconds MSAL may poll before the test gives up


def start_flow(emulator):
    app = msal.PublicClientApplication(
        es.PUBLIC_CLIENT, authority=emulator.tenant_authority, instance_discovery=False,
    )
    flow = app.initiate_device_flow(scopes=[es.API_READ])
    assert "user_code" in flow, flow
    for k in ("device_code", "verification_uri", "expires_in", "interval", "message"):
        assert k in flow, f"device code response lacks {k}: {flow}"
    assert flow["verification_uri"] == f"{emulator.authority}/devicelogin", flow
    assert flow["user_code"] in flow["message"], flow
    return app, flow


def poll_in_thread(app, flow):
    """Run acquire_token_by_device_flow in a thread, bounded to POLL_BOUND seconds."""
    box: dict = {}
    deadline = time.time() + POLL_BOUND

    def run():
        try:
            box["result"] = app.acquire_token_by_device_flow(flow, exit_condition=lambda f: time.time() > deadline)
        except Exception as e:  # noqa: BLE001 - reported by the test
            box["exc"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, box


def test_device_code_alice_approves(emulator, artifacts):
    app, flow = start_flow(emulator)
    t, box = poll_in_thread(app, flow)
    seen = es.run_browser(
        {
            "mode": "device",
            "url": flow["verification_uri"],
            "user_code": flow["user_code"],
            "username": es.ALICE[0],
            "password": es.ALICE[1],
            "consent": "accept",
        },
        artifacts,
    )
    assert seen.get("done"), seen
    t.join(POLL_BOUND + 10)
    assert not t.is_alive(), "MSAL still polling"
    assert "exc" not in box, box
    result = box["result"]
    assert "access_token" in result, result
    claims = emulator.verify(result["access_token"], audience=es.API_APP, ver="2.0")
    assert "Data.Read" in claims.get("scp", "").split(), claims
    assert claims["azp"] == es.PUBLIC_CLIENT and claims.get("azpacr") == "0", claims
    assert result["id_token_claims"].get("preferred_username", "").lower() == es.ALICE[0]
    assert "refresh_token" in result


def test_device_code_declined(emulator, artifacts):
    app, flow = start_flow(emulator)
    t, box = poll_in_thread(app, flow)
    seen = es.run_browser(
        {
            "mode": "device",
            "url": flow["verification_uri"],
            "user_code": flow["user_code"],
            "username": es.ALICE[0],
            "password": es.ALICE[1],
            "consent": "cancel",
        },
        artifacts,
    )
    assert seen["consent_seen"], seen
    t.join(POLL_BOUND + 10)
    assert not t.is_alive(), "MSAL still polling"
    result = box.get("result")
    assert result is not None, box
    assert result.get("error") == "authorization_declined", result


def test_device_code_finished_from_a_script_without_a_browser(emulator):
    """`entra emulator approve-device-code` completes MSAL Python's device flow: what a
    test in any language does when no browser is at hand."""
    app, flow = start_flow(emulator)
    t, box = poll_in_thread(app, flow)
    done = subprocess.run(
        [str(es.entra_bin()), "emulator", "approve-device-code", flow["user_code"],
         "--user", "alice", "--state-dir", str(emulator.state_dir)],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    t.join(POLL_BOUND + 10)
    assert not t.is_alive(), "MSAL still polling"
    assert "exc" not in box, box
    result = box["result"]
    assert "access_token" in result, result
    claims = emulator.verify(result["access_token"], audience=es.API_APP, ver="2.0")
    assert claims["azp"] == es.PUBLIC_CLIENT, claims
    assert result["id_token_claims"].get("preferred_username", "").lower() == es.ALICE[0]
    # A used code cannot be approved again: exit 1 and a reason, never a token.
    again = subprocess.run(
        [str(es.entra_bin()), "emulator", "approve-device-code", flow["user_code"],
         "--user", "alice", "--state-dir", str(emulator.state_dir)],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert again.returncode == 1, (again.stdout, again.stderr)
    assert "eyJ" not in again.stdout + again.stderr

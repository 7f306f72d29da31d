"""A Conditional Access authentication context, end to end with MSAL Python: an API that
requires `c1` (here `entra validate --auth-context c1`, the check entra-validate's
middleware makes) refuses alice's token with a claims challenge; MSAL, given that
challenge, gets a new token from the emulator carrying `acrs: ["c1"]` (and the client
capability it declared in `xms_cc`), which passes."""

from __future__ import annotations

import base64
import json
import os
import subprocess

import msal

import entra_support as es


def validate(emulator, token: str, *extra: str) -> tuple[int, dict]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "ENTRA_"))}
    out = subprocess.run(
        [str(es.entra_bin()), "validate", "-", "--tenant", es.TENANT, "--audience", es.API_APP,
         "--authority", emulator.authority, "--ca-file", emulator.ca_file, *extra],
        input=token, capture_output=True, text=True, timeout=30, env=env,
    )
    return out.returncode, json.loads(out.stdout)


def test_auth_context_claims_challenge_round_trip(emulator):
    app = msal.PublicClientApplication(
        es.PUBLIC_CLIENT, authority=emulator.tenant_authority, instance_discovery=False,
        client_capabilities=["cp1"],
    )
    first = app.acquire_token_by_username_password(*es.ALICE, scopes=[es.API_READ])
    assert "access_token" in first, first

    # Without the context: refused with the challenge an API sends.
    rc, verdict = validate(emulator, first["access_token"], "--auth-context", "c1")
    assert (rc, verdict["code"], verdict["error"]) == (1, "insufficient_claims", "insufficient_claims"), verdict
    header = verdict["www_authenticate"]
    assert header.startswith('Bearer error="insufficient_claims"'), header
    in_header = base64.b64decode(header.split('claims="')[1].rstrip('"')).decode()
    assert json.loads(in_header) == json.loads(verdict["claims"]) == {
        "access_token": {"acrs": {"essential": True, "value": "c1"}}
    }
    # The first token did carry the capability MSAL declared.
    claims = emulator.verify(first["access_token"], audience=es.API_APP, ver="2.0")
    assert claims.get("xms_cc") == ["cp1"] and "acrs" not in claims, claims

    # MSAL asks again with the challenge (merged with its capabilities): the new token
    # carries the context and passes.
    second = app.acquire_token_by_username_password(
        *es.ALICE, scopes=[es.API_READ], claims_challenge=verdict["claims"],
    )
    assert "access_token" in second, second
    claims = emulator.verify(second["access_token"], audience=es.API_APP, ver="2.0")
    assert claims.get("acrs") == ["c1"] and claims.get("xms_cc") == ["cp1"], claims
    rc, verdict = validate(emulator, second["access_token"], "--auth-context", "c1", "--scope", "Data.Read")
    assert rc == 0 and verdict["valid"] is True, verdict

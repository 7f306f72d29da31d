"""Workload identity: azure-identity's WorkloadIdentityCredential presents a
federated token minted by `entra emulator mint-federated`."""

from __future__ import annotations

import subprocess

from azure.identity import WorkloadIdentityCredential

import entra_support as es


def mint(emulator, out_file, subject=es.WORKLOAD_SUBJECT, state_dir_after_subcommand=False):
    sd = ["--state-dir", str(emulator.state_dir)]
    rest = ["--subject", subject, "--out", str(out_file)]
    cmd = ([str(es.entra_bin()), "emulator", "mint-federated", *sd, *rest] if state_dir_after_subcommand
           else [str(es.entra_bin()), "emulator", *sd, "mint-federated", *rest])
    r = subprocess.run(
        cmd,
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 0, f"mint-federated failed: {r.stdout}\n{r.stderr}"
    assert out_file.exists() and out_file.read_text().strip().count(".") == 2
    return out_file


def test_mint_federated_accepts_state_dir_after_subcommand(emulator, tmp_path):
    """The documented form: `entra emulator mint-federated --state-dir DIR ...`."""
    mint(emulator, tmp_path / "federated-token", state_dir_after_subcommand=True)


def test_workload_identity_credential(emulator, tmp_path):
    token_file = mint(emulator, tmp_path / "federated-token")
    cred = WorkloadIdentityCredential(
        tenant_id=es.TENANT, client_id=es.DAEMON, token_file_path=str(token_file),
        authority=emulator.authority, disable_instance_discovery=True,
    )
    tok = cred.get_token(es.API_DEFAULT)
    claims = emulator.verify(tok.token, audience=es.API_APP, ver="2.0")
    assert claims["azp"] == es.DAEMON, claims
    assert "Data.Read.All" in claims.get("roles", []), claims
    assert claims.get("idtyp") == "app", claims


def test_workload_identity_env_vars(emulator, tmp_path, monkeypatch):
    token_file = mint(emulator, tmp_path / "federated-token")
    monkeypatch.setenv("AZURE_TENANT_ID", es.TENANT)
    monkeypatch.setenv("AZURE_CLIENT_ID", es.DAEMON)
    monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", emulator.authority)
    cred = WorkloadIdentityCredential(disable_instance_discovery=True)
    tok = cred.get_token(es.API_DEFAULT)
    claims = emulator.verify(tok.token, audience=es.API_APP, ver="2.0")
    assert claims["azp"] == es.DAEMON, claims


def test_workload_identity_wrong_subject_is_refused(emulator, tmp_path):
    import msal

    token_file = mint(emulator, tmp_path / "other-token", subject="system:serviceaccount:default:intruder")
    app = msal.ConfidentialClientApplication(
        es.DAEMON, client_credential={"client_assertion": token_file.read_text().strip()},
        authority=emulator.tenant_authority, instance_discovery=False,
    )
    result = app.acquire_token_for_client(scopes=[es.API_DEFAULT])
    assert "access_token" not in result, "a federated token with an unknown subject must be refused"
    assert result.get("error") in ("invalid_client", "invalid_request", "unauthorized_client"), result

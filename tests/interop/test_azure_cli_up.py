"""The real Azure CLI and Fabric CLI (both pinned from PyPI, each in its own venv) against
one `entra up`, with nothing set but the variables `entra up` prints: the exports are read
from its own output, exactly as a user would paste them (HTTPS_PROXY, NO_PROXY, the CA
bundle variables, and the broker's IDENTITY_ENDPOINT / IDENTITY_HEADER). az keeps its
default cloud (AzureCloud): it talks to login.microsoftonline.com, management.azure.com,
graph.microsoft.com and api.fabric.microsoft.com by name, through the intercept proxy.

Covered here (test_azure_cli.py has the secret, -u/-p and logout logins):
- `az login --service-principal` with the daemon's generated certificate (daemon.pem,
  the PEM with the private key az wants) and with `--federated-token` (from
  `entra emulator mint-federated`, matching the daemon's federated credential);
- `az account get-access-token` for ARM, Fabric, Power BI and Graph, each token checked
  against the emulator's keys (signature, Entra's public v1 issuer, audience, appid,
  roles or scp);
- `az rest --url https://api.fabric.microsoft.com/v1/workspaces --resource ...` as the
  service principal and as alice. az derives a token resource only from its cloud's own
  endpoints (ARM, Graph, ...); for Fabric it warns "Can't derive appropriate Azure AD
  resource from --url" and sends no token, which Fabric answers 401 InvalidToken; so
  --resource is the minimal form that works;
- `az login --use-device-code`: az prints the emulator's verification_uri
  (https://login.microsoftonline.com/devicelogin) on stderr; headless Chromium opens
  exactly that URL through the proxy, trusting the intercept CA by its key only, and
  signs alice in; az then finishes on its own;
- `az login --identity` through the broker `entra up` starts (App Service protocol),
  then az lists subscriptions on management.azure.com through the proxy; and an unknown
  `--client-id` gives the broker's App Service error, which az prints readably;
- the Fabric CLI (`fab`): service-principal login (`fab auth login`, and its
  FAB_SPN_CLIENT_ID / FAB_SPN_CLIENT_SECRET / FAB_TENANT_ID variables) and
  `fab api workspaces`.

Every az/fab run is bounded in time; the stack is shared by the module, each test has its
own AZURE_CONFIG_DIR (or HOME for fab).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shlex
import subprocess
import time
from pathlib import Path

import jwt
import pytest

import broker_support as bs
import entra_support as es

AZ = es.REPO / ".venv-az" / "bin" / "az"
FAB = es.REPO / ".venv-fab" / "bin" / "fab"
RUN_TIMEOUT = 120  # seconds per az / fab command
DEVICE_TIMEOUT = 90  # az's whole device-code login, browser included
SUBSCRIPTION = "c0ffee00-5b00-4000-a000-000000000001"
AZURE_CLI = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
STS = f"https://sts.windows.net/{es.TENANT}/"
ARM_AUD = "https://management.core.windows.net/"
FABRIC = "https://api.fabric.microsoft.com"
POWER_BI = "https://analysis.windows.net/powerbi/api"
GRAPH_AUD = "https://graph.microsoft.com/"
FABRIC_WORKSPACES = f"{FABRIC}/v1/workspaces"
# What the embedded directory gives each caller (default-directory.toml's [[workspaces]]).
DAEMON_WORKSPACES = {"Sales", "Automation"}
ALICE_WORKSPACES = {"My workspace", "Sales", "Marketing", "Finance", "Engineering"}


class Stack:
    """One `entra up` and the environment its printed `export` lines describe."""

    def __init__(self, inner: bs.Stack):
        self.inner = inner
        self.emu = inner.emulator
        self.exports = _exports(self.emu.log_path.read_text(errors="replace"))
        for k in ("HTTPS_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "IDENTITY_ENDPOINT", "IDENTITY_HEADER"):
            assert self.exports.get(k), f"`entra up` printed no {k}: {self.exports}"

    def env(self, **extra: str) -> dict[str, str]:
        """PATH, the exports and `extra`: nothing else from this process's environment."""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
        env.update(self.exports)
        env.update(extra)
        return env

    def verify(self, token: str, audience: str, issuer: str = STS) -> dict:
        """Signature against the emulator's keys, the issuer (Entra's public v1 one for
        tokens issued through the proxy), audience, expiry."""
        key = self.emu.jwk_client().get_signing_key_from_jwt(token)
        claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=audience, issuer=issuer,
                            options={"require": ["exp", "iat", "iss", "aud"]})
        assert claims["ver"] == "1.0" and claims["tid"] == es.TENANT, claims
        return claims


def _exports(output: str) -> dict[str, str]:
    found = {}
    for line in output.splitlines():
        if line.startswith("export "):
            for word in shlex.split(line[len("export "):]):
                k, _, v = word.partition("=")
                found[k] = v
    return found


@pytest.fixture(scope="module")
def stack():
    for tool in (AZ, FAB):
        if not tool.exists():
            pytest.fail(f"{tool} is missing: run scripts/setup-test-deps", pytrace=False)
    state = es.mkdtemp("entra-az-up-")
    try:
        inner = bs.start_stack(state / "up")
    except RuntimeError as e:
        pytest.fail(f"could not start `entra up`: {e}", pytrace=False)
    try:
        assert inner.emulator.ready.get("proxy"), inner.emulator.ready
        yield Stack(inner)
    finally:
        es.stop_process(inner.proc)
        es.rmtree(state)


def _run(cmd: list[str], env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT,
                       stdin=subprocess.DEVNULL)
    if check and p.returncode != 0:
        shown = " ".join(a for a in cmd[1:] if "secret" not in a and len(a) < 200)
        raise AssertionError(f"{Path(cmd[0]).name} {shown} -> {p.returncode}\n"
                             f"stdout: {p.stdout[-2000:]}\nstderr: {p.stderr[-4000:]}")
    return p


class Az:
    def __init__(self, stack: Stack, config_dir: Path):
        self.stack = stack
        # Output and telemetry only: nothing that changes how az authenticates.
        self.env = stack.env(AZURE_CONFIG_DIR=str(config_dir), AZURE_CORE_COLLECT_TELEMETRY="false",
                             AZURE_CORE_NO_COLOR="true", AZURE_CORE_SURVEY_MESSAGE="false")

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return _run([str(AZ), *args], self.env, check)

    def json(self, *args: str) -> object:
        return json.loads(self.run(*args, "-o", "json").stdout)

    def token(self, *args: str) -> str:
        return self.json("account", "get-access-token", *args)["accessToken"]

    def fabric_workspaces(self) -> set[str]:
        """All pages of GET /v1/workspaces (Fabric pages with continuationUri)."""
        names, url = set(), FABRIC_WORKSPACES
        for _ in range(10):
            page = self.json("rest", "--url", url, "--resource", FABRIC)
            names |= {w["displayName"] for w in page["value"]}
            url = page.get("continuationUri")
            if not url:
                return names
            assert url.startswith(FABRIC_WORKSPACES + "?"), page
        raise AssertionError("more than 10 pages of workspaces")


def test_certificate_login_tokens_for_four_resources_and_fabric(stack, tmp_path):
    az = Az(stack, tmp_path / "azure")
    assert az.run("cloud", "show", "--query", "name", "-o", "tsv").stdout.strip() == "AzureCloud"
    # daemon.pem holds the private key and the certificate, as az's --certificate wants.
    subs = az.json("login", "--service-principal", "-u", es.DAEMON, "--certificate",
                   str(stack.emu.daemon_pem), "--tenant", es.TENANT)
    assert [(s["id"], s["cloudName"]) for s in subs] == [(SUBSCRIPTION, "AzureCloud")], subs

    arm = stack.verify(az.token(), ARM_AUD)
    assert arm["appid"] == es.DAEMON and arm["idtyp"] == "app" and "scp" not in arm, arm
    fabric = stack.verify(az.token("--resource", FABRIC), FABRIC)
    assert fabric["appid"] == es.DAEMON and "scp" not in fabric, fabric
    pbi = stack.verify(az.token("--resource", POWER_BI), POWER_BI)
    assert set(pbi["roles"]) == {"Tenant.Read.All", "Tenant.ReadWrite.All"}, pbi
    graph = stack.verify(az.token("--resource-type", "ms-graph"), GRAPH_AUD)
    assert graph["appid"] == es.DAEMON and graph["roles"] == ["User.Read.All"], graph

    # Without --resource az sends no token for a non-ARM host: Fabric's 401, which az shows.
    p = az.run("rest", "--url", FABRIC_WORKSPACES, check=False)
    assert p.returncode != 0 and "Can't derive appropriate Azure AD resource" in p.stderr, p.stderr
    assert '"errorCode":"InvalidToken"' in p.stderr, p.stderr
    assert az.fabric_workspaces() == DAEMON_WORKSPACES


def test_federated_token_login(stack, tmp_path):
    minted = subprocess.run(
        [str(es.entra_bin()), "emulator", "mint-federated", "--state-dir", str(stack.emu.state_dir),
         "--subject", es.WORKLOAD_SUBJECT],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )
    assert minted.returncode == 0, minted.stderr
    assertion = minted.stdout.strip()
    az = Az(stack, tmp_path / "azure")
    subs = az.json("login", "--service-principal", "-u", es.DAEMON, "--federated-token", assertion,
                   "--tenant", es.TENANT)
    assert [s["id"] for s in subs] == [SUBSCRIPTION], subs
    assert stack.verify(az.token(), ARM_AUD)["appid"] == es.DAEMON


def _intercept_ca_spki(stack: Stack) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = x509.load_pem_x509_certificate(Path(stack.emu.ready["proxy"]["ca_file"]).read_bytes())
    der = cert.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def _device_prompt(proc: subprocess.Popen, deadline: float) -> tuple[str, str]:
    """az's first stderr line: 'To sign in, use a web browser to open the page URL and enter
    the code CODE to authenticate.' (MSAL's `message` from the device-code response)."""
    seen = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        m = re.search(r"open the page (\S+) and enter the code (\S+) ", line)
        if m:
            return m.group(1), m.group(2)
    raise AssertionError(f"az printed no device-code prompt: {''.join(seen)[-2000:]}")


def test_device_code_login_with_chromium_then_fabric_as_alice(stack, tmp_path, artifacts):
    az = Az(stack, tmp_path / "azure")
    proc = subprocess.Popen([str(AZ), "login", "--use-device-code", "-o", "json"], env=az.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            text=True)
    try:
        deadline = time.monotonic() + DEVICE_TIMEOUT
        url, code = _device_prompt(proc, deadline)
        assert url == "https://login.microsoftonline.com/devicelogin", url
        page = {"mode": "device", "url": url, "user_code": code,
                "username": es.ALICE[0], "password": es.ALICE[1],
                "proxy": stack.exports["HTTPS_PROXY"]}
        # Chromium ignores no certificate error but the intercept CA's: another key fails.
        with pytest.raises(AssertionError, match="ERR_CERT_AUTHORITY_INVALID"):
            es.run_browser(dict(page, trust_spki=base64.b64encode(bytes(32)).decode(),
                                total_timeout_ms=30000), artifacts / "untrusted")
        result = es.run_browser(dict(page, trust_spki=_intercept_ca_spki(stack)), artifacts)
        assert result.get("done"), result
        out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == 0, err[-3000:]
    subs = json.loads(out)
    assert [(s["id"], s["user"]["name"]) for s in subs] == [(SUBSCRIPTION, es.ALICE[0])], subs

    arm = stack.verify(az.token(), ARM_AUD)
    assert (arm["appid"], arm["oid"], arm["scp"]) == (AZURE_CLI, es.ALICE_OID, "user_impersonation"), arm
    fabric = stack.verify(az.token("--resource", FABRIC), FABRIC)
    assert fabric["appid"] == AZURE_CLI and fabric["upn"] == es.ALICE[0], fabric
    assert {"Workspace.Read.All", "Item.Read.All"} <= set(fabric["scp"].split()), fabric
    pbi = stack.verify(az.token("--resource", POWER_BI), POWER_BI)
    assert "Dataset.Read.All" in pbi["scp"].split(), pbi
    assert az.fabric_workspaces() == ALICE_WORKSPACES


def test_identity_login_through_the_broker_and_a_readable_error(stack, tmp_path):
    az = Az(stack, tmp_path / "azure")
    audit = stack.emu.state_dir / "broker-audit.jsonl"
    before = len(audit.read_text().splitlines()) if audit.exists() else 0
    subs = az.json("login", "--identity")
    assert [(s["id"], s["user"]["assignedIdentityInfo"]) for s in subs] == [(SUBSCRIPTION, "MSI")], subs
    # The broker asks the emulator by its direct address (ready.json's authority), so its
    # tokens carry the emulator's own v1 issuer, not sts.windows.net (see docs/testing.md).
    claims = stack.verify(az.token(), ARM_AUD, issuer=stack.emu.issuer("1.0"))
    assert claims["appid"] == bs.BROKER_APP, claims  # `entra up` wires the broker to the daemon
    served = [json.loads(line) for line in audit.read_text().splitlines()[before:]]
    assert any(e["protocol"] == "app_service" and e["outcome"] == "ok" and e["resource"] == ARM_AUD
               for e in served), served

    p = az.run("login", "--identity", "--client-id", "99999999-0000-4000-8000-000000000000", check=False)
    assert p.returncode != 0, p.stdout
    assert "400, Identity not found" in p.stderr and "None, None" not in p.stderr, p.stderr


def test_fabric_cli_service_principal_and_api_workspaces(stack, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = stack.env(HOME=str(home))
    fab = str(FAB)
    # The only setting changed: fab keeps its token cache encrypted with the OS keyring
    # (libsecret), which a headless machine lacks; fab's own error names this setting.
    _run([fab, "config", "set", "encryption_fallback_enabled", "true"], env)
    # Login also asks pypi.org for a newer fab: the proxy refuses it (403) and fab carries on.
    _run([fab, "auth", "login", "-u", es.DAEMON, "-p", es.DAEMON_SECRET, "--tenant", es.TENANT], env)
    _assert_daemon_workspaces(_run([fab, "api", "workspaces"], env).stdout)

    # The same with fab's environment variables instead of `auth login` (a fresh HOME).
    home2 = tmp_path / "home2"
    home2.mkdir()
    env2 = stack.env(HOME=str(home2), FAB_SPN_CLIENT_ID=es.DAEMON,
                     FAB_SPN_CLIENT_SECRET=es.DAEMON_SECRET, FAB_TENANT_ID=es.TENANT)
    _run([fab, "config", "set", "encryption_fallback_enabled", "true"], env2)
    _assert_daemon_workspaces(_run([fab, "api", "workspaces"], env2).stdout)


def _assert_daemon_workspaces(out: str) -> None:
    got = json.loads(out)
    assert got["status_code"] == 200, got
    assert {w["displayName"] for w in got["text"]["value"]} == DAEMON_WORKSPACES, got

"""The real Azure CLI (azure-cli from PyPI, pinned in requirements-az.txt, in its own
venv .venv-az) against the emulator, two ways:

- through the emulator's HTTPS proxy (`--proxy-port`) with az's default cloud and
  settings: only HTTPS_PROXY, NO_PROXY and REQUESTS_CA_BUNDLE are set, and az talks to
  login.microsoftonline.com, management.azure.com and graph.microsoft.com by name;
- served directly, with `az cloud register` reading the emulator's
  /arm/metadata/endpoints.

What the direct setup needs that the proxy-based, default-cloud one does not:
- `az cloud register --endpoint-resource-manager https://localhost:PORT/arm/`
  (the cloud's other endpoints come from the emulator's metadata);
- `AZURE_CORE_INSTANCE_DISCOVERY=false`: MSAL otherwise asks
  https://login.microsoftonline.com/common/discovery/instance about the localhost
  authority, which is offline here;
- for `az login -u/-p` only, MSAL Python's user-realm lookup: it asks
  https://localhost/common/userrealm/... with the authority's port dropped (nothing
  answers on 443). That test runs az in-process after marking localhost as a domain
  without user realm discovery, as conftest.py does for MSAL itself and as MSAL does on
  its own after a 404. az's code is not changed otherwise.

Each test gets its own AZURE_CONFIG_DIR (a temporary directory); every az run is bounded
in time.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import jwt
import pytest

import entra_support as es

AZ_VENV = es.REPO / ".venv-az"
AZ = AZ_VENV / "bin" / "az"
AZ_PYTHON = AZ_VENV / "bin" / "python"
AZ_TIMEOUT = 180  # seconds per az command (its first start compiles nothing, but loads a lot)
SUBSCRIPTION = "c0ffee00-5b00-4000-a000-000000000001"
AZURE_CLI = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"

# az with MSAL's user-realm lookup skipped for localhost (see the module docstring).
_WITHOUT_USERREALM = (
    "import sys, runpy, msal.authority as a\n"
    "a.Authority._domains_without_user_realm_discovery.add('localhost')\n"
    "sys.argv = ['az'] + sys.argv[1:]\n"
    "runpy.run_module('azure.cli', run_name='__main__')\n"
)


class Az:
    """One az configuration directory against one emulator (served directly, or through
    its proxy when `proxied`)."""

    def __init__(self, emu: es.Emulator, config_dir: Path, extra_env: dict[str, str] | None = None,
                 proxied: bool = False):
        if not AZ.exists():
            pytest.fail(f"{AZ} is missing: run scripts/setup-test-deps", pytrace=False)
        self.emu = emu
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AZURE_", "MSAL_", "IDENTITY_", "MSI_", "IMDS_"))
        }
        for k in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
            env.pop(k, None)
        # Output and telemetry only: no setting that changes how az authenticates.
        env.update(
            AZURE_CONFIG_DIR=str(config_dir),
            AZURE_CORE_COLLECT_TELEMETRY="false",
            AZURE_CORE_NO_COLOR="true",
            AZURE_CORE_SURVEY_MESSAGE="false",
            NO_PROXY="localhost,127.0.0.1,::1",
            no_proxy="localhost,127.0.0.1,::1",
        )
        if proxied:
            proxy = emu.ready["proxy"]
            env.update(HTTPS_PROXY=proxy["url"], REQUESTS_CA_BUNDLE=proxy["ca_bundle"])
        else:
            env.update(
                REQUESTS_CA_BUNDLE=emu.ca_file,
                SSL_CERT_FILE=emu.ca_file,
                AZURE_CORE_INSTANCE_DISCOVERY="false",
                AZURE_CORE_LOGIN_EXPERIENCE_V2="off",
            )
        env.update(extra_env or {})
        self.env = env

    def run(self, *args: str, without_userrealm: bool = False, check: bool = True) -> subprocess.CompletedProcess:
        cmd = (
            [str(AZ_PYTHON), "-c", _WITHOUT_USERREALM, *args]
            if without_userrealm
            else [str(AZ), *args]
        )
        p = subprocess.run(
            cmd, env=self.env, capture_output=True, text=True, timeout=AZ_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
        if check and p.returncode != 0:
            raise AssertionError(
                f"az {' '.join(a for a in args if 'secret' not in a and 'password' not in a)} "
                f"-> {p.returncode}\nstdout: {p.stdout[-2000:]}\nstderr: {p.stderr[-4000:]}"
            )
        return p

    def json(self, *args: str, **kw) -> object:
        return json.loads(self.run(*args, "-o", "json", **kw).stdout)

    def register_cloud(self) -> None:
        # A trailing slash, as Microsoft's examples write it: az then asks for
        # .../arm//metadata/endpoints, which ARM (and the emulator) answer.
        self.run("cloud", "register", "-n", "EntraEmulator",
                 "--endpoint-resource-manager", f"{self.emu.authority}/arm/")
        self.run("cloud", "set", "-n", "EntraEmulator")


@pytest.fixture
def az(emulator, tmp_path) -> Az:
    a = Az(emulator, tmp_path / "azure")
    a.register_cloud()
    return a


def test_cloud_register_reads_the_emulators_metadata(az):
    cloud = az.json("cloud", "show", "-n", "EntraEmulator")
    ep = cloud["endpoints"]
    assert ep["activeDirectory"] == f"{az.emu.authority}/", ep
    assert ep["resourceManager"] == f"{az.emu.authority}/arm/", ep
    assert ep["activeDirectoryResourceId"] == "https://management.core.windows.net/", ep
    assert ep["management"] == "https://management.core.windows.net/", ep
    assert ep["microsoftGraphResourceId"] == "https://graph.microsoft.com/", ep
    assert cloud["suffixes"]["keyvaultDns"] == ".vault.azure.net", cloud["suffixes"]


def test_service_principal_login_token_and_account_list(az):
    subs = az.json("login", "--service-principal", "-u", es.DAEMON, "-p", es.DAEMON_SECRET,
                   "--tenant", es.TENANT)
    assert [s["id"] for s in subs] == [SUBSCRIPTION], subs
    assert subs[0]["user"] == {"name": es.DAEMON, "type": "servicePrincipal"}, subs

    token = az.json("account", "get-access-token")
    assert token["subscription"] == SUBSCRIPTION and token["tenant"] == es.TENANT, {
        k: v for k, v in token.items() if k != "accessToken"
    }
    claims = az.emu.verify(token["accessToken"], audience="https://management.core.windows.net/", ver="1.0")
    assert claims["appid"] == es.DAEMON, claims

    accounts = az.json("account", "list")
    assert [(a["id"], a["name"], a["isDefault"]) for a in accounts] == [
        (SUBSCRIPTION, "Contoso Dev", True)
    ], accounts

    # The local ARM and Graph through `az rest` (az picks the token by --resource).
    subs = az.json("rest", "--method", "get", "--url",
                   f"{az.emu.authority}/arm/subscriptions?api-version=2022-12-01")
    assert subs["value"][0]["subscriptionId"] == SUBSCRIPTION, subs
    users = az.json("rest", "--method", "get", "--resource", "https://graph.microsoft.com",
                    "--url", f"{az.emu.authority}/graph/v1.0/users?$top=2")
    assert len(users["value"]) == 2 and "@odata.nextLink" in users, users

    az.run("logout")
    assert az.json("account", "list") == []


def test_user_login_lists_tenants_and_subscriptions(az):
    # No --tenant: az asks /tenants for the user's tenants, then each one's subscriptions.
    subs = az.json("login", "-u", es.ALICE[0], "-p", es.ALICE[1], without_userrealm=True)
    assert [(s["id"], s["tenantId"], s["user"]["name"]) for s in subs] == [
        (SUBSCRIPTION, es.TENANT, es.ALICE[0])
    ], subs
    token = az.json("account", "get-access-token")
    claims = az.emu.verify(token["accessToken"], audience="https://management.core.windows.net/", ver="1.0")
    assert claims["appid"] == AZURE_CLI and claims["oid"] == es.ALICE_OID, claims
    assert claims["scp"] == "user_impersonation", claims
    me = az.json("rest", "--method", "get", "--resource", "https://graph.microsoft.com",
                 "--url", f"{az.emu.authority}/graph/v1.0/me")
    assert me["userPrincipalName"] == es.ALICE[0], me


def test_managed_identity_login_and_a_readable_error(emulator, tmp_path):
    ready = emulator.ready
    az = Az(emulator, tmp_path / "azure", {
        "IDENTITY_ENDPOINT": ready["identity_endpoint"],
        "IDENTITY_HEADER": ready["identity_header"],
    })
    az.register_cloud()
    subs = az.json("login", "--identity")
    assert [s["id"] for s in subs] == [SUBSCRIPTION], subs
    token = az.json("account", "get-access-token")
    claims = jwt.decode(token["accessToken"], options={"verify_signature": False})
    assert claims["appid"] == es.MI_SYSTEM, claims

    # An identity the host does not have: App Service's error, which az prints.
    p = az.run("login", "--identity", "--client-id", "99999999-0000-4000-8000-000000000000",
               check=False)
    assert p.returncode != 0, p.stdout
    assert "400, Identity not found" in p.stderr, p.stderr
    assert "None, None" not in p.stderr, p.stderr


# --- Through the proxy, az's default cloud ---------------------------------------------

@pytest.fixture(scope="module")
def proxied():
    state = es.mkdtemp("entra-az-proxy-")
    try:
        emu = es.start_emulator(state / "emu", ["--proxy-port", "0"])
    except RuntimeError as e:
        pytest.fail(f"could not start the emulator: {e}", pytrace=False)
    try:
        assert emu.ready.get("proxy"), emu.ready
        yield emu
    finally:
        es.stop_process(emu.proc)
        es.rmtree(state)


def test_default_cloud_service_principal_through_the_proxy(proxied, tmp_path):
    az = Az(proxied, tmp_path / "azure", proxied=True)
    assert az.run("cloud", "show", "--query", "name", "-o", "tsv").stdout.strip() == "AzureCloud"
    subs = az.json("login", "--service-principal", "-u", es.DAEMON, "-p", es.DAEMON_SECRET,
                   "--tenant", es.TENANT)
    assert [(s["id"], s["cloudName"]) for s in subs] == [(SUBSCRIPTION, "AzureCloud")], subs
    token = az.json("account", "get-access-token")
    claims = jwt.decode(token["accessToken"], options={"verify_signature": False})
    # Entra's public issuer and ARM's audience, as the real service writes them.
    assert claims["iss"] == f"https://sts.windows.net/{es.TENANT}/", claims
    assert claims["aud"] == "https://management.core.windows.net/", claims
    assert [a["id"] for a in az.json("account", "list")] == [SUBSCRIPTION]
    # The real URLs, answered locally.
    tenants = az.json("rest", "--url", "https://management.azure.com/tenants?api-version=2022-12-01")
    assert tenants["value"][0]["tenantId"] == es.TENANT, tenants
    users = az.json("rest", "--url", "https://graph.microsoft.com/v1.0/users?$top=1")
    assert users["@odata.nextLink"].startswith("https://graph.microsoft.com/v1.0/users?"), users
    az.run("logout")
    assert az.json("account", "list") == []


def test_default_cloud_user_login_through_the_proxy(proxied, tmp_path):
    # MSAL's user-realm lookup goes to login.microsoftonline.com:443 by name: the proxy
    # answers it, so no workaround is needed here.
    az = Az(proxied, tmp_path / "azure", proxied=True)
    subs = az.json("login", "-u", es.BOB[0], "-p", es.BOB[1])
    assert [(s["id"], s["tenantDisplayName"], s["user"]["name"]) for s in subs] == [
        (SUBSCRIPTION, "Contoso", es.BOB[0])
    ], subs
    me = az.json("rest", "--url", "https://graph.microsoft.com/v1.0/me")
    assert me["userPrincipalName"] == es.BOB[0], me

"""The seeds' own scenarios (seed 000's Fabric clients, seed 001's code-as-bearer mistake)
through `entra up`, with nothing but the variables it prints.

One `entra up --port 0` per module; its stdout's `export` lines are parsed into the only
environment the client code gets (plus PATH and HOME, and for the browser the test's
own BROWSER settings). The client code is written the way the seeds write it: Microsoft's
default authority `https://login.microsoftonline.com/{tenant}` and Fabric's real URL,
no instance-discovery switch, no authority variable of its own.

- Seed 000, interactive: MSAL Python's PublicClientApplication and
  `acquire_token_interactive`, the browser being `$BROWSER` (bin/headless-signin: headless
  Debian Chromium, node/signin_browser.mjs), which goes to login.microsoftonline.com
  through the proxy, trusting the local CAs from an NSS database in a temporary HOME (no
  certificate check is switched off), signs in as alice with the sign-in page's
  development user picker and lets the redirect reach MSAL's loopback listener directly
  (NO_PROXY). The next call is `acquire_token_silent`, which must not open the browser.
- Seed 000, managed identity: azure-identity's DefaultAzureCredential; the exports name
  the broker (IDENTITY_ENDPOINT/IDENTITY_HEADER) and no service principal, so the chain
  reaches ManagedIdentityCredential (App Service), and the broker's audit log shows it.
- Seed 001: an authorization code for the web app (the browser driver, as above), sent
  to Fabric by curl as a bearer (curl reads HTTPS_PROXY and CURL_CA_BUNDLE): Fabric's
  401 InvalidToken body; then the code exchanged by curl at the token endpoint and the
  call made again: 200.
- @azure/identity (Node) DefaultAzureCredential (node/seed_fabric_dac.mjs) over the
  broker, and over EnvironmentCredential with the service principal `entra up` suggests
  in a comment, with and without its AZURE_AUTHORITY_HOST; Fabric through the proxy with
  https-proxy-agent.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import jwt
import pytest

import broker_support as bs
import entra_support as es

FABRIC = "https://api.fabric.microsoft.com"
FABRIC_WORKSPACES = f"{FABRIC}/v1/workspaces"
PUBLIC = "https://login.microsoftonline.com"
HEADLESS_SIGNIN = es.INTEROP / "bin" / "headless-signin"
CLIENT_TIMEOUT = 90  # seconds per client program (browser included)

# The local Fabric's directory (crates/emulator/src/default-directory.toml).
ALICE_WORKSPACES = {"My workspace", "Sales", "Marketing", "Finance", "Engineering"}
DAEMON_WORKSPACES = {"Sales", "Automation"}


@dataclass
class Up:
    stack: bs.Stack
    exports: dict[str, str]  # the `export` lines `entra up` printed
    suggested_sp: dict[str, str]  # the service principal its output suggests (a comment)

    @property
    def audit_log(self) -> Path:
        return self.stack.emulator.state_dir / "broker-audit.jsonl"


def _parse_exports(text: str) -> tuple[dict[str, str], dict[str, str]]:
    exports: dict[str, str] = {}
    suggested: dict[str, str] = {}
    for line in text.splitlines():
        target = exports
        if line.startswith("# export "):
            line, target = line[2:], suggested
        if not line.startswith("export "):
            continue
        for word in shlex.split(line)[1:]:
            k, sep, v = word.partition("=")
            if sep:
                target[k] = v
    return exports, suggested


@pytest.fixture(scope="module")
def up():
    base = es.mkdtemp("entra-seeds-")
    try:
        stack = bs.start_stack(base / "up")
    except RuntimeError as e:
        es.rmtree(base)
        pytest.fail(f"could not start `entra up`: {e}", pytrace=False)
    try:
        # ready.json is written before the exports are printed: wait (bounded) for the last.
        give_up = time.monotonic() + 20
        while True:
            exports, suggested = _parse_exports(stack.emulator.log_path.read_text(errors="replace"))
            if "AZURE_POD_IDENTITY_AUTHORITY_HOST" in exports or time.monotonic() > give_up:
                break
            time.sleep(0.1)
        for k in ("HTTPS_PROXY", "NO_PROXY", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
                  "NODE_EXTRA_CA_CERTS", "IDENTITY_ENDPOINT", "IDENTITY_HEADER"):
            assert exports.get(k), f"`entra up` printed no {k}: {exports}\n{stack.log_tail()}"
        # Nothing that would let EnvironmentCredential win over managed identity by default.
        assert not {"AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID"} & exports.keys(), exports
        assert suggested.get("AZURE_CLIENT_SECRET"), "the suggested service principal is missing"
        yield Up(stack, exports, suggested)
    finally:
        es.stop_process(stack.proc)
        if not os.environ.get("ENTRA_KEEP_STATE"):
            es.rmtree(base)


def run_client(argv: list[str], env: dict[str, str], cwd: Path = es.INTEROP,
               timeout: float = CLIENT_TIMEOUT, before_stop=None) -> subprocess.CompletedProcess:
    """Runs a client with exactly `env` (plus PATH and HOME) in a session of its own, and
    stops whatever it left behind (the browser it opened) by that session's group, after
    `before_stop()` (a bounded wait for that browser's own report)."""
    full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root"), **env}
    proc = subprocess.Popen(argv, env=full, cwd=str(cwd), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=10)
        raise AssertionError(f"{argv[0]} did not finish within {timeout}s; stderr:\n{err[-3000:]}")
    finally:
        if before_stop is not None:
            before_stop()
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # a browser still running
        except ProcessLookupError:
            pass
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def last_json(out: subprocess.CompletedProcess) -> dict:
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON from {out.args[0]} (rc={out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}"
    return json.loads(lines[-1])


def verified(up: Up, token: str, issuer: str) -> dict:
    """The token's claims after checking its signature against the emulator's JWKS, its
    issuer, Fabric's audience and its lifetime."""
    key = up.stack.emulator.jwk_client().get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=["RS256"], audience=FABRIC, issuer=issuer,
                      options={"require": ["exp", "iat", "iss", "aud"]})


def audit_lines(up: Up) -> int:
    try:
        return len(up.audit_log.read_text().splitlines())
    except FileNotFoundError:
        return 0


def signin_env(tmp_path: Path) -> dict[str, str]:
    """The test's settings for the headless browser (which user to sign in as, where it
    reports); the rest of its configuration is entra up's exports it inherits."""
    return {
        "ENTRA_TEST_BROWSER_USER": "alice",
        "ENTRA_TEST_BROWSER_RESULT": str(tmp_path / "browser-result.jsonl"),
        "ENTRA_TEST_BROWSER_LOG": str(tmp_path / "browser.log"),
    }


def browser_runs(tmp_path: Path, want: int, wait: float = 30) -> list[dict]:
    """The browser's result lines once there are `want` (bounded wait: the driver writes
    its line after the page MSAL's listener answered has loaded)."""
    path = tmp_path / "browser-result.jsonl"
    give_up = time.monotonic() + wait
    while True:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= want or time.monotonic() > give_up:
            return [json.loads(line) for line in lines]
        time.sleep(0.2)


# --- seed 000: interactive, then silent ---------------------------------------------------

# The seed's interactive authenticator, in our words: silent first, interactive otherwise;
# asked twice, as an app asks for a token before each call.
INTERACTIVE_CODE = f"""
import json, msal, requests

class FabricAuth:
    def __init__(self, client_id, tenant):
        self.scopes = ["{FABRIC}/.default"]
        self.app = msal.PublicClientApplication(client_id, authority=f"https://login.microsoftonline.com/{{tenant}}")

    def token(self):
        accounts = self.app.get_accounts()
        if accounts:
            r = self.app.acquire_token_silent(self.scopes, account=accounts[0])
            if r and "access_token" in r:
                return r, "silent"
        return self.app.acquire_token_interactive(scopes=self.scopes), "interactive"

auth = FabricAuth("{es.PUBLIC_CLIENT}", "contoso.onmicrosoft.com")
calls = []
for _ in range(2):
    r, how = auth.token()
    if "access_token" not in r:
        print(json.dumps({{"how": how, "error": r.get("error"), "error_description": r.get("error_description")}}))
        raise SystemExit(1)
    calls.append({{"how": how, "source": r.get("token_source"), "token": r["access_token"]}})

names, url, status = [], "{FABRIC_WORKSPACES}", None
for _ in range(10):
    resp = requests.get(url, headers={{"Authorization": "Bearer " + calls[-1]["token"]}}, timeout=30)
    status = resp.status_code
    if status != 200:
        break
    body = resp.json()
    names += [w["displayName"] for w in body["value"]]
    url = body.get("continuationUri")
    if not url:
        break
print(json.dumps({{"calls": calls, "status": status, "names": names}}))
"""


def test_seed_000_public_client_interactive_then_silent(up, tmp_path):
    env = {**up.exports, **signin_env(tmp_path), "BROWSER": str(HEADLESS_SIGNIN)}
    out = run_client([sys.executable, "-c", INTERACTIVE_CODE], env, before_stop=lambda: browser_runs(tmp_path, 1))
    runs = browser_runs(tmp_path, 1, wait=0)
    log = (tmp_path / "browser.log").read_text(errors="replace")[-3000:] if (tmp_path / "browser.log").exists() else ""
    assert out.returncode == 0, f"{out.stdout[-2000:]}\n{out.stderr[-4000:]}\nbrowser: {runs}\n{log}"
    got = last_json(out)
    first, second = got["calls"]
    assert (first["how"], first["source"]) == ("interactive", "identity_provider"), first["how"]
    # The second call is acquire_token_silent: MSAL finds no cached token under the
    # `.default` name (Entra answers with the granted scopes, MSAL Python stores those),
    # so it redeems the cached refresh token; either way without the browser.
    assert second["how"] == "silent", second["how"]
    assert len(runs) == 1, f"the browser opened {len(runs)} times: {runs}"
    run = runs[0]
    assert run["ok"], run
    # Alice has granted the public client Fabric scopes: the picker, then straight back.
    assert [s["action"] for s in run["steps"]] == ["pick-user"], run
    final = urlparse(run["final"]["origin"])
    assert (final.scheme, final.hostname) == ("http", "localhost"), run
    assert "Authentication complete" in run["final_text"], run
    assert run["trusted_cas"] == 2, run  # the emulator's CA and the intercept CA

    for call in got["calls"]:
        claims = verified(up, call["token"], f"https://sts.windows.net/{es.TENANT}/")
        assert claims["oid"] == es.ALICE_OID and claims["appid"] == es.PUBLIC_CLIENT, claims
        assert {"Workspace.Read.All", "Item.Read.All"} <= set(claims["scp"].split()), claims
    assert got["status"] == 200, got
    assert set(got["names"]) == ALICE_WORKSPACES, got["names"]


def test_the_browser_checks_certificates(up, tmp_path):
    """The driver trusts only what SSL_CERT_FILE names: with the emulator's own CA alone
    (no intercept CA), Chromium refuses login.microsoftonline.com's certificate."""
    env = {**up.exports, **signin_env(tmp_path), "SSL_CERT_FILE": up.stack.emulator.ca_file}
    url = f"{PUBLIC}/{es.TENANT}/oauth2/v2.0/authorize?" + urlencode({
        "client_id": es.PUBLIC_CLIENT, "response_type": "code", "redirect_uri": "http://localhost",
        "scope": "openid", "state": "s"})
    out = run_client(["node", str(es.NODE_DIR / "signin_browser.mjs"), url], env, cwd=es.NODE_DIR)
    run = last_json(out)
    assert out.returncode == 1 and not run["ok"], run
    assert run["trusted_cas"] == 1 and "ERR_CERT_AUTHORITY_INVALID" in run["error"], run


# --- seed 000: DefaultAzureCredential over managed identity (the broker) --------------------

DAC_CODE = f"""
import json, requests
from azure.identity import DefaultAzureCredential

credential = DefaultAzureCredential()
token = credential.get_token("{FABRIC}/.default")
resp = requests.get("{FABRIC_WORKSPACES}", headers={{"Authorization": "Bearer " + token.token}}, timeout=30)
print(json.dumps({{"token": token.token, "status": resp.status_code, "body": resp.json()}}))
"""


def test_seed_000_default_azure_credential_over_the_broker(up):
    before = audit_lines(up)
    out = run_client([sys.executable, "-c", DAC_CODE], up.exports)
    assert out.returncode == 0, f"{out.stdout[-2000:]}\n{out.stderr[-4000:]}\n{up.stack.log_tail()}"
    got = last_json(out)
    # The broker asks the emulator directly, so its tokens name the emulator's issuer.
    claims = verified(up, got["token"], f"{up.stack.emulator.authority}/{es.TENANT}/")
    assert claims["appid"] == bs.BROKER_APP and claims["idtyp"] == "app", claims
    assert "Tenant.Read.All" in claims.get("roles", []), claims
    # ManagedIdentityCredential asked the broker (its audit log has the request).
    assert audit_lines(up) > before, "the broker saw no request"
    assert got["status"] == 200, got
    assert {w["displayName"] for w in got["body"]["value"]} == DAEMON_WORKSPACES, got["body"]


def test_default_azure_credential_with_the_suggested_service_principal(up):
    """`entra up` suggests (in a comment) a service principal for EnvironmentCredential;
    with it added, DefaultAzureCredential takes it first, with the exported
    AZURE_AUTHORITY_HOST (the emulator's own address: MSAL's instance discovery through
    the proxy knows it)."""
    before = audit_lines(up)
    out = run_client([sys.executable, "-c", DAC_CODE], {**up.exports, **up.suggested_sp})
    assert out.returncode == 0, f"{out.stdout[-2000:]}\n{out.stderr[-4000:]}"
    got = last_json(out)
    claims = verified(up, got["token"], f"{up.stack.emulator.authority}/{es.TENANT}/")
    assert claims["appid"] == es.DAEMON, claims
    assert audit_lines(up) == before, "EnvironmentCredential should have answered, not the broker"
    assert got["status"] == 200, got


# --- seed 001: the code as a bearer, then the exchange ---------------------------------------

class _Callback(BaseHTTPRequestHandler):
    """The web app's redirect URI: keeps the authorization response's parameters."""

    received: dict[str, str] = {}

    def do_GET(self):  # noqa: N802 (http.server's name)
        url = urlparse(self.path)
        if url.path != "/":  # the browser's /favicon.ico
            self.send_error(404)
            return
        type(self).received = {k: v[0] for k, v in parse_qs(url.query).items()}
        body = b"<p id=done>Signed in. You can close this tab.</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def curl(env: dict[str, str], *args: str) -> tuple[int, str]:
    out = run_client(["curl", "-sS", "--max-time", "30", "-w", "\n%{http_code}", *args], env, timeout=60)
    assert out.returncode == 0, out.stderr
    body, _, status = out.stdout.rpartition("\n")
    return int(status), body


def test_seed_001_code_as_bearer_then_the_exchange(up, tmp_path):
    server = HTTPServer(("127.0.0.1", 0), _Callback)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    redirect = f"http://localhost:{server.server_address[1]}"
    try:
        # The seed's authorize URL: the multi-tenant endpoint, the web app, Fabric's scope.
        url = f"{PUBLIC}/common/oauth2/v2.0/authorize?" + urlencode({
            "client_id": es.WEB_APP, "response_type": "code", "redirect_uri": redirect,
            "scope": f"{FABRIC}/.default offline_access", "state": uuid.uuid4().hex,
        })
        out = run_client(["node", str(es.NODE_DIR / "signin_browser.mjs"), url],
                         {**up.exports, **signin_env(tmp_path)}, cwd=es.NODE_DIR)
        run = last_json(out)
        assert out.returncode == 0 and run["ok"], f"{run}\n{out.stderr[-3000:]}"
        params = _Callback.received
    finally:
        server.shutdown()
        server.server_close()
    assert "code" in params and "error" not in params, sorted(params)
    code = params["code"]

    # The mistake: the code as a bearer token.
    status, body = curl(up.exports, "-H", f"Authorization: Bearer {code}", FABRIC_WORKSPACES)
    assert status == 401, body
    err = json.loads(body)
    assert list(err) == ["requestId", "errorCode", "message"], err
    assert (err["errorCode"], err["message"]) == ("InvalidToken", "Access token is invalid"), err
    uuid.UUID(err["requestId"])

    # The fix: exchange the code at the token endpoint, then call again.
    status, body = curl(
        up.exports, "-X", "POST", f"{PUBLIC}/common/oauth2/v2.0/token",
        "--data-urlencode", f"client_id={es.WEB_APP}", "--data-urlencode", f"client_secret={es.WEB_SECRET}",
        "--data-urlencode", "grant_type=authorization_code", "--data-urlencode", f"code={code}",
        "--data-urlencode", f"redirect_uri={redirect}", "--data-urlencode", f"scope={FABRIC}/.default",
    )
    assert status == 200, body
    token = json.loads(body)["access_token"]
    claims = verified(up, token, f"https://sts.windows.net/{es.TENANT}/")
    assert claims["oid"] == es.ALICE_OID and claims["appid"] == es.WEB_APP, claims
    status, body = curl(up.exports, "-H", f"Authorization: Bearer {token}", FABRIC_WORKSPACES)
    assert status == 200, body
    assert json.loads(body)["value"], body


# --- @azure/identity (Node) DefaultAzureCredential ---------------------------------------------

NODE_CASES = {
    # entra up's exports alone: ManagedIdentityCredential (App Service) at the broker,
    # which asks the emulator at its direct address.
    "broker": (lambda up: up.exports, "direct"),
    # Plus the service principal it suggests: EnvironmentCredential, at the exported
    # AZURE_AUTHORITY_HOST (the emulator's direct address).
    "environment": (lambda up: {**up.exports, **up.suggested_sp}, "direct"),
    # The same without AZURE_AUTHORITY_HOST: @azure/identity's default authority,
    # login.microsoftonline.com, through the proxy.
    "environment-default-authority": (
        lambda up: {k: v for k, v in {**up.exports, **up.suggested_sp}.items() if k != "AZURE_AUTHORITY_HOST"},
        "public",
    ),
}


@pytest.mark.parametrize("case", list(NODE_CASES))
def test_azure_identity_node_default_azure_credential(up, case):
    if not (es.NODE_DIR / "node_modules" / "https-proxy-agent").exists():
        pytest.fail("tests/interop/node/node_modules is incomplete: run scripts/setup-test-deps", pytrace=False)
    env_of, issuer_kind = NODE_CASES[case]
    before = audit_lines(up)
    out = run_client(["node", str(es.NODE_DIR / "seed_fabric_dac.mjs")], env_of(up), cwd=es.NODE_DIR)
    got = last_json(out)
    assert out.returncode == 0 and "error" not in got, f"{got}\n{out.stderr[-3000:]}"
    claims = got["claims"]
    issuer = {
        "public": f"https://sts.windows.net/{es.TENANT}/",
        "direct": f"{up.stack.emulator.authority}/{es.TENANT}/",
    }[issuer_kind]
    assert (claims["iss"], claims["aud"], claims["appid"]) == (issuer, FABRIC, es.DAEMON), claims
    assert (audit_lines(up) > before) == (case == "broker"), "the broker's audit log disagrees"
    assert got["status"] == 200, got
    assert {w["displayName"] for w in got["body"]["value"]} == DAEMON_WORKSPACES, got["body"]

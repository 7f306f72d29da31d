"""Shared helpers for the interop suite: starting the emulator, verifying tokens,
checking Entra-shaped errors and driving the headless browser.

Everything here talks only to loopback addresses and bounds every wait.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import jwt
import requests

REPO = Path(__file__).resolve().parents[2]
INTEROP = Path(__file__).resolve().parent
NODE_DIR = INTEROP / "node"
BROWSER_JS = NODE_DIR / "browser.mjs"

# --- the emulator's embedded directory ---------------------------------------
TENANT = "c0ffee00-0000-4000-8000-000000000001"
TENANT_DOMAIN = "contoso.onmicrosoft.com"
FABRIKAM = "fab00000-0000-4000-8000-000000000002"
API_APP = "a0000000-0000-4000-8000-0000000000a1"
API_URI = "api://contoso-api"
API_DEFAULT = "api://contoso-api/.default"
API_READ = "api://contoso-api/Data.Read"
DAEMON = "d0000000-0000-4000-8000-0000000000d1"
DAEMON_SECRET = "daemon-dev-secret"
DAEMON_EXPIRED_SECRET = "daemon-expired-secret"
WEB_APP = "e0000000-0000-4000-8000-0000000000e1"
WEB_SECRET = "web-dev-secret"
WEB_CALLBACK = "https://localhost/callback"
WEB_API_SCOPE = "api://contoso-web/access_as_user"
PUBLIC_CLIENT = "c1000000-0000-4000-8000-0000000000c1"
MI_SYSTEM = "b0000000-0000-4000-8000-0000000000b1"
MI_USER = "b0000000-0000-4000-8000-0000000000b2"
WORKLOAD_SUBJECT = "system:serviceaccount:default:workload"
GRAPH_APP = "00000003-0000-0000-c000-000000000000"
ALICE = ("alice@contoso.onmicrosoft.com", "alice-dev-password")
ALICE_OID = "a11ce000-0000-4000-8000-000000000001"
BOB_OID = "b0b00000-0000-4000-8000-000000000002"
MFA_OID = "3fa00000-0000-4000-8000-000000000003"
BOB = ("bob@contoso.onmicrosoft.com", "bob-dev-password")
MFA = ("mfa@contoso.onmicrosoft.com", "mfa-dev-password")

READY_TIMEOUT = float(os.environ.get("ENTRA_READY_TIMEOUT", "60"))
HTTP_TIMEOUT = 20
BROWSER_TIMEOUT = 120  # whole browser script, seconds (each step has its own 20 s bound)


def entra_bin() -> Path:
    return Path(os.environ.get("ENTRA_BIN", REPO / "target" / "debug" / "entra"))


@dataclass
class Emulator:
    state_dir: Path
    proc: subprocess.Popen
    log_path: Path
    ready: dict[str, Any]
    _jwk_clients: dict[str, jwt.PyJWKClient] = field(default_factory=dict)

    # --- addresses ---
    @property
    def authority(self) -> str:
        return self.ready["authority"].rstrip("/")

    @property
    def host(self) -> str:
        return urlparse(self.authority).netloc  # "localhost:PORT"

    @property
    def ca_file(self) -> str:
        return self.ready["ca_file"]

    @property
    def tenant_authority(self) -> str:
        return f"{self.authority}/{TENANT}"

    @property
    def token_endpoint(self) -> str:
        return f"{self.authority}/{TENANT}/oauth2/v2.0/token"

    @property
    def daemon_pem(self) -> Path:
        return self.state_dir / "daemon.pem"

    def issuer(self, ver: str = "2.0", tid: str = TENANT) -> str:
        return f"{self.authority}/{tid}/v2.0" if ver == "2.0" else f"{self.authority}/{tid}/"

    def log_tail(self, n: int = 80) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "<no log>"

    # --- HTTP helpers (all trust only the emulator's CA) ---
    def get(self, url: str, **kw) -> requests.Response:
        kw.setdefault("timeout", HTTP_TIMEOUT)
        kw.setdefault("verify", self.ca_file)
        return requests.get(url, **kw)

    def post(self, url: str, **kw) -> requests.Response:
        kw.setdefault("timeout", HTTP_TIMEOUT)
        kw.setdefault("verify", self.ca_file)
        return requests.post(url, **kw)

    def admin(self, path: str, json_body: dict | None = None) -> requests.Response:
        r = self.post(
            f"{self.authority}/admin/{path.lstrip('/')}",
            json=json_body if json_body is not None else {},
            headers={"Authorization": f"Bearer {self.ready['admin_token']}"},
        )
        assert r.status_code < 300, f"admin {path} -> {r.status_code} {r.text[:500]}"
        return r

    def advance_clock(self, seconds: int) -> None:
        self.admin("clock", {"advance_seconds": seconds})

    def discovery(self, tenant: str = TENANT) -> dict:
        r = self.get(f"{self.authority}/{tenant}/v2.0/.well-known/openid-configuration")
        assert r.status_code == 200, f"discovery -> {r.status_code} {r.text[:500]}"
        return r.json()

    def jwk_client(self) -> jwt.PyJWKClient:
        uri = self.discovery()["jwks_uri"]
        if uri not in self._jwk_clients:
            ctx = ssl.create_default_context(cafile=self.ca_file)
            self._jwk_clients[uri] = jwt.PyJWKClient(uri, cache_keys=True, ssl_context=ctx, timeout=HTTP_TIMEOUT)
        return self._jwk_clients[uri]

    # --- token verification ---
    def verify(
        self,
        token: str,
        *,
        audience: str | list[str] = API_APP,
        ver: str | None = "2.0",
        tid: str = TENANT,
        leeway: int = 0,
    ) -> dict:
        """Verify signature (against the JWKS named by discovery), issuer, audience,
        expiry and `ver`. Returns the claims. `ver=None` accepts v1 or v2 and
        checks the issuer that matches the token's own `ver`."""
        header = jwt.get_unverified_header(token)
        assert header.get("alg") == "RS256", header
        assert header.get("kid"), f"no kid in header {header}"
        unverified = jwt.decode(token, options={"verify_signature": False})
        token_ver = unverified.get("ver")
        if ver is not None:
            assert token_ver == ver, f"ver {token_ver!r} != {ver!r}: {unverified}"
        assert token_ver in ("1.0", "2.0"), unverified
        key = self.jwk_client().get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            key.key,
            algorithms=["RS256"],
            audience=audience,
            issuer=self.issuer(token_ver, tid),
            leeway=leeway,
            options={"require": ["exp", "iat", "iss", "aud"]},
        )
        assert claims["tid"] == tid, claims
        assert claims["exp"] > claims["iat"], claims
        return claims


def start_emulator(state_dir: Path, extra_args: list[str] | None = None) -> Emulator:
    binary = entra_bin()
    if not binary.exists():
        raise RuntimeError(f"emulator binary {binary} not found: build it with `cargo build --workspace`")
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    args = [str(binary), "emulator", "--port", "0", "--state-dir", str(state_dir)]
    args += ["--token-lifetime", "3600"]
    args += list(extra_args or [])
    log_path = state_dir / "emulator.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        cwd=str(REPO), start_new_session=True,
    )
    log.close()
    ready_path = state_dir / "ready.json"
    deadline = time.monotonic() + READY_TIMEOUT
    ready = None
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"emulator exited with {proc.returncode} before ready.json; log:\n"
                    + log_path.read_text(errors="replace")[-4000:]
                )
            if ready_path.exists():
                try:
                    ready = json.loads(ready_path.read_text())
                    if ready.get("authority") and ready.get("ca_file") and Path(ready["ca_file"]).exists():
                        break
                except (json.JSONDecodeError, OSError):
                    pass  # half-written; try again
                ready = None
            time.sleep(0.1)
        if ready is None:
            raise RuntimeError(
                f"emulator not ready after {READY_TIMEOUT:.0f}s ({ready_path} missing); log:\n"
                + log_path.read_text(errors="replace")[-4000:]
            )
    except BaseException:
        stop_process(proc)
        raise
    return Emulator(state_dir=state_dir, proc=proc, log_path=log_path, ready=ready)


def stop_process(proc: subprocess.Popen, grace: float = 10) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.kill()
        proc.wait(timeout=grace)


# --- error checks -------------------------------------------------------------------
def assert_aad_error(result: dict, error: str, code: int) -> None:
    """`result` is what MSAL returns (the parsed error body) or a raw error body."""
    assert isinstance(result, dict), result
    assert "access_token" not in result, f"expected {error}/{code}, got a token"
    assert result.get("error") == error, f"error {result.get('error')!r} != {error!r}: {result}"
    codes = result.get("error_codes")
    assert isinstance(codes, list) and code in codes, f"{code} not in error_codes {codes!r}: {result}"
    desc = result.get("error_description", "")
    assert desc.startswith(f"AADSTS{code}:"), f"error_description should start with AADSTS{code}: {desc!r}"
    for k in ("trace_id", "correlation_id", "timestamp"):
        assert result.get(k), f"error body lacks {k}: {result}"


# --- certificates --------------------------------------------------------------------
_PEM_RE = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----\r?\n?", re.S)


def split_pem(data: bytes) -> tuple[bytes, bytes]:
    """Return (certificate PEM, private key PEM) from a combined PEM file."""
    cert = key = None
    for m in _PEM_RE.finditer(data):
        label = m.group(1)
        if label == b"CERTIFICATE" and cert is None:
            cert = m.group(0)
        elif label.endswith(b"PRIVATE KEY") and key is None:
            key = m.group(0)
    assert cert and key, "daemon.pem must hold a CERTIFICATE and a PRIVATE KEY"
    return cert, key


def cert_thumbprints(cert_pem: bytes) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    cert = x509.load_pem_x509_certificate(cert_pem)
    return cert.fingerprint(hashes.SHA1()).hex(), cert.fingerprint(hashes.SHA256()).hex()


# --- browser ----------------------------------------------------------------------------
def run_browser(config: dict, artifacts: Path, timeout: float = BROWSER_TIMEOUT) -> dict:
    """Run tests/interop/node/browser.mjs with a JSON config; return its JSON result.

    config keys: mode ("authcode" | "device"), url, username, password,
    redirect_prefix (authcode), user_code (device), consent ("accept" | "cancel"),
    step_timeout_ms."""
    artifacts.mkdir(parents=True, exist_ok=True)
    cfg = dict(config, artifacts=str(artifacts))
    env = dict(os.environ)
    try:
        out = subprocess.run(
            ["node", str(BROWSER_JS), json.dumps(cfg)],
            capture_output=True, text=True, timeout=timeout, cwd=str(NODE_DIR),
            stdin=subprocess.DEVNULL, env=env,
        )
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"browser script timed out after {timeout}s; stderr:\n{e.stderr}") from e
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    result = json.loads(lines[-1]) if lines else None
    if out.returncode != 0 or result is None or not result.get("ok"):
        raise AssertionError(
            f"browser script failed (rc={out.returncode}); artifacts in {artifacts}\n"
            f"result: {result}\nstderr:\n{out.stderr[-4000:]}"
        )
    return result


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(url).query, keep_blank_values=True).items()}


def form_of(body: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(body or "", keep_blank_values=True).items()}


def response_params(browser_result: dict) -> dict[str, str]:
    """The authorization response (query or form_post) the browser intercepted."""
    if browser_result.get("method") == "POST":
        return form_of(browser_result.get("post_data", ""))
    return query_of(browser_result["redirect"])


def run_python(code: str, env: dict[str, str], timeout: float = 90) -> subprocess.CompletedProcess:
    """Run Python code in a subprocess with exactly `env` (plus PATH/HOME)."""
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root")}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
        env=full_env, stdin=subprocess.DEVNULL, cwd=str(INTEROP),
    )


def free_loopback_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mkdtemp(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def rmtree(p: Path) -> None:
    shutil.rmtree(p, ignore_errors=True)

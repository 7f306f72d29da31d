"""The local stack of `entra up` (the emulator and the token broker) for the broker's
interop tests, and the checks its tokens get.

`entra up --port 0 --state-dir DIR` writes DIR/ready.json for the emulator first and adds
its `broker` object once the broker listens; `start_stack` waits (bounded) for both. The
broker speaks plain HTTP on 127.0.0.1, as Azure's managed-identity endpoints do; the
emulator behind it stays HTTPS with its own CA, which only the token verification here
(the emulator's JWKS) needs.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import requests

import entra_support as es

BROKER_KEYS = ("identity_endpoint", "identity_header", "imds_endpoint", "metrics_url")
# The identity `entra up` wires the broker to: the emulator's development daemon app.
BROKER_APP = es.DAEMON
GRAPH = "https://graph.microsoft.com"


@dataclass
class Stack:
    """A running `entra up`: `emulator` (for JWKS checks) and the broker's endpoints."""

    emulator: es.Emulator
    broker: dict[str, str]

    @property
    def proc(self) -> subprocess.Popen:
        return self.emulator.proc

    @property
    def imds_base(self) -> str:
        return self.broker["imds_endpoint"].rstrip("/")

    @property
    def imds_token_url(self) -> str:
        return self.imds_base + "/metadata/identity/oauth2/token"

    @property
    def cloud_shell_url(self) -> str:
        return self.imds_base + "/oauth2/token"

    def app_service_env(self) -> dict[str, str]:
        return {"IDENTITY_ENDPOINT": self.broker["identity_endpoint"], "IDENTITY_HEADER": self.broker["identity_header"]}

    def imds_env(self) -> dict[str, str]:
        return {"AZURE_POD_IDENTITY_AUTHORITY_HOST": self.imds_base}

    def legacy_env(self) -> dict[str, str]:
        return {"MSI_ENDPOINT": self.broker["identity_endpoint"], "MSI_SECRET": self.broker["identity_header"]}

    def cloud_shell_env(self) -> dict[str, str]:
        return {"MSI_ENDPOINT": self.cloud_shell_url}

    def log_tail(self, n: int = 60) -> str:
        return self.emulator.log_tail(n)

    def broker_get(self, url: str, **kw) -> requests.Response:
        kw.setdefault("timeout", es.HTTP_TIMEOUT)
        return requests.get(url, **kw)

    def verify_token(self, token: str, resource: str) -> dict:
        """Checks a broker token against the emulator's JWKS: signature, issuer, expiry, the
        audience `resource` stands for, and the daemon app as its client. Returns the claims."""
        unverified = jwt.decode(token, options={"verify_signature": False})
        # v2 resources (api://contoso-api) get their client id as `aud`, v1 ones (Graph) the
        # URI the client named.
        audiences = [resource, resource.rstrip("/")]
        if resource.rstrip("/").lower() == es.API_URI:
            audiences.append(es.API_APP)
        if resource.rstrip("/").lower() == GRAPH:
            audiences.append(es.GRAPH_APP)
        claims = self.emulator.verify(token, audience=audiences, ver=None)
        client = claims.get("azp") if claims.get("ver") == "2.0" else claims.get("appid")
        assert client == BROKER_APP, f"token's client {client!r} is not the daemon app: {unverified}"
        assert claims.get("idtyp") == "app" or "scp" not in claims, f"expected an app-only token: {unverified}"
        return claims


def _read_ready(path: Path) -> dict[str, Any] | None:
    try:
        ready = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None  # not there yet, or half-written
    broker = ready.get("broker")
    if not (ready.get("authority") and ready.get("ca_file") and Path(ready["ca_file"]).exists()):
        return None
    if not isinstance(broker, dict) or not all(broker.get(k) for k in BROKER_KEYS):
        return None
    return ready


def start_stack(state_dir: Path, timeout: float = es.READY_TIMEOUT) -> Stack:
    """Starts `entra up --port 0 --state-dir state_dir`; returns once ready.json names the
    broker. Raises RuntimeError (after stopping it) when it exits or is not ready in time."""
    binary = es.entra_bin()
    if not binary.exists():
        raise RuntimeError(f"{binary} not found: build it with `cargo build --workspace`")
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    log_path = state_dir / "up.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "MSAL_", "IDENTITY_", "MSI_", "IMDS_"))}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(binary), "up", "--port", "0", "--state-dir", str(state_dir)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=str(es.REPO), env=env, start_new_session=True,
        )
    ready_path = state_dir / "ready.json"
    give_up = time.monotonic() + timeout

    def failure(why: str) -> RuntimeError:
        es.stop_process(proc)
        tail = log_path.read_text(errors="replace")[-4000:]
        return RuntimeError(f"`entra up` {why}; its output:\n{tail}")

    try:
        while (ready := _read_ready(ready_path)) is None:
            if proc.poll() is not None:
                raise failure(f"exited with {proc.returncode} before ready.json named the broker")
            if time.monotonic() > give_up:
                raise failure(f"was not ready after {timeout:.0f}s ({ready_path} without a complete `broker` object)")
            time.sleep(0.1)
    except BaseException:
        es.stop_process(proc)
        raise
    emulator = es.Emulator(state_dir=state_dir, proc=proc, log_path=log_path, ready=ready)
    return Stack(emulator=emulator, broker=dict(ready["broker"]))


def run_client(code: str, env: dict[str, str], timeout: float = 60) -> dict:
    """Runs a client snippet in a subprocess with only `env` (plus PATH and HOME, no proxy)
    and returns the JSON object it printed last. On a non-zero exit, the object (if any)
    gets `returncode` and `stderr`; a hang past `timeout` fails the test."""
    full = {"NO_PROXY": "localhost,127.0.0.1,::1", "no_proxy": "localhost,127.0.0.1,::1", **env}
    try:
        out = es.run_python(code, full, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"the client did not finish within {timeout}s (a hang); stderr:\n{e.stderr}") from e
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    result = json.loads(lines[-1]) if lines else {}
    if out.returncode != 0:
        result.update(returncode=out.returncode, stderr=out.stderr[-4000:])
    return result

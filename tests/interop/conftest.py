"""Session fixtures: one shared emulator for most tests, and a dedicated one per
module for tests that move the emulator's clock or revoke grants.

Clients find the emulator's CA through REQUESTS_CA_BUNDLE / SSL_CERT_FILE. Each
state dir has its own CA (possibly with the same subject name, so one bundle with
several would confuse OpenSSL): the shared emulator's CA is set for the session,
and tests on a dedicated emulator switch both variables to its CA for their run
(`clock_emulator` does that through monkeypatch).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import entra_support as es

_SESSION_DIR: Path | None = None


def pytest_configure(config):
    global _SESSION_DIR
    _SESSION_DIR = es.mkdtemp("entra-interop-")
    # Nothing from the caller's environment may steer the clients elsewhere.
    for k in list(os.environ):
        if k.startswith(("AZURE_", "MSAL_")) or k in (
            "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IMDS_ENDPOINT", "MSI_ENDPOINT", "MSI_SECRET",
            "IDENTITY_SERVER_THUMBPRINT", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy",
            "ALL_PROXY", "all_proxy",
        ):
            del os.environ[k]
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "localhost,127.0.0.1,::1"
    # MSAL Python quirk: before username/password it asks
    # https://<hostname>/common/userrealm/<user> with the authority's *port dropped*
    # (msal/authority.py canonicalize() keeps only the hostname), i.e. localhost:443.
    # Mark the host as one without user realm discovery, as MSAL itself does after
    # a 404, so ROPC goes straight to the emulator's token endpoint.
    import msal.authority

    msal.authority.Authority._domains_without_user_realm_discovery.add("localhost")


def pytest_unconfigure(config):
    if _SESSION_DIR is not None and not os.environ.get("ENTRA_KEEP_STATE"):
        es.rmtree(_SESSION_DIR)


def _start(name: str) -> es.Emulator:
    assert _SESSION_DIR is not None
    return es.start_emulator(_SESSION_DIR / name)


@pytest.fixture(scope="session")
def emulator():
    try:
        emu = _start("shared")
    except RuntimeError as e:
        pytest.fail(f"could not start the emulator: {e}", pytrace=False)
    os.environ["REQUESTS_CA_BUNDLE"] = os.environ["SSL_CERT_FILE"] = emu.ca_file
    try:
        yield emu
    finally:
        es.stop_process(emu.proc)


@pytest.fixture(scope="module")
def _module_emulator(request):
    name = "iso-" + request.module.__name__.rsplit(".", 1)[-1]
    try:
        emu = _start(name)
    except RuntimeError as e:
        pytest.fail(f"could not start the dedicated emulator: {e}", pytrace=False)
    try:
        yield emu
    finally:
        es.stop_process(emu.proc)


@pytest.fixture
def clock_emulator(_module_emulator, monkeypatch):
    """A private emulator (one per test module) for tests that advance its clock or
    revoke grants; while the test runs, clients trust its CA."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", _module_emulator.ca_file)
    monkeypatch.setenv("SSL_CERT_FILE", _module_emulator.ca_file)
    return _module_emulator


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    p = tmp_path / "browser"
    p.mkdir()
    return p


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, attach the tail of the emulator log to the report."""
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed:
        for name in ("emulator", "clock_emulator"):
            emu = item.funcargs.get(name) if hasattr(item, "funcargs") else None
            if isinstance(emu, es.Emulator):
                rep.sections.append((f"{name} log (tail)", emu.log_tail(40)))

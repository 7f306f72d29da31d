"""`entra login --device-code` in a real terminal: tmux gives it a pty, headless
Chromium types the code it shows on the emulator's device-login page, and the pane
shows the live status line while it waits and "Signed in as ..." at the end.

Needs tmux (scripts/setup-test-deps installs it) and the entra binary (ENTRA_BIN, else
target/debug/entra)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time

import pytest

import entra_support as es

pytestmark = pytest.mark.browser

AZURE_CLI = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
STATUS = re.compile(
    r"Waiting for sign-in… (\d+)s \(code ([A-Z0-9-]+) expires in (\d+):(\d\d)\)"
)


class Tmux:
    """A private tmux server (its own socket) running one command in a 160x20 pane."""

    def __init__(self, name: str):
        self.socket = f"entra-test-{os.getpid()}-{name}"

    def tmux(self, *args: str, check: bool = True) -> str:
        out = subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL,
        )
        if check and out.returncode != 0:
            raise AssertionError(f"tmux {args}: {out.stderr}")
        return out.stdout

    def start(self, command: str) -> None:
        self.tmux("new-session", "-d", "-s", "t", "-x", "160", "-y", "20", command)

    def pane(self) -> str:
        # Without -e: the text as a person reads it, colours dropped.
        return self.tmux("capture-pane", "-p", "-t", "t")

    def wait_for(self, what, timeout: float, why: str):
        deadline = time.time() + timeout
        last = ""
        while time.time() < deadline:
            last = self.pane()
            found = what(last)
            if found:
                return found
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {why}; the pane shows:\n{last}")

    def kill(self) -> None:
        self.tmux("kill-server", check=False)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux missing: run scripts/setup-test-deps")
def test_device_code_prompt_in_a_terminal(emulator, artifacts, tmp_path):
    entra = es.entra_bin()
    cache = tmp_path / "token-cache.bin"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "TERM": "xterm-256color",
        "NO_PROXY": "localhost,127.0.0.1,::1",
    }
    login = [
        str(entra), "login", "--device-code",
        "--authority", emulator.authority, "--ca-file", emulator.ca_file,
        "--token-cache", str(cache), "--scope", es.API_READ,
    ]
    # The pane stays after entra exits, showing its exit status.
    command = (
        "env -i " + " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()) + " "
        + shlex.join(login) + "; echo EXIT=$?; sleep 120"
    )
    term = Tmux("login")
    term.start(command)
    try:
        code = term.wait_for(
            lambda p: (m := re.search(r"enter the code (\S+) to authenticate", p)) and m.group(1),
            30, "the device code prompt",
        )
        # The live line: rewritten in place every second (one line, counting up).
        first = term.wait_for(lambda p: STATUS.search(p), 15, "the status line")
        assert first.group(2) == code, first.group(0)
        assert 14 * 60 <= int(first.group(3)) * 60 + int(first.group(4)) <= 15 * 60, first.group(0)
        later = term.wait_for(
            lambda p: (m := STATUS.search(p)) and int(m.group(1)) >= int(first.group(1)) + 2 and m,
            15, "the status line to count up",
        )
        assert len(STATUS.findall(term.pane())) == 1, "updated in place, not a new line each time"
        assert int(later.group(3)) * 60 + int(later.group(4)) < int(first.group(3)) * 60 + int(first.group(4))

        seen = es.run_browser(
            {
                "mode": "device",
                "url": f"{emulator.authority}/devicelogin",
                "user_code": code,
                "username": es.ALICE[0],
                "password": es.ALICE[1],
                "consent": "accept",
            },
            artifacts,
        )
        assert seen.get("done"), seen

        pane = term.wait_for(lambda p: "EXIT=" in p and p, 60, "entra to finish")
        assert "EXIT=0" in pane, pane
        assert (
            f"Signed in as {es.ALICE[0]} (tenant {es.TENANT}, client {AZURE_CLI})" in pane
        ), pane
        assert not STATUS.search(pane), f"the status line is cleared when done:\n{pane}"
        assert f"Account and tokens kept in {cache}" in pane.replace("\n", ""), pane
    finally:
        term.kill()

    # The account is in the file: a silent token for it, no terminal needed.
    out = subprocess.run(
        [str(entra), "token", "--credential", "user", "--scope", es.API_READ,
         "--authority", emulator.authority, "--ca-file", emulator.ca_file,
         "--token-cache", str(cache)],
        capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stderr
    claims = emulator.verify(out.stdout.strip(), audience=es.API_APP, ver="2.0")
    assert claims["preferred_username"] == es.ALICE[0]
    assert claims["azp"] == AZURE_CLI

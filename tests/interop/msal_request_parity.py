"""MSAL Python's side of the request-parity test (crates/identity/tests/identity/request_parity.rs).

    msal_request_parity.py FLOW --authority https://localhost:PORT [--cert FILE]

Runs one flow of MSAL Python against the emulator, which records what it receives
(`entra emulator --record-requests`); the Rust test then runs the same flow with
entra-identity and compares the two recordings (docs/request-parity.md).

FLOW is one of:
  client_secret          ConfidentialClientApplication, the daemon's secret
  client_certificate     the daemon's certificate by SHA-1 thumbprint (RS256, x5t)
  client_certificate_public the daemon's certificate as public_certificate (PS256,
                         x5t#S256, x5c): what MSAL does when given the certificate
  on_behalf_of           the web app exchanges a user token read from stdin
  auth_code              PublicClientApplication: prints {"auth_uri": ...}, reads the
                         redirect URL (with the code) from stdin, redeems it, then asks
                         silently for another scope (a refresh-token grant)
  device_code            prints {"user_code": ...}, then polls until approved, then
                         asks silently for another scope (a refresh-token grant)
  mi                     ManagedIdentityClient; the protocol comes from the environment
                         the caller sets (IDENTITY_ENDPOINT..., AZURE_POD_IDENTITY_AUTHORITY_HOST);
                         --mi-id system | client_id:ID | resource_id:ID | object_id:ID
  azure_identity_mi      azure-identity's ManagedIdentityCredential (system-assigned),
                         for the protocols MSAL Python cannot be pointed at (Cloud Shell:
                         MSAL posts to a fixed localhost:50342)

Prints {"ok": true} last on stdout (never a token); exits 1 with a message on stderr.
The caller sets REQUESTS_CA_BUNDLE / SSL_CERT_FILE to the emulator's CA.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlparse

try:
    import msal
    import requests
except ImportError as e:  # The Rust test reports this message as its failure.
    sys.exit(f"msal is not importable from {sys.executable} ({e}): run scripts/setup-test-deps")

TENANT = "contoso.onmicrosoft.com"
DAEMON = "d0000000-0000-4000-8000-0000000000d1"
DAEMON_SECRET = "daemon-dev-secret"
WEB = "e0000000-0000-4000-8000-0000000000e1"
WEB_SECRET = "web-dev-secret"
PUBLIC = "c1000000-0000-4000-8000-0000000000c1"
API_DEFAULT = "api://contoso-api/.default"
API_READ = "api://contoso-api/Data.Read"
API_WRITE = "api://contoso-api/Data.Write"
API_RESOURCE = "api://contoso-api"


def say(obj: dict) -> None:
    print(json.dumps(obj), flush=True)


def check(result: dict | None, what: str) -> dict:
    if not result or "access_token" not in result:
        shown = {k: v for k, v in (result or {}).items() if "token" not in k}
        sys.exit(f"{what} failed: {shown!r}")
    return result


def read_line(what: str) -> str:
    line = sys.stdin.readline().strip()
    if not line:
        sys.exit(f"no {what} on stdin")
    return line


def confidential(args, client_id: str, credential) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        client_id, client_credential=credential,
        authority=f"{args.authority}/{TENANT}", instance_discovery=False,
    )


def public(args) -> msal.PublicClientApplication:
    return msal.PublicClientApplication(
        PUBLIC, authority=f"{args.authority}/{TENANT}", instance_discovery=False,
    )


def certificate(args, by_thumbprint: bool) -> dict:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    pem = Path(args.cert).read_text()
    key = pem[pem.index("-----BEGIN PRIVATE KEY-----"):pem.index("-----END PRIVATE KEY-----") + 25]
    cert_pem = pem[pem.index("-----BEGIN CERTIFICATE-----"):]
    if by_thumbprint:
        cert = x509.load_pem_x509_certificate(cert_pem.encode())
        return {"private_key": key, "thumbprint": cert.fingerprint(hashes.SHA1()).hex().upper()}
    return {"private_key": key, "public_certificate": cert_pem}


def silent_refresh(app: msal.PublicClientApplication) -> None:
    accounts = app.get_accounts()
    if len(accounts) != 1:
        sys.exit(f"expected one account, got {len(accounts)}")
    check(app.acquire_token_silent([API_WRITE], account=accounts[0]), "silent (refresh)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def managed_identity(spec: str):
    if spec == "system":
        return msal.SystemAssignedManagedIdentity()
    kind, _, value = spec.partition(":")
    return msal.UserAssignedManagedIdentity(**{kind: value})


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("flow")
    p.add_argument("--authority", required=True)
    p.add_argument("--cert")
    p.add_argument("--mi-id", default="system")
    args = p.parse_args()
    args.authority = args.authority.rstrip("/")
    flow = args.flow
    if flow == "client_secret":
        check(confidential(args, DAEMON, DAEMON_SECRET).acquire_token_for_client([API_DEFAULT]), flow)
    elif flow in ("client_certificate", "client_certificate_public"):
        cred = certificate(args, by_thumbprint=flow == "client_certificate")
        check(confidential(args, DAEMON, cred).acquire_token_for_client([API_DEFAULT]), flow)
    elif flow == "on_behalf_of":
        user_token = read_line("user assertion")
        check(confidential(args, WEB, WEB_SECRET).acquire_token_on_behalf_of(user_token, [API_READ]), flow)
    elif flow == "auth_code":
        app = public(args)
        # What acquire_token_interactive does, with the test as the browser: a loopback
        # redirect URI on a free port (MSAL's own listener is not needed to read the code).
        auth = app.initiate_auth_code_flow([API_READ], redirect_uri=f"http://localhost:{free_port()}")
        say({"auth_uri": auth["auth_uri"]})
        redirect = read_line("redirect URL")
        response = dict(parse_qsl(urlparse(redirect).query))
        check(app.acquire_token_by_auth_code_flow(auth, response), flow)
        silent_refresh(app)
    elif flow == "device_code":
        app = public(args)
        device = app.initiate_device_flow([API_READ])
        if "user_code" not in device:
            sys.exit(f"initiate_device_flow failed: {device!r}")
        say({"user_code": device["user_code"]})
        check(app.acquire_token_by_device_flow(device), flow)
        silent_refresh(app)
    elif flow == "mi":
        client = msal.ManagedIdentityClient(managed_identity(args.mi_id), http_client=requests.Session())
        check(client.acquire_token_for_client(resource=API_RESOURCE), f"{flow} {args.mi_id}")
    elif flow == "azure_identity_mi":
        from azure.identity import ManagedIdentityCredential

        token = ManagedIdentityCredential().get_token(API_DEFAULT)
        if not token.token:
            sys.exit("azure-identity returned an empty token")
    else:
        sys.exit(f"unknown flow {flow!r}")
    say({"ok": True})


if __name__ == "__main__":
    main()

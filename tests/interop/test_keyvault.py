"""azure-keyvault-secrets (Python, pinned, unmodified) against the emulator's Key Vault
through `entra up`'s real-hostname proxy, with nothing set but the `export` lines
`entra up` prints: `SecretClient("https://contoso-dev.vault.azure.net", credential)`.

- ClientSecretCredential as the web app (a Key Vault Secrets Officer of contoso-dev in
  the embedded directory): set_secret, get_secret (latest and by version),
  list_properties_of_secrets, begin_delete_secret, begin_recover_deleted_secret; the
  SDK's challenge policy learns the tenant from the vault's 401 and checks that the
  challenge's resource matches the vault's domain (left on).
- azure-keyvault-certificates: a PEM certificate (with its key) imported by the web app
  (a Certificates Officer), read back, and its PEM bundle read through the secrets
  endpoint with the managed identity.
- DefaultAzureCredential over the broker `entra up` starts (managed identity, the daemon:
  a Secrets User): get_secret reads the daemon's seeded secret; set_secret is refused
  with 403 ForbiddenByRbac.
"""

from __future__ import annotations

import json
import shlex

import pytest

import broker_support as bs
import entra_support as es

VAULT_URL = "https://contoso-dev.vault.azure.net"
WEB = "e0000000-0000-4000-8000-0000000000e1"


def _exports(output: str) -> dict[str, str]:
    found = {}
    for line in output.splitlines():
        if line.startswith("export "):
            for word in shlex.split(line[len("export "):]):
                k, _, v = word.partition("=")
                found[k] = v
    return found


@pytest.fixture(scope="module")
def exports():
    state = es.mkdtemp("entra-kv-up-")
    try:
        inner = bs.start_stack(state / "up")
    except RuntimeError as e:
        pytest.fail(f"could not start `entra up`: {e}", pytrace=False)
    try:
        found = _exports(inner.emulator.log_path.read_text(errors="replace"))
        for k in ("HTTPS_PROXY", "REQUESTS_CA_BUNDLE", "IDENTITY_ENDPOINT", "IDENTITY_HEADER"):
            assert found.get(k), f"`entra up` printed no {k}: {found}"
        yield found
    finally:
        es.stop_process(inner.proc)
        es.rmtree(state)


def _run(code: str, env: dict[str, str]) -> dict:
    r = es.run_python(code, env)
    assert r.returncode == 0, f"stdout:\n{r.stdout}\nstderr:\n{r.stderr[-4000:]}"
    return json.loads(r.stdout.strip().splitlines()[-1])


OFFICER = r'''
import json, uuid
from azure.core.exceptions import ResourceNotFoundError
from azure.identity import ClientSecretCredential
from azure.keyvault.secrets import SecretClient

cred = ClientSecretCredential(TENANT, WEB, "web-dev-secret")
client = SecretClient(VAULT_URL, cred)
name = "interop-" + uuid.uuid4().hex[:8]
first = client.set_secret(name, "first-value", content_type="text/plain")
second = client.set_secret(name, "second-value")
out = {
    "first_id": first.id,
    "latest": client.get_secret(name).value,
    "by_version": client.get_secret(name, first.properties.version).value,
    "content_type": first.properties.content_type,
    "listed": sorted(p.name for p in client.list_properties_of_secrets()),
    "versions": len(list(client.list_properties_of_secret_versions(name))),
}
deleted = client.begin_delete_secret(name).result()
out["recovery_id"] = deleted.recovery_id
try:
    client.get_secret(name)
    out["after_delete"] = "found"
except ResourceNotFoundError as e:
    out["after_delete"] = e.error.code if e.error else "404"
client.begin_recover_deleted_secret(name).wait()
out["recovered"] = client.get_secret(name).value
out["name"] = name
print(json.dumps(out))
'''


def test_officer_sets_gets_lists_deletes_recovers_through_the_proxy(exports):
    code = f"TENANT = {es.TENANT!r}\nWEB = {WEB!r}\nVAULT_URL = {VAULT_URL!r}\n" + OFFICER
    out = _run(code, exports)
    name = out["name"]
    assert out["first_id"].startswith(f"{VAULT_URL}/secrets/{name}/"), out
    assert out["latest"] == "second-value", out
    assert out["by_version"] == "first-value", out
    assert out["content_type"] == "text/plain", out
    assert {name, "daemon-secret"} <= set(out["listed"]), out
    assert out["versions"] == 2, out
    assert out["recovery_id"] == f"{VAULT_URL}/deletedsecrets/{name}", out
    assert out["after_delete"] == "SecretNotFound", out
    assert out["recovered"] == "second-value", out


READER = r'''
import json
from azure.core.exceptions import HttpResponseError
from azure.identity import DefaultAzureCredential
from azure.keyvault.secrets import SecretClient

client = SecretClient(VAULT_URL, DefaultAzureCredential())
out = {"value": client.get_secret("daemon-secret").value}
try:
    client.set_secret("not-allowed", "x")
    out["set"] = "allowed"
except HttpResponseError as e:
    out["set"] = [e.status_code, e.error.code if e.error else None, "ForbiddenByRbac" in e.response.text()]
print(json.dumps(out))
'''


def test_managed_identity_reads_and_is_refused_a_write(exports):
    out = _run(f"VAULT_URL = {VAULT_URL!r}\n" + READER, exports)
    assert out["value"] == "daemon-dev-secret", out
    assert out["set"] == [403, "Forbidden", True], out


CERTIFICATES = r'''
import datetime, json
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from azure.identity import ClientSecretCredential, DefaultAzureCredential
from azure.keyvault.certificates import CertificateClient, CertificateContentType, CertificatePolicy
from azure.keyvault.secrets import SecretClient

key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "client.contoso.test")])
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
pem = cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())

# The web app (a Certificates Officer) imports; the managed identity (a Secrets User,
# through DefaultAzureCredential) reads the private key through the secrets endpoint.
certs = CertificateClient(VAULT_URL, ClientSecretCredential(TENANT, WEB, "web-dev-secret"))
policy = CertificatePolicy(issuer_name="Unknown", content_type=CertificateContentType.pem)
certs.import_certificate("interop-cert", pem, policy=policy)
got = certs.get_certificate("interop-cert")
secret = SecretClient(VAULT_URL, DefaultAzureCredential()).get_secret("interop-cert")
print(json.dumps({
    "cer_matches": bytes(got.cer) == cert.public_bytes(serialization.Encoding.DER),
    "secret_is_pem": secret.value.strip() == pem.decode().strip(),
    "content_type": secret.properties.content_type,
    "versions": len(list(certs.list_properties_of_certificate_versions("interop-cert"))),
}))
'''


def test_a_pem_certificate_is_imported_and_its_key_read(exports):
    code = f"TENANT = {es.TENANT!r}\nWEB = {WEB!r}\nVAULT_URL = {VAULT_URL!r}\n" + CERTIFICATES
    out = _run(code, exports)
    assert out == {"cer_matches": True, "secret_is_pem": True,
                   "content_type": "application/x-pem-file", "versions": 1}, out

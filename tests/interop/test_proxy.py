"""Real hostnames, unmodified code: the emulator's HTTPS proxy (`--proxy-port`).

MSAL Python, azure-identity and @azure/identity with their *default* authority
(`https://login.microsoftonline.com/{tenant}`) and nothing but HTTPS_PROXY / NO_PROXY and
the CA bundle set get tokens from the emulator, and seed 000's Fabric call by its real
URL answers 200; OpenSSL (Python, curl, Node), Go and Java accept the name-constrained
intercept CA, and OpenSSL refuses other names even signed with its key; other hosts are
refused. One test runs the emulator and seed 000's code in a network namespace of their
own (`unshare --net`, only `lo`), so the flow provably needs no route off the machine.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import jwt
import pytest
import requests

import entra_support as es

PUBLIC = "https://login.microsoftonline.com"

MSAL_CODE = textwrap.dedent(
    f"""
    import json, msal
    app = msal.ConfidentialClientApplication(
        "{es.DAEMON}", client_credential="{es.DAEMON_SECRET}",
        authority="https://login.microsoftonline.com/{es.TENANT}",
    )
    r = app.acquire_token_for_client(scopes=["{es.API_DEFAULT}"])
    print(json.dumps({{k: r.get(k) for k in ("access_token", "error", "error_description")}}))
    """
)


# Seed 000's shape: the default authority, then Fabric by its real URL.
FABRIC_CODE = textwrap.dedent(
    f"""
    import json, msal, requests
    app = msal.ConfidentialClientApplication(
        "{es.DAEMON}", client_credential="{es.DAEMON_SECRET}",
        authority="https://login.microsoftonline.com/{es.TENANT}",
    )
    r = app.acquire_token_for_client(scopes=["https://api.fabric.microsoft.com/.default"])
    resp = requests.get("https://api.fabric.microsoft.com/v1/workspaces",
                        headers={{"Authorization": "Bearer " + r["access_token"]}}, timeout=30)
    print(json.dumps({{"status": resp.status_code, "body": resp.json()}}))
    """
)


@pytest.fixture(scope="module")
def proxied():
    state = es.mkdtemp("entra-proxy-")
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


def _env(emu: es.Emulator) -> dict[str, str]:
    p = emu.ready["proxy"]
    return {"HTTPS_PROXY": p["url"], "NO_PROXY": "127.0.0.1,localhost,::1", "REQUESTS_CA_BUNDLE": p["ca_bundle"]}


def _session(emu: es.Emulator) -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    s.proxies = {"https": emu.ready["proxy"]["url"], "http": emu.ready["proxy"]["url"]}
    s.verify = emu.ready["proxy"]["ca_file"]  # the intercept CA alone
    return s


def test_msal_python_default_authority_through_the_proxy(proxied):
    out = es.run_python(MSAL_CODE, _env(proxied))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result.get("access_token"), result
    token = result["access_token"]
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == f"{PUBLIC}/{es.TENANT}/v2.0"
    # Its signature checks against the keys Entra's own JWKS URL serves (through the proxy).
    s = _session(proxied)
    doc = s.get(f"{PUBLIC}/{es.TENANT}/v2.0/.well-known/openid-configuration", timeout=20).json()
    assert doc["jwks_uri"] == f"{PUBLIC}/{es.TENANT}/discovery/v2.0/keys"
    keys = s.get(doc["jwks_uri"], timeout=20).json()["keys"]
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWK(next(k for k in keys if k["kid"] == kid))
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=es.API_APP, issuer=f"{PUBLIC}/{es.TENANT}/v2.0")
    assert claims["azp"] == es.DAEMON


AZURE_IDENTITY_CODE = textwrap.dedent(
    f"""
    import json
    from azure.identity import ClientSecretCredential
    t = ClientSecretCredential("{es.TENANT}", "{es.DAEMON}", "{es.DAEMON_SECRET}").get_token("{es.API_DEFAULT}")
    print(json.dumps({{"access_token": t.token}}))
    """
)


def test_azure_identity_python_default_authority_through_the_proxy(proxied):
    out = es.run_python(AZURE_IDENTITY_CODE, _env(proxied))
    assert out.returncode == 0, out.stderr[-3000:]
    token = json.loads(out.stdout.strip().splitlines()[-1])["access_token"]
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == f"{PUBLIC}/{es.TENANT}/v2.0"


ROPC_CODE = textwrap.dedent(
    f"""
    import json, warnings, msal
    warnings.simplefilter("ignore")
    app = msal.PublicClientApplication("{es.PUBLIC_CLIENT}", authority="https://login.microsoftonline.com/organizations")
    r = app.acquire_token_by_username_password("{es.ALICE[0]}", "{es.ALICE[1]}", scopes=["{es.API_READ}"])
    print(json.dumps({{k: r.get(k) for k in ("access_token", "error", "error_description")}}))
    """
)


def test_msal_python_username_password_needs_no_userrealm_workaround(proxied):
    """MSAL asks https://login.microsoftonline.com/common/userrealm/{user} first (on 443,
    which direct use of the emulator cannot answer); through the proxy it just works."""
    out = es.run_python(ROPC_CODE, _env(proxied))
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result.get("access_token"), result
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["iss"] == f"{PUBLIC}/{es.TENANT}/v2.0"
    assert claims["oid"] == es.ALICE_OID


NODE_IDENTITY_CODE = f"""
import {{ ClientSecretCredential }} from '@azure/identity';
const t = await new ClientSecretCredential('{es.TENANT}', '{es.DAEMON}', '{es.DAEMON_SECRET}')
  .getToken('{es.API_DEFAULT}');
console.log(JSON.stringify({{ access_token: t.token }}));
"""


def test_azure_identity_node_default_authority_through_the_proxy(proxied):
    """@azure/identity (core-rest-pipeline's proxy policy reads HTTPS_PROXY; Node reads
    NODE_EXTRA_CA_CERTS at start) with its default authority."""
    node = shutil.which("node")
    if node is None or not (es.NODE_DIR / "node_modules" / "@azure" / "identity").exists():
        pytest.skip("node or tests/interop/node/node_modules missing (scripts/setup-test-deps)")
    p = proxied.ready["proxy"]
    env = {"PATH": "/usr/bin:/bin", "HOME": "/root", "HTTPS_PROXY": p["url"],
           "NO_PROXY": "127.0.0.1,localhost,::1", "NODE_EXTRA_CA_CERTS": p["ca_bundle"]}
    out = subprocess.run(
        [node, "--input-type=module", "-e", NODE_IDENTITY_CODE], capture_output=True, text=True,
        timeout=60, env=env, cwd=str(es.NODE_DIR),
    )
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    token = json.loads(out.stdout.strip().splitlines()[-1])["access_token"]
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == f"{PUBLIC}/{es.TENANT}/v2.0"


def test_seed_000_fabric_by_its_real_url(proxied):
    out = es.run_python(FABRIC_CODE, _env(proxied))
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["status"] == 200, got
    assert got["body"]["value"], got


def test_other_hosts_are_refused(proxied):
    s = _session(proxied)
    with pytest.raises(requests.exceptions.ProxyError) as e:
        s.get("https://example.com/", timeout=20)
    assert "403" in str(e.value)
    r = s.get("http://example.com/", timeout=20)
    assert r.status_code == 403
    assert "nothing leaves this machine" in r.text


def test_curl_accepts_the_intercept_ca(proxied):
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    p = proxied.ready["proxy"]
    out = subprocess.run(
        [curl, "-sS", "--fail", "--max-time", "20", "--proxy", p["url"], "--cacert", p["ca_file"],
         f"{PUBLIC}/{es.TENANT}/v2.0/.well-known/openid-configuration"],
        capture_output=True, text=True, timeout=30,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["issuer"] == f"{PUBLIC}/{es.TENANT}/v2.0"


def _leaf_signed_with_the_intercept_key(emu: es.Emulator, name: str, path) -> None:
    """A leaf for `name` signed with the intercept CA's own key, as a thief of the key
    could make one (the proxy itself never mints one outside its table)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    p = emu.ready["proxy"]
    ca = x509.load_pem_x509_certificate(open(p["ca_file"], "rb").read())
    key_file = es.Path(p["ca_file"]).with_name("intercept-ca-key.pem")
    ca_key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    try:
        san = x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        san = x509.DNSName(name)
    now = datetime.datetime.now(datetime.timezone.utc)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([san]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def test_openssl_refuses_other_names_even_from_the_intercept_key(proxied, tmp_path):
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    ca_file = proxied.ready["proxy"]["ca_file"]

    def verify(name: str) -> subprocess.CompletedProcess:
        leaf = tmp_path / f"{name.replace(':', '_')}.pem"
        _leaf_signed_with_the_intercept_key(proxied, name, leaf)
        return subprocess.run([openssl, "verify", "-CAfile", ca_file, "-purpose", "sslserver", str(leaf)],
                              capture_output=True, text=True, timeout=30)

    assert verify("api.fabric.microsoft.com").returncode == 0
    for name in ("example.com", "login.microsoftonline.com.evil.example", "93.184.215.14"):
        out = verify(name)
        assert out.returncode != 0, f"{name}: {out.stdout}"
        assert "subtree violation" in (out.stdout + out.stderr), out.stdout + out.stderr


NODE_CODE = r"""
const http = require('http'), tls = require('tls');
const proxy = new URL(process.env.PROXY);
const host = 'graph.microsoft.com';
const req = http.request({host: proxy.hostname, port: proxy.port, method: 'CONNECT', path: host + ':443'});
req.on('connect', (res, socket) => {
  if (res.statusCode !== 200) { console.log('CONNECT ' + res.statusCode); process.exit(2); }
  // NODE_EXTRA_CA_CERTS (read at start) adds the intercept CA to Node's roots.
  const s = tls.connect({socket, servername: host}, () => {
    console.log(JSON.stringify({authorized: s.authorized, issuer: s.getPeerCertificate().issuer.CN}));
    s.end(); process.exit(0);
  });
  s.on('error', e => { console.log('TLS ' + e.code); process.exit(3); });
});
req.on('error', e => { console.log('proxy ' + e.message); process.exit(4); });
req.end();
"""


def test_node_accepts_the_intercept_ca(proxied):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    p = proxied.ready["proxy"]
    out = subprocess.run(
        [node, "-e", NODE_CODE], capture_output=True, text=True, timeout=30,
        env={"PATH": "/usr/bin:/bin", "PROXY": p["url"], "NODE_EXTRA_CA_CERTS": p["ca_bundle"]},
    )
    assert out.returncode == 0, out.stdout + out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["authorized"] is True, got
    assert "intercept CA" in got["issuer"], got


GO_GET = r"""package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
)

func main() {
	r, err := http.Get(os.Args[1]) // net/http: HTTPS_PROXY, NO_PROXY; crypto/x509: SSL_CERT_FILE
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	fmt.Printf("%d %s\n", r.StatusCode, b)
}
"""

JAVA_GET = """import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

public class Get {
    public static void main(String[] args) throws Exception {
        // The default proxy selector reads -Dhttps.proxyHost / -Dhttps.proxyPort.
        HttpClient c = HttpClient.newBuilder().proxy(ProxySelector.getDefault()).build();
        HttpResponse<String> r = c.send(HttpRequest.newBuilder(URI.create(args[0])).build(),
            HttpResponse.BodyHandlers.ofString());
        System.out.println(r.statusCode() + " " + r.body());
    }
}
"""


def _check_discovery_output(out: subprocess.CompletedProcess) -> None:
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    status, body = out.stdout.strip().split(" ", 1)
    assert status == "200", out.stdout[-2000:]
    assert json.loads(body)["issuer"] == f"{PUBLIC}/{es.TENANT}/v2.0"


def test_go_accepts_the_intercept_ca_through_the_proxy(proxied, tmp_path):
    """Go's net/http and crypto/x509 with only HTTPS_PROXY, NO_PROXY and SSL_CERT_FILE."""
    go = shutil.which("go") or shutil.which("go", path="/usr/local/go/bin")
    if go is None:
        pytest.skip("go is not installed")
    src = tmp_path / "get.go"
    src.write_text(GO_GET)
    p = proxied.ready["proxy"]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GOCACHE": str(tmp_path / "cache"),
           "GO111MODULE": "off", "HTTPS_PROXY": p["url"], "NO_PROXY": "127.0.0.1,localhost,::1",
           "SSL_CERT_FILE": p["ca_bundle"]}
    out = subprocess.run([go, "run", str(src), f"{PUBLIC}/{es.TENANT}/v2.0/.well-known/openid-configuration"],
                         capture_output=True, text=True, env=env, timeout=240)
    _check_discovery_output(out)


def test_java_accepts_the_intercept_ca_from_a_truststore(proxied, tmp_path):
    """Java reads no proxy or CA variable: the recipe of docs/emulator.md (keytool
    truststore, -Dhttps.proxyHost/-Port) with its PKIX validator on the constrained CA."""
    java, keytool = shutil.which("java"), shutil.which("keytool")
    if java is None or keytool is None:
        pytest.skip("a JDK (java, keytool) is not installed")
    p = proxied.ready["proxy"]
    store = tmp_path / "dev.p12"
    imp = subprocess.run([keytool, "-importcert", "-alias", "entrakit-intercept", "-file", p["ca_file"],
                          "-keystore", str(store), "-storetype", "PKCS12", "-storepass", "changeit", "-noprompt"],
                         capture_output=True, text=True, timeout=60)
    assert imp.returncode == 0, imp.stdout + imp.stderr
    src = tmp_path / "Get.java"
    src.write_text(JAVA_GET)
    proxy = p["url"].removeprefix("http://")
    host, port = proxy.rsplit(":", 1)
    out = subprocess.run([java, f"-Dhttps.proxyHost={host}", f"-Dhttps.proxyPort={port}",
                          f"-Djavax.net.ssl.trustStore={store}", "-Djavax.net.ssl.trustStorePassword=changeit",
                          str(src), f"{PUBLIC}/{es.TENANT}/v2.0/.well-known/openid-configuration"],
                         capture_output=True, text=True, timeout=180, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    _check_discovery_output(out)


NETNS_DRIVER = r"""
import json, os, subprocess, sys, time, pathlib
sys.path.insert(0, sys.argv[1])
import entra_support as es
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
ifaces = [l.split(":")[0].strip() for l in open("/proc/net/dev").read().splitlines()[2:]]
emu = es.start_emulator(pathlib.Path(sys.argv[2]), ["--proxy-port", "0"])
try:
    out = es.run_python(sys.argv[3], {
        "HTTPS_PROXY": emu.ready["proxy"]["url"], "NO_PROXY": "127.0.0.1,localhost,::1",
        "REQUESTS_CA_BUNDLE": emu.ready["proxy"]["ca_bundle"],
    })
finally:
    es.stop_process(emu.proc)
print(json.dumps({"ifaces": ifaces, "rc": out.returncode, "stdout": out.stdout, "stderr": out.stderr[-2000:]}))
"""


def test_no_route_off_the_machine_is_needed():
    """The emulator, its proxy and seed 000's code (MSAL, then Fabric) in a fresh network
    namespace whose only interface is `lo`: no packet can leave, and both still work."""
    unshare = shutil.which("unshare")
    probe = subprocess.run([unshare, "--net", "true"], capture_output=True) if unshare else None
    if probe is None or probe.returncode != 0 or shutil.which("ip") is None:
        pytest.skip("needs `unshare --net` (root or user namespaces) and iproute2")
    state = es.mkdtemp("entra-proxy-netns-")
    try:
        out = subprocess.run(
            [unshare, "--net", sys.executable, "-c", NETNS_DRIVER, str(es.INTEROP), str(state / "emu"), FABRIC_CODE],
            capture_output=True, text=True, timeout=180, cwd=str(es.INTEROP),
        )
    finally:
        es.rmtree(state)
    assert out.returncode == 0, out.stdout + out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["ifaces"] == ["lo"], got
    assert got["rc"] == 0, got
    result = json.loads(got["stdout"].strip().splitlines()[-1])
    assert result["status"] == 200 and result["body"]["value"], result

"""Client credentials (secret and certificate) through MSAL Python and azure-identity."""

from __future__ import annotations

import msal
import pytest
from azure.identity import CertificateCredential, ClientSecretCredential

import entra_support as es


def _check_app_token(emulator: es.Emulator, token: str, azpacr: str, azp: str = es.DAEMON) -> dict:
    claims = emulator.verify(token, audience=es.API_APP, ver="2.0")
    assert claims["iss"] == f"{emulator.authority}/{es.TENANT}/v2.0"
    assert claims["aud"] == es.API_APP
    assert "Data.Read.All" in claims.get("roles", []), claims
    assert claims.get("idtyp") == "app", claims
    assert claims.get("azpacr") == azpacr, claims
    assert claims.get("azp") == azp, claims
    assert claims.get("ver") == "2.0"
    assert claims.get("tid") == es.TENANT
    assert "scp" not in claims, claims
    assert claims.get("oid") and claims.get("sub"), claims
    return claims


def _cca(emulator: es.Emulator, credential, client_id: str = es.DAEMON, **kw) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=credential,
        authority=emulator.tenant_authority,
        instance_discovery=False,
        **kw,
    )


def test_discovery_document(emulator):
    doc = emulator.discovery()
    for k in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "device_authorization_endpoint"):
        assert k in doc, f"discovery lacks {k}: {doc}"
    assert doc["issuer"] == f"{emulator.authority}/{es.TENANT}/v2.0"
    assert doc["token_endpoint"] == emulator.token_endpoint
    assert doc["jwks_uri"].startswith(emulator.authority + "/")
    jwks = emulator.get(doc["jwks_uri"]).json()
    assert jwks["keys"] and all(k.get("kid") and k.get("kty") == "RSA" for k in jwks["keys"]), jwks


def test_discovery_by_domain_name(emulator):
    doc = emulator.discovery(es.TENANT_DOMAIN)
    assert doc["issuer"] == f"{emulator.authority}/{es.TENANT}/v2.0"


def test_msal_python_secret(emulator):
    app = _cca(emulator, es.DAEMON_SECRET)
    result = app.acquire_token_for_client(scopes=[es.API_DEFAULT])
    assert "access_token" in result, result
    assert result.get("token_type", "").lower() == "bearer"
    assert int(result["expires_in"]) > 0
    _check_app_token(emulator, result["access_token"], azpacr="1")
    # The second call is served from MSAL's cache: the response was cacheable.
    again = app.acquire_token_for_client(scopes=[es.API_DEFAULT])
    assert again["access_token"] == result["access_token"]
    assert again.get("token_source") == "cache", again.get("token_source")


def test_msal_python_secret_with_instance_discovery_endpoint(emulator):
    """MSAL Python pointed at the emulator's own /common/discovery/instance."""
    app = msal.ConfidentialClientApplication(
        es.DAEMON,
        client_credential=es.DAEMON_SECRET,
        authority=emulator.tenant_authority,
        instance_discovery=f"{emulator.authority}/common/discovery/instance",
    )
    result = app.acquire_token_for_client(scopes=[es.API_DEFAULT])
    assert "access_token" in result, result
    _check_app_token(emulator, result["access_token"], azpacr="1")


def test_msal_python_unknown_instance_is_refused(emulator):
    """The emulator's instance discovery refuses hosts that are not this emulator, with
    the error MSAL knows (invalid_instance), before any secret is sent."""
    with pytest.raises(ValueError, match="invalid_instance"):
        # MSAL Python validates the authority when the application is built.
        msal.ConfidentialClientApplication(
            es.DAEMON,
            client_credential=es.DAEMON_SECRET,
            authority=f"https://login.contoso.invalid/{es.TENANT_DOMAIN}",
            instance_discovery=f"{emulator.authority}/common/discovery/instance",
        )


def test_msal_python_tenant_by_domain(emulator):
    app = msal.ConfidentialClientApplication(
        es.DAEMON, client_credential=es.DAEMON_SECRET,
        authority=f"{emulator.authority}/{es.TENANT_DOMAIN}", instance_discovery=False,
    )
    result = app.acquire_token_for_client(scopes=[es.API_DEFAULT])
    assert "access_token" in result, result
    _check_app_token(emulator, result["access_token"], azpacr="1")


def test_msal_python_certificate_thumbprint(emulator):
    cert_pem, key_pem = es.split_pem(emulator.daemon_pem.read_bytes())
    sha1, _ = es.cert_thumbprints(cert_pem)
    app = _cca(emulator, {"private_key": key_pem.decode(), "thumbprint": sha1})
    result = app.acquire_token_for_client(scopes=[es.API_DEFAULT])
    assert "access_token" in result, result
    _check_app_token(emulator, result["access_token"], azpacr="2")


def test_msal_python_certificate_with_x5c(emulator):
    """Subject name/issuer style: the public certificate travels in `x5c`."""
    cert_pem, key_pem = es.split_pem(emulator.daemon_pem.read_bytes())
    sha1, _ = es.cert_thumbprints(cert_pem)
    app = _cca(emulator, {"private_key": key_pem.decode(), "thumbprint": sha1, "public_certificate": cert_pem.decode()})
    result = app.acquire_token_for_client(scopes=[es.API_DEFAULT])
    assert "access_token" in result, result
    _check_app_token(emulator, result["access_token"], azpacr="2")


def test_msal_python_certificate_pfx(emulator, tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    cert_pem, key_pem = es.split_pem(emulator.daemon_pem.read_bytes())
    pfx = pkcs12.serialize_key_and_certificates(
        b"daemon",
        serialization.load_pem_private_key(key_pem, password=None),
        x509.load_pem_x509_certificate(cert_pem),
        None,
        serialization.BestAvailableEncryption(b"pfx-pass"),
    )
    path = tmp_path / "daemon.pfx"
    path.write_bytes(pfx)
    app = _cca(emulator, {"private_key_pfx_path": str(path), "passphrase": "pfx-pass"})
    result = app.acquire_token_for_client(scopes=[es.API_DEFAULT])
    assert "access_token" in result, result
    _check_app_token(emulator, result["access_token"], azpacr="2")


def test_azure_identity_client_secret(emulator):
    cred = ClientSecretCredential(
        es.TENANT, es.DAEMON, es.DAEMON_SECRET,
        authority=emulator.authority, disable_instance_discovery=True,
    )
    tok = cred.get_token(es.API_DEFAULT)
    assert tok.expires_on > 0
    _check_app_token(emulator, tok.token, azpacr="1")


def test_azure_identity_client_secret_authority_host_env(emulator, monkeypatch):
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", emulator.authority)
    cred = ClientSecretCredential(es.TENANT, es.DAEMON, es.DAEMON_SECRET, disable_instance_discovery=True)
    info = cred.get_token_info(es.API_DEFAULT)
    _check_app_token(emulator, info.token, azpacr="1")


def test_azure_identity_certificate(emulator):
    cred = CertificateCredential(
        es.TENANT, es.DAEMON, certificate_path=str(emulator.daemon_pem),
        authority=emulator.authority, disable_instance_discovery=True,
    )
    tok = cred.get_token(es.API_DEFAULT)
    _check_app_token(emulator, tok.token, azpacr="2")


def test_azure_identity_certificate_send_chain(emulator):
    cred = CertificateCredential(
        es.TENANT, es.DAEMON, certificate_data=emulator.daemon_pem.read_bytes(),
        send_certificate_chain=True, authority=emulator.authority, disable_instance_discovery=True,
    )
    tok = cred.get_token(es.API_DEFAULT)
    _check_app_token(emulator, tok.token, azpacr="2")


@pytest.mark.parametrize("scope", [f"{es.API_APP}/.default", es.API_DEFAULT])
def test_scope_by_app_id_or_uri(emulator, scope):
    app = _cca(emulator, es.DAEMON_SECRET)
    result = app.acquire_token_for_client(scopes=[scope])
    assert "access_token" in result, result
    _check_app_token(emulator, result["access_token"], azpacr="1")

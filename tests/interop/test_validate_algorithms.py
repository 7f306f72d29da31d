"""`entra validate` on tokens PyJWT (with the cryptography package) signs with every JWS
algorithm entrakit verifies, the keys published as PyJWT writes JWKs: RS384/RS512,
PS256/384/512, ES256/384/512 and EdDSA (Ed25519). Each is accepted only when `--alg`
allows it, and only with a key of its type. Offline: a JWKS file, no emulator."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

import entra_support as es

ISSUER = "https://issuer.example/tenant-1"
AUDIENCE = "api://foreign-api"

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KEYS = {
    "rsa": (RSA_KEY, RSAAlgorithm),
    "p256": (ec.generate_private_key(ec.SECP256R1()), ECAlgorithm),
    "p384": (ec.generate_private_key(ec.SECP384R1()), ECAlgorithm),
    "p521": (ec.generate_private_key(ec.SECP521R1()), ECAlgorithm),
    "ed": (ed25519.Ed25519PrivateKey.generate(), OKPAlgorithm),
}
# (algorithm, kid of the key that signs it)
CASES = [
    ("RS384", "rsa"), ("RS512", "rsa"), ("PS256", "rsa"), ("PS384", "rsa"), ("PS512", "rsa"),
    ("ES256", "p256"), ("ES384", "p384"), ("ES512", "p521"), ("EdDSA", "ed"),
]


@pytest.fixture(scope="module")
def jwks_file(tmp_path_factory) -> Path:
    keys = []
    for kid, (private, algorithm) in KEYS.items():
        jwk = algorithm.to_jwk(private.public_key(), as_dict=True)
        keys.append(dict(jwk, kid=kid, use="sig"))
    path = tmp_path_factory.mktemp("jwks") / "keys.json"
    path.write_text(json.dumps({"keys": keys}))
    return path


def token(alg: str, kid: str, signer: str | None = None) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "user-1", "scp": "Data.Read",
              "iat": now, "nbf": now, "exp": now + 600}
    return jwt.encode(claims, KEYS[signer or kid][0], algorithm=alg, headers={"kid": kid})


def validate(jwks: Path, tok: str, *extra: str) -> tuple[int, dict]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "ENTRA_"))}
    out = subprocess.run(
        [str(es.entra_bin()), "validate", "-", "--issuer", ISSUER, "--audience", AUDIENCE,
         "--jwks", str(jwks), *extra],
        input=tok, capture_output=True, text=True, timeout=30, env=env,
    )
    assert tok not in out.stdout + out.stderr, "the token is never printed"
    try:
        verdict = json.loads(out.stdout)
    except json.JSONDecodeError:
        verdict = {"raw": out.stdout + out.stderr}
    return out.returncode, verdict


@pytest.mark.parametrize("alg,kid", CASES)
def test_accepted_only_when_allowed(jwks_file, alg, kid):
    tok = token(alg, kid)
    rc, verdict = validate(jwks_file, tok)
    assert (rc, verdict.get("code")) == (1, "alg_not_allowed"), verdict
    # The verdict says how to accept it.
    assert f"add --alg {alg}" in verdict["hint"] and "accepted now: RS256" in verdict["hint"], verdict
    rc, verdict = validate(jwks_file, tok, "--alg", alg, "--scope", "Data.Read")
    assert rc == 0 and verdict["valid"] is True, verdict
    assert verdict["principal"]["sub"] == "user-1"
    # A changed payload no longer verifies.
    header, payload, sig = tok.split(".")
    forged = jwt.utils.base64url_encode(
        json.dumps(dict(jwt.decode(tok, options={"verify_signature": False}), scp="Admin"))
        .encode()).decode()
    rc, verdict = validate(jwks_file, f"{header}.{forged}.{sig}", "--alg", alg)
    assert (rc, verdict.get("code")) == (1, "bad_signature"), verdict


@pytest.mark.parametrize("alg,kid,signer", [
    ("ES256", "rsa", "p256"),   # an EC algorithm naming the RSA key
    ("RS256", "p256", "rsa"),   # an RSA algorithm naming an EC key
    ("ES384", "p256", "p384"),  # the P-384 algorithm naming the P-256 key
    ("EdDSA", "p256", "ed"),
])
def test_the_key_must_be_of_the_algorithms_type(jwks_file, alg, kid, signer):
    rc, verdict = validate(jwks_file, token(alg, kid, signer), "--alg", alg)
    assert (rc, verdict.get("code")) == (1, "key_mismatch"), verdict

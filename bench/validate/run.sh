#!/usr/bin/env bash
# Fresh-token and repeat-token validation speed of entra-validate, one core, beside the
# raw RSA-2048 verify rate `openssl speed rsa2048` reports, the jsonwebtoken crate on the
# same crypto (aws-lc-rs), PyJWT and node jose, all in one run on one machine.
# Usage: bench/validate/run.sh   (from anywhere). Prints a markdown table.
# Needs: cargo, openssl, the Python venv at $VENV (default <repo>/.venv, made by
# scripts/setup-test-deps; PyJWT and cryptography come with msal).
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV="${VENV:-$PWD/.venv}"
PY="$VENV/bin/python"
TARGET="$(cargo metadata --format-version 1 --no-deps | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT INT TERM

openssl_verify() { openssl speed -seconds 5 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print $NF}'; }

# Stale results (a row this machine cannot run) must not be reported.
rm -rf "$TARGET/criterion/validate"
echo "== openssl speed rsa2048 (before)" >&2
OSSL_BEFORE="$(openssl_verify)"
# fresh_token on aws-lc's RSA first, kept as baseline 'awslc': criterion also writes every
# run to 'new', so the main run must come second.
echo "== criterion, fresh_token with ENTRA_RSA_BACKEND=aws-lc" >&2
ENTRA_RSA_BACKEND=aws-lc cargo bench -q -p entra-validate --bench validate -- --warm-up-time 2 --measurement-time 8 \
  --save-baseline awslc '^validate/fresh_token$' >"$TMP/criterion-awslc.txt" 2>&1 \
  || { cat "$TMP/criterion-awslc.txt" >&2; exit 1; }
grep -E '^validate/|time:' "$TMP/criterion-awslc.txt" >&2 || true
echo "== criterion (cargo bench -p entra-validate --bench validate)" >&2
cargo bench -q -p entra-validate --bench validate -- --warm-up-time 2 --measurement-time 8 >"$TMP/criterion.txt" 2>&1 \
  || { cat "$TMP/criterion.txt" >&2; exit 1; }
grep -E '^validate/|time:' "$TMP/criterion.txt" >&2 || true
echo "== openssl speed rsa2048 (after)" >&2
OSSL_AFTER="$(openssl_verify)"
echo "== PyJWT" >&2
"$PY" bench/validate/pyjwt_verify.py 5000 >"$TMP/pyjwt.json"
# node jose, where `npm ci --prefix bench` has installed it.
if command -v node >/dev/null && [ -f bench/node_modules/jose/package.json ]; then
  echo "== node jose" >&2
  node bench/validate/node_jose_verify.mjs 5000 >"$TMP/nodejose.json"
  JOSE_VERSION="$(node -p 'require("./bench/node_modules/jose/package.json").version')"
else
  echo '{}' >"$TMP/nodejose.json"
  JOSE_VERSION=""
fi

"$PY" - "$TARGET" "$OSSL_BEFORE" "$OSSL_AFTER" "$TMP/pyjwt.json" "$(openssl version)" "$TMP/nodejose.json" "$JOSE_VERSION" "$(node --version 2>/dev/null || true)" <<'PYEOF'
import json, os, sys
target, before, after, pyjwt, version, nodejose, jose_version, node_version = sys.argv[1:9]
ossl = (float(before) + float(after)) / 2
def median_ns(name, baseline="new"):
    path = os.path.join(target, "criterion", "validate", name, baseline, "estimates.json")
    if not os.path.exists(path):
        return None
    return json.load(open(path))["median"]["point_estimate"]
py = json.load(open(pyjwt))
nj = json.load(open(nodejose))
rows = [
    ("`openssl speed rsa2048` verify (" + version.split()[0] + " " + version.split()[1] + f"; {float(before):,.0f} before, {float(after):,.0f} after the criterion run)", 1e9 / ossl),
    ("aws-lc RSA-2048 PKCS#1 SHA-256 verify of the token's signing input, key parsed once (`rsa2048_verify_floor`)", median_ns("rsa2048_verify_floor")),
    ("entra-rsa RSA-2048 PKCS#1 SHA-256 verify (AVX-512 IFMA), same input (`rsa2048_verify_entra_rsa`)", median_ns("rsa2048_verify_entra_rsa")),
    ("**entra-validate `Validator::validate`, a token it has never seen** (`fresh_token`)", median_ns("fresh_token")),
    ("entra-validate `fresh_token` with `ENTRA_RSA_BACKEND=aws-lc`", median_ns("fresh_token", "awslc")),
    ("jsonwebtoken 11 (aws_lc_rs), same checks (`jsonwebtoken`)", median_ns("jsonwebtoken")),
    ("PyJWT " + "(cryptography), same checks", py["median_ns"]),
    (f"node jose {jose_version} (Node {node_version}), same checks", nj.get("median_ns")),
    ("entra-validate `parse_token` alone: base64url, strict JSON, claims (`parse_strict`)", median_ns("parse_strict")),
    ("**entra-validate `validate_cached`, a token seen before** (`repeat_token`)", median_ns("repeat_token")),
    ("entra-validate, the same claims signed ES256 (P-256, aws-lc's ECDSA), never seen (`fresh_token_es256`)", median_ns("fresh_token_es256")),
    ("jsonwebtoken 11, the same ES256 tokens and checks (`jsonwebtoken_es256`)", median_ns("jsonwebtoken_es256")),
]
print("| what | per validation | per second, one core | vs `openssl speed` verify |")
print("|---|---:|---:|---:|")
for label, ns in rows:
    if ns is None:
        print(f"| {label} | not run here (no AVX-512 IFMA, or no bench/node_modules) | | |")
        continue
    per_s = 1e9 / ns
    t = f"{ns/1000:.2f} µs" if ns >= 1000 else f"{ns:.1f} ns"
    print(f"| {label} | {t} | {per_s:,.0f} | {per_s/ossl:.2f}x |")
fresh, jwt, slow = median_ns("fresh_token"), median_ns("jsonwebtoken"), median_ns("fresh_token", "awslc")
print(f"\nentra-validate fresh / jsonwebtoken: {jwt/fresh:.2f}x; fresh / openssl verify: {(1e9/fresh)/ossl:.2f}x; "
      f"with aws-lc RSA: {jwt/slow:.2f}x and {(1e9/slow)/ossl:.2f}x; "
      f"repeat-token: {1e9/median_ns('repeat_token')/1e6:.1f} million per second on one core; "
      f"ES256 fresh / jsonwebtoken ES256: {median_ns('jsonwebtoken_es256')/median_ns('fresh_token_es256'):.2f}x.")
PYEOF

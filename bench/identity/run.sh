#!/usr/bin/env bash
# Cache-hit and first-token benchmarks of entra-identity beside MSAL Python and
# azure-identity, same run, same machine, against one local emulator.
# Usage: bench/identity/run.sh [FIRST_TOKEN_RUNS]   (from anywhere; default 30 runs)
# Needs: cargo, the Python venv at $VENV (default /work/main/.venv) with msal and azure-identity.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS="${1:-30}"
VENV="${VENV:-/work/main/.venv}"
PY="$VENV/bin/python"
TARGET="$(cargo metadata --format-version 1 --no-deps | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"

[ -x "$TARGET/release/entra" ] || cargo build --release -p entra-cli
cargo build --release -q -p entra-identity --example first_token

TMP="$(mktemp -d)"
EMU_PID=""
cleanup() {
  if [ -n "$EMU_PID" ]; then kill "$EMU_PID" 2>/dev/null || true; wait "$EMU_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

"$TARGET/release/entra" emulator --port 0 --state-dir "$TMP/state" --token-lifetime 3600 >"$TMP/emu.log" 2>&1 &
EMU_PID=$!
for _ in $(seq 1 300); do [ -s "$TMP/state/ready.json" ] && break; sleep 0.1; done
[ -s "$TMP/state/ready.json" ] || { echo "emulator did not start" >&2; cat "$TMP/emu.log" >&2; exit 1; }
READY="$TMP/state/ready.json"
AUTHORITY="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["authority"])' "$READY")"
CA="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["ca_file"])' "$READY")"

echo "== criterion (cargo bench -p entra-identity --bench cache_hit)" >&2
cargo bench -q -p entra-identity --bench cache_hit -- --warm-up-time 2 --measurement-time 5 >"$TMP/criterion.txt" 2>&1 \
  || { cat "$TMP/criterion.txt" >&2; exit 1; }
grep -E '^[a-z].*|time:' "$TMP/criterion.txt" >&2 || true

echo "== Python cache hits" >&2
"$PY" bench/identity/cache_hit.py "$READY" 20000 >"$TMP/py.json"

echo "== first token, $RUNS fresh processes each" >&2
: >"$TMP/first.txt"
for i in $(seq 1 "$RUNS"); do
  for mode in native ca-only; do
    s=$(date +%s%N); inner=$("$TARGET/release/examples/first_token" "$AUTHORITY" "$CA" "$mode"); e=$(date +%s%N)
    echo "rust-$mode $(( (e - s) / 1000 )) $inner" >>"$TMP/first.txt"
  done
  s=$(date +%s%N); inner=$("$PY" bench/identity/first_token.py "$AUTHORITY" "$CA"); e=$(date +%s%N)
  echo "msal $(( (e - s) / 1000 )) $inner" >>"$TMP/first.txt"
done

"$PY" - "$TARGET" "$TMP/py.json" "$TMP/first.txt" "$RUNS" <<'PYEOF'
import glob, json, os, statistics, sys
target, pyjson, first, runs = sys.argv[1:5]
def crit(name):
    for d in glob.glob(os.path.join(target, "criterion", "*")):
        if os.path.basename(d).replace("_", " ").startswith(name):
            e = json.load(open(os.path.join(d, "new", "estimates.json")))
            return e["median"]["point_estimate"], e["mean"]["point_estimate"]
    return None, None
py = json.load(open(pyjson))
rows = [("entra-identity `ClientSecretCredential::get_token` (criterion, through `dyn TokenCredential`)",) + crit("get token cache hit (client secret)")]
print("### Cache hit, per call\n")
print("| implementation | median | mean / min |\n|---|---:|---:|")
med, mean = rows[0][1], rows[0][2]
print(f"| {rows[0][0]} | {med:.1f} ns | mean {mean:.1f} ns |" if med else "| entra-identity | (no criterion result) | |")
for key, label in (("msal", "MSAL Python 1.39 `acquire_token_for_client`"), ("azure_identity", "azure-identity 1.27 `ClientSecretCredential.get_token`")):
    r = py[key]
    print(f"| {label} (timeit, {r['iterations']} calls) | {r['median_ns']/1000:.2f} µs | min {r['min_ns']/1000:.2f} µs |")
if med:
    print(f"\nRatio: MSAL / entra-identity = {py['msal']['median_ns']/med:.0f}x, azure-identity / entra-identity = {py['azure_identity']['median_ns']/med:.0f}x")
data = {}
for line in open(first):
    parts = line.split()
    data.setdefault(parts[0], []).append([int(x) for x in parts[1:]])
print(f"\n### First token in a fresh process, median (min) of {runs} runs, milliseconds\n")
print("| implementation | whole process, exec to exit | start of `main` / script to token | credential creation to token | of which RNG seeding (aws-lc, once per process) |")
print("|---|---:|---:|---:|---:|")
def cell(xs): return f"{statistics.median(xs)/1000:.2f} ({min(xs)/1000:.2f})"
for k, label in (("rust-native", "entra-identity, system roots + emulator CA (`ClientOptions::for_emulator`)"), ("rust-ca-only", "entra-identity, emulator CA only")):
    v = data[k]
    print(f"| {label} | {cell([x[0] for x in v])} | {cell([x[1] for x in v])} | {cell([x[3] for x in v])} | {cell([x[2] for x in v])} |")
v = data["msal"]
print(f"| MSAL Python 1.39, `REQUESTS_CA_BUNDLE` = emulator CA | {cell([x[0] for x in v])} | {cell([x[1] for x in v])} (`import msal` included) | {cell([x[2] for x in v])} (import excluded) | (OpenSSL, not measured) |")
PYEOF

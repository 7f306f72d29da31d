#!/usr/bin/env bash
# Whole-process wall time of `entra token` served from the token cache file, beside a
# Python one-shot doing the same with MSAL (start, load the cache file,
# acquire_token_silent), timed the same way (hyperfine, no shell) in the same run,
# against one local emulator.
#
# Usage: bench/cli/run.sh [RUNS]      (from anywhere; default 300 runs per command)
# Needs: cargo, hyperfine (installed with apt when missing and root), the Python venv at
# $VENV (default /work/main/.venv) with msal.
# Writes hyperfine's JSON and a Markdown table to $OUT (default bench/cli/out, ignored).
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS="${1:-300}"
VENV="${VENV:-/work/main/.venv}"
PY="$VENV/bin/python"
OUT="${OUT:-bench/cli/out}"
TARGET="$(cargo metadata --format-version 1 --no-deps | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"

if ! command -v hyperfine >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -qq install -y --no-install-recommends hyperfine >/dev/null
  else
    echo "hyperfine is missing: apt install hyperfine" >&2; exit 1
  fi
fi
cargo build --release -q -p entra-cli
ENTRA="$TARGET/release/entra"

TMP="$(mktemp -d)"
EMU_PID=""
cleanup() {
  if [ -n "$EMU_PID" ]; then kill "$EMU_PID" 2>/dev/null || true; wait "$EMU_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

"$ENTRA" emulator --port 0 --state-dir "$TMP/state" --token-lifetime 3600 >"$TMP/emu.log" 2>&1 &
EMU_PID=$!
for _ in $(seq 1 300); do [ -s "$TMP/state/ready.json" ] && break; sleep 0.1; done
[ -s "$TMP/state/ready.json" ] || { echo "emulator did not start" >&2; cat "$TMP/emu.log" >&2; exit 1; }
READY="$TMP/state/ready.json"
field() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$READY" "$1"; }
AUTHORITY="$(field authority)"
CA="$(field ca_file)"
ADMIN="$(field admin_token)"
counters() { curl -sf --cacert "$CA" -H "Authorization: Bearer $ADMIN" "$AUTHORITY/admin/counters"; }

# A clean, hermetic environment for every command: the daemon app's variables, no proxy,
# and no D-Bus session (so entra's cache key is in its key file).
mkdir -p "$TMP/home" "$TMP/bin" "$OUT"
run_env=(env -i "HOME=$TMP/home" "PATH=$TMP/bin:/usr/bin:/bin" "NO_PROXY=localhost,127.0.0.1,::1"
  "AZURE_CLIENT_ID=d0000000-0000-4000-8000-0000000000d1" "AZURE_TENANT_ID=c0ffee00-0000-4000-8000-000000000001"
  "AZURE_CLIENT_SECRET=daemon-dev-secret" "REQUESTS_CA_BUNDLE=$CA" "SSL_CERT_FILE=$CA")
TOKEN_ARGS="token --scope api://contoso-api/.default --authority $AUTHORITY --ca-file $CA"
ENTRA_CMD="${run_env[*]} $ENTRA $TOKEN_ARGS --token-cache $TMP/entra-cache.bin"
MSAL_CMD="${run_env[*]} $PY bench/cli/msal_oneshot.py silent $AUTHORITY $TMP/msal-cache.json"

# Fill the caches (one token request each) and check that a silent run works.
$ENTRA_CMD >/dev/null
"${run_env[@]}" "$PY" bench/cli/msal_oneshot.py fill "$AUTHORITY" "$TMP/msal-cache.json"
$ENTRA_CMD >/dev/null
$MSAL_CMD >/dev/null
[ -f "$TMP/entra-cache.bin.key" ] || { echo "expected the cache key in a key file" >&2; exit 1; }

# With an OS keyring: a private D-Bus session with an unlocked GNOME Keyring (as on a
# Linux desktop), where entra keeps the cache key instead of a key file. Skipped when
# dbus-run-session or gnome-keyring-daemon is missing (scripts/setup-test-deps has them).
KEYRING=0
if command -v dbus-run-session >/dev/null && command -v gnome-keyring-daemon >/dev/null; then
  KEYRING=1
  mkdir -p "$TMP/kr-home" "$TMP/kr-run" && chmod 700 "$TMP/kr-run"
  # Runs inside the session: entra gets DBUS_SESSION_BUS_ADDRESS through env -i.
  cat >"$TMP/keyring-bench.sh" <<EOF
#!/bin/sh
set -e
cmd="env -i HOME=$TMP/kr-home XDG_RUNTIME_DIR=$TMP/kr-run DBUS_SESSION_BUS_ADDRESS=\$DBUS_SESSION_BUS_ADDRESS ${run_env[*]:2} $ENTRA $TOKEN_ARGS --token-cache $TMP/entra-keyring-cache.bin"
for i in 1 2 3 4 5 6 7 8 9 10; do
  \$cmd >/dev/null 2>"$TMP/keyring-err.txt" || { echo "entra failed in the keyring session (run \$i):" >&2; cat "$TMP/keyring-err.txt" >&2; exit 1; }
done
[ ! -e "$TMP/entra-keyring-cache.bin.key" ] || { echo "the key went to a key file, not the keyring" >&2; exit 1; }
hyperfine -N --warmup 10 --runs "$RUNS" --command-name "entra token (encrypted cache file, key in GNOME Keyring over D-Bus)" "\$cmd" --export-json "$OUT/hyperfine-keyring.json" >&2
EOF
fi

without_admin() { "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps({k: v for k, v in d.items() if "admin" not in k}))'; }
before="$(counters | without_admin)"

hyperfine -N --warmup 10 --runs "$RUNS" \
  --command-name "entra token (encrypted cache file, key file)" "$ENTRA_CMD" \
  --command-name "python + MSAL acquire_token_for_client, cache hit (plaintext cache file)" "$MSAL_CMD" \
  --export-json "$OUT/hyperfine.json" >&2
rm -f "$OUT/hyperfine-keyring.json"
if [ "$KEYRING" = 1 ]; then
  env -i "HOME=$TMP/kr-home" "XDG_RUNTIME_DIR=$TMP/kr-run" "PATH=/usr/bin:/bin" dbus-run-session -- sh -c \
    'printf bench | gnome-keyring-daemon --daemonize --login >/dev/null 2>&1 &&
     gnome-keyring-daemon --start --components=secrets >/dev/null 2>&1 && exec sh "$0"' "$TMP/keyring-bench.sh"
fi

after="$(counters | without_admin)"
# The keyring run fills its own cache first (one token request); timed runs make none.
"$PY" - "$before" "$after" "$KEYRING" <<'PYEOF'
import json, sys
before, after, keyring = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3] == "1"
extra = {k: after.get(k, 0) - before.get(k, 0) for k in set(before) | set(after)}
allowed = {"endpoint:token": 1, "grant:client_credentials": 1, "endpoint:discovery": 1} if keyring else {}
bad = {k: v for k, v in extra.items() if v > allowed.get(k, 0)}
if bad:
    sys.exit(f"requests reached the emulator during the timed runs: {bad}")
print("no request reached the emulator during the timed runs", file=sys.stderr)
PYEOF

results=("$OUT/hyperfine.json"); [ -f "$OUT/hyperfine-keyring.json" ] && results+=("$OUT/hyperfine-keyring.json")
"$PY" - "${results[@]}" <<'PYEOF' | tee "$OUT/results.md"
import json, statistics, sys
rs = [r for f in sys.argv[1:] for r in json.load(open(f))["results"]]
print("| command | median | mean ± σ | min | max | runs |\n|---|---:|---:|---:|---:|---:|")
for r in rs:
    t = [x * 1000 for x in r["times"]]
    print(f"| {r['command']} | **{statistics.median(t):.2f} ms** | {r['mean']*1000:.2f} ± {r['stddev']*1000:.2f} ms | {min(t):.2f} ms | {max(t):.2f} ms | {len(t)} |")
m = [statistics.median(r["times"]) for r in rs]
print(f"\nMSAL one-shot / entra (key file), medians: {m[1]/m[0]:.0f}x")
PYEOF

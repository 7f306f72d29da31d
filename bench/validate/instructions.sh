#!/usr/bin/env bash
# Instructions per validation, counted by valgrind's callgrind: the same on a busy or a
# quiet machine, so the ratios between entra-validate, the RSA floor and jsonwebtoken do
# not move with the neighbours (criterion's timings do, on this shared VM).
# Usage: bench/validate/instructions.sh [N]   (default 200 operations per mode)
set -euo pipefail
cd "$(dirname "$0")/../.."
N="${1:-200}"
cargo build --release -q -p entra-validate --example validate_count
BIN="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/examples/validate_count"
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
count() {
  valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.$1" "$BIN" "$1" "$2" >/dev/null 2>"$TMP/log.$1"
  awk '/^summary:/ {print $2}' "$TMP/cg.$1"
}
BASE=$(count none "$N")
echo "| operation | instructions each (callgrind, $N operations, setup subtracted) | vs the RSA floor |"
echo "|---|---:|---:|"
FLOOR=""
for mode in floor fresh jsonwebtoken cached; do
  total=$(count "$mode" "$N")
  each=$(( (total - BASE) / N ))
  [ -z "$FLOOR" ] && FLOOR=$each
  python3 -c "import sys; e,f=int(sys.argv[2]),int(sys.argv[3]); print(f'| {sys.argv[1]} | {e:,} | {e/f:.3f} |')" "$mode" "$each" "$FLOOR"
done

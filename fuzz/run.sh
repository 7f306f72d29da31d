#!/usr/bin/env bash
# Coverage-guided fuzzing of the token parser, the JWKS parser and the whole validator
# with libFuzzer, on the stable toolchain (the sanitizer-coverage flags cargo-fuzz passes;
# no nightly, no AddressSanitizer: the code under test forbids `unsafe`, except entra-rsa's
# SIMD module, which the rsa target checks against aws-lc).
# Usage: fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]   (default 60 s; token jwks validate rsa)
# `cargo fuzz run <target>` works too where cargo-fuzz and a nightly toolchain exist.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_PER="${1:-60}"; shift || true
TARGETS=("${@:-token jwks validate rsa}")
# shellcheck disable=SC2206
TARGETS=(${TARGETS[*]})
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# Its own target dir: these flags rebuild every dependency.
export CARGO_TARGET_DIR="$PWD/target"
# An explicit --target keeps the flags off build scripts and proc macros (host code).
HOST="$(rustc -vV | sed -n 's/^host: //p')"
cargo build --release --bins --target "$HOST"
for t in "${TARGETS[@]}"; do
  # New inputs go to work/ (ignored by git); corpus/ holds the committed seeds.
  mkdir -p "work/$t" "corpus/$t" "artifacts/$t"
  echo "== $t for ${SECONDS_PER}s" >&2
  "$CARGO_TARGET_DIR/$HOST/release/$t" "work/$t" "corpus/$t" -artifact_prefix="artifacts/$t/" \
    -max_total_time="$SECONDS_PER" -max_len=20000 -print_final_stats=1 2>&1 | tail -n 12
done

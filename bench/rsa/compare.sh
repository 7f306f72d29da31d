#!/usr/bin/env bash
# Compares two builds of entra-rsa's criterion bench on a busy machine: runs them
# alternately ROUNDS times (default 4) and prints, per benchmark, the fastest sample
# (time per iteration, from criterion's raw sample.json): the least disturbed figure
# when other work shares the cores and the means swing.
#
#   cargo bench -p entra-rsa --bench rsa --no-run    # at each commit; copy the binary
#   bench/rsa/compare.sh OLD_BINARY NEW_BINARY [ROUNDS]
set -euo pipefail
old="$1" new="$2" rounds="${3:-4}"
filter='rsa(2048|3072|4096)/entra_rsa_(verify$|public_op)'
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for ((i = 1; i <= rounds; i++)); do
    for side in old new; do
        bin="$old"; [[ $side == new ]] && bin="$new"
        CRITERION_HOME="$out/$side-$i" "$bin" --bench --warm-up-time 1 --measurement-time 3 \
            --sample-size 100 --noplot "$filter" >/dev/null 2>&1
    done
done
python3 - "$out" <<'PY'
import collections, glob, json, os, sys
best = collections.defaultdict(lambda: float("inf"))
for f in glob.glob(os.path.join(sys.argv[1], "*", "*", "*", "new", "sample.json")):
    run, group, bench = f.split(os.sep)[-5:-2]
    d = json.load(open(f))
    fastest = min(t / i for t, i in zip(d["times"], d["iters"]))
    key = (f"{group}/{bench}", run.split("-")[0])
    best[key] = min(best[key], fastest)
for name in sorted({k[0] for k in best}):
    print(f"{name:32} old {best[(name, 'old')] / 1000:7.2f} us   new {best[(name, 'new')] / 1000:7.2f} us")
PY

#!/usr/bin/env bash
# The broker's cache-hit path, two builds side by side: an old `entra` and a new one, each
# running `entra up --port 0` (emulator and broker, plain HTTP on 127.0.0.1), under the
# same wrk requests, taking turns. Made to measure what the browser guard (issue #12)
# costs a cached answer; any two builds of `entra` compare the same way.
#
#   bash bench/broker/guard.sh OLD_ENTRA NEW_ENTRA
#
# Requests (each answered from the broker's cache; one request of each is made, and its
# answer checked, before anything is measured):
#   app_service  GET /msi/token?resource=api://contoso-api&api-version=2019-08-01
#                with X-IDENTITY-HEADER (the caller's secret)
#   imds         GET /metadata/identity/oauth2/token?api-version=2018-02-01&
#                resource=api://contoso-api with `Metadata: true`; wrk sends
#                Host: 127.0.0.1:<port>. The caller is found by its uid, looked up once
#                per connection (keep-alive: once per wrk connection).
# For each round, connection count and request, old and new take turns (old first in odd
# rounds, new first in even ones), each with a warm-up and a measured
# `wrk -t2 -cN -dDs --latency` run, and the CPU time the broker's process used during it
# (/proc/PID/stat, user + system) divided by the requests wrk counted: CPU per request
# depends less on how the cores were shared than req/s does. Both brokers run throughout (the idle one costs
# an audit writer's poll every 2 ms). wrk, both brokers and everything else on the
# machine share its cores.
#
# Knobs (environment):
#   GUARD_DURATION  measured seconds per wrk run    (default 5)
#   GUARD_WARMUP    warm-up seconds before each run (default 1)
#   GUARD_ROUNDS    rounds                          (default 3)
#   GUARD_CONNS     connection counts               (default "16 64")
#   GUARD_OUT       (default bench/broker/out-guard, ignored by git)
# Needs wrk, curl, jq, python3. The EXIT trap stops both brokers and removes the
# temporary directory.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${GUARD_DURATION:=5}" "${GUARD_WARMUP:=1}" "${GUARD_ROUNDS:=3}" "${GUARD_CONNS:=16 64}"
: "${GUARD_OUT:=$HERE/out-guard}"
RESOURCE=api://contoso-api

die() {
    echo "bench/broker/guard: $*" >&2
    exit 1
}
(($# == 2)) || die "usage: $0 OLD_ENTRA NEW_ENTRA"
for tool in wrk curl jq python3; do
    command -v "$tool" >/dev/null || die "missing $tool"
done
((GUARD_ROUNDS >= 1 && GUARD_ROUNDS <= 20)) || die "GUARD_ROUNDS must be 1..20"
((GUARD_DURATION >= 1 && GUARD_DURATION <= 60)) || die "GUARD_DURATION must be 1..60"
declare -A BIN=([old]=$1 [new]=$2)
for b in old new; do
    [[ -x ${BIN[$b]} ]] || die "no $b entra binary at ${BIN[$b]}"
done

mkdir -p "$GUARD_OUT"
# $TMP, PIDS and the cleanup on exit.
# shellcheck source=bench/broker/lib.sh
source "$HERE/lib.sh"

declare -A APP_URL IMDS_URL SECRET PID
for b in old new; do
    "${BIN[$b]}" up --port 0 --state-dir "$TMP/$b" >"$TMP/$b.out" 2>"$GUARD_OUT/up-$b.log" &
    pid=$!
    PIDS+=("$pid")
    PID[$b]=$pid
    ready=$TMP/$b/ready.json
    for _ in $(seq 600); do
        jq -e '.broker.identity_endpoint and .broker.identity_header and .broker.imds_endpoint' \
            "$ready" >/dev/null 2>&1 && break
        kill -0 "$pid" 2>/dev/null || die "$b: entra up exited; see $GUARD_OUT/up-$b.log"
        sleep 0.1
    done
    jq -e .broker.imds_endpoint "$ready" >/dev/null 2>&1 || die "$b: no broker in $ready after 60 s"
    SECRET[$b]=$(jq -r .broker.identity_header "$ready")
    APP_URL[$b]="$(jq -r .broker.identity_endpoint "$ready")?resource=$RESOURCE&api-version=2019-08-01"
    IMDS_URL[$b]="$(jq -r .broker.imds_endpoint "$ready")/metadata/identity/oauth2/token?api-version=2018-02-01&resource=$RESOURCE"
    # Fill the cache, then check that a second answer of each kind holds the same token.
    for kind in app imds; do
        if [[ $kind == app ]]; then
            args=(-H "X-IDENTITY-HEADER: ${SECRET[$b]}" "${APP_URL[$b]}")
        else
            args=(-H 'Metadata: true' "${IMDS_URL[$b]}")
        fi
        first=$(curl -sS --fail "${args[@]}") || die "$b: the $kind request failed; see $GUARD_OUT/up-$b.log"
        second=$(curl -sS --fail "${args[@]}") || die "$b: the second $kind request failed"
        [[ $(jq -r .access_token <<<"$first") == $(jq -r .access_token <<<"$second") ]] ||
            die "$b: the second $kind answer holds another token (not a cache hit)"
    done
done

to_ms() { # wrk's 12.34us / 1.23ms / 1.23s
    awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n;
        else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'
}
TSV=$GUARD_OUT/results.tsv
# CPU time of a broker's process (user + system, clock ticks): its emulator is idle.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TCK=$(getconf CLK_TCK)
printf 'round\tconns\trequest\tbuild\treq_s\tp50_ms\tp99_ms\tnon2xx\tsocket_errors\tcpu_us_per_req\n' >"$TSV"
for ((round = 1; round <= GUARD_ROUNDS; round++)); do
    order=(old new)
    ((round % 2 == 1)) || order=(new old)
    for c in ${GUARD_CONNS}; do
        for req in app_service imds; do
            for b in "${order[@]}"; do
                if [[ $req == app_service ]]; then
                    wrk_args=(-t2 -c"$c" -H "X-IDENTITY-HEADER: ${SECRET[$b]}" "${APP_URL[$b]}")
                else
                    wrk_args=(-t2 -c"$c" -H 'Metadata: true' "${IMDS_URL[$b]}")
                fi
                timeout $((GUARD_WARMUP + 30)) wrk -d"${GUARD_WARMUP}s" "${wrk_args[@]}" >/dev/null
                raw=$GUARD_OUT/wrk-r$round-c$c-$req-$b.txt
                t0=$(cpu_ticks "${PID[$b]}")
                timeout $((GUARD_DURATION + 30)) wrk -d"${GUARD_DURATION}s" --latency "${wrk_args[@]}" >"$raw"
                t1=$(cpu_ticks "${PID[$b]}")
                printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$c" "$req" "$b" \
                    "$(awk '/^Requests\/sec:/{printf "%.0f", $2}' "$raw")" \
                    "$(to_ms "$(awk '$1=="50%"{print $2}' "$raw")")" \
                    "$(to_ms "$(awk '$1=="99%"{print $2}' "$raw")")" \
                    "$(awk '/Non-2xx or 3xx responses:/{print $NF}' "$raw" | grep . || echo 0)" \
                    "$(awk '/Socket errors:/{gsub(",",""); print $4+$6+$8+$10}' "$raw" | grep . || echo 0)" \
                    "$(awk -v d="$((t1 - t0))" -v t="$TCK" '/ requests in /{printf "%.2f", d / t * 1e6 / $1}' "$raw")" |
                    tee -a "$TSV" >&2
            done
        done
    done
done

python3 - "$TSV" >"$GUARD_OUT/results.md" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
def pick(c, r, b, k):
    return [float(x[k]) for x in rows if x["conns"] == c and x["request"] == r and x["build"] == b]
print("| conns | request | old req/s | new req/s | new / old | old p99 ms | new p99 ms | old CPU µs/req | new CPU µs/req | non-2xx / socket errors (old, new) |")
print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
for c in dict.fromkeys(x["conns"] for x in rows):
    for r in dict.fromkeys(x["request"] for x in rows):
        o, n = pick(c, r, "old", "req_s"), pick(c, r, "new", "req_s")
        op, np_ = pick(c, r, "old", "p99_ms"), pick(c, r, "new", "p99_ms")
        err = lambda b: f"{int(sum(pick(c, r, b, 'non2xx')))} / {int(sum(pick(c, r, b, 'socket_errors')))}"
        mo, mn = statistics.median(o), statistics.median(n)
        print(f"| {c} | {r} | {mo:.0f} [{min(o):.0f}–{max(o):.0f}] | {mn:.0f} [{min(n):.0f}–{max(n):.0f}] | "
              f"{mn / mo:.3f} | {statistics.median(op):.3f} | {statistics.median(np_):.3f} | "
              f"{statistics.median(pick(c, r, 'old', 'cpu_us_per_req')):.2f} | {statistics.median(pick(c, r, 'new', 'cpu_us_per_req')):.2f} | "
              f"{err('old')}, {err('new')} |")
# Per round: new / old of the two runs next to each other.
print()
print("| round | conns | request | new / old req/s | new / old CPU per request |")
print("|---:|---:|---|---:|---:|")
for x in rows:
    if x["build"] == "new":
        o = next(y for y in rows if y["build"] == "old" and all(y[k] == x[k] for k in ("round", "conns", "request")))
        print(f"| {x['round']} | {x['conns']} | {x['request']} | {float(x['req_s']) / float(o['req_s']):.3f} | "
              f"{float(x['cpu_us_per_req']) / float(o['cpu_us_per_req']):.3f} |")
PY
{
    echo
    echo "Medians of ${GUARD_ROUNDS} rounds, req/s range in brackets; \`wrk -t2 -c<conns> -d${GUARD_DURATION}s --latency\` after a ${GUARD_WARMUP} s warm-up."
    echo "$(date -u +%Y-%m-%dT%H:%MZ), nproc $(nproc), load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
} >>"$GUARD_OUT/results.md"
cat "$GUARD_OUT/results.md"
echo "written: $GUARD_OUT/results.md (raw wrk output and results.tsv beside it)" >&2

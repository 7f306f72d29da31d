#!/usr/bin/env bash
# entra-broker's cache-hit path under wrk, beside nginx serving the very same response
# body from a file, and the broker's resident memory holding 10,000 cached tokens.
#
#   bash bench/broker/run.sh
#
# 1. `entra up --port 0` from a release build: the emulator and the broker (plain HTTP on
#    127.0.0.1), the broker wired to the development daemon app.
# 2. One App Service token response (`GET /msi/token?resource=api://contoso-api&
#    api-version=2019-08-01` + X-IDENTITY-HEADER) is fetched from the broker and written,
#    byte for byte, to a file that nginx serves as application/json at the same path
#    (its own config in a temporary directory: 127.0.0.1 on a free port, worker_processes
#    auto, access_log off, keep-alive without a request limit).
# 3. For each connection count, nginx and the broker take turns, each with a warm-up and a
#    measured `wrk -t2 -cN -dDs --latency -H 'X-IDENTITY-HEADER: ...'` run (keep-alive),
#    the same request to both; the table shows req/s, p50 and p99 side by side. wrk, the
#    server and the rest share the machine's cores.
# 4. Memory: the VmRSS (/proc/PID/status) of a broker in a process of its own (`entra
#    broker --config`, the daemon app as a client-secret identity against the same
#    emulator; entra up's broker shares its process with the emulator) before and after
#    it is asked for 10,000 distinct resources. They are real resources of the emulator: ten apps added
#    through its admin API (POST /admin/apps), each with 1,000 App ID URIs
#    api://bench-broker-00000 ... 09999 (the emulator refuses client-credentials scopes of
#    resources it does not know, AADSTS500011). The emulator's counters must show one
#    client_credentials grant per resource, and a second pass over all 10,000 must reach
#    the emulator not once (every answer a cache hit) before the RSS is read again.
#
# Knobs (environment):
#   BENCH_DURATION  measured seconds per wrk run      (default 10)
#   BENCH_WARMUP    warm-up seconds before each run   (default 2)
#   BENCH_CONNS     connection counts                 (default "64 16")
#   BENCH_TOKENS    cached tokens for the memory step (default 10000; 0 skips the step)
#   BENCH_SKIP_BUILD=1, BENCH_ENTRA (an entra binary to use instead of the release build),
#   BENCH_OUT (default bench/broker/out, ignored by git)
# Needs wrk, nginx, curl, jq and python3 (scripts/setup-test-deps installs wrk and nginx).
# The EXIT trap stops everything this script started and removes its temporary directory.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
: "${BENCH_DURATION:=10}" "${BENCH_WARMUP:=2}" "${BENCH_CONNS:=64 16}" "${BENCH_TOKENS:=10000}"
: "${BENCH_OUT:=$HERE/out}" "${NGINX:=/usr/sbin/nginx}"
RESOURCE=api://contoso-api
PREFIX=api://bench-broker-

die() {
    echo "bench/broker: $*" >&2
    exit 1
}
for tool in wrk "$NGINX" curl jq python3; do
    command -v "$tool" >/dev/null || die "missing $tool: run scripts/setup-test-deps (Debian's wrk and nginx)"
done

cd "$ROOT"
if [[ -n ${BENCH_ENTRA:-} ]]; then
    ENTRA=$BENCH_ENTRA
else
    [[ ${BENCH_SKIP_BUILD:-0} == 1 ]] || cargo build --release -p entra-cli
    ENTRA=$(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)/release/entra
fi
[[ -x $ENTRA ]] || die "no entra binary at $ENTRA"

mkdir -p "$BENCH_OUT"
# $TMP, PIDS and the cleanup on exit.
# shellcheck source=bench/broker/lib.sh
source "$HERE/lib.sh"

# --- 1. the emulator and the broker ------------------------------------------------
READY=$TMP/up/ready.json
"$ENTRA" up --port 0 --state-dir "$TMP/up" >"$TMP/up.out" 2>"$BENCH_OUT/up.log" &
UP_PID=$!
PIDS+=("$UP_PID")
for _ in $(seq 600); do
    jq -e '.broker.identity_endpoint and .broker.identity_header and .broker.metrics_url' \
        "$READY" >/dev/null 2>&1 && break
    kill -0 "$UP_PID" 2>/dev/null || die "entra up exited; see $BENCH_OUT/up.log"
    sleep 0.1
done
jq -e .broker.identity_endpoint "$READY" >/dev/null 2>&1 || die "no broker in $READY after 60 s"
EP=$(jq -r .broker.identity_endpoint "$READY")
SECRET=$(jq -r .broker.identity_header "$READY")
METRICS=$(jq -r .broker.metrics_url "$READY")
AUTHORITY=$(jq -r .authority "$READY")
CA=$(jq -r .ca_file "$READY")
ADMIN=$(jq -r .admin_token "$READY")
QUERY="resource=$RESOURCE&api-version=2019-08-01"
BROKER_URL="$EP?$QUERY"

# --- 2. the response body, and nginx serving it --------------------------------------
mkdir -p "$TMP/www" "$TMP/nginx/tmp"
curl -sS --fail -o "$TMP/www/token.json" -H "X-IDENTITY-HEADER: $SECRET" "$BROKER_URL" ||
    die "the broker did not answer the App Service request"
jq -e '.access_token and .expires_on' "$TMP/www/token.json" >/dev/null ||
    die "the broker's answer is not a token response"
NGINX_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Workers run as this script's user (as root, nginx would switch them to nobody, who
# cannot read the private temporary directory).
cat >"$TMP/nginx/nginx.conf" <<EOF
$([[ $(id -u) == 0 ]] && echo 'user root;')
worker_processes auto;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_timeout 75s;
    keepalive_requests 100000000;
    client_body_temp_path $TMP/nginx/tmp/body;
    proxy_temp_path $TMP/nginx/tmp/proxy;
    fastcgi_temp_path $TMP/nginx/tmp/fastcgi;
    uwsgi_temp_path $TMP/nginx/tmp/uwsgi;
    scgi_temp_path $TMP/nginx/tmp/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location = /msi/token {
            types { }
            default_type application/json;
            alias $TMP/www/token.json;
        }
    }
}
EOF
"$NGINX" -e "$TMP/nginx/error.log" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" &
PIDS+=($!)
NGINX_URL="http://127.0.0.1:$NGINX_PORT/msi/token?$QUERY"
for _ in $(seq 100); do
    curl -s -o /dev/null "$NGINX_URL" && break
    sleep 0.1
done
curl -sS --fail -o "$TMP/nginx-body" -D "$TMP/nginx-headers" -H "X-IDENTITY-HEADER: $SECRET" "$NGINX_URL" ||
    die "nginx does not answer; $(cat "$TMP/nginx/error.log" 2>/dev/null)"
cmp -s "$TMP/nginx-body" "$TMP/www/token.json" || die "nginx serves another body"
grep -qi '^content-type: application/json' "$TMP/nginx-headers" || die "nginx serves another content type"
# The broker answers the benchmark request from its cache with the same token.
curl -sS --fail -H "X-IDENTITY-HEADER: $SECRET" "$BROKER_URL" | jq -e --slurpfile first "$TMP/www/token.json" \
    '.access_token == $first[0].access_token' >/dev/null || die "the broker's second answer holds another token"

# --- 3. wrk --------------------------------------------------------------------------
to_ms() { # wrk's 12.34us / 1.23ms / 1.23s
    awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n;
        else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'
}
declare -A URL=([nginx]=$NGINX_URL [broker]=$BROKER_URL)
TSV=$BENCH_OUT/results.tsv
printf 'conns\tserver\treq_s\tp50_ms\tp99_ms\tnon2xx\tsocket_errors\n' >"$TSV"
turn=0
for c in ${BENCH_CONNS}; do
    order=(nginx broker)
    ((turn++ % 2 == 0)) || order=(broker nginx)
    for s in "${order[@]}"; do
        wrk_args=(-t2 -c"$c" -H "X-IDENTITY-HEADER: $SECRET" "${URL[$s]}")
        timeout $((BENCH_WARMUP + 30)) wrk -d"${BENCH_WARMUP}s" "${wrk_args[@]}" >/dev/null
        raw=$BENCH_OUT/wrk-$s-c$c.txt
        timeout $((BENCH_DURATION + 30)) wrk -d"${BENCH_DURATION}s" --latency "${wrk_args[@]}" >"$raw"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$s" \
            "$(awk '/^Requests\/sec:/{printf "%.0f", $2}' "$raw")" \
            "$(to_ms "$(awk '$1=="50%"{print $2}' "$raw")")" \
            "$(to_ms "$(awk '$1=="99%"{print $2}' "$raw")")" \
            "$(awk '/Non-2xx or 3xx responses:/{print $NF}' "$raw" | grep . || echo 0)" \
            "$(awk '/Socket errors:/{gsub(",",""); print $4+$6+$8+$10}' "$raw" | grep . || echo 0)" |
            tee -a "$TSV" >&2
    done
done

# --- 4. memory with 10,000 cached tokens -------------------------------------------------
# `entra up` runs the broker inside its own process, beside the emulator, so the memory is
# measured on a broker of its own: `entra broker --config` with the daemon app as a
# client-secret identity against the same emulator, and one caller that may have any
# resource, its audit log in a file as entra up's is.
rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$BROKER_PID/status"; }
grants() {
    curl -sS --fail --cacert "$CA" -H "Authorization: Bearer $ADMIN" "$AUTHORITY/admin/counters" |
        jq '."grant:client_credentials" // 0'
}
MEM=""
if ((BENCH_TOKENS > 0)); then
    ((BENCH_TOKENS <= 100000)) || die "BENCH_TOKENS must be at most 100000"
    for ((k = 0; k * 1000 < BENCH_TOKENS; k++)); do
        python3 - "$k" "${BENCH_TOKENS}" "$PREFIX" <<'PY' >"$TMP/app.json"
import json, sys
k, total, prefix = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
uris = [f"{prefix}{i:05d}" for i in range(k * 1000, min(total, (k + 1) * 1000))]
print(json.dumps({"client_id": f"be000000-0000-4000-8000-{k:012d}", "name": f"Broker benchmark resources {k}",
                  "tenant": "contoso.onmicrosoft.com", "identifier_uris": uris, "access_token_accepted_version": 2}))
PY
        curl -sS --fail -o /dev/null --cacert "$CA" -H "Authorization: Bearer $ADMIN" \
            -H 'Content-Type: application/json' --data-binary @"$TMP/app.json" "$AUTHORITY/admin/apps" ||
            die "the emulator refused the benchmark resources"
    done
    cat >"$TMP/broker.toml" <<EOF
[broker]
listen = "127.0.0.1:0"
audit_log = "$TMP/broker-audit.jsonl"

[[identity]]
name = "daemon"
kind = "client-secret"
tenant = "c0ffee00-0000-4000-8000-000000000001"
client_id = "d0000000-0000-4000-8000-0000000000d1"
secret_env = "BENCH_DAEMON_SECRET"
authority = "$AUTHORITY"
ca_file = "$CA"

[[caller]]
name = "bench"
secret_env = "BENCH_CALLER_SECRET"
identities = ["daemon"]
resources = ["*"]
EOF
    CALLER_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
    BENCH_DAEMON_SECRET=daemon-dev-secret BENCH_CALLER_SECRET=$CALLER_SECRET \
        "$ENTRA" broker --config "$TMP/broker.toml" --ready-file "$TMP/broker.json" 2>"$BENCH_OUT/broker.log" &
    BROKER_PID=$!
    PIDS+=("$BROKER_PID")
    for _ in $(seq 300); do
        [[ -s $TMP/broker.json ]] && break
        kill -0 "$BROKER_PID" 2>/dev/null || die "entra broker exited; see $BENCH_OUT/broker.log"
        sleep 0.1
    done
    MEM_EP=$(jq -r .identity_endpoint "$TMP/broker.json")
    export BENCH_IDENTITY_HEADER=$CALLER_SECRET
    # One token first, so the RSS before the fill is that of a broker that has served.
    curl -sS --fail -o /dev/null -H "X-IDENTITY-HEADER: $CALLER_SECRET" "$MEM_EP?$QUERY" ||
        die "the standalone broker did not answer; see $BENCH_OUT/broker.log"
    rss_before=$(rss_kib)
    grants0=$(grants)
    fill1=$(python3 "$HERE/fill.py" "$MEM_EP" "$PREFIX" "${BENCH_TOKENS}") || die "filling the cache failed: $fill1"
    grants1=$(grants)
    fill2=$(python3 "$HERE/fill.py" "$MEM_EP" "$PREFIX" "${BENCH_TOKENS}") || die "the second pass failed: $fill2"
    grants2=$(grants)
    rss_after=$(rss_kib)
    echo "first pass: $fill1; second pass: $fill2" >&2
    (( grants1 - grants0 >= BENCH_TOKENS )) ||
        die "the first pass made $((grants1 - grants0)) token requests to the emulator, not ${BENCH_TOKENS}"
    (( grants2 == grants1 )) ||
        die "the second pass reached the emulator $((grants2 - grants1)) times: tokens were not all cached"
    [[ $(jq -r .distinct_tokens <<<"$fill1") == "${BENCH_TOKENS}" ]] || die "the first pass did not get ${BENCH_TOKENS} distinct tokens"
    MEM=$(awk -v b="$rss_before" -v a="$rss_after" -v n="${BENCH_TOKENS}" -v g="$((grants1 - grants0))" \
        -v f1="$(jq -r .seconds <<<"$fill1")" -v f2="$(jq -r .seconds <<<"$fill2")" 'BEGIN {
        printf "| broker VmRSS after its first token | %.1f MiB |\n", b / 1024
        printf "| broker VmRSS holding %d cached tokens | %.1f MiB |\n", n, a / 1024
        printf "| difference, per cached token | %.1f MiB, %.2f KiB |\n", (a - b) / 1024, (a - b) / n
        printf "| first pass (%d misses, %d emulator grants) | %.1f s |\n", n, g, f1
        printf "| second pass (%d cache hits, 0 emulator grants) | %.1f s |\n", n, f2 }')
fi

# --- the report ------------------------------------------------------------------------
python3 - "$TSV" >"$BENCH_OUT/results.md" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
print("| conns | nginx req/s | broker req/s | broker / nginx | nginx p50 ms | broker p50 ms | nginx p99 ms | broker p99 ms | non-2xx / socket errors (nginx, broker) |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
for c in dict.fromkeys(r["conns"] for r in rows):
    n = next(r for r in rows if r["conns"] == c and r["server"] == "nginx")
    b = next(r for r in rows if r["conns"] == c and r["server"] == "broker")
    print(f"| {c} | {float(n['req_s']):.0f} | {float(b['req_s']):.0f} | {float(b['req_s']) / float(n['req_s']):.2f} | "
          f"{n['p50_ms']} | {b['p50_ms']} | {n['p99_ms']} | {b['p99_ms']} | "
          f"{n['non2xx']} / {n['socket_errors']}, {b['non2xx']} / {b['socket_errors']} |")
PY
{
    echo
    echo "\`wrk -t2 -c<conns> -d${BENCH_DURATION}s --latency -H 'X-IDENTITY-HEADER: <secret>' <url>/msi/token?$QUERY\`,"
    echo "each after a ${BENCH_WARMUP} s warm-up; nginx serves the broker's own response body ($(wc -c <"$TMP/www/token.json") bytes) from a file."
    if [[ -n $MEM ]]; then
        echo
        echo "| memory (\`entra broker --config\`, a process of its own) | |"
        echo "|---|---:|"
        echo "$MEM"
    fi
    echo
    echo "$(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- crates || echo ' (with local changes)'), nproc $(nproc), nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///'), load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
} >>"$BENCH_OUT/results.md"
cat "$BENCH_OUT/results.md"
echo "written: $BENCH_OUT/results.md (raw wrk output and results.tsv beside it)" >&2

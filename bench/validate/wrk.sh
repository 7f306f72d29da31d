#!/usr/bin/env bash
# The entra-validate middleware under wrk: `GET /data` of examples/protected-api with a
# real emulator token, beside the same route without the middleware.
#
#   bash bench/validate/wrk.sh
#
# Three servers, the same binary and the same request (Bearer token + X-Tenant-ID):
#   no-auth     --danger-disable-auth-for-benchmark: the routes without any middleware
#   auth        EntraAuthLayer + RequireLayer, validated-token cache on (the default: one
#               RSA verification per token, then cache hits)
#   auth-nocache  the same with --token-cache-capacity 0: parse + RSA-2048 verify + claim
#               checks on every request
# For each round and connection count the servers take turns (order rotating), each with
# a warm-up and a measured `wrk -t1 -cN -dDs --latency` run. About
# rounds x conns x servers x (warm-up + duration) = 3 x 3 x 3 x 12 s = 5.4 min.
#
# Knobs (environment):
#   WRK_DURATION  measured seconds per run          (default 10)
#   WRK_WARMUP    warm-up seconds before each run   (default 2)
#   WRK_CONNS     connection counts                 (default "1 16 64")
#   WRK_ROUNDS    rounds; the table shows medians   (default 3)
#   WRK_QUIET_MAX seconds to wait before each run for the rest of the machine to go
#                 under 0.3 busy cores              (default 30; runs that started
#                 without it are counted in the "started busy" column)
#   WRK_SERVERS   which servers                     (default "no-auth auth auth-nocache")
#   WRK_PATH      the route                         (default /data)
#   WRK_SKIP_BUILD=1, WRK_OUT (default bench/validate/out)
#
# The token goes to wrk in a 0600 Lua file, never on a command line. The EXIT trap stops
# every process this script started and removes its temporary directory.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DURATION=${WRK_DURATION:-10}
WARMUP=${WRK_WARMUP:-2}
CONNS=${WRK_CONNS:-"1 16 64"}
ROUNDS=${WRK_ROUNDS:-3}
QUIET_MAX=${WRK_QUIET_MAX:-30}
SERVERS=${WRK_SERVERS:-"no-auth auth auth-nocache"}
ROUTE=${WRK_PATH:-/data}
OUT=${WRK_OUT:-$HERE/out}
TENANT=c0ffee00-0000-4000-8000-000000000001

for tool in wrk curl jq python3; do
    if ! command -v "$tool" >/dev/null; then
        if [[ $tool != python3 && $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
            apt-get install -y "$tool" >&2
        else
            echo "missing $tool (apt-get install -y $tool)" >&2
            exit 2
        fi
    fi
done

cd "$ROOT"
TARGET=$(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)
if [[ ${WRK_SKIP_BUILD:-0} != 1 ]]; then
    cargo build --release -p entra-cli -p protected-api
fi
ENTRA=$TARGET/release/entra
API=$TARGET/release/protected-api

mkdir -p "$OUT"
TMP=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT

# wait_for FILE: until FILE exists and is not empty (30 s at most).
wait_for() {
    for _ in $(seq 300); do
        [[ -s $1 ]] && return 0
        sleep 0.1
    done
    echo "timed out waiting for $1" >&2
    exit 1
}

# --- the emulator and a token --------------------------------------------------------
# Its stdout (which shows the admin token) stays in the temporary directory.
"$ENTRA" emulator --port 0 --state-dir "$TMP/emu" --token-lifetime 3600 \
    >"$TMP/emulator.out" 2>"$OUT/emulator.log" &
PIDS+=($!)
wait_for "$TMP/emu/ready.json"
AUTHORITY=$(jq -r .authority "$TMP/emu/ready.json")
CA=$(jq -r .ca_file "$TMP/emu/ready.json")
TOKEN=$(curl -sS --fail --cacert "$CA" "$AUTHORITY/$TENANT/oauth2/v2.0/token" \
    -d grant_type=client_credentials \
    -d client_id=d0000000-0000-4000-8000-0000000000d1 \
    -d client_secret=daemon-dev-secret \
    --data-urlencode scope=api://contoso-api/.default | jq -r .access_token)
[[ $TOKEN == ey* ]] || {
    echo "no token from the emulator" >&2
    exit 1
}
(
    umask 077
    printf 'wrk.headers["Authorization"] = "Bearer %s"\nwrk.headers["X-Tenant-ID"] = "%s"\n' \
        "$TOKEN" "$TENANT" >"$TMP/headers.lua"
)

# --- the servers ----------------------------------------------------------------------
declare -A URL SPID
start_server() { # name, extra flags...
    local name=$1
    shift
    "$API" --listen 127.0.0.1:0 "$@" >"$TMP/$name.addr" 2>"$OUT/$name.log" &
    local pid=$!
    PIDS+=("$pid")
    SPID[$name]=$pid
    wait_for "$TMP/$name.addr"
    URL[$name]=$(head -n1 "$TMP/$name.addr")
}
AUTH_FLAGS=(--authority "$AUTHORITY" --ca-file "$CA" --tenant "$TENANT"
    --audience a0000000-0000-4000-8000-0000000000a1 --audience api://contoso-api)
for s in $SERVERS; do
    case $s in
    no-auth) start_server no-auth --danger-disable-auth-for-benchmark ;;
    auth) start_server auth "${AUTH_FLAGS[@]}" ;;
    auth-nocache) start_server auth-nocache "${AUTH_FLAGS[@]}" --token-cache-capacity 0 ;;
    *)
        echo "unknown server $s" >&2
        exit 2
        ;;
    esac
done

# Every server answers the benchmark request with 200; the protected ones refuse no token.
for s in $SERVERS; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Tenant-ID: $TENANT" \
        -H @<(printf 'Authorization: Bearer %s\n' "$TOKEN") "${URL[$s]}$ROUTE")
    [[ $code == 200 ]] || {
        echo "$s: GET $ROUTE answered $code, not 200" >&2
        exit 1
    }
    if [[ $s != no-auth ]]; then
        code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Tenant-ID: $TENANT" "${URL[$s]}$ROUTE")
        [[ $code == 401 ]] || {
            echo "$s: GET $ROUTE without a token answered $code, not 401" >&2
            exit 1
        }
    fi
done

# --- measuring ------------------------------------------------------------------------
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
TICKS=$(getconf CLK_TCK)
cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }              # ticks used by a process
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9; exit}' /proc/stat; } # ticks all CPUs were busy
to_ms() {                                                             # wrk's 12.34us/ms/s
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000
        printf "%.3f", n }'
}

# wait_quiet: until the machine (besides our idle servers) uses under 0.3 cores over a
# second, at most QUIET_MAX seconds; prints "yes" when it got quiet, "no" otherwise.
wait_quiet() {
    local start=$SECONDS b0 b1
    while true; do
        b0=$(busy)
        sleep 1
        b1=$(busy)
        if awk -v a="$b0" -v b="$b1" -v t="$TICKS" 'BEGIN{exit !((b-a)/t < 0.3)}'; then
            echo yes
            return
        fi
        if ((SECONDS - start >= QUIET_MAX)); then
            echo no
            return
        fi
    done
}

TSV=$OUT/results.tsv
printf 'quiet\tround\tconns\tserver\treq_s\tp50_ms\tp99_ms\tnon2xx\terrors\tserver_cores\twrk_cores\tmachine_cores\tserver_us_per_req\n' >"$TSV"
read -r -a ORDER <<<"$SERVERS"
n=${#ORDER[@]}
turn=0
for round in $(seq "$ROUNDS"); do
    for c in $CONNS; do
        # Rotate the order every time so drift does not always hit the same server.
        for i in $(seq 0 $((n - 1))); do
            s=${ORDER[$(((i + turn) % n))]}
            quiet=$(wait_quiet)
            timeout $((WARMUP + 30)) wrk -t1 -c"$c" -d"${WARMUP}s" -s "$TMP/headers.lua" \
                "${URL[$s]}$ROUTE" >/dev/null
            raw="$OUT/wrk-$s-c$c-r$round.txt"
            cpu0=$(cpu_of "${SPID[$s]}")
            busy0=$(busy)
            # bash's `time` gives wrk's own CPU (user + sys seconds).
            wrk_cpu=$({
                TIMEFORMAT='%U %S'
                time timeout $((DURATION + 30)) wrk -t1 -c"$c" -d"${DURATION}s" --latency \
                    -s "$TMP/headers.lua" "${URL[$s]}$ROUTE" >"$raw"
            } 2>&1 | awk '{print $1 + $2}')
            cpu1=$(cpu_of "${SPID[$s]}")
            busy1=$(busy)
            rps=$(awk '/^Requests\/sec:/{print $2}' "$raw")
            p50=$(to_ms "$(awk '$1=="50%"{print $2}' "$raw")")
            p99=$(to_ms "$(awk '$1=="99%"{print $2}' "$raw")")
            non2xx=$(awk '/Non-2xx or 3xx responses:/{print $NF}' "$raw")
            errors=$(awk '/Socket errors:/{gsub(",",""); print $4+$6+$8+$10}' "$raw")
            total=$(awk '/requests in/{print $1}' "$raw")
            awk -v OFS='\t' -v q="$quiet" -v r="$round" -v c="$c" -v s="$s" -v rps="$rps" -v p50="$p50" \
                -v p99="$p99" -v nx="${non2xx:-0}" -v er="${errors:-0}" -v a="$cpu0" -v b="$cpu1" \
                -v w="$wrk_cpu" -v m0="$busy0" -v m1="$busy1" -v t="$TICKS" -v d="$DURATION" \
                -v total="$total" 'BEGIN {
                    print q, r, c, s, rps, p50, p99, nx, er,
                        sprintf("%.2f", (b - a) / t / d), sprintf("%.2f", w / d),
                        sprintf("%.2f", (m1 - m0) / t / d),
                        sprintf("%.1f", (b - a) / t * 1e6 / (total > 0 ? total : 1)) }' |
                tee -a "$TSV"
            turn=$((turn + 1))
        done
    done
done

# The table: medians over the rounds, the req/s range in brackets.
python3 - "$TSV" "$CONNS" "$SERVERS" >"$OUT/wrk.md" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
conns, servers = sys.argv[2].split(), sys.argv[3].split()
med = lambda xs: statistics.median(float(x) for x in xs)
print("| conns | server | req/s | p50 ms | p99 ms | non-2xx / socket errors | server CPU (cores) | wrk CPU (cores) | other CPU (cores) | server CPU µs/req | runs started busy |")
print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for c in conns:
    for s in servers:
        g = [r for r in rows if r["conns"] == c and r["server"] == s]
        if not g:
            continue
        col = lambda k: [r[k] for r in g]
        rps = [float(x) for x in col("req_s")]
        rng = f" ({min(rps):.0f}–{max(rps):.0f})" if len(g) > 1 else ""
        other = [float(r["machine_cores"]) - float(r["server_cores"]) - float(r["wrk_cores"]) for r in g]
        print(f"| {c} | {s} | {med(rps):.0f}{rng} | {med(col('p50_ms')):.3f} | {med(col('p99_ms')):.3f} | "
              f"{sum(int(x) for x in col('non2xx'))} / {sum(int(x) for x in col('errors'))} | "
              f"{med(col('server_cores')):.2f} | {med(col('wrk_cores')):.2f} | {max(0.0, statistics.median(other)):.2f} | "
              f"{med(col('server_us_per_req')):.1f} | {sum(r['quiet'] != 'yes' for r in g)}/{len(g)} |")
PY
{
    echo
    echo "Medians of $ROUNDS round(s) of \`wrk -t1 -c<conns> -d${DURATION}s --latency -s headers.lua <url>$ROUTE\`"
    echo "(headers.lua sets \`Authorization: Bearer <emulator app token>\` and \`X-Tenant-ID\`), each after a"
    echo "${WARMUP} s warm-up; req/s range over the rounds in brackets. Other CPU: the whole machine's busy"
    echo "time minus the server's and wrk's (the emulator, other builds, the kernel)."
    echo "$(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- examples crates || echo ' (with local changes)'), nproc $(nproc),"
    echo "load average at the start: $LOAD_START, at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
} >>"$OUT/wrk.md"
cat "$OUT/wrk.md"
echo "written: $OUT/wrk.md (raw wrk output and results.tsv beside it)" >&2

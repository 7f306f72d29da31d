#!/usr/bin/env bash
# Client-credentials token issuance over HTTPS with keep-alive: the entrakit emulator
# versus the npm package oauth2-mock-server, same machine, same wrk load, in one run.
# Both servers listen on 127.0.0.1 only; they are loaded one at a time, alternating
# per connection count and per round, so slow drift on the machine hits both alike.
#
#   bash bench/run.sh
#
# Knobs (environment):
#   BENCH_DURATION  measured seconds per wrk run            (default 15)
#   BENCH_WARMUP    warm-up seconds before each measured run (default 3)
#   BENCH_CONNS     connection counts                        (default "1 2 4 16 64")
#   BENCH_ROUNDS    rounds; the table shows the median       (default 3)
#   BENCH_THREADS   wrk threads (capped at the conn count)   (default 1)
#   BENCH_PIN=1     pin servers to CPU 0 and wrk to CPU 1    (default: no pinning)
#   BENCH_PROBE=0   skip the trivial-endpoint probe (GET JWKS, 1 round)
#   BENCH_RETRIES   re-measurements of a run disturbed by other processes (default 2)
#   BENCH_QUIET_MAX seconds to wait for an idle machine before each run (default 120)
#   BENCH_SKIP_BUILD=1, BENCH_OUT (default bench/out: raw wrk output, logs, results)
#
# Bounded: every wrk run is wrapped in `timeout`, waiting for an idle machine gives up
# after BENCH_QUIET_MAX seconds and flags the run, re-measuring is capped, and the EXIT trap
# stops every process this script started. Default length: about
# rounds x 2 servers x #conns x (warm-up + duration) = 3 x 2 x 5 x 18 s = 9 min,
# plus the probe (about 1.2 min) and the release build if it is stale.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
DURATION=${BENCH_DURATION:-15}
WARMUP=${BENCH_WARMUP:-3}
CONNS=${BENCH_CONNS:-"1 2 4 16 64"}
ROUNDS=${BENCH_ROUNDS:-3}
THREADS=${BENCH_THREADS:-1}
PIN=${BENCH_PIN:-0}
PROBE=${BENCH_PROBE:-1}
QUIET_MAX=${BENCH_QUIET_MAX:-120}
RETRIES=${BENCH_RETRIES:-2}
OUT=${BENCH_OUT:-$HERE/out}
ENTRA=$ROOT/target/release/entra

TENANT=contoso.onmicrosoft.com
CLIENT_ID=d0000000-0000-4000-8000-0000000000d1
BODY="grant_type=client_credentials&client_id=${CLIENT_ID}&client_secret=daemon-dev-secret&scope=api%3A%2F%2Fcontoso-api%2F.default"
# oauth2-mock-server accepts any client: it gets the very same body.

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

for tool in wrk curl node npm timeout awk sed getconf; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
for n in "$DURATION" "$WARMUP" "$ROUNDS" "$THREADS" "$QUIET_MAX" "$RETRIES"; do
  [[ $n =~ ^[0-9]+$ ]] || die "BENCH_* numbers must be integers"
done

mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/entrakit-bench.XXXXXX")
PIDS=()
cleanup() {
  local pid
  if [[ -n ${WRK_JOB:-} ]]; then kill -TERM "$WRK_JOB" 2>/dev/null || true; fi
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wait_for_file() { # path pid timeout_s
  local path=$1 pid=$2 t=$3
  for _ in $(seq 1 $((t * 10))); do
    [[ -s $path ]] && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

json_str() { # file key -> string value
  sed -n "s/.*\"$2\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p" "$1" | head -n1
}

cpu_ticks() { # pid -> utime+stime of the whole process (all its threads), clock ticks
  sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

sys_ticks() { # -> "busy total" clock ticks summed over all CPUs
  awk '/^cpu /{t=0; for (i=2;i<=NF;i++) t+=$i; print t-$5-$6, t}' /proc/stat
}

# Waits until the machine is idle (< 10% of all CPUs busy over 1 s), at most QUIET_MAX s.
# Other work on a shared 2-core box (a build, a test suite) would otherwise skew a run.
wait_quiet() {
  local b0 t0 b1 t1 waited=0
  while :; do
    read -r b0 t0 < <(sys_ticks); sleep 1; read -r b1 t1 < <(sys_ticks)
    if (( (b1 - b0) * 10 < (t1 - t0) )); then return 0; fi
    if ((waited == 0)); then log "machine busy (another process); waiting for it to go idle"; fi
    waited=$((waited + 1))
    if ((waited >= QUIET_MAX)); then log "still busy after ${QUIET_MAX}s; measuring anyway (flagged)"; return 1; fi
  done
}

to_ms() { # wrk duration ("612.00us", "1.23ms", "1.02s", "1.00m") -> ms
  awk -v v="$1" 'BEGIN{
    if (v ~ /us$/) { sub(/us$/,"",v); printf "%.3f", v/1000 }
    else if (v ~ /ms$/) { sub(/ms$/,"",v); printf "%.3f", v }
    else if (v ~ /m$/) { sub(/m$/,"",v); printf "%.3f", v*60000 }
    else if (v ~ /s$/) { sub(/s$/,"",v); printf "%.3f", v*1000 }
    else printf "nan" }'
}

HZ=$(getconf CLK_TCK)
NPROC=$(nproc)
SERVER_CPUS=""; WRK_CPUS=""
if [[ $PIN == 1 ]]; then
  command -v taskset >/dev/null || die "BENCH_PIN=1 needs taskset"
  SERVER_CPUS="taskset -c 0"; WRK_CPUS="taskset -c 1"
fi

# ---------------------------------------------------------------- preparation
if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
  log "building entra (release)"
  (cd "$ROOT" && cargo build --release -p entra-cli) >&2
fi
[[ -x $ENTRA ]] || die "$ENTRA missing (cargo build --release -p entra-cli)"

if [[ ! -d $HERE/node_modules/oauth2-mock-server ]]; then
  log "installing oauth2-mock-server from bench/package-lock.json"
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error) >&2
fi
OMS_VERSION=$(sed -n 's/.*"version":[[:space:]]*"\([^"]*\)".*/\1/p' \
  "$HERE/node_modules/oauth2-mock-server/package.json" | head -n1)

RESULTS=$OUT/results.tsv
printf 'kind\tround\tserver\tconns\treq_s\tp50_ms\tp90_ms\tp99_ms\tmax_ms\terrors\tserver_cores\twrk_cores\tother_cores\tus_cpu_per_req\tquiet\n' >"$RESULTS"

# run_wrk LIMIT_S OUT_FILE WRK_ARGS...: wrk bounded by `timeout`, started in the
# background and waited for, so an INT/TERM to this script stops it at once (cleanup).
WRK_JOB=""
run_wrk() {
  local limit=$1 out=$2 rc=0
  shift 2
  timeout "$limit" $WRK_CPUS wrk "$@" >"$out" &
  WRK_JOB=$!
  wait "$WRK_JOB" || rc=$?
  WRK_JOB=""
  return "$rc"
}

# measure KIND ROUND NAME PID URL BODY CONNS  (BODY empty: GET)
# Re-measures (at most BENCH_RETRIES more times) when other processes took more than
# 0.2 of a core during the run; the last attempt is kept, flagged if still disturbed.
measure() {
  local attempt
  for attempt in $(seq 0 "$RETRIES"); do
    measure_once "$@"
    [[ $(cut -f15 "$WORK/line") == yes ]] && break
    if ((attempt < RETRIES)); then log "disturbed by other processes; measuring again"; fi
  done
  cat "$WORK/line" >>"$RESULTS"
}

measure_once() {
  local kind=$1 round=$2 name=$3 pid=$4 url=$5 body=$6 c=$7
  local t=$THREADS script=() raw s0 s1 b0 b1 t0 t1 quiet=yes
  ((t > c)) && t=$c
  [[ -n $body ]] && script=(-s "$HERE/post.lua")
  export BENCH_BODY=$body
  wait_quiet || quiet=no
  log "$kind r$round $name c=$c: warm-up ${WARMUP}s, measure ${DURATION}s"
  run_wrk $((WARMUP + 30)) /dev/null -t"$t" -c"$c" -d"${WARMUP}s" "${script[@]}" "$url" \
    || die "wrk failed (warm-up, $name c=$c)"
  raw=$OUT/wrk-$kind-$name-c$c-r$round.txt
  s0=$(cpu_ticks "$pid")
  read -r b0 t0 < <(sys_ticks)
  # `times` (a builtin: no fork) gives this shell's reaped children's CPU; the
  # difference across the run is wrk's (through timeout).
  times >"$WORK/times0"
  run_wrk $((DURATION + 30)) "$raw" -t"$t" -c"$c" -d"${DURATION}s" --latency "${script[@]}" "$url" \
    || die "wrk failed ($name c=$c, see $raw)"
  times >"$WORK/times1"
  s1=$(cpu_ticks "$pid")
  read -r b1 t1 < <(sys_ticks)
  kill -0 "$pid" 2>/dev/null || die "$name exited during the run"

  local rps p50 p90 p99 max non2xx sockerr wrk_s elapsed srv_s all_s
  rps=$(awk '/^Requests\/sec:/{print $2}' "$raw")
  [[ -n $rps ]] || die "no wrk result in $raw"
  p50=$(to_ms "$(awk '$1=="50%"{print $2}' "$raw")")
  p90=$(to_ms "$(awk '$1=="90%"{print $2}' "$raw")")
  p99=$(to_ms "$(awk '$1=="99%"{print $2}' "$raw")")
  max=$(to_ms "$(awk '$1=="Latency"{print $4; exit}' "$raw")")
  non2xx=$(awk '/Non-2xx or 3xx responses:/{print $NF}' "$raw")
  sockerr=$(awk -F'[ ,]+' '/Socket errors:/{print $4+$6+$8+$10}' "$raw")
  wrk_s=$(cat "$WORK/times0" "$WORK/times1" | awk '
    function sec(x, a) { split(x, a, "m"); sub(/s$/, "", a[2]); return a[1] * 60 + a[2] }
    NR == 2 { before = sec($1) + sec($2) } NR == 4 { after = sec($1) + sec($2) }
    END { print after - before }')
  elapsed=$(awk '/requests in/{v=$4; sub(/,$/,"",v); sub(/s$/,"",v); print v}' "$raw")
  srv_s=$(awk -v a="$s0" -v b="$s1" -v hz="$HZ" 'BEGIN{print (b-a)/hz}')
  # Busy time of the whole machine over the same window, in CPU-seconds.
  all_s=$(awk -v b0="$b0" -v b1="$b1" -v t0="$t0" -v t1="$t1" -v n="$NPROC" -v e="$elapsed" \
    'BEGIN{print (b1-b0)/(t1-t0)*n*e}')
  awk -v OFS='\t' -v k="$kind" -v r="$round" -v s="$name" -v c="$c" -v rps="$rps" \
    -v p50="$p50" -v p90="$p90" -v p99="$p99" -v max="$max" -v err=$((${non2xx:-0} + ${sockerr:-0})) \
    -v srv="$srv_s" -v wrk="$wrk_s" -v all="$all_s" -v e="$elapsed" -v q="$quiet" 'BEGIN{
      other = (all - srv - wrk) / e; if (other < 0) other = 0
      if (other > 0.2) q = "no"
      print k, r, s, c, rps, p50, p90, p99, max, err,
        sprintf("%.2f", srv/e), sprintf("%.2f", wrk/e), sprintf("%.2f", other),
        sprintf("%.0f", 1e6*srv/(rps*e)), q }' >"$WORK/line"
}

# ------------------------------------------------------------ start the servers
EMU_DIR=$WORK/emulator
mkdir -p "$EMU_DIR"
log "starting entra emulator"
ENTRA_LOG=warn $SERVER_CPUS "$ENTRA" emulator --port 0 --state-dir "$EMU_DIR" \
  --token-lifetime 3600 >"$OUT/emulator.log" 2>&1 &
EMU_PID=$!
PIDS+=("$EMU_PID")
wait_for_file "$EMU_DIR/ready.json" "$EMU_PID" 120 || die "emulator did not become ready (see $OUT/emulator.log)"
AUTHORITY=$(json_str "$EMU_DIR/ready.json" authority)
CA_FILE=$(json_str "$EMU_DIR/ready.json" ca_file)
PORT=${AUTHORITY##*:}
[[ $PORT =~ ^[0-9]+$ ]] || die "bad authority in ready.json: $AUTHORITY"
# wrk goes to 127.0.0.1 for both servers (same IPv4 loopback path; no ::1 vs 127.0.0.1).
EMU_URL="https://127.0.0.1:${PORT}/${TENANT}/oauth2/v2.0/token"
EMU_KEYS_URL="https://127.0.0.1:${PORT}/${TENANT}/discovery/v2.0/keys"

# Same TLS leaf for oauth2-mock-server (ECDSA P-256, issued by the emulator's CA), so
# TLS costs the same on both sides and curl can verify both with one CA file.
log "starting oauth2-mock-server $OMS_VERSION (node $(node --version))"
(cd "$HERE" && exec $SERVER_CPUS node oms-server.mjs "$EMU_DIR/tls-key.pem" "$EMU_DIR/tls-cert.pem" \
  "$WORK/oms-ready.json") >"$OUT/oms.log" 2>&1 &
OMS_PID=$!
PIDS+=("$OMS_PID")
wait_for_file "$WORK/oms-ready.json" "$OMS_PID" 60 || die "oauth2-mock-server did not start (see $OUT/oms.log)"
OMS_PORT=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$WORK/oms-ready.json")
[[ $OMS_PORT =~ ^[0-9]+$ ]] || die "bad oauth2-mock-server ready file"
OMS_URL="https://127.0.0.1:${OMS_PORT}/token"
OMS_KEYS_URL="https://127.0.0.1:${OMS_PORT}/jwks"

# ------------------------------------------------------- check both answer right
check_token() { # name url out
  local code
  code=$(curl -sS --max-time 10 --cacert "$CA_FILE" -o "$3" -w '%{http_code}' \
    -H 'Content-Type: application/x-www-form-urlencoded' --data "$BODY" "$2")
  [[ $code == 200 ]] || die "$1: $2 returned $code: $(head -c 300 "$3")"
  grep -q '"access_token":"ey' "$3" || die "$1: no access_token in $(head -c 300 "$3")"
  log "$1: $2 -> 200 with an access_token ($(wc -c <"$3") bytes)"
}
check_token emulator "$AUTHORITY/${TENANT}/oauth2/v2.0/token" "$WORK/emu.json"
check_token emulator "$EMU_URL" "$WORK/emu.json"
check_token oauth2-mock-server "https://localhost:${OMS_PORT}/token" "$WORK/oms.json"
check_token oauth2-mock-server "$OMS_URL" "$WORK/oms.json"
EMU_BYTES=$(wc -c <"$WORK/emu.json")
OMS_BYTES=$(wc -c <"$WORK/oms.json")

# ------------------------------------------------------------------ the runs
for round in $(seq 1 "$ROUNDS"); do
  for c in $CONNS; do
    # Alternate which server goes first from round to round.
    if ((round % 2)); then order="emulator oms"; else order="oms emulator"; fi
    for s in $order; do
      if [[ $s == emulator ]]; then
        measure token "$round" emulator "$EMU_PID" "$EMU_URL" "$BODY" "$c"
      else
        measure token "$round" oms "$OMS_PID" "$OMS_URL" "$BODY" "$c"
      fi
    done
  done
done
if [[ $PROBE == 1 ]]; then
  # The same HTTPS keep-alive path without a signature: separates RSA signing from
  # HTTP/TLS/framework cost.
  for c in 1 4; do
    measure jwks 1 emulator "$EMU_PID" "$EMU_KEYS_URL" "" "$c"
    measure jwks 1 oms "$OMS_PID" "$OMS_KEYS_URL" "" "$c"
  done
fi

# -------------------------------------------------------------------- report
median() { sort -g | awk '{v[NR]=$1} END{ if (NR==0) print "nan"; else if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2 }'; }
col() { # kind server conns column -> values, one a line
  awk -F'\t' -v k="$1" -v s="$2" -v c="$3" -v i="$4" '$1==k && $3==s && $4==c {print $i}' "$RESULTS"
}
row() { # kind server conns -> markdown cells for the median of each metric
  local k=$1 s=$2 c=$3
  local rps lo hi p50 p90 p99 err srv wrk oth us q
  rps=$(col "$k" "$s" "$c" 5 | median); lo=$(col "$k" "$s" "$c" 5 | sort -g | head -n1)
  hi=$(col "$k" "$s" "$c" 5 | sort -g | tail -n1)
  p50=$(col "$k" "$s" "$c" 6 | median); p90=$(col "$k" "$s" "$c" 7 | median)
  p99=$(col "$k" "$s" "$c" 8 | median)
  err=$(col "$k" "$s" "$c" 10 | awk '{t+=$1} END{print t+0}')
  srv=$(col "$k" "$s" "$c" 11 | median); wrk=$(col "$k" "$s" "$c" 12 | median)
  oth=$(col "$k" "$s" "$c" 13 | median); us=$(col "$k" "$s" "$c" 14 | median)
  q=$(col "$k" "$s" "$c" 15 | grep -c no || true)
  awk -v rps="$rps" -v lo="$lo" -v hi="$hi" -v p50="$p50" -v p90="$p90" -v p99="$p99" \
    -v err="$err" -v srv="$srv" -v wrk="$wrk" -v oth="$oth" -v us="$us" -v q="$q" 'BEGIN{
      printf "%.0f (%.0f–%.0f) | %.2f | %.2f | %.2f | %d | %.2f | %.2f | %.2f | %.0f%s",
        rps, lo, hi, p50, p90, p99, err, srv, wrk, oth, us, (q > 0) ? " ⚠" : "" }'
}
{
  echo "entrakit emulator ($(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')) vs oauth2-mock-server $OMS_VERSION on node $(node --version)."
  echo "$NPROC CPUs ($(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)); wrk -t$THREADS, ${WARMUP}s warm-up + ${DURATION}s measured per cell, keep-alive HTTPS to 127.0.0.1;"
  echo "median of $ROUNDS rounds (req/s range in brackets); pinning: $([[ $PIN == 1 ]] && echo 'servers on CPU 0, wrk on CPU 1' || echo 'none (the OS schedules everything on both cores)')."
  echo "Token response bodies: emulator ${EMU_BYTES} B, oauth2-mock-server ${OMS_BYTES} B."
  echo
  echo "| conns | server | req/s | p50 ms | p90 ms | p99 ms | errors | server CPU (cores) | wrk CPU (cores) | other CPU (cores) | server CPU µs/req |"
  echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for c in $CONNS; do
    echo "| $c | **entra emulator** | $(row token emulator "$c") |"
    echo "| $c | oauth2-mock-server | $(row token oms "$c") |"
  done
  echo
  echo "| conns | emulator ÷ oauth2-mock-server throughput | emulator p99 ms | target (≥ 3x, p99 < 2 ms) |"
  echo "|---:|---:|---:|---|"
  for c in $CONNS; do
    awk -v c="$c" -v e="$(col token emulator "$c" 5 | median)" -v o="$(col token oms "$c" 5 | median)" \
      -v p="$(col token emulator "$c" 8 | median)" 'BEGIN{
        r = (o > 0) ? e/o : 0
        printf "| %s | %.2fx | %.2f | %s, %s |\n", c, r, p,
          (r >= 3) ? "throughput met" : "throughput missed", (p < 2) ? "p99 met" : "p99 missed" }'
  done
  if [[ $PROBE == 1 ]]; then
    echo
    echo "Probe: GET of the JWKS (same HTTPS keep-alive path, no signature), 1 round:"
    echo
    echo "| conns | server | req/s | p50 ms | p90 ms | p99 ms | errors | server CPU (cores) | wrk CPU (cores) | other CPU (cores) | server CPU µs/req |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for c in 1 4; do
      echo "| $c | entra emulator | $(row jwks emulator "$c") |"
      echo "| $c | oauth2-mock-server | $(row jwks oms "$c") |"
    done
  fi
  echo
  echo "⚠ = in at least one round other processes used more than 0.2 of a core (after ${RETRIES} re-measurements)."
} | tee "$OUT/results.md"

#!/usr/bin/env bash
# Proxy-hop benchmark: rs_mock_upstream measured directly, through nginx, and through rightsize, in one run.
#
#   bench/run.sh [--duration S] [--rounds N] [--ttfb-n N] [--route R] [--rs-config FILE]
#                [--no-rightsize] [--mock-threads N] [--keep]
#
# For each target (direct = the mock itself, nginx, rightsize) it measures, with a ~1 KB chat request:
#   - wrk at 1 and 32 connections: requests/s, p50 and p99 latency;
#   - CPU per request of the serving process (utime+stime from /proc/PID/stat around each wrk run);
#   - streaming time to first byte: N sequential "stream": true requests on one keep-alive connection,
#     from the request write to the first response byte (bench/ttfb.mjs, a raw-socket Node client), p50/p99;
#   - RSS of nginx and rightsize, idle (before any load) and after all the load.
# nginx runs one process (master_process off, 1 worker) and rightsize one thread (server.threads: 1), so
# CPU per request compares. Prints a markdown table on stdout; progress goes to stderr. On a shared or
# virtual machine, latencies at 1 connection are dominated by wake-up costs and vary from run to run: compare
# columns of one run, not runs.
#
# Binaries: $RIGHTSIZE_BIN (default build/app/rightsize), $RS_MOCK_UPSTREAM_BIN (default
# build/tests/fakes/rs_mock_upstream), $NGINX_BIN (default /usr/sbin/nginx); wrk, curl and node from PATH.
#
# Options:
#   --duration S      seconds per wrk run (default 5; a 1 s warm-up per target comes first)
#   --rounds N        rounds (default 3); in each, the targets take turns at every measurement, and the
#                     table shows medians over the rounds (3 targets, defaults: about 100 s in all)
#   --ttfb-n N        streamed requests for time to first byte (default 200)
#   --route R         rightsize model or route the requests name (default "cheapest"; the generated
#                     config has routes "fixed" and "cheapest" over models "small" and "big")
#   --rs-config FILE  use FILE as the rightsize config instead of the generated one; @MOCK_PORT@ in it is
#                     replaced by the mock's port and it must listen on "127.0.0.1:0" (use with --route)
#   --no-rightsize    skip the rightsize column (e.g. before the gateway runs)
#   --mock-threads N  threads of the mock upstream (default 1)
#   --keep            keep the temp dir (configs, logs, raw outputs) and print its path
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BENCH="$ROOT/bench"

DURATION=5
ROUNDS=3
TTFB_N=200
ROUTE=cheapest
RS_CONFIG=""
WITH_RS=1
MOCK_THREADS=1
KEEP=0

die() { echo "bench/run.sh: $*" >&2; exit 1; }
note() { echo "[bench] $*" >&2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION="${2:?}"; shift 2 ;;
    --ttfb-n) TTFB_N="${2:?}"; shift 2 ;;
    --rounds) ROUNDS="${2:?}"; shift 2 ;;
    --route) ROUTE="${2:?}"; shift 2 ;;
    --rs-config) RS_CONFIG="${2:?}"; shift 2 ;;
    --no-rightsize) WITH_RS=0; shift ;;
    --mock-threads) MOCK_THREADS="${2:?}"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || die "--duration wants whole seconds >= 1"
[[ "$TTFB_N" =~ ^[1-9][0-9]*$ ]] || die "--ttfb-n wants a count >= 1"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "--rounds wants a count >= 1"

RIGHTSIZE_BIN="${RIGHTSIZE_BIN:-$ROOT/build/app/rightsize}"
RS_MOCK_UPSTREAM_BIN="${RS_MOCK_UPSTREAM_BIN:-$ROOT/build/tests/fakes/rs_mock_upstream}"
NGINX_BIN="${NGINX_BIN:-/usr/sbin/nginx}"
[ -x "$RS_MOCK_UPSTREAM_BIN" ] || die "mock upstream not found: $RS_MOCK_UPSTREAM_BIN (build target rs_mock_upstream or set RS_MOCK_UPSTREAM_BIN)"
[ -x "$NGINX_BIN" ] || die "nginx not found: $NGINX_BIN (apt-get install nginx-light, or set NGINX_BIN)"
if [ "$WITH_RS" = 1 ]; then
  [ -x "$RIGHTSIZE_BIN" ] || die "rightsize not found: $RIGHTSIZE_BIN (build target rightsize, set RIGHTSIZE_BIN, or pass --no-rightsize)"
  [ -z "$RS_CONFIG" ] || [ -f "$RS_CONFIG" ] || die "--rs-config: no such file: $RS_CONFIG"
fi
command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"
command -v curl >/dev/null || die "curl not found (apt-get install curl)"
command -v node >/dev/null || die "node not found (needed by bench/ttfb.mjs)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/rightsize-bench.XXXXXX")"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$KEEP" = 1 ]; then note "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

CLK_TCK="$(getconf CLK_TCK)"

# --- helpers ----------------------------------------------------------------------------------------

# wait_listening PID LOG: prints the port of the first "listening on 127.0.0.1:PORT" line in LOG.
wait_listening() {
  local pid="$1" log="$2" port i
  for i in $(seq 200); do
    port="$(grep -o -m1 'listening on 127\.0\.0\.1:[0-9]*' "$log" 2>/dev/null | sed 's/.*://' || true)"
    if [ -n "$port" ]; then echo "$port"; return 0; fi
    kill -0 "$pid" 2>/dev/null || { echo "--- $log:" >&2; cat "$log" >&2; return 1; }
    sleep 0.05
  done
  echo "--- $log:" >&2; cat "$log" >&2
  return 1
}

cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }   # utime + stime, all threads
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# to_us VALUE_WITH_UNIT (wrk's "21.00us", "1.20ms", "2.00s") -> microseconds
to_us() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) m = 1; else if (v ~ /ms$/) m = 1000; else if (v ~ /m$/) m = 60e6; else if (v ~ /s$/) m = 1e6; else m = 1
    printf "%.0f", n * m }'
}

# percentile P < sorted-numbers  (nearest rank)
percentile() { awk -v p="$1" '{a[NR] = $1} END { if (NR == 0) { print "n/a"; exit } i = int(p * NR + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR; print a[i] }'; }

# check_target NAME URL BODY: one non-streaming request must answer 200 with the mock's reply.
check_target() {
  local name="$1" url="$2" body="$3" out
  out="$(curl -s -m 10 -w '\n%{http_code}' -H 'Content-Type: application/json' -H 'Authorization: Bearer sk-bench' \
         --data-binary @"$body" "$url")" || die "$name: request to $url failed"
  [ "$(tail -n1 <<<"$out")" = 200 ] || die "$name: HTTP $(tail -n1 <<<"$out") from $url: $(head -c 400 <<<"$out")"
  grep -q 'mock reply to: ' <<<"$out" || die "$name: unexpected answer from $url: $(head -c 400 <<<"$out")"
}

# run_wrk NAME URL BODY CONNS PID -> prints "rps p50_us p99_us cpu_us_per_req"
run_wrk() {
  local name="$1" url="$2" body="$3" conns="$4" pid="$5" out t0 t1 reqs rps p50 p99 cpu bad
  t0="$(cpu_ticks "$pid")"
  out="$(RS_BENCH_BODY="$body" wrk -t1 -c"$conns" -d"${DURATION}s" --latency -s "$BENCH/wrk_chat.lua" "$url")"
  t1="$(cpu_ticks "$pid")"
  echo "$out" >> "$WORK/wrk-$name-c$conns.txt"
  reqs="$(awk '/requests in/ {print $1; exit}' <<<"$out")"
  rps="$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")"
  p50="$(to_us "$(awk '$1 == "50%" {print $2}' <<<"$out")")"
  p99="$(to_us "$(awk '$1 == "99%" {print $2}' <<<"$out")")"
  bad="$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")"
  [ -z "$bad" ] || die "$name at $conns connections: $bad non-2xx responses (see --keep for $WORK/wrk-$name-c$conns.txt)"
  if grep -q 'Socket errors' <<<"$out"; then note "$name c=$conns: $(grep 'Socket errors' <<<"$out")"; fi
  [ -n "$reqs" ] && [ "$reqs" -gt 0 ] || die "$name at $conns connections: wrk completed no request"
  cpu="$(awk -v d="$((t1 - t0))" -v n="$reqs" -v hz="$CLK_TCK" 'BEGIN {printf "%.1f", d * 1e6 / hz / n}')"
  echo "$rps $p50 $p99 $cpu"
}

# warm NAME URL BODY: a 1 s run to fill connection pools and caches.
warm() { RS_BENCH_BODY="$3" wrk -t1 -c32 -d1s -s "$BENCH/wrk_chat.lua" "$2" >/dev/null; }

# ttfb NAME URL BODY -> prints "p50_us p99_us": TTFB_N sequential streamed requests on one keep-alive
# connection (after 10 unmeasured ones), from the request write to the first response byte (bench/ttfb.mjs).
ttfb() {
  node "$BENCH/ttfb.mjs" "$2" "$3" "$TTFB_N" 10 || die "$1: streamed requests failed"
}

# write_body FILE MODEL STREAM: a ~1 KB chat request.
write_body() {
  local user
  user="$(printf 'Classify the following customer message into one of: billing, shipping, returns, technical, other. %.0s' 1 2 3 4 5 6 7 8)"
  printf '{"model":"%s","messages":[{"role":"system","content":"You are a precise support-ticket classifier. Answer with one word."},{"role":"user","content":"%s"}],"temperature":0,"max_tokens":16,"stream":%s}' \
    "$2" "$user" "$3" > "$1"
}

# --- start the servers ------------------------------------------------------------------------------

note "mock upstream: $RS_MOCK_UPSTREAM_BIN (threads $MOCK_THREADS)"
"$RS_MOCK_UPSTREAM_BIN" --port 0 --threads "$MOCK_THREADS" > "$WORK/mock.log" 2>&1 &
MOCK_PID=$!
PIDS+=("$MOCK_PID")
MOCK_PORT="$(wait_listening "$MOCK_PID" "$WORK/mock.log")" || die "mock upstream did not start"

NGINX_PORT=""
for attempt in 1 2 3 4 5 6 7 8; do
  port=$((20000 + RANDOM % 40000))
  sed -e "s#@DIR@#$WORK#g" -e "s#@PORT@#$port#g" -e "s#@MOCK_PORT@#$MOCK_PORT#g" "$BENCH/nginx.conf.in" > "$WORK/nginx.conf"
  : > "$WORK/nginx-error.log"
  "$NGINX_BIN" -p "$WORK" -e "$WORK/nginx-error.log" -c "$WORK/nginx.conf" > "$WORK/nginx.log" 2>&1 &
  pid=$!
  for i in $(seq 100); do
    if curl -s -o /dev/null -m 1 "http://127.0.0.1:$port/v1/models"; then NGINX_PORT="$port"; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if [ -n "$NGINX_PORT" ]; then NGINX_PID="$pid"; PIDS+=("$pid"); break; fi
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  grep -q 'Address already in use' "$WORK/nginx-error.log" "$WORK/nginx.log" ||
    die "nginx did not start: $(cat "$WORK/nginx-error.log" "$WORK/nginx.log")"
done
[ -n "$NGINX_PORT" ] || die "nginx: no free port found"
note "nginx $("$NGINX_BIN" -v 2>&1 | sed 's/.*: //') on port $NGINX_PORT (pid $NGINX_PID)"

RS_PORT=""
if [ "$WITH_RS" = 1 ]; then
  if [ -n "$RS_CONFIG" ]; then
    sed -e "s#@MOCK_PORT@#$MOCK_PORT#g" "$RS_CONFIG" > "$WORK/rightsize.yaml"
  else
    cat > "$WORK/rightsize.yaml" <<EOF
server: {listen: "127.0.0.1:0", threads: 1}
providers:
  mock: {kind: openai, base_url: "http://127.0.0.1:$MOCK_PORT/v1", api_key: "sk-bench"}
models:
  small: {provider: mock, id: "mock-small", input_usd_per_mtok: 0.15, output_usd_per_mtok: 0.6}
  big:   {provider: mock, id: "mock-large", input_usd_per_mtok: 2.5, output_usd_per_mtok: 10}
routes:
  fixed:    {candidates: [small], policy: fixed}
  cheapest: {candidates: [small, big], policy: cheapest, reference: big}
ledger: {kind: "off"}
EOF
  fi
  "$RIGHTSIZE_BIN" serve --config "$WORK/rightsize.yaml" > "$WORK/rightsize.log" 2>&1 &
  RS_PID=$!
  PIDS+=("$RS_PID")
  RS_PORT="$(wait_listening "$RS_PID" "$WORK/rightsize.log")" || die "rightsize did not start"
  note "rightsize on port $RS_PORT (pid $RS_PID), route '$ROUTE'"
fi

write_body "$WORK/body-mock.json" mock-small false
write_body "$WORK/body-mock-stream.json" mock-small true
write_body "$WORK/body-rs.json" "$ROUTE" false
write_body "$WORK/body-rs-stream.json" "$ROUTE" true

TARGETS=(direct nginx)
declare -A URL BODY SBODY PID
URL[direct]="http://127.0.0.1:$MOCK_PORT/v1/chat/completions"; PID[direct]=$MOCK_PID
URL[nginx]="http://127.0.0.1:$NGINX_PORT/v1/chat/completions"; PID[nginx]=$NGINX_PID
BODY[direct]="$WORK/body-mock.json"; SBODY[direct]="$WORK/body-mock-stream.json"
BODY[nginx]="$WORK/body-mock.json"; SBODY[nginx]="$WORK/body-mock-stream.json"
if [ "$WITH_RS" = 1 ]; then
  TARGETS+=(rightsize)
  URL[rightsize]="http://127.0.0.1:$RS_PORT/v1/chat/completions"; PID[rightsize]=$RS_PID
  BODY[rightsize]="$WORK/body-rs.json"; SBODY[rightsize]="$WORK/body-rs-stream.json"
fi

declare -A R
R[rss_idle_nginx]="$(rss_kb "$NGINX_PID")"
if [ "$WITH_RS" = 1 ]; then R[rss_idle_rightsize]="$(rss_kb "$RS_PID")"; fi
R[rss_idle_direct]="$(rss_kb "$MOCK_PID")"

for t in "${TARGETS[@]}"; do check_target "$t" "${URL[$t]}" "${BODY[$t]}"; done

# --- measure ----------------------------------------------------------------------------------------

# Targets take turns within each round (c=1 for all, c=32 for all, streams for all), so a change in machine
# load hits them alike; every number reported is the median over the rounds.
for t in "${TARGETS[@]}"; do warm "$t" "${URL[$t]}" "${BODY[$t]}"; done
push() { R[$1]="${R[$1]:+${R[$1]} }$2"; }
for ((round = 1; round <= ROUNDS; round++)); do
  for c in 1 32; do
    for t in "${TARGETS[@]}"; do
      note "round $round/$ROUNDS: $t, wrk -c$c for ${DURATION}s"
      out="$(run_wrk "$t" "${URL[$t]}" "${BODY[$t]}" "$c" "${PID[$t]}")"
      read -r rps p50 p99 cpu <<<"$out"
      push "rps_${c}_$t" "$rps"; push "p50_${c}_$t" "$p50"; push "p99_${c}_$t" "$p99"; push "cpu_${c}_$t" "$cpu"
    done
  done
  for t in "${TARGETS[@]}"; do
    note "round $round/$ROUNDS: $t, $TTFB_N streamed requests"
    out="$(ttfb "$t" "${URL[$t]}" "${SBODY[$t]}")"
    read -r s50 s99 <<<"$out"
    push "ttfb50_$t" "$s50"; push "ttfb99_$t" "$s99"
  done
done
for t in "${TARGETS[@]}"; do R[rss_load_$t]="$(rss_kb "${PID[$t]}")"; done

# Every multi-round value becomes its median.
for key in "${!R[@]}"; do
  R[$key]="$(tr ' ' '\n' <<<"${R[$key]}" | sort -g | awk '{a[NR] = $1; if ($1 ~ /\./) frac = 1} END {
    m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf(frac ? "%.1f\n" : "%.0f\n", m) }')"
done

# --- report -----------------------------------------------------------------------------------------

val() { local v="${R[$1]:-}"; echo "${v:-—}"; }
mb() { local v="${R[$1]:-}"; [ -n "$v" ] && awk -v k="$v" 'BEGIN {printf "%.1f", k / 1024}' || echo "—"; }
row() {  # row LABEL KEY_PREFIX [mb]
  local label="$1" key="$2" fmt="${3:-}" cells="" t
  for t in direct nginx rightsize; do
    if [ "$fmt" = mb ]; then cells+=" $(mb "${key}_$t") |"; else cells+=" $(val "${key}_$t") |"; fi
  done
  echo "| $label |$cells"
}
added() {  # added TARGET KEY -> "X µs" (target minus direct)
  local a="${R[${2}_$1]:-}" d="${R[${2}_direct]:-}"
  [ -n "$a" ] && [ -n "$d" ] && awk -v a="$a" -v d="$d" 'BEGIN {printf "%.0f µs\n", a - d}' || echo "—"
}

echo "## rightsize proxy-hop benchmark"
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end;" \
     "median of $ROUNDS rounds, wrk ${DURATION}s per run, 1 KB chat request ($(wc -c < "$WORK/body-mock.json") bytes), $TTFB_N streamed requests;" \
     "mock threads $MOCK_THREADS, nginx 1 process, rightsize threads 1, rightsize route \`$ROUTE\`."
echo
echo "| metric | direct (mock) | nginx | rightsize |"
echo "| --- | ---: | ---: | ---: |"
row "requests/s, 1 connection" rps_1
row "p50 latency µs, 1 connection" p50_1
row "p99 latency µs, 1 connection" p99_1
row "requests/s, 32 connections" rps_32
row "p50 latency µs, 32 connections" p50_32
row "p99 latency µs, 32 connections" p99_32
row "CPU µs/request of the server process, 1 connection" cpu_1
row "CPU µs/request of the server process, 32 connections" cpu_32
row "stream time to first byte p50 µs" ttfb50
row "stream time to first byte p99 µs" ttfb99
row "RSS MB idle" rss_idle mb
row "RSS MB after load" rss_load mb
echo
echo "(direct: the mock's own CPU and RSS.)"
echo
for t in nginx rightsize; do
  [ "$t" = rightsize ] && [ "$WITH_RS" = 0 ] && continue
  echo "- $t added over direct, 1 connection: p50 $(added "$t" p50_1), p99 $(added "$t" p99_1);" \
       "stream TTFB p50 $(added "$t" ttfb50), p99 $(added "$t" ttfb99)"
done
if [ "$WITH_RS" = 1 ]; then
  echo "- rightsize CPU/request vs nginx (32 connections): $(awk -v a="${R[cpu_32_rightsize]}" -v b="${R[cpu_32_nginx]}" \
       'BEGIN { if (b > 0) printf "%.2f×", a / b; else print "n/a" }') (target ≤ 2×);" \
       "targets over direct: p50 ≤ 30 µs, p99 ≤ 150 µs, TTFB ≤ 50 µs; RSS idle ≤ 30 MB"
fi

#!/usr/bin/env bash
# Soak test: N minutes (default 30) of mixed plain/streaming load with injected upstream faults
# against the rightsize gateway and rs_mock_upstream, sampling the gateway's RSS and open fds.
#
#   bench/soak.sh [--minutes N | --seconds S] [--concurrency C] [--sample-ms MS] [--out DIR]
#
# Writes DIR/soak.csv (t_s, rss_kb, fds, threads, requests, wrong), DIR/summary.txt and the
# processes' logs (default DIR: build/soak). Exit status 1 on growth or wrong answers (criteria at
# the top of bench/soak.mjs), 2 on a setup error. scripts/test.sh runs a 2-minute version.
# Binaries: $RIGHTSIZE_BIN, $RS_MOCK_UPSTREAM_BIN (default: build/app/rightsize,
# build/tests/fakes/rs_mock_upstream).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SECONDS_TOTAL=1800
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) SECONDS_TOTAL=$(( $2 * 60 )); shift 2 ;;
    --seconds) SECONDS_TOTAL="$2"; shift 2 ;;
    --concurrency|--sample-ms|--out) ARGS+=("$1" "$2"); shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "soak.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
# Long runs: sample every 10 s instead of 2 s unless told otherwise.
if [ "$SECONDS_TOTAL" -gt 600 ] && [[ " ${ARGS[*]-} " != *" --sample-ms "* ]]; then ARGS+=(--sample-ms 10000); fi
exec node "$ROOT/bench/soak.mjs" --seconds "$SECONDS_TOTAL" ${ARGS[@]+"${ARGS[@]}"}

#!/usr/bin/env bash
# Runs bench/run.sh twice with a LEARNED route (the spec's CPU target is stated for learned routing):
# once with the ledger off and once with the SQLite ledger on, to show what the ledger costs per request.
# The router is the one the build trains from the shipped replay data (build/data/routers/mt_bench.rsr);
# the mock upstream answers for its two model ids. Extra arguments go to bench/run.sh (e.g. --rounds 2).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUTER="$(pwd)/${BUILD_DIR:-build}/data/routers/mt_bench.rsr"
[ -f "$ROUTER" ] || { echo "no $ROUTER: build first (scripts/build.sh)" >&2; exit 1; }
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
for ledger in off on; do
  if [ "$ledger" = on ]; then LEDGER="{kind: sqlite, path: \"$WORK/bench-ledger.db\"}"; else LEDGER='{kind: "off"}'; fi
  cat > "$WORK/learned-$ledger.yaml" <<YAML
server: {listen: "127.0.0.1:0", threads: 1}
providers:
  mock: {kind: openai, base_url: "http://127.0.0.1:@MOCK_PORT@/v1", api_key: "sk-bench"}
models:
  small: {provider: mock, id: "mistralai/Mixtral-8x7B-Instruct-v0.1", input_usd_per_mtok: 0.6, output_usd_per_mtok: 0.6}
  big:   {provider: mock, id: "gpt-4-1106-preview", input_usd_per_mtok: 10, output_usd_per_mtok: 30}
routes:
  learned: {candidates: [small, big], policy: learned, router: "$ROUTER", quality: 0.95, reference: big}
ledger: $LEDGER
YAML
  echo "### learned route, ledger $ledger"
  bench/run.sh --rs-config "$WORK/learned-$ledger.yaml" --route learned "$@"
  if [ "$ledger" = on ]; then
    echo "ledger rows written: $(sqlite3 "$WORK/bench-ledger.db" 'SELECT COUNT(*) FROM requests')"
  fi
done

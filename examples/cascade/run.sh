#!/usr/bin/env bash
# The cascade example end to end, with no API key (the replay provider answers with the recorded
# responses of 11 real models to 500 multiple-choice prompts):
#   1. rightsize plan      the cheapest route that keeps QUALITY x gpt-4's quality (cross-validated)
#   2. the route appended to the gateway config, checked with `serve --check`
#   3. rightsize simulate  the route replayed offline: quality, cost, one line per prompt
#   4. rightsize serve     REQUESTS prompts sent to "model": "auto"; stopped, so the ledger is flushed
#   5. rightsize report    the ledger's spend, next to what simulate said those prompts cost
# Usage: examples/cascade/run.sh   (RIGHTSIZE=path/to/rightsize, OUT_DIR=where to write, default ./out;
#                                   QUALITY=0.97, REQUESTS=40). Needs curl and jq.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/start_gateway.sh
source "$here/../lib/start_gateway.sh"
bin="${RIGHTSIZE:-$here/../../build/app/rightsize}"
out="${OUT_DIR:-$here/out}"
quality="${QUALITY:-0.97}"
requests="${REQUESTS:-40}"
mkdir -p "$out"
if [[ ! -x "$bin" ]]; then
  echo "run.sh: no rightsize binary at $bin (build first: scripts/build.sh, or set RIGHTSIZE=...)" >&2
  exit 2
fi
for tool in curl jq; do command -v "$tool" >/dev/null || { echo "run.sh: $tool is needed" >&2; exit 2; }; done
data="$here/data/outcomes.jsonl.gz"

echo "== 1. plan: the cheapest route at $quality x gpt-4's quality, 5-fold cross-validated" >&2
"$bin" plan --data "$data" --reference gpt-4 --extract choice --quality "$quality" --out "$out/routes.yaml"

echo "== 2. the planned route appended to the gateway config" >&2
{
  sed -e "s#data: data/outcomes.jsonl.gz#data: \"$data\"#" \
      -e "s#^ledger: .*#ledger: {kind: sqlite, path: \"$out/ledger.db\"}#" \
      -e 's#listen: "127.0.0.1:8080"#listen: "127.0.0.1:0"#' "$here/gateway.yaml"
  cat "$out/routes.yaml"
} > "$out/gateway.yaml"
"$bin" serve --config "$out/gateway.yaml" --check

echo "== 3. simulate: the route replayed over the recorded answers (in-sample)" >&2
"$bin" simulate --cascade auto --config "$out/gateway.yaml" --data "$data" --records "$out/simulate.jsonl"

echo "== 4. serve: $requests prompts sent to \"auto\"" >&2
rm -f "$out/ledger.db" "$out/ledger.db-wal" "$out/ledger.db-shm"
start_gateway "$bin" "$out/gateway.yaml" "$out/serve.log"
gzip -dc "$data" > "$out/outcomes.jsonl"
head -n "$requests" "$out/outcomes.jsonl" | jq -c '{id, body: {model: "auto", messages: [{role: "user", content: .prompt}]}}' |
  while read -r req; do
    id="$(jq -r .id <<<"$req")"
    jq -c .body <<<"$req" | curl -sS -f -o /dev/null -H 'content-type: application/json' -H "x-request-id: $id" \
      --data-binary @- "http://127.0.0.1:$port/v1/chat/completions"
  done
kill "$pid"  # SIGTERM: the ledger is flushed
wait "$pid" || true
trap - EXIT

echo "== 5. report: what the ledger holds" >&2
"$bin" report --config "$out/gateway.yaml" --by model
echo "simulate said these $requests prompts cost \$$(head -n "$requests" "$out/simulate.jsonl" | jq -s 'map(.cost_usd) | add * 1e6 | round / 1e6')"
echo "== done: $out/routes.yaml, $out/gateway.yaml, $out/simulate.jsonl, $out/ledger.db" >&2

#!/usr/bin/env bash
# The production loop end to end, with no API key (the replay provider answers with the recorded
# responses of real models to the cascade example's 500 multiple-choice prompts):
#   1. serve a cheap fixed route (mixtral-8x7b) with every answer shadowed by gpt-4 (sample: 1.0),
#      graded by agreement of the extracted choice letter
#   2. send REQUESTS prompts; wait until every shadow is graded
#   3. rightsize report           the cheap model's agreement with gpt-4, with its 95% interval
#   4. rightsize export-outcomes  the shadowed prompts as outcomes (both models' answers)
#   5. rightsize plan             the cheapest route keeping QUALITY x gpt-4's quality on them
#   6. the planned route swapped in with SIGHUP — same process, no restart — and a request served by it
# Usage: examples/production-loop/run.sh   (RIGHTSIZE=path/to/rightsize, OUT_DIR=where to write,
#        default ./out; REQUESTS=120, QUALITY=0.95). Needs curl and jq.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/start_gateway.sh
source "$here/../lib/start_gateway.sh"
bin="${RIGHTSIZE:-$here/../../build/app/rightsize}"
out="${OUT_DIR:-$here/out}"
requests="${REQUESTS:-120}"
quality="${QUALITY:-0.95}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
if [[ ! -x "$bin" ]]; then
  echo "run.sh: no rightsize binary at $bin (build first: scripts/build.sh, or set RIGHTSIZE=...)" >&2
  exit 2
fi
for tool in curl jq; do command -v "$tool" >/dev/null || { echo "run.sh: $tool is needed" >&2; exit 2; }; done
data="$here/../cascade/data/outcomes.jsonl.gz"

# The cascade example's models (replay provider), its data, a ledger here, any free port.
models_yaml() {
  sed -e "s#data: data/outcomes.jsonl.gz#data: \"$data\"#" \
      -e "s#^ledger: .*#ledger: {kind: sqlite, path: \"$out/ledger.db\"}#" \
      -e 's#listen: "127.0.0.1:8080"#listen: "127.0.0.1:0"#' "$here/../cascade/gateway.yaml"
}
{
  models_yaml
  cat <<'YAML'
routes:
  auto:
    policy: fixed
    candidates: [mixtral-8x7b]
    reference: gpt-4
    shadow:
      sample: 1.0                     # every answer re-asked of the yardstick (production: a few percent)
      model: gpt-4
      grade: {kind: agree, extract: choice}
      usd_per_day: 5
YAML
} > "$out/gateway.yaml"
"$bin" serve --config "$out/gateway.yaml" --check

echo "== 1. serve: a cheap fixed route, every answer shadowed by gpt-4" >&2
rm -f "$out"/ledger.db*
start_gateway "$bin" "$out/gateway.yaml" "$out/serve.log"
base="http://127.0.0.1:$port"

ask() {  # ask N-th prompt; prints the model that answered
  gzip -dc "$data" | sed -n "${1}p" | jq -c '{model: "auto", messages: [{role: "user", content: .prompt}]}' |
    curl -sS -f -o /dev/null -D - -H 'content-type: application/json' --data-binary @- "$base/v1/chat/completions" |
    tr -d '\r' | sed -n 's/^x-rightsize-model: //p'
}

echo "== 2. $requests prompts to \"auto\"; waiting for their shadows to be graded" >&2
for i in $(seq 1 "$requests"); do ask "$i" > /dev/null; done
graded() {
  curl -sS "$base/metrics" | awk '/^rightsize_shadow_total\{/ && /result="(agree|disagree|scored|error)"/ {n += $2} END {print n + 0}'
}
for _ in $(seq 300); do
  [[ "$(graded)" -ge "$requests" ]] && break
  sleep 0.1
done
echo "graded: $(graded) of $requests" >&2
sleep 0.3  # the ledger writer flushes every 100 ms

echo "== 3. report: spend, savings and the cheap model's agreement with gpt-4" >&2
"$bin" report --db "$out/ledger.db"

echo "== 4. export-outcomes: the shadowed prompts as outcomes" >&2
"$bin" export-outcomes --db "$out/ledger.db" --out "$out/production.jsonl.gz"

echo "== 5. plan: the cheapest route at $quality x gpt-4's quality on production prompts" >&2
"$bin" plan --data "$out/production.jsonl.gz" --reference gpt-4 --extract choice --quality "$quality" \
  --out "$out/routes.yaml"
cat "$out/routes.yaml"

echo "== 6. reload: the planned route replaces the old one in the running gateway (SIGHUP)" >&2
cp "$out/gateway.yaml" "$out/gateway.before.yaml"
{ models_yaml; cat "$out/routes.yaml"; } > "$out/gateway.yaml"
kill -HUP "$pid"
for _ in $(seq 100); do
  curl -sS "$base/metrics" | grep -q '^rightsize_config_reloads_total{result="ok"} 1' && break
  sleep 0.05
done
curl -sS "$base/metrics" | grep '^rightsize_config_reloads_total' >&2
echo "after the reload, prompt $((requests + 1)) was answered by: $(ask $((requests + 1)))"
kill "$pid"  # SIGTERM: the ledger is flushed
wait "$pid" || true
trap - EXIT
echo "== done: $out/gateway.before.yaml -> $out/gateway.yaml (pid $pid served both), $out/ledger.db" >&2

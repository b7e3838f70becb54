#!/usr/bin/env bash
# The worked example, end to end, with no API key (the replay provider answers with recorded
# responses of 11 real models):
#   1. rightsize eval      80 labelled cases x 11 candidates -> outcomes + report + cheapest model per task
#   2. rightsize train     a learned router from those outcomes
#   3. rightsize simulate  the router's cost-quality curve against every single model and the oracle
#   4. a gateway config with a learned `auto` route over the candidates, checked with `serve --check`,
#      and one routing decision explained with `rightsize route`.
# Usage: examples/eval/run.sh            (RIGHTSIZE=path/to/rightsize, OUT_DIR=where to write; default ./out)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="${RIGHTSIZE:-$here/../../build/app/rightsize}"
out="${OUT_DIR:-$here/out}"
mkdir -p "$out"
if [[ ! -x "$bin" ]]; then
  echo "run.sh: no rightsize binary at $bin (build first: scripts/build.sh, or set RIGHTSIZE=...)" >&2
  exit 2
fi

echo "== 1. eval: 3 tasks, 80 cases, 11 candidates" >&2
# Exit status 1 would mean some calls failed; rerunning the same command retries only those.
"$bin" eval --config "$here/gateway.yaml" --suite "$here/suite.yaml" --out "$out/outcomes.jsonl.gz" \
  --select --pass 0.9 | tee "$out/select.txt"

echo "== 2. train a router on the eval's outcomes" >&2
"$bin" train --data "$out/outcomes.jsonl.gz" --out "$out/router.rsr"

echo "== 3. simulate it (in-sample: the same cases it was trained on; train prints held-out numbers above)" >&2
"$bin" simulate --router "$out/router.rsr" --data "$out/outcomes.jsonl.gz" --plot "$out/simulate.svg"

echo "== 4. a gateway config with a learned route, checked without serving" >&2
{
  sed -e "s#data: data/routerbench_replay.jsonl.gz#data: \"$here/data/routerbench_replay.jsonl.gz\"#" \
      -e 's#^ledger: .*#ledger: {kind: "off"}#' "$here/gateway.yaml"
  cat <<YAML
routes:
  auto:
    candidates: [mistral-7b, wizardlm-13b, mixtral-8x7b, code-llama-34b, yi-34b, claude-instant,
                 llama-2-70b, gpt-3.5-turbo, claude-v1, claude-v2, gpt-4]
    policy: learned
    router: "$out/router.rsr"
    quality: 0.95
    reference: gpt-4
    fallback: [gpt-4]
YAML
  # The per-task fixed routes --select suggested.
  sed -n '/^routes:/,$p' "$out/select.txt" | tail -n +2
} > "$out/gateway-routed.yaml"
"$bin" serve --config "$out/gateway-routed.yaml" --check
# One of the suite's prompts (mbpp.dev.92): which model would `auto` send it to?
"$bin" route --config "$out/gateway-routed.yaml" --route auto \
  "Write a function to remove all elements from a given list present in another list."
echo "== done: $out/outcomes.md, $out/outcomes.html (report), $out/select.txt, $out/router.rsr, $out/gateway-routed.yaml" >&2

#!/usr/bin/env bash
# Cross-validation of the learned router on the shared routing data (docs/router.md).
#
#   scripts/crossval.sh [OUT_DIR]        # default OUT_DIR: docs
#
# For each data set: `rightsize simulate --cv 5` splits train.jsonl.gz into 5 folds by a hash
# of the id (deterministic), trains on 4 folds, decides the 5th (21 knob values), and scores
# the pooled held-out decisions. Every run is made twice: with the learned router (`--learner
# auto`) and with the tf-idf logistic-regression baseline (`--learner tfidf-lr`), decided by the
# same rule; the tables show both. Two-model pairs cut out of the many-model sets (`--models`)
# check the two-candidate case (APGR) on more than MT-Bench's 72 prompts. Then a generalization
# check: leave-one-task-out (`--cv-by task`) on the multi-task sets: each task is decided by a
# router that never saw it.
# Writes OUT_DIR/cv_<set>.svg and prints Markdown tables (the JSON reports are kept in
# $CV_JSON_DIR, default a temporary directory).
#
# Environment: RIGHTSIZE_BIN (default build/app/rightsize), RIGHTSIZE_ROUTING_DATA
# (default ../shared/data/routing), CV_SEED (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${RIGHTSIZE_BIN:-build/app/rightsize}
DATA=${RIGHTSIZE_ROUTING_DATA:-../shared/data/routing}
OUT=${1:-docs}
SEED=${CV_SEED:-1}
command -v jq >/dev/null || { echo "crossval.sh: needs jq" >&2; exit 2; }
[ -x "$BIN" ] || { echo "crossval.sh: no binary at $BIN (set RIGHTSIZE_BIN)" >&2; exit 2; }
mkdir -p "$OUT"
JSON=${CV_JSON_DIR:-$(mktemp -d)}
mkdir -p "$JSON"

# Markdown table of one simulate --json report (the router's) and the baseline's report.
table() {
  jq -r --slurpfile base "$2" '
    def pct: if . == null then "n/a" else ((. * 1000 | round) / 10 | tostring) + "%" end;
    def q: if . == null then "n/a" else ((. * 10000 | round) / 10000 | tostring) end;
    def row($name; $m): "| \($name) | \($m.aiq | q) | \($m.savings_95 | pct) | \($m.savings_parity | pct) | \($m.q_at_cstar | q) |"
      + (if .two_candidates then " \($m.apgr | q) | \($m.cpt50 | pct) | \($m.cpt80 | pct) |" else "" end);
    . as $r
    | ($r.single_models | map(select(.model == $r.best_model)) | .[0]) as $best
    | "prompts: \($r.prompts); best single model: `\($r.best_model)` (Q* \($r.q_star | q), C* $\($r.c_star))\n",
      "| | AIQ | savings@95 | savings@parity | Q@C* |" + (if $r.two_candidates then " APGR | CPT(50%) | CPT(80%) |" else "" end),
      "|---|---|---|---|---|" + (if $r.two_candidates then "---|---|---|" else "" end),
      row("**router** (held-out)"; $r.router),
      row("tf-idf LR baseline (held-out)"; $base[0].router),
      row("best single model"; $best.metrics),
      row("zero router"; $r.zero_router),
      row("random router"; $r.random_router),
      row("oracle"; $r.oracle)' "$1"
}

run() {  # name, title, extra simulate args...
  local name=$1 title=$2
  shift 2
  local start=$SECONDS
  "$BIN" simulate --data "$@" --seed "$SEED" --plot "$OUT/cv_$name.svg" --title "$title" --json > "$JSON/cv_$name.json"
  "$BIN" simulate --data "$@" --seed "$SEED" --learner tfidf-lr --json > "$JSON/cv_${name}_tfidf.json"
  echo "### $title"
  echo
  table "$JSON/cv_$name.json" "$JSON/cv_${name}_tfidf.json"
  echo
  echo "($((SECONDS - start)) s)"
  echo
}

run routerbench "RouterBench subset, 5-fold CV" "$DATA/routerbench_subset/train.jsonl.gz" --cv 5
run llmrouter "LLMRouter (dcrouter), 5-fold CV" "$DATA/llmrouter_dcrouter/train.jsonl.gz" --cv 5
run mtbench "MT-Bench turn 1 (GPT-4 vs Mixtral), 5-fold CV" "$DATA/routellm/mt_bench_turn1.jsonl.gz" --cv 5
run routerbench_pair "RouterBench pair (GPT-4 vs Mixtral), 5-fold CV" "$DATA/routerbench_subset/train.jsonl.gz" --cv 5 \
  --models gpt-4-1106-preview,mistralai/mixtral-8x7b-chat
run llmrouter_pair "LLMRouter pair (Nemotron-51B vs Llama-3.1-8B), 5-fold CV" "$DATA/llmrouter_dcrouter/train.jsonl.gz" --cv 5 \
  --models llama-3.1-nemotron-51b-instruct,llama-3.1-8b-instruct
run llmrouter_loto "LLMRouter, leave-one-task-out" "$DATA/llmrouter_dcrouter/train.jsonl.gz" --cv-by task
run routerbench_loto "RouterBench subset, leave-one-task-out" "$DATA/routerbench_subset/train.jsonl.gz" --cv-by task

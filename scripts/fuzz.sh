#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14, ASan+UBSan) into build-fuzz/ and runs each for a bounded
# time starting from the seed corpora in fuzz/corpus/<target>/. Any crash, sanitizer report, leak
# or timeout fails the script; the reproducer is left in build-fuzz/artifacts/<target>/ and the
# command to replay it is printed.
#
# By default the run is reproducible: a fixed seed and a fixed number of inputs per target (about
# 45 s each on a 2-core VM), so a given commit fuzzes the same inputs on every machine, and a test
# run that passed here passes in CI. A slower machine stops at FUZZ_SECONDS, on a prefix of the
# same sequence. To search for new bugs, run with FUZZ_SEED=0 (random) and a longer FUZZ_SECONDS.
#   FUZZ_SEED      libFuzzer seed (default 1; 0 = random, then FUZZ_RUNS is ignored)
#   FUZZ_RUNS      inputs per target (default: per target, see max_runs)
#   FUZZ_SECONDS   time limit per target (default 60)
#   FUZZ_TARGETS   space-separated subset (default: all six)
#   FUZZ_PARALLEL  targets run at once (default: number of cores, at most 2)
#   BUILD_DIR      default build-fuzz
# New inputs the fuzzers find go to build-fuzz/corpus/<target>/ (not committed); copy a small,
# interesting one into fuzz/corpus/ when you fix a bug it found.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build-fuzz}"
FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
FUZZ_SEED="${FUZZ_SEED:-1}"
FUZZ_TARGETS="${FUZZ_TARGETS:-chat_request sse responses config router_model extract}"
cores="$(nproc)"
FUZZ_PARALLEL="${FUZZ_PARALLEL:-$(( cores < 2 ? 1 : 2 ))}"
CXX_FUZZ="${CXX_FUZZ:-clang++-14}"
if ! command -v "$CXX_FUZZ" >/dev/null; then
  echo "fuzz.sh: $CXX_FUZZ not found (apt-get install clang-14 libclang-rt-14-dev)" >&2
  exit 1
fi

launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$CXX_FUZZ" \
  -DRIGHTSIZE_BUILD_FUZZERS=ON -DRIGHTSIZE_BUILD_TESTS=OFF -DRIGHTSIZE_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
t0=$(date +%s)
cmake --build "$BUILD_DIR" -j "${JOBS:-$cores}" --target rs_fuzzers
echo "fuzz.sh: fuzzers built in $(( $(date +%s) - t0 )) s"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=0:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# Per-target input size bound: requests and configs are small; router files need room.
max_len() {
  case "$1" in
    router_model) echo 65536 ;;
    *) echo 16384 ;;
  esac
}

# Inputs per target in the reproducible run, about 45 s each on the 2-core CI VM.
max_runs() {
  if [ -n "${FUZZ_RUNS:-}" ]; then echo "$FUZZ_RUNS"; return; fi
  case "$1" in
    chat_request) echo 2000000 ;;
    sse) echo 800000 ;;
    responses) echo 600000 ;;
    config) echo 250000 ;;
    router_model) echo 200000 ;;
    extract) echo 500000 ;;
  esac
}

run_one() {
  local t="$1"
  local work="$BUILD_DIR/corpus/$t" art="$BUILD_DIR/artifacts/$t/" log="$BUILD_DIR/fuzz-$t.log"
  mkdir -p "$work" "$art"
  # -timeout: one input taking > 10 s is a hang; -rss_limit_mb bounds memory per run.
  local bound=() t1
  t1=$(date +%s)
  if [ "$FUZZ_SEED" != 0 ]; then
    # A fresh working corpus, so the run depends only on the seed corpus, the seed and the code.
    rm -rf "$work"; mkdir -p "$work"
    bound=(-seed="$FUZZ_SEED" -runs="$(max_runs "$t")")
  fi
  if "$BUILD_DIR/fuzz/fuzz_$t" "$work" "fuzz/corpus/$t" -max_total_time="$FUZZ_SECONDS" "${bound[@]}" \
       -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$art" >"$log" 2>&1; then
    local execs
    execs=$(grep -m1 '^stat::number_of_executed_units' "$log" | awk '{print $2}')
    echo "fuzz.sh: $t OK: ${execs:-?} inputs (seed $FUZZ_SEED) in $(( $(date +%s) - t1 )) s, corpus $(ls "$work" | wc -l) files"
    return 0
  fi
  echo "fuzz.sh: $t FAILED; last lines of $log:" >&2
  tail -n 60 "$log" >&2
  echo "fuzz.sh: reproduce with: $BUILD_DIR/fuzz/fuzz_$t $art<crash file>" >&2
  return 1
}

status=0
pids=()
names=()
for t in $FUZZ_TARGETS; do
  run_one "$t" & pids+=($!); names+=("$t")
  if [ ${#pids[@]} -ge "$FUZZ_PARALLEL" ]; then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}"); names=("${names[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
if [ $status -ne 0 ]; then echo "fuzz.sh: FAILED" >&2; exit 1; fi
echo "fuzz.sh: all fuzzers ran without a finding"

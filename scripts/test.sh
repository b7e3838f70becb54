#!/usr/bin/env bash
# Builds (if needed) and runs every test: C++ unit tests, and the integration tests that start
# the real gateway and the in-repo mock upstream on loopback (driven by Node and the official
# openai client). Runs tests in parallel where safe. Then the hardening steps (docs/reliability.md):
#   1. the same test suite again on an ASan+UBSan build (build-asan/); any sanitizer report from
#      any process (unit test, gateway, mock) fails the run;
#   2. the libFuzzer targets for a bounded time each (scripts/fuzz.sh, build-fuzz/);
#   3. a short soak of the normal build under mixed load with upstream faults (bench/soak.sh),
#      failing on RSS or fd growth.
# RS_TEST_ASAN=0, RS_TEST_FUZZ=0, RS_TEST_SOAK=0 skip a step (local iteration only; CI runs all).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build}"
ASAN_BUILD_DIR="${ASAN_BUILD_DIR:-build-asan}"
if [ ! -f tests/node/node_modules/openai/package.json ]; then
  echo "tests/node/node_modules is missing: run scripts/install-deps.sh first" >&2
  exit 1
fi
# The fault suite holds 2,000 connections at once: use the hard open-file limit, not the soft one.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
t_start=$(date +%s)
phase() { echo "== test.sh: $1 ($(( $(date +%s) - t_start )) s elapsed)"; }

phase "build ($BUILD_DIR)"
scripts/build.sh
phase "ctest ($BUILD_DIR)"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)" --timeout 600

if [ "${RS_TEST_ASAN:-1}" != 0 ]; then
  phase "build ($ASAN_BUILD_DIR, ASan+UBSan)"
  BUILD_DIR="$ASAN_BUILD_DIR" scripts/build.sh -DRIGHTSIZE_SANITIZE=ON -DRIGHTSIZE_BUILD_BENCH=OFF
  phase "ctest ($ASAN_BUILD_DIR, ASan+UBSan)"
  # Every sanitized process (unit tests, and the gateways and mocks the Node tests start) writes
  # its ASan/LSan reports to $logs/asan.<pid>; a report there fails the run even when the process
  # that reported was a server whose exit status no test looks at. g++'s UBSan ignores log_path and
  # prints to stderr (and, halting, fails a unit test by its exit status): what the servers print
  # is kept in $out/output.<pid> by tests/node/lib/harness.js and searched for reports too.
  logs="$PWD/$ASAN_BUILD_DIR/sanitizer-logs"
  out="$PWD/$ASAN_BUILD_DIR/server-output"
  rm -rf "$logs" "$out" && mkdir -p "$logs" "$out"
  export RS_SANITIZER_OUTPUT_DIR="$out"
  export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=0:log_path=$logs/asan"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan"
  export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp:print_suppressions=0"
  ctest_status=0
  ctest --test-dir "$ASAN_BUILD_DIR" --output-on-failure -j "$(nproc)" --timeout 900 || ctest_status=$?
  found=0
  if compgen -G "$logs/*" >/dev/null; then
    echo "test.sh: sanitizer reports (ASan/LSan) in $logs:" >&2
    for f in "$logs"/*; do echo "---- $f" >&2; head -n 80 "$f" >&2; done
    found=1
  fi
  pattern='runtime error:|ERROR: AddressSanitizer|ERROR: LeakSanitizer|SUMMARY: UndefinedBehaviorSanitizer'
  for f in $(grep -lE "$pattern" "$out"/* 2>/dev/null); do
    echo "---- sanitizer report in the output of a server ($f):" >&2
    grep -E -A 30 "$pattern" "$f" | head -n 80 >&2
    found=1
  done
  [ "$found" = 0 ] || exit 1
  [ "$ctest_status" = 0 ] || exit "$ctest_status"
  unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS RS_SANITIZER_OUTPUT_DIR
fi

if [ "${RS_TEST_FUZZ:-1}" != 0 ]; then
  phase "fuzzers"
  scripts/fuzz.sh
fi

if [ "${RS_TEST_SOAK:-1}" != 0 ]; then
  phase "soak (${SOAK_MINUTES:-2} min)"
  RIGHTSIZE_BIN="$BUILD_DIR/app/rightsize" RS_MOCK_UPSTREAM_BIN="$BUILD_DIR/tests/fakes/rs_mock_upstream" \
    bench/soak.sh --minutes "${SOAK_MINUTES:-2}" --out "$BUILD_DIR/soak"
fi
phase "all tests passed"

#!/usr/bin/env bash
# Builds (if needed) and runs every test: C++ unit tests, and the integration tests that start
# the real gateway and the in-repo mock upstream on loopback (driven by Node and the official
# openai client). Runs tests in parallel where safe.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build}"
if [ ! -f tests/node/node_modules/openai/package.json ]; then
  echo "tests/node/node_modules is missing: run scripts/install-deps.sh first" >&2
  exit 1
fi
scripts/build.sh
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)" --timeout 600

#!/usr/bin/env bash
# Installs every Debian 12 package the build, tests and benchmarks need, and the
# Node.js packages used by the client tests. Idempotent; run as root (or with sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

PKGS=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libboost1.81-dev libboost-json1.81-dev libssl-dev zlib1g-dev
  libsimdjson-dev libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev libexpected-dev
  libsqlite3-dev sqlite3
  libpq-dev postgresql libhiredis-dev redis-server
  libvalijson-dev libre2-dev
  clang-14 libclang-rt-14-dev
  chromium
  libgtest-dev libgmock-dev libbenchmark-dev
  nginx-light wrk curl procps openssl jq
)
# Node.js: use the machine's if it has one (it may not come from Debian), else Debian's.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then PKGS+=(nodejs npm); fi

export DEBIAN_FRONTEND=noninteractive
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Node.js client tests use the official openai npm package (exact versions pinned in package-lock.json).
if [ -f tests/node/package.json ]; then
  (cd tests/node && if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --silent; else npm install --no-audit --no-fund --silent; fi)
fi

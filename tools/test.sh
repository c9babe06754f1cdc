#!/usr/bin/env bash
# Sets up a fresh machine, builds QPlay and runs every test: the release build (XNNPACK) and the
# debug build with AddressSanitizer + UBSan, each through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/setup.sh

for preset in native-release native-debug; do
  echo "== $preset: configure and build"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$(nproc)"
  echo "== $preset: test"
  ctest --preset "$preset" -j "$(nproc)"
done
echo "== all tests passed"

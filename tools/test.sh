#!/usr/bin/env bash
# Sets up a fresh machine, builds QPlay and runs every test through ctest: the release build
# (XNNPACK), the debug build with AddressSanitizer + UBSan, and the WebAssembly build (the same
# engine tests under node). The native builds also run the desktop app under Xvfb; the WebAssembly
# build runs the browser app in Debian's chromium through playwright-core (setup runs npm ci).
# Then the two extra WebAssembly builds a page may pick instead (CMakePresets.json), each only the
# modules and tests it adds, into the wasm build's web folder: wasm-threads (kernel threads on
# cross-origin isolated pages: the kernel tests under node, the choice of build in chromium) and
# wasm-nosimd (browsers without SIMD: the module under node with SIMD refused).
# Last the fuzz build (clang-14, libFuzzer): each target replays its corpus and fuzzes for 20 s
# (about 3 minutes on 2 cores with the build; longer runs: tools/fuzz/run.sh). First, a check that the
# engine's folders include each other without cycles (tools/check_folder_graph.py) and that every C++ file is
# formatted (tools/check_format.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/setup.sh

# The engine's folders stay layered (no include cycles) and the playground knows no single method.
echo "== source: folder graph"
python3 tools/check_folder_graph.py
# Every C++ file is formatted as .clang-format says (bash tools/check_format.sh --fix formats them).
echo "== source: format"
bash tools/check_format.sh

for preset in native-release native-debug wasm wasm-threads wasm-nosimd fuzz; do
  echo "== $preset: configure and build"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$(nproc)"
  echo "== $preset: test"
  ctest --preset "$preset" -j "$(nproc)"
done
echo "== all tests passed"

#!/usr/bin/env bash
# Sets up a fresh machine, builds QPlay and runs the main job: train a small network on the
# built-in spiral data, quantize it to every weight bit-width from 8 down to 2, print the
# accuracy table and write runs/demo/{model.qmodel, sweep.csv, sweep.json, sweep.svg}. With a
# display (DISPLAY or WAYLAND_DISPLAY set) it then opens the desktop playground, qplay.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/setup.sh
cmake --preset native-release >/dev/null
cmake --build --preset native-release -j "$(nproc)" --target qplay-cli
./build/native-release/native/cli/qplay-cli demo "$@"

if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  cmake --build --preset native-release -j "$(nproc)" --target qplay
  echo "demo: opening the playground (close its window to finish)"
  ./build/native-release/native/desktop/qplay
else
  echo "demo: no display here; the playground runs with one: build/native-release/native/desktop/qplay,"
  echo "      or in a browser: cmake --preset wasm && cmake --build --preset wasm &&"
  echo "      bash tools/serve.sh 8000, then open http://127.0.0.1:8000/app/"
fi

#!/usr/bin/env bash
# Sets up a fresh machine, builds QPlay and runs the main job: train a small network on the
# built-in spiral data, quantize it to every weight bit-width from 8 down to 2, print the
# accuracy table and write runs/demo/{model.qmodel, sweep.csv, sweep.json, sweep.svg}.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/setup.sh
cmake --preset native-release >/dev/null
cmake --build --preset native-release -j "$(nproc)" --target qplay-cli
./build/native-release/native/cli/qplay-cli demo "$@"

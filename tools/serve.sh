#!/usr/bin/env bash
# Serves the browser app (build/wasm/web/app: index.html, qplay-app.js/.wasm/.data) on
# http://127.0.0.1:PORT/ for this machine only. Build it first: cmake --preset wasm &&
# cmake --build --preset wasm --target qplay-app.
#   bash tools/serve.sh [PORT]     (default 8000)
set -euo pipefail
cd "$(dirname "$0")/.."

port=${1:-8000}
app_dir=build/wasm/web/app
if [ ! -f "$app_dir/qplay-app.wasm" ] || [ ! -f "$app_dir/index.html" ]; then
  echo "serve: $app_dir has no built app; run: cmake --preset wasm && cmake --build --preset wasm --target qplay-app" >&2
  exit 1
fi
echo "serve: QPlay at http://127.0.0.1:$port/ (Ctrl-C stops)"
# python's http.server sends .wasm as application/wasm, which streaming compilation needs.
exec python3 -m http.server "$port" --bind 127.0.0.1 --directory "$app_dir"

#!/usr/bin/env bash
# Serves the browser build (build/wasm/web) on http://127.0.0.1:PORT/ for this machine only, gzip
# compressed as a web host would (tools/web/static_server.mjs):
#   /app/        the playground (index.html, qplay-app.js/.wasm/.data, the Fashion-MNIST data pack)
#   /api/        the embeddable module (qplay.js, qplay-element.js, qplay-core.js/.wasm)
#   /examples/   the teaching pages
# Build it first: cmake --preset wasm && cmake --build --preset wasm.
#   bash tools/serve.sh [PORT]     (default 8000)
set -euo pipefail
cd "$(dirname "$0")/.."

port=${1:-8000}
web_dir=build/wasm/web
if [ ! -f "$web_dir/app/qplay-app.wasm" ] || [ ! -f "$web_dir/app/index.html" ]; then
  echo "serve: $web_dir/app has no built app; run: cmake --preset wasm && cmake --build --preset wasm" >&2
  exit 1
fi
echo "serve: the playground at http://127.0.0.1:$port/app/, lessons at http://127.0.0.1:$port/examples/ (Ctrl-C stops)"
exec node tools/web/static_server.mjs "$web_dir" "$port"

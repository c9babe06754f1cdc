#!/usr/bin/env bash
# Serves the browser build (build/wasm/web) on http://127.0.0.1:PORT/ for this machine only, gzip
# compressed as a web host would (tools/web/static_server.mjs):
#   /app/        the playground (index.html, qplay-app*.js/.wasm/.data, the Fashion-MNIST data pack)
#   /api/        the embeddable module (qplay.js, qplay-element.js, qplay-build.js, qplay-core*.js/.wasm)
#   /examples/   the teaching pages
# It sends the cross-origin isolation headers (Cross-Origin-Opener-Policy: same-origin,
# Cross-Origin-Embedder-Policy: require-corp, and Chrome's Document-Isolation-Policy), so the pages load
# the threaded build when it is there; --no-isolation serves without them (the single-threaded build).
# Build it first: cmake --preset wasm && cmake --build --preset wasm, and for the extra builds
# cmake --preset wasm-threads && cmake --build --preset wasm-threads (and wasm-nosimd alike).
#   bash tools/serve.sh [PORT] [--no-isolation]     (default 8000)
set -euo pipefail
cd "$(dirname "$0")/.."

port=8000
isolation=--isolated
for arg in "$@"; do
  case "$arg" in
    --no-isolation) isolation= ;;
    [0-9]*) port=$arg ;;
    *) echo "serve: unknown argument '$arg' (usage: bash tools/serve.sh [PORT] [--no-isolation])" >&2; exit 2 ;;
  esac
done
web_dir=build/wasm/web
if [ ! -f "$web_dir/app/qplay-app.wasm" ] || [ ! -f "$web_dir/app/index.html" ]; then
  echo "serve: $web_dir/app has no built app; run: cmake --preset wasm && cmake --build --preset wasm" >&2
  exit 1
fi
if [ -n "$isolation" ] && [ ! -f "$web_dir/app/qplay-app-threads.wasm" ]; then
  echo "serve: no threaded build in $web_dir (cmake --preset wasm-threads && cmake --build --preset wasm-threads); the pages run on one thread"
fi
echo "serve: the playground at http://127.0.0.1:$port/app/, lessons at http://127.0.0.1:$port/examples/ (Ctrl-C stops)"
exec node tools/web/static_server.mjs "$web_dir" "$port" $isolation

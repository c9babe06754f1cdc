#!/usr/bin/env bash
# Installs everything QPlay needs on a fresh Debian bookworm machine (idempotent: installs only
# what is missing, and says what it is doing). Needs root or sudo for apt-get.
#   1. Debian packages (apt-get install)
#   2. Dear ImGui 1.86 sources for the WebAssembly build (apt-get source imgui, the same version as
#      libimgui-dev) into third_party/imgui-src; never committed (.gitignore)
#   3. node packages (npm ci from package-lock.json): playwright-core for the browser tests (it drives Debian's
#      chromium and downloads no browser), onnxruntime-node and onnxruntime-web for the benchmark
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  # build and test
  cmake ninja-build g++ pkg-config libgtest-dev libbenchmark-dev
  # the engine: XNNPACK (native fast kernels; xnnpack.h includes pthreadpool.h), zlib for .gz IDX files
  libxnnpack-dev libpthreadpool-dev zlib1g-dev
  # data: Fashion-MNIST as IDX files under /usr/share/datasets/fashion-mnist
  dataset-fashion-mnist
  # the WebAssembly build (node 20 and npm come with the machine; Debian's npm package would conflict
  # with it; node-acorn is needed by emcc at -O1 and above)
  emscripten node-acorn
  # the playground: Dear ImGui 1.86, GLFW, OpenGL (Mesa software GL works headless); dpkg-dev unpacks
  # the ImGui sources for the WebAssembly build (apt-get source). Its font is in assets/fonts.
  libimgui-dev libstb-dev libglfw3-dev dpkg-dev
  # fuzzing: the libFuzzer targets of tests/fuzz (preset fuzz) are built with clang 14; its fuzzer and
  # sanitizer runtimes are in libclang-rt-14-dev, only recommended by clang-14 (we skip recommends)
  clang-14 libclang-rt-14-dev libfuzzer-14-dev
  # style: every C++ file as .clang-format says (tools/check_format.sh, run by tools/test.sh)
  clang-format-14
  # looking at what we build, and browser tests
  xvfb imagemagick chromium
  # independent reference for golden numbers and benchmarks (PyTorch for /usr/bin/python3)
  # (libtorch only recommends OpenBLAS; without it PyTorch falls back to the slow reference BLAS and the
  # benchmark's comparison would flatter QPlay ~20x)
  python3 python3-torch python3-numpy libopenblas0-openmp
)

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  sudo=()
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} Debian packages are already installed"
else
  if [ "$(id -u)" -ne 0 ] && [ ${#sudo[@]} -eq 0 ]; then
    echo "setup: missing packages: ${missing[*]}" >&2
    echo "setup: run this script as root (or install sudo) so it can apt-get install them" >&2
    exit 1
  fi
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# --- Dear ImGui sources for the WebAssembly build ---------------------------------------------
# Natively the playground links Debian's libimgui.a; em++ needs the same version's sources.
imgui_dir=third_party/imgui-src
imgui_source_version=$(dpkg-query -W -f='${source:Version}' libimgui-dev)  # e.g. 1.86+ds-1
imgui_upstream_version=${imgui_source_version%%+*}                         # e.g. 1.86
imgui_upstream_version=${imgui_upstream_version%%-*}

imgui_header_version() {  # prints the IMGUI_VERSION of the sources in $1 ("1.86"), or nothing
  sed -n 's/^#define IMGUI_VERSION *"\([^"]*\)".*/\1/p' "$1/imgui.h" 2>/dev/null || true
}

# Source packages need deb-src lines in the apt sources: deb822 (bookworm's debian.sources) or a
# classic sources.list. Adds them once, then refreshes the package lists.
enable_deb_src() {
  local changed=0
  if [ "$(id -u)" -ne 0 ] && [ ${#sudo[@]} -eq 0 ]; then
    echo "setup: run this script as root (or install sudo) so it can enable deb-src for the ImGui sources" >&2
    exit 1
  fi
  local deb822=/etc/apt/sources.list.d/debian.sources
  local classic=/etc/apt/sources.list
  if [ -f "$deb822" ] && grep -q '^Types: deb$' "$deb822"; then
    echo "setup: enabling deb-src in $deb822"
    "${sudo[@]}" sed -i 's/^Types: deb$/Types: deb deb-src/' "$deb822"
    changed=1
  fi
  if [ -f "$classic" ] && grep -q '^deb ' "$classic" && ! grep -q '^deb-src ' "$classic"; then
    echo "setup: enabling deb-src in $classic"
    sed -n 's/^deb \(.*\)$/deb-src \1/p' "$classic" | "${sudo[@]}" tee -a "$classic" >/dev/null
    changed=1
  fi
  if [ "$changed" -eq 1 ] || [ -z "$(apt-cache showsrc imgui 2>/dev/null)" ]; then
    echo "setup: apt-get update (source package lists)"
    "${sudo[@]}" apt-get update -q
  fi
}

if [ "$(imgui_header_version "$imgui_dir")" = "$imgui_upstream_version" ]; then
  echo "setup: Dear ImGui $imgui_upstream_version sources already in $imgui_dir"
else
  if [ -d "$imgui_dir" ]; then
    echo "setup: $imgui_dir holds ImGui '$(imgui_header_version "$imgui_dir")'," \
      "not $imgui_upstream_version (libimgui-dev's): fetching again"
  fi
  enable_deb_src
  echo "setup: fetching the Dear ImGui sources: apt-get source imgui=$imgui_source_version into $imgui_dir"
  fetch_dir=$(mktemp -d)
  trap 'rm -rf "$fetch_dir"' EXIT
  # apt-get source downloads into the current directory and unpacks it with dpkg-source (as root it
  # notes that the download is unsandboxed: harmless).
  (cd "$fetch_dir" && apt-get source -q imgui="$imgui_source_version" >/dev/null)
  unpacked=$(find "$fetch_dir" -mindepth 1 -maxdepth 1 -type d -name 'imgui-*' | head -n 1)
  if [ -z "$unpacked" ] || [ "$(imgui_header_version "$unpacked")" != "$imgui_upstream_version" ]; then
    echo "setup: apt-get source imgui gave no ImGui $imgui_upstream_version sources" \
      "(found: '${unpacked:-nothing}')" >&2
    exit 1
  fi
  rm -rf "$imgui_dir"
  mkdir -p "$(dirname "$imgui_dir")"
  mv "$unpacked" "$imgui_dir"
  echo "imgui $imgui_source_version (apt-get source imgui; libimgui-dev's version)" >"$imgui_dir/QPLAY_SOURCE"
  rm -rf "$fetch_dir"
  trap - EXIT
  echo "setup: Dear ImGui $imgui_upstream_version sources are in $imgui_dir"
fi

# --- node packages: playwright-core for the browser tests, ONNX Runtime for the benchmark ---------------
# Exactly the versions in package-lock.json. playwright-core drives /usr/bin/chromium (never npx playwright
# install); onnxruntime-node and onnxruntime-web are the inference reference of tools/bench (their bundled
# CPU library and WebAssembly build load as they are). --ignore-scripts: onnxruntime-node's install script
# would download a GPU build and fails without that internet; nothing we use needs an install script.
if ! command -v npm >/dev/null 2>&1; then
  echo "setup: npm is missing (node 20 and npm come with the machine); the browser tests need it" >&2
  exit 1
fi
missing_node_packages=$(node -e "
  const lock = require('./package-lock.json'), wanted = require('./package.json').devDependencies;
  const installed = (name) => { try { return require('./node_modules/' + name + '/package.json').version; } catch { return ''; } };
  console.log(Object.keys(wanted).filter((name) => installed(name) !== lock.packages['node_modules/' + name].version).join(' '));")
if [ -z "$missing_node_packages" ]; then
  echo "setup: node packages of package-lock.json already in node_modules"
else
  echo "setup: installing node packages ($missing_node_packages; npm ci from package-lock.json)"
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
fi

echo "setup: done"

#!/usr/bin/env bash
# Installs everything QPlay needs on a fresh Debian bookworm machine (idempotent: installs only
# what is missing, and says what it is doing). Needs root or sudo for apt-get.
set -euo pipefail

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
  # the playground: Dear ImGui 1.86, GLFW, OpenGL (Mesa software GL works headless)
  libimgui-dev libstb-dev libglfw3-dev
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

echo "setup: done"

#!/bin/bash
# The engine's one file compiled with -mavx512f (core/engine/kernels/avx512_gemm_micro_kernels.cpp)
# must define no symbol the linker merges with other files' copies (weak or unique: an inline
# function or template instantiated there). The linker keeps one copy of such a function for the
# whole program, possibly the AVX-512 one, and an AVX2-only CPU would then stop on an illegal
# instruction far from any AVX-512 kernel. Also checks that the object holds zmm code at all, so the
# test fails rather than passes if the file stops being compiled for AVX-512.
# Arguments: the engine's object files ($<TARGET_OBJECTS:qplay_engine>).
set -euo pipefail
object=""
for file in "$@"; do
  case "$file" in *avx512_gemm_micro_kernels.cpp.o) object="$file" ;; esac
done
if [ -z "$object" ]; then
  echo "no object of avx512_gemm_micro_kernels.cpp among the engine's objects" >&2
  exit 1
fi
shared=$(nm --defined-only -C "$object" | awk '$2 ~ /^[WVu]$/')
if [ -n "$shared" ]; then
  printf 'symbols the linker may share with other files, compiled for AVX-512 in %s:\n%s\n' "$object" "$shared" >&2
  exit 1
fi
if ! objdump -d "$object" | grep zmm >/dev/null; then  # not grep -q: objdump would die of SIGPIPE
  echo "no zmm instruction in $object: is it still compiled with -mavx512f?" >&2
  exit 1
fi
echo "$object: AVX-512 code, no shared symbols"

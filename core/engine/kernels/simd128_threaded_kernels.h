// The "simd128" KernelTable for a given thread count. In the threaded WebAssembly build (Emscripten
// pthreads, -pthread) more than one thread gives a table that splits each GEMM into blocks of whole
// 4-row tiles or 8-column panels and im2col/col2im into images, over one WorkerPool shared by every
// table of the module; each block runs the single-threaded simd128 kernels (simd128_kernels.h), so
// the results are the single-threaded table's bits, which are the reference's. Elsewhere it is the
// single-threaded table. WebAssembly builds with SIMD128 only; callers go through
// make_kernel_table("simd128" | "auto", threads).
#pragma once

#include <memory>

#include "core/engine/base/status.h"
#include "core/engine/kernels/kernel_table.h"

namespace qplay {

// The most threads a simd128 table uses: the build's preloaded workers plus the caller
// (QPLAY_WASM_KERNEL_THREADS, from CMake's PTHREAD_POOL_SIZE), 1 without pthreads. More are capped to it.
int simd128_max_threads();

// threads in [1, 64]; the table's `threads` says how many it really uses.
Result<std::shared_ptr<const KernelTable>> make_simd128_kernel_table_for_threads(int threads);

}  // namespace qplay

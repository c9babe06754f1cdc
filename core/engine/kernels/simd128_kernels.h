// The "simd128" KernelTable: WebAssembly SIMD kernels (<wasm_simd128.h>, -msimd128) for the
// browser build. GEMM packs op(A) and op(B) into panels and runs a register-blocked micro-kernel;
// the other entries are vectorized versions of the reference loops. Results are bit-identical to
// the reference table (why, and the measurements: the top of simd128_kernels.cpp).
// WebAssembly builds with SIMD128 only (the .cpp compiles to nothing elsewhere); callers go through
// make_kernel_table("simd128" | "auto", threads) rather than including this directly.
#pragma once

#include <memory>

#include "core/engine/base/status.h"
#include "core/engine/kernels/kernel_table.h"

namespace qplay {

// Single-threaded; each table owns its packing scratch, so one table must not be used from two
// threads at once.
Result<std::shared_ptr<const KernelTable>> make_simd128_kernel_table();

}  // namespace qplay

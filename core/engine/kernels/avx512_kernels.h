// The "avx512" KernelTable: the avx2 table (avx2_kernels.h) whose GEMM runs a 12x32 register tile in
// zmm registers (avx512_gemm_micro_kernels.cpp) under the same driver, for CPUs with AVX-512F. Every
// other entry is the avx2 table's. Because the driver blocks k the same way for both tiles and each
// element of C is one FMA chain per k block in both, its results equal the avx2 table's bit for bit:
// "auto" may pick either without changing a trained weight.
// A table of its own rather than an avx2 table that switches tiles inside: the name says what runs
// (the CLI's --kernels, the status bar, the benchmark's rows), and both tiles stay testable and
// comparable on one AVX-512 machine. Native x86-64 builds with pthreadpool only; callers go through
// make_kernel_table("avx512" | "auto", threads).
#pragma once

#include <memory>

#include "core/engine/base/status.h"
#include "core/engine/kernels/gemm_micro_kernel.h"
#include "core/engine/kernels/kernel_table.h"

namespace qplay {

// Whether this CPU runs AVX-512F and AVX2/FMA3, and the operating system saves the zmm and mask
// registers across context switches (XCR0), asked at run time: the build is for any x86-64.
bool cpu_has_avx512f();

// threads in [1, 64]. Fails with a message (never aborts) on a CPU without AVX-512F, or as
// make_avx2_kernel_table does.
Result<std::shared_ptr<const KernelTable>> make_avx512_kernel_table(int threads);

// The 12x32 tile. Compiled with -mavx512f: call it only where cpu_has_avx512f().
extern const GemmTile kAvx512GemmTile;

}  // namespace qplay

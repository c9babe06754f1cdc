// The "avx2" KernelTable: the engine's own x86-64 kernels for CPUs with AVX2 and FMA3. GEMM runs a
// 6x16 register-blocked FMA micro-kernel that reads both operands where they lie whenever it can
// (packing only a transposed B), blocked over k, and split over a pthreadpool; im2col/col2im go
// one image per pool task; the elementwise kernels are 8-wide loops; a CNN's one-channel first
// convolution runs directly (conv3x3_one_channel), with the bits of its lowering. Results agree with the
// reference table within float rounding (FMA and a different order of the k sum), not bit for bit.
// Why each choice, with the measurements: the top of avx2_kernels.cpp.
// Native x86-64 builds with pthreadpool only; callers go through make_kernel_table("avx2" | "auto",
// threads) rather than including this directly.
#pragma once

#include <memory>
#include <string>

#include "core/engine/base/status.h"
#include "core/engine/kernels/gemm_micro_kernel.h"
#include "core/engine/kernels/kernel_table.h"

namespace qplay {

// Whether this CPU runs AVX2 and FMA3 (asked of the CPU at run time: the build is for any x86-64).
bool cpu_has_avx2_fma();

// threads in [1, 64]. Fails with a message (never aborts) on a CPU without AVX2/FMA3 or when the
// thread pool cannot be created. A table may be used from several threads at once.
Result<std::shared_ptr<const KernelTable>> make_avx2_kernel_table(int threads);

// The same table, named `name`, whose GEMM runs the same driver (blocking, packing, pool tasks) with
// another register tile: how the avx512 table is made (avx512_kernels.cpp). The caller has checked
// that the CPU runs the tile's instructions.
Result<std::shared_ptr<const KernelTable>> make_avx2_kernel_table_with_gemm_tile(const std::string& name,
                                                                                 int threads,
                                                                                 const GemmTile& gemm_tile);

}  // namespace qplay

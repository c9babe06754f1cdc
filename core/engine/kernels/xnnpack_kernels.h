// The "xnnpack" KernelTable: GEMM on the fully-connected operator of Debian's XNNPACK (2022
// snapshot) and im2col/col2im split by image, both on a pthreadpool of the requested size; the
// elementwise kernels are the reference ones (why, with numbers: the top of xnnpack_kernels.cpp).
// Native builds with QPLAY_WITH_XNNPACK only; callers go through make_kernel_table("xnnpack" |
// "auto", threads) rather than including this directly.
#pragma once

#include <memory>

#include "core/engine/base/status.h"
#include "core/engine/kernels/kernel_table.h"

namespace qplay {

// threads in [1, 64]. Fails with a message (never aborts) when XNNPACK cannot initialise on this
// CPU or the thread pool cannot be created.
Result<std::shared_ptr<const KernelTable>> make_xnnpack_kernel_table(int threads);

}  // namespace qplay

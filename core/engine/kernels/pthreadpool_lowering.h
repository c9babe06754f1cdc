// What the native kernel tables that own a pthreadpool (xnnpack, avx2) share: im2col and col2im split
// one image per task (each image owns its rows of the columns matrix and its pixels, so tasks never
// write the same memory and the result equals the serial reference loops bit for bit), and the
// release of a pool's workers. Native builds with pthreadpool only.
#pragma once

#include <pthreadpool.h>

#include "core/engine/kernels/kernel_table.h"
#include "core/engine/kernels/reference_kernels.h"

namespace qplay {

// A lowering of its geometry's whole batch with the reference's results bit for bit:
// reference_im2col<float> and reference_col2im<float>, or a table's SIMD version of one.
using LoweringFunction = void (*)(const ConvGeometry& geometry, const float* source, float* destination);

// columns[batch*Ho*Wo, k*k*C] from image[batch, H, W, C], as reference_im2col, by im2col one image per
// task. threadpool may be null; small matrices run on the caller either way (the pool costs more than
// it saves there).
void pooled_im2col(pthreadpool_t threadpool, const ConvGeometry& geometry, const float* image, float* columns,
                   LoweringFunction im2col = reference_im2col<float>);

// image[batch, H, W, C] += columns scattered back, as reference_col2im, by col2im one image per task.
void pooled_col2im(pthreadpool_t threadpool, const ConvGeometry& geometry, const float* columns, float* image,
                   LoweringFunction col2im = reference_col2im<float>);

// Sends the pool's workers to sleep now instead of letting them spin-wait for the next call.
void release_pool_workers(pthreadpool_t threadpool);

}  // namespace qplay

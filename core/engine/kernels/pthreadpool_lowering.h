// What the native kernel tables that own a pthreadpool (xnnpack, avx2) share: im2col and col2im split
// one image per task (each image owns its rows of the columns matrix and its pixels, so tasks never
// write the same memory and the result equals the serial reference loops bit for bit), and the
// release of a pool's workers. Native builds with pthreadpool only.
#pragma once

#include <pthreadpool.h>

#include "core/engine/kernels/kernel_table.h"

namespace qplay {

// columns[batch*Ho*Wo, k*k*C] from image[batch, H, W, C], as reference_im2col. threadpool may be
// null; small matrices run on the caller either way (the pool costs more than it saves there).
void pooled_im2col(pthreadpool_t threadpool, const ConvGeometry& geometry, const float* image,
                   float* columns);

// image[batch, H, W, C] += columns scattered back, as reference_col2im.
void pooled_col2im(pthreadpool_t threadpool, const ConvGeometry& geometry, const float* columns,
                   float* image);

// Sends the pool's workers to sleep now instead of letting them spin-wait for the next call.
void release_pool_workers(pthreadpool_t threadpool);

}  // namespace qplay

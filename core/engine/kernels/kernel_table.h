// The hot kernels behind one small table of functions. The engine's layers call only these, so
// a backend is a new table, not a new engine:
//   reference  plain C++, always built; the definition of "correct" every other table is tested against
//   avx2       the engine's own AVX2/FMA3 kernels (native x86-64), with a pthreadpool
//   avx512     avx2 with an AVX-512F GEMM micro-kernel (same results), for CPUs that have it
//   xnnpack    Debian's XNNPACK (native only), with its pthreadpool for several threads
//   simd128    WebAssembly SIMD128 kernels (the browser build)
// All matrices are row-major float32. Shapes are given in the comments as [rows, cols].
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <type_traits>

#include "core/engine/base/status.h"

namespace qplay {

enum class Transpose { no, yes };

struct KernelTable;

// C[M,N] = op(A)[M,K] · op(B)[K,N]            (accumulate == false)
// C[M,N] += op(A)[M,K] · op(B)[K,N]           (accumulate == true)
// op(A) is A[M,K] (lda >= K) or, transposed, A[K,M] (lda >= M); likewise op(B) is B[K,N] or B[N,K].
using GemmFunction = void (*)(const KernelTable& table, Transpose transpose_a, Transpose transpose_b, int M,
                              int N, int K, const float* A, int lda, const float* B, int ldb, float* C,
                              int ldc, bool accumulate);

// Geometry of a 2-D convolution over NHWC images.
struct ConvGeometry {
  int batch = 1, in_height = 0, in_width = 0, in_channels = 0;
  int kernel = 3, stride = 1, padding = 0;
  int out_height() const { return (in_height + 2 * padding - kernel) / stride + 1; }
  int out_width() const { return (in_width + 2 * padding - kernel) / stride + 1; }
  int patch_size() const { return kernel * kernel * in_channels; }        // columns of the im2col matrix
  int patch_count() const { return batch * out_height() * out_width(); }  // rows of the im2col matrix
};

// image[batch, H, W, C] -> columns[batch*Ho*Wo, k*k*C], patch element order (ky, kx, c); padding reads 0.
using Im2colFunction = void (*)(const KernelTable& table, const ConvGeometry& geometry, const float* image,
                                float* columns);
// The adjoint of im2col: image[batch, H, W, C] += scatter of columns[batch*Ho*Wo, k*k*C].
using Col2imFunction = void (*)(const KernelTable& table, const ConvGeometry& geometry, const float* columns,
                                float* image);
// rows[M, N] += bias[N] broadcast over rows.
using AddBiasFunction = void (*)(const KernelTable& table, int M, int N, const float* bias, float* rows);
// sums[N] (+)= column sums of rows[M, N]; used for bias gradients.
using SumRowsFunction = void (*)(const KernelTable& table, int M, int N, const float* rows, float* sums,
                                 bool accumulate);
// y[n] = max(x[n], 0). In-place (y == x) is allowed.
using ReluForwardFunction = void (*)(const KernelTable& table, int n, const float* x, float* y);
// dx[n] = y[n] > 0 ? dy[n] : 0, from the forward output y. In-place (dx == dy) is allowed.
using ReluBackwardFunction = void (*)(const KernelTable& table, int n, const float* y, const float* dy,
                                      float* dx);

// output[B, Ho, Wo, C] = the maximum of each k x k window (stride s, no padding) of input[B, H, W, C].
// A NaN is skipped unless the whole window is NaN (then -inf): max(a, b) = a < b ? b : a from -inf.
using MaxPoolForwardFunction = void (*)(const KernelTable& table, const ConvGeometry& geometry,
                                        const float* input, float* output);
// input_grad[B, H, W, C] (overwritten) = each window's output_grad handed to the element its maximum
// (output, the forward's) came from: the first element equal to it in (ky, kx) order, or the window's
// first element when that is NaN. The others get 0·output_grad, so an infinite gradient spreads NaN
// over its window (the loss is not finite by then anyway). Overlapping windows add up.
// relu_before: the input is a ReLU's output and its backward is folded in: input_grad is then also 0
// where input > 0 fails, the same bits as the pool's backward followed by the ReLU's.
using MaxPoolBackwardFunction = void (*)(const KernelTable& table, const ConvGeometry& geometry,
                                         const float* input, const float* output, const float* output_grad,
                                         float* input_grad, bool relu_before);

// A CNN's first convolution on one-channel images (kernel 3, stride 1, padding 1) as a direct
// convolution: im2col + GEMM multiply there at k = 9 and spend their time storing columns.
// output[B, H, W, O] = conv(image[B, H, W, 1], weight[O, 9]) + bias[O], and relu_output[B, H, W, O]
// = relu(output) when not null: the same bits as this table's im2col, GEMM (Transpose::no, ::yes),
// add_bias and relu_forward. Optional: null in a table without one (the layer then lowers).
using Conv3x3OneChannelFunction = void (*)(const KernelTable& table, const ConvGeometry& geometry,
                                           int outputs, const float* image, const float* weight,
                                           const float* bias, float* output, float* relu_output);

// Puts the table's worker threads to sleep until its next call.
using ReleaseWorkersFunction = void (*)(const KernelTable& table);

// task(context, index) once for every index in [0, count), spread over the table's threads; returns when
// all are done. Tasks run in any order on any thread, so a caller whose results must not depend on the
// thread count gives every index its own output (or its own partial, combined in index order afterwards).
using ParallelTask = void (*)(void* context, size_t index);
using ParallelForFunction = void (*)(const KernelTable& table, size_t count, ParallelTask task,
                                     void* context);

struct KernelTable {
  std::string name;               // "reference", "avx2", "avx512", "xnnpack", "simd128"
  int threads = 1;                // worker threads the backend uses
  std::shared_ptr<void> backend;  // backend state (thread pool, operator cache); null for reference
  // Null without workers. Workers spin-wait after each call, which keeps back-to-back kernels fast but
  // takes a core from whatever else an interactive frame does; the lab releases them after each slice.
  ReleaseWorkersFunction release_workers = nullptr;
  GemmFunction gemm = nullptr;
  Im2colFunction im2col = nullptr;
  Col2imFunction col2im = nullptr;
  AddBiasFunction add_bias = nullptr;
  SumRowsFunction sum_rows = nullptr;
  ReluForwardFunction relu_forward = nullptr;
  ReluBackwardFunction relu_backward = nullptr;
  MaxPoolForwardFunction max_pool_forward = nullptr;
  MaxPoolBackwardFunction max_pool_backward = nullptr;
  Conv3x3OneChannelFunction conv3x3_one_channel = nullptr;  // optional (see above)
  // Null without workers; callers go through parallel_for below, which then runs the tasks in order.
  // How code outside kernels/ (the methods' sorts and searches) shares the table's threads.
  ParallelForFunction parallel_for = nullptr;
};

// body(index) for every index in [0, count): on the table's threads when it has a parallel_for, else in
// index order on the caller. Not for nesting (a task must not call it again).
template <typename Body>
void parallel_for(const KernelTable& table, size_t count, Body&& body) {
  using BodyType = std::remove_reference_t<Body>;
  if (table.parallel_for == nullptr || count <= 1) {
    for (size_t i = 0; i < count; ++i) body(i);
    return;
  }
  table.parallel_for(
      table, count, [](void* context, size_t index) { (*static_cast<BodyType*>(context))(index); },
      const_cast<void*>(static_cast<const void*>(&body)));
}

// The plain C++ table; always available, single-threaded.
std::shared_ptr<const KernelTable> reference_kernel_table();

// "reference", "avx2" and "avx512" (x86-64 native), "xnnpack" (native builds with QPLAY_WITH_XNNPACK),
// "simd128" (WebAssembly), or "auto" (the fastest this build and CPU have). threads >= 1; the reference table
// ignores it. Unknown names give an error listing the valid ones.
Result<std::shared_ptr<const KernelTable>> make_kernel_table(const std::string& name, int threads);

// The names make_kernel_table accepts in this build, e.g. "reference, avx2, avx512, xnnpack, auto".
std::string available_kernel_tables();

// The most threads a table of make_kernel_table("auto", threads) runs on in this build: 64 natively, the
// preloaded workers + 1 in the threaded WebAssembly build, 1 in the other WebAssembly builds.
int max_kernel_threads();

}  // namespace qplay

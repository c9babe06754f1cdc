// The "xnnpack" KernelTable: GEMM on XNNPACK's f32 fully-connected operator (Debian's 2022
// snapshot) with a pthreadpool; im2col/col2im are the reference loops run one image per pool task;
// the elementwise kernels are the reference ones. Every choice below was measured; the numbers are
// here so the next person can re-check them rather than re-guess them.
//
// Machine: the project's 2-vCPU AMD EPYC VM (AVX2+FMA, no AVX-512), -O3, other builds running at
// times, so each number is the minimum over many interleaved calls. Times in microseconds.
// "new op" creates (packs) the operator on every call, as training must (the weights change every
// step); "cached" reuses it (evaluation over fixed weights). reference = reference_gemm<float>.
//
// clang-format off
//   product (transposes)          M x N x K        reference   1 thread       2 threads
//                                                              new / cached   new / cached
//   MLP 784-256-256-10, batch 128:
//   forward L1 (no, yes)      128 x 256 x 784           2261    1836 / 1517    1267 / 844
//   forward L2 (no, yes)      128 x 256 x 256            704     593 / 494      404 / 285
//   forward L3 (no, yes)      128 x  10 x 256             66      34 / 31        25 / 19
//   dX L2 (no, no)            128 x 256 x 256            655     586            407
//   dX L3 (no, no)            128 x 256 x  10             32      38             41
//   dW1 (yes, no)             256 x 784 x 128           1886    1701           1139
//   dW2 (yes, no)             256 x 256 x 128            667     553            456
//   dW3 (yes, no)              10 x 256 x 128             26      61             68
//   fewer rows (no, yes)        8 x 256 x 256             76     120 / 45       108 / 27
//                              16 x 256 x 256            120     159 / 81       128 / 47
//                              32 x 256 x 256            214     221 / 140      160 / 78
//   fewer rows (yes, no)       16 x 256 x 128             42      80             68
//                              32 x 256 x 128             79     108             84
//                              64 x 256 x 128            163     169            124
//   toy 2-16-16-3 (no, yes)   128 x  16 x  16            4.3     4.0            6.4
//   conv 3x3, 14x14x16 -> 32 channels, batch 128:
//   forward (no, yes)       25088 x  32 x 144          10589    8503           4939
//   dcolumns (no, no)       25088 x 144 x  32           9172    8859           6139
//   dW (yes, no)               32 x 144 x 25088        12697   32492          32942
//                              64 x 144 x 25088        24992   54315          39025
//                             128 x 144 x 25088        46997   76748          65075
//                             256 x 144 x 25088       102642  111351          98216
//   MLP dW1, batch 1024       256 x 784 x 1024         16097   16018          10512
// clang-format on
//
// What follows from them:
// - The operator is created for every call; only (no, yes) calls, the forward pass, look in a small
//   cache of packed operators, which hits only when B holds exactly the bits it was packed from
//   (memcmp against a copy; after an optimizer step the first row already differs, so a miss
//   costs a copy of B, not a full comparison).
//   Packing is single-threaded, ~1.5 ns per element of op(B) (W1: 426 us), and is what the
//   cache saves: 17% of forward L1 on 1 thread, 33% on 2.
// - Packing op(B) is paid once per call and amortised over M rows, so below kMinRowsForXnnpack
//   rows the reference wins. When B arrives as [K, N], XNNPACK transposes it while packing
//   (XNN_FLAG_TRANSPOSE_WEIGHTS), which is cheap for a cache-sized B but ~6 ns per element for a
//   large one (a 25088x144 im2col matrix: 36.8 ms, against 9.4 ms packed as stored); hence
//   kMinRowsForLargeTransposedPacking, which sends convolution weight gradients to the reference.
// - Debian's AVX2 6x16 microkernel spills an accumulator to the stack, so one XNNPACK thread is
//   only 1.1-1.6x the reference (32 GFLOP/s per core at best); the gain is the second thread.
// - Small products run on one thread: below 2^17 multiply-adds the pool saves at most a few us
//   (128x32x32: 11.2 -> 8.8 us; toy 128x16x16: 4.0 -> 6.4 us, slower), and when another process
//   holds the second core every pooled call waits a scheduler tick (~4 ms) for its worker.
// - accumulate computes into scratch and adds: +1-3% on the MLP shapes (forward L1 1287 vs
//   1267 us, dW1 1046 vs 1015 us on 2 threads). A bias cannot express C += ..., it is a vector.
// - im2col/col2im on 2 threads: 14x14x16 batch 128 (3.6M floats) 1115 -> 402 us, 28x28x1
//   batch 128 (0.9M) 1855 -> 1158 us; col2im alike. relu, add_bias and sum_rows on 128x256 take
//   ~5 us on one thread (3.3 us on two): not worth a pool call, so they stay the reference ones.
#include "core/engine/kernels/xnnpack_kernels.h"

#include <pthreadpool.h>
#include <xnnpack.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "core/engine/kernels/pthreadpool_lowering.h"
#include "core/engine/kernels/reference_kernels.h"

namespace qplay {
namespace {

// Below this many rows of op(A), packing op(B) costs more than the whole reference product.
constexpr int kMinRowsForXnnpack = 32;
// A B of [K, N] with more elements than this (512 KiB) is slow for XNNPACK to transpose while
// packing; it then needs this many rows to pay off.
constexpr int64_t kLargeTransposedPackingElements = int64_t{1} << 17;
constexpr int kMinRowsForLargeTransposedPacking = 256;
// Below this many multiply-adds (M*N*K) the thread pool saves microseconds at best, while a pool
// worker that the OS has descheduled stalls the call for milliseconds.
constexpr int64_t kMinMultiplyAddsForThreads = int64_t{1} << 17;
// Packed operators kept for (no, yes) calls, i.e. the forward pass Y = X·Wᵀ over fixed weights.
constexpr size_t kCachedOperatorCount = 8;

// One packed fully-connected operator and the exact weights it was packed from. The copy is what
// makes the cache safe: weights change in place every training step, so a hit needs equal bits,
// not just an equal pointer.
struct CachedOperator {
  const float* source = nullptr;  // the caller's B: where the weights were read from
  int K = 0, N = 0, ldb = 0;
  size_t input_stride = 0, output_stride = 0;  // fixed when XNNPACK creates the operator
  std::vector<float> weights;                  // dense [N, K] copy of B at packing time
  xnn_operator_t op = nullptr;
  uint64_t last_use = 0;
};

// Everything one xnnpack table owns. A table may be shared between threads, so a call holds
// `mutex` while it uses the scratch buffers and the cache.
struct XnnpackBackend {
  pthreadpool_t threadpool = nullptr;  // null for threads == 1: XNNPACK then runs on the caller
  std::mutex mutex;
  std::vector<float> a_dense;  // op(A) [M, K] when A arrives transposed
  std::vector<float> b_dense;  // op(B) compacted when ldb exceeds its row length
  std::vector<float> product;  // op(A)·op(B) [M, N] before it is added into C (accumulate)
  std::vector<CachedOperator> cache;
  uint64_t calls = 0;

  ~XnnpackBackend() {
    for (CachedOperator& entry : cache) xnn_delete_operator(entry.op);
    if (threadpool != nullptr) pthreadpool_destroy(threadpool);
  }
};

// XNNPACK may read up to XNN_EXTRA_BYTES past the end of its input (xnnpack.h), which the
// GemmFunction contract does not promise to the caller's A. Such a read can only fault when it
// crosses into the next page (4 KiB, the smallest page size); then A goes through padded scratch.
constexpr size_t kExtraFloats = (XNN_EXTRA_BYTES + sizeof(float) - 1) / sizeof(float);
bool over_read_may_fault(const float* input_end) {
  constexpr uintptr_t kPageSize = 4096;
  const uintptr_t last_byte = reinterpret_cast<uintptr_t>(input_end) - 1;
  return last_byte / kPageSize != (last_byte + XNN_EXTRA_BYTES) / kPageSize;
}

XnnpackBackend& backend_of(const KernelTable& table) {
  return *static_cast<XnnpackBackend*>(table.backend.get());
}

bool rows_equal(int rows, int cols, const float* matrix, int stride, const float* dense) {
  for (int r = 0; r < rows; ++r) {
    if (std::memcmp(matrix + static_cast<size_t>(r) * stride, dense + static_cast<size_t>(r) * cols,
                    sizeof(float) * cols) != 0) {
      return false;
    }
  }
  return true;
}

void copy_rows(int rows, int cols, const float* matrix, int stride, float* dense) {
  for (int r = 0; r < rows; ++r) {
    std::copy_n(matrix + static_cast<size_t>(r) * stride, cols, dense + static_cast<size_t>(r) * cols);
  }
}

// XNNPACK clamps every output to [output_min, output_max]; its x86 max/min return the bound when
// the accumulator is NaN, so a NaN product comes out as -inf (checked on this snapshot). The
// engine relies on NaN reaching the loss, so any -inf sends the call to the reference instead.
bool contains_negative_infinity(int rows, int cols, const float* matrix, size_t stride) {
  bool found = false;
  for (int r = 0; r < rows; ++r) {
    const float* row = matrix + r * stride;
    for (int c = 0; c < cols; ++c) found |= row[c] == -INFINITY;
  }
  return found;
}

// A packed operator for op(B) with the given strides: from the cache when (no, yes) calls see the
// same weights again, else freshly created (and owned by the caller, who sets `owned`).
xnn_operator_t find_or_create_operator(XnnpackBackend& state, Transpose transpose_b, int N, int K,
                                       const float* B, int ldb, size_t input_stride, size_t output_stride,
                                       bool& owned) {
  owned = false;
  const bool weights_layout = transpose_b == Transpose::yes;  // B is [N, K], how layers store W
  if (weights_layout) {
    for (CachedOperator& entry : state.cache) {
      if (entry.source == B && entry.K == K && entry.N == N && entry.ldb == ldb &&
          entry.input_stride == input_stride && entry.output_stride == output_stride &&
          rows_equal(N, K, B, ldb, entry.weights.data())) {
        entry.last_use = state.calls;
        return entry.op;
      }
    }
    CachedOperator fresh;
    fresh.source = B;
    fresh.K = K;
    fresh.N = N;
    fresh.ldb = ldb;
    fresh.input_stride = input_stride;
    fresh.output_stride = output_stride;
    fresh.weights.resize(static_cast<size_t>(N) * K);
    copy_rows(N, K, B, ldb, fresh.weights.data());
    if (xnn_create_fully_connected_nc_f32(K, N, input_stride, output_stride, fresh.weights.data(),
                                          /*bias=*/nullptr, -INFINITY, INFINITY, /*flags=*/0,
                                          &fresh.op) != xnn_status_success) {
      return nullptr;
    }
    fresh.last_use = state.calls;
    if (state.cache.size() < kCachedOperatorCount) {
      state.cache.push_back(std::move(fresh));
      return state.cache.back().op;
    }
    auto oldest = std::min_element(
        state.cache.begin(), state.cache.end(),
        [](const CachedOperator& a, const CachedOperator& b) { return a.last_use < b.last_use; });
    xnn_delete_operator(oldest->op);
    *oldest = std::move(fresh);
    return oldest->op;
  }

  // B is [K, N]: XNNPACK transposes it while packing. It needs dense rows either way.
  const float* weights = B;
  if (ldb != N) {
    state.b_dense.resize(static_cast<size_t>(K) * N);
    copy_rows(K, N, B, ldb, state.b_dense.data());
    weights = state.b_dense.data();
  }
  xnn_operator_t op = nullptr;
  if (xnn_create_fully_connected_nc_f32(K, N, input_stride, output_stride, weights, /*bias=*/nullptr,
                                        -INFINITY, INFINITY, XNN_FLAG_TRANSPOSE_WEIGHTS,
                                        &op) != xnn_status_success) {
    return nullptr;
  }
  owned = true;
  return op;
}

// C (+)= op(A)·op(B) on XNNPACK. Returns false, with C untouched when accumulating, whenever
// XNNPACK fails or the result needs the reference's exact NaN handling.
bool try_xnnpack_gemm(XnnpackBackend& state, Transpose transpose_a, Transpose transpose_b, int M, int N,
                      int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc,
                      bool accumulate) {
  ++state.calls;
  // The fully-connected operator computes output[M, N] = input[M, K] · weights[N, K]ᵀ with a
  // strided input, so op(A) must be row-major: a transposed A is copied out first.
  const float* input = A;
  size_t input_stride = static_cast<size_t>(lda);
  const size_t a_dense_size = static_cast<size_t>(M) * K + kExtraFloats;
  if (transpose_a == Transpose::yes) {
    state.a_dense.resize(a_dense_size);
    transpose_matrix(K, M, A, lda, state.a_dense.data(), K);
    input = state.a_dense.data();
    input_stride = static_cast<size_t>(K);
  } else if (over_read_may_fault(A + static_cast<size_t>(M - 1) * lda + K)) {
    state.a_dense.resize(a_dense_size);
    copy_rows(M, K, A, lda, state.a_dense.data());
    input = state.a_dense.data();
    input_stride = static_cast<size_t>(K);
  }
  float* output = C;
  size_t output_stride = static_cast<size_t>(ldc);
  if (accumulate) {
    state.product.resize(static_cast<size_t>(M) * N);
    output = state.product.data();
    output_stride = static_cast<size_t>(N);
  }

  bool owned = false;
  xnn_operator_t op =
      find_or_create_operator(state, transpose_b, N, K, B, ldb, input_stride, output_stride, owned);
  if (op == nullptr) return false;
  const bool parallel = static_cast<int64_t>(M) * N * K >= kMinMultiplyAddsForThreads;
  pthreadpool_t threadpool = parallel ? state.threadpool : nullptr;
  bool ran = xnn_setup_fully_connected_nc_f32(op, M, input, output, threadpool) == xnn_status_success &&
             xnn_run_operator(op, threadpool) == xnn_status_success;
  if (owned) xnn_delete_operator(op);
  if (!ran || contains_negative_infinity(M, N, output, output_stride)) return false;

  if (accumulate) {
    for (int i = 0; i < M; ++i) {
      float* c_row = C + static_cast<size_t>(i) * ldc;
      const float* product_row = output + i * output_stride;
      for (int j = 0; j < N; ++j) c_row[j] += product_row[j];
    }
  }
  return true;
}

// Whether XNNPACK beats the reference on this product once packing op(B) is paid for.
bool xnnpack_pays_off(Transpose transpose_b, int M, int N, int K) {
  if (M < kMinRowsForXnnpack) return false;
  const bool large_transposed_packing =
      transpose_b == Transpose::no && static_cast<int64_t>(K) * N > kLargeTransposedPackingElements;
  return !large_transposed_packing || M >= kMinRowsForLargeTransposedPacking;
}

void xnnpack_gemm(const KernelTable& table, Transpose transpose_a, Transpose transpose_b, int M, int N, int K,
                  const float* A, int lda, const float* B, int ldb, float* C, int ldc, bool accumulate) {
  if (N > 0 && K > 0 && xnnpack_pays_off(transpose_b, M, N, K)) {
    XnnpackBackend& state = backend_of(table);
    std::lock_guard<std::mutex> lock(state.mutex);
    if (try_xnnpack_gemm(state, transpose_a, transpose_b, M, N, K, A, lda, B, ldb, C, ldc, accumulate))
      return;
  }
  reference_gemm<float>(transpose_a, transpose_b, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

void xnnpack_im2col(const KernelTable& table, const ConvGeometry& geometry, const float* image,
                    float* columns) {
  pooled_im2col(backend_of(table).threadpool, geometry, image, columns);
}

void xnnpack_col2im(const KernelTable& table, const ConvGeometry& geometry, const float* columns,
                    float* image) {
  pooled_col2im(backend_of(table).threadpool, geometry, columns, image);
}

void xnnpack_release_workers(const KernelTable& table) { release_pool_workers(backend_of(table).threadpool); }

void xnnpack_parallel_for(const KernelTable& table, size_t count, ParallelTask task, void* context) {
  pthreadpool_parallelize_1d(backend_of(table).threadpool, task, context, count, /*flags=*/0);
}

}  // namespace

Result<std::shared_ptr<const KernelTable>> make_xnnpack_kernel_table(int threads) {
  if (threads < 1 || threads > 64) {
    return Status::error("xnnpack: threads must be between 1 and 64, got " + std::to_string(threads));
  }
  // Once per process; C++ makes the initialisation of a function-local static thread-safe.
  static const xnn_status initialized = xnn_initialize(/*allocator=*/nullptr);
  if (initialized != xnn_status_success) {
    return Status::error("xnnpack: initialisation failed (status " + std::to_string(initialized) +
                         "); this CPU may be unsupported, use the reference kernels");
  }
  auto state = std::make_shared<XnnpackBackend>();
  if (threads > 1) {
    state->threadpool = pthreadpool_create(static_cast<size_t>(threads));
    if (state->threadpool == nullptr) {
      return Status::error("xnnpack: could not create a pool of " + std::to_string(threads) + " threads");
    }
  }

  auto table = std::make_shared<KernelTable>(*reference_kernel_table());
  table->name = "xnnpack";
  table->threads = threads;
  table->backend = std::move(state);
  table->gemm = xnnpack_gemm;
  table->im2col = xnnpack_im2col;
  table->col2im = xnnpack_col2im;
  if (threads > 1) table->release_workers = xnnpack_release_workers;
  if (threads > 1) table->parallel_for = xnnpack_parallel_for;
  return std::shared_ptr<const KernelTable>(std::move(table));
}

}  // namespace qplay

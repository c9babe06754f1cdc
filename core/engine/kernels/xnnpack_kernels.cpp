// The "xnnpack" KernelTable: GEMM on XNNPACK's f32 fully-connected operator (Debian's 2022
// snapshot), everything else from the reference kernels.
//
// MEASUREMENTS (placeholder)
#include "core/engine/kernels/xnnpack_kernels.h"

#include <pthreadpool.h>
#include <xnnpack.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <vector>

#include "core/engine/kernels/reference_kernels.h"

namespace qplay {
namespace {

// Below this many rows of op(A), packing op(B) costs more than the whole reference product.
constexpr int kMinRowsForXnnpack = 32;
// Below this many multiply-adds (M*N*K) the thread pool saves microseconds at best, while a pool
// worker that the OS has descheduled stalls the call for milliseconds.
constexpr int64_t kMinMultiplyAddsForThreads = int64_t{1} << 18;
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

void xnnpack_gemm(const KernelTable& table, Transpose transpose_a, Transpose transpose_b, int M, int N, int K,
                  const float* A, int lda, const float* B, int ldb, float* C, int ldc, bool accumulate) {
  if (M > 0 && N > 0 && K > 0 && M >= kMinRowsForXnnpack) {
    XnnpackBackend& state = backend_of(table);
    std::lock_guard<std::mutex> lock(state.mutex);
    if (try_xnnpack_gemm(state, transpose_a, transpose_b, M, N, K, A, lda, B, ldb, C, ldc, accumulate))
      return;
  }
  reference_gemm<float>(transpose_a, transpose_b, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
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
  return std::shared_ptr<const KernelTable>(std::move(table));
}

}  // namespace qplay

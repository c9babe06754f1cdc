// See simd128_threaded_kernels.h. The split, and why:
// - GEMM: C is cut into as many blocks as there are threads, along M in whole 4-row tiles or along N
//   in whole 8-column panels, and each block is one call of the single-threaded simd128 GEMM on its
//   own packing scratch. Every element of C is still one accumulator over k in increasing order, so
//   the bits do not depend on the thread count (kernels_test.cpp checks it). A block packs its whole
//   other operand again (B when rows are split, A when columns are), so the split runs along the
//   dimension whose other operand is smaller: an extra N*K (or M*K) copies against 2*M*N*K / threads
//   flops, under 1% on the W1/W2 shapes.
// - im2col/col2im: one image per task, as the native pooled tables (pthreadpool_lowering.h).
// - The elementwise entries stay on the caller: memory-bound, and a few microseconds each at W1/W2
//   sizes, which is what handing work to a sleeping worker costs in a browser.
#if defined(__wasm_simd128__)

#include "core/engine/kernels/simd128_threaded_kernels.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/engine/kernels/simd128_kernels.h"

#if defined(__EMSCRIPTEN_PTHREADS__)
#include "core/engine/kernels/worker_pool.h"
#ifndef QPLAY_WASM_KERNEL_THREADS
#error "the threaded WebAssembly build defines QPLAY_WASM_KERNEL_THREADS (CMake: PTHREAD_POOL_SIZE + 1)"
#endif
#endif

namespace qplay {

#if !defined(__EMSCRIPTEN_PTHREADS__)

int simd128_max_threads() { return 1; }

Result<std::shared_ptr<const KernelTable>> make_simd128_kernel_table_for_threads(int) {
  return make_simd128_kernel_table();
}

#else

namespace {

// Below this many flops (about 130 us on one thread) a GEMM runs on the caller: waking a worker and
// waiting for its block costs tens of microseconds in a browser.
constexpr double kMinFlopsForThreads = 4.0e6;
// Below this many elements of the im2col matrix, one thread copies it faster than two (as natively).
constexpr int64_t kMinColumnsForThreads = int64_t{1} << 18;
constexpr int kTileRows = 4, kPanelWidth = 8;  // the simd128 micro-kernel's tile (simd128_kernels.cpp)

struct ThreadedBackend {
  std::shared_ptr<WorkerPool> pool;
  // One single-threaded simd128 table per thread of a loop (index 0: the caller): each owns the
  // packing scratch that thread uses.
  std::vector<std::shared_ptr<const KernelTable>> per_thread;
};

const ThreadedBackend& backend_of(const KernelTable& table) {
  return *static_cast<const ThreadedBackend*>(table.backend.get());
}

struct GemmBlocks {
  const ThreadedBackend* backend;
  Transpose transpose_a, transpose_b;
  int M, N, K;
  const float* A;
  int lda;
  const float* B;
  int ldb;
  float* C;
  int ldc;
  bool accumulate;
  bool split_rows;  // blocks of rows of C (else of columns)
  int block;        // rows or columns per block: whole tiles or panels
};

void gemm_block(void* context, size_t index, int thread) {
  const GemmBlocks& g = *static_cast<const GemmBlocks*>(context);
  const KernelTable& table = *g.backend->per_thread[thread];
  const int begin = static_cast<int>(index) * g.block;
  if (g.split_rows) {
    const int rows = std::min(g.block, g.M - begin);
    const float* a = g.transpose_a == Transpose::no ? g.A + static_cast<size_t>(begin) * g.lda : g.A + begin;
    table.gemm(table, g.transpose_a, g.transpose_b, rows, g.N, g.K, a, g.lda, g.B, g.ldb,
               g.C + static_cast<size_t>(begin) * g.ldc, g.ldc, g.accumulate);
  } else {
    const int columns = std::min(g.block, g.N - begin);
    const float* b = g.transpose_b == Transpose::no ? g.B + begin : g.B + static_cast<size_t>(begin) * g.ldb;
    table.gemm(table, g.transpose_a, g.transpose_b, g.M, columns, g.K, g.A, g.lda, b, g.ldb, g.C + begin,
               g.ldc, g.accumulate);
  }
}

void threaded_gemm(const KernelTable& table, Transpose transpose_a, Transpose transpose_b, int M, int N,
                   int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc,
                   bool accumulate) {
  const ThreadedBackend& backend = backend_of(table);
  const KernelTable& caller = *backend.per_thread[0];
  const int row_tiles = (M + kTileRows - 1) / kTileRows, panels = (N + kPanelWidth - 1) / kPanelWidth;
  // Split where the operand every block packs again is the smaller one, if that side has a block
  // for every thread.
  const bool split_rows = N <= M ? row_tiles >= table.threads : panels < table.threads;
  const int units = split_rows ? row_tiles : panels;
  if (2.0 * M * N * K < kMinFlopsForThreads || units < 2) {
    caller.gemm(caller, transpose_a, transpose_b, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
    return;
  }
  const int blocks = std::min(table.threads, units);
  const int block = (units + blocks - 1) / blocks * (split_rows ? kTileRows : kPanelWidth);
  GemmBlocks task{&backend, transpose_a, transpose_b, M,   N,          K,          A,    lda,
                  B,        ldb,         C,           ldc, accumulate, split_rows, block};
  const int extent = split_rows ? M : N;
  backend.pool->run(static_cast<size_t>((extent + block - 1) / block), table.threads - 1, gemm_block, &task);
}

struct LoweringImages {
  const ThreadedBackend* backend;
  ConvGeometry one_image;
  size_t source_stride, destination_stride;  // floats per image in source and destination
  const float* source;
  float* destination;
  bool to_columns;  // im2col (else col2im)
};

void lower_one_image(void* context, size_t image, int thread) {
  const LoweringImages& task = *static_cast<const LoweringImages*>(context);
  const KernelTable& table = *task.backend->per_thread[thread];
  const float* source = task.source + image * task.source_stride;
  float* destination = task.destination + image * task.destination_stride;
  if (task.to_columns) {
    table.im2col(table, task.one_image, source, destination);
  } else {
    table.col2im(table, task.one_image, source, destination);
  }
}

void lower_images(const KernelTable& table, const ConvGeometry& geometry, const float* source,
                  float* destination, bool to_columns) {
  const ThreadedBackend& backend = backend_of(table);
  const KernelTable& caller = *backend.per_thread[0];
  const int64_t columns = static_cast<int64_t>(geometry.patch_count()) * geometry.patch_size();
  if (geometry.batch < 2 || columns < kMinColumnsForThreads) {
    if (to_columns) {
      caller.im2col(caller, geometry, source, destination);
    } else {
      caller.col2im(caller, geometry, source, destination);
    }
    return;
  }
  LoweringImages task{&backend, geometry, 0, 0, source, destination, to_columns};
  task.one_image.batch = 1;
  const size_t image_size =
      static_cast<size_t>(geometry.in_height) * geometry.in_width * geometry.in_channels;
  const size_t columns_size = static_cast<size_t>(task.one_image.patch_count()) * geometry.patch_size();
  task.source_stride = to_columns ? image_size : columns_size;
  task.destination_stride = to_columns ? columns_size : image_size;
  backend.pool->run(static_cast<size_t>(geometry.batch), table.threads - 1, lower_one_image, &task);
}

void threaded_im2col(const KernelTable& table, const ConvGeometry& geometry, const float* image,
                     float* columns) {
  lower_images(table, geometry, image, columns, /*to_columns=*/true);
}

void threaded_col2im(const KernelTable& table, const ConvGeometry& geometry, const float* columns,
                     float* image) {
  lower_images(table, geometry, columns, image, /*to_columns=*/false);
}

// The elementwise entries run the caller's single-threaded table with that table, whose backend its
// functions may read (this table's backend is a ThreadedBackend).
void caller_add_bias(const KernelTable& table, int M, int N, const float* bias, float* rows) {
  const KernelTable& caller = *backend_of(table).per_thread[0];
  caller.add_bias(caller, M, N, bias, rows);
}

void caller_sum_rows(const KernelTable& table, int M, int N, const float* rows, float* sums,
                     bool accumulate) {
  const KernelTable& caller = *backend_of(table).per_thread[0];
  caller.sum_rows(caller, M, N, rows, sums, accumulate);
}

void caller_relu_forward(const KernelTable& table, int n, const float* x, float* y) {
  const KernelTable& caller = *backend_of(table).per_thread[0];
  caller.relu_forward(caller, n, x, y);
}

void caller_relu_backward(const KernelTable& table, int n, const float* y, const float* dy, float* dx) {
  const KernelTable& caller = *backend_of(table).per_thread[0];
  caller.relu_backward(caller, n, y, dy, dx);
}

// Max-pool and the direct convolution on the caller as well (a CNN's small share of the step). The
// max-pool entries were missing here (both came in on parallel branches): a CNN in the threaded build
// called a null entry.
void caller_max_pool_forward(const KernelTable& table, const ConvGeometry& geometry, const float* input,
                             float* output) {
  const KernelTable& caller = *backend_of(table).per_thread[0];
  caller.max_pool_forward(caller, geometry, input, output);
}

void caller_max_pool_backward(const KernelTable& table, const ConvGeometry& geometry, const float* input,
                              const float* output, const float* output_grad, float* input_grad,
                              bool relu_before) {
  const KernelTable& caller = *backend_of(table).per_thread[0];
  caller.max_pool_backward(caller, geometry, input, output, output_grad, input_grad, relu_before);
}

void caller_conv3x3_one_channel(const KernelTable& table, const ConvGeometry& geometry, int outputs,
                                const float* image, const float* weight, const float* bias, float* output,
                                float* relu_output) {
  const KernelTable& caller = *backend_of(table).per_thread[0];
  caller.conv3x3_one_channel(caller, geometry, outputs, image, weight, bias, output, relu_output);
}

void threaded_release_workers(const KernelTable& table) { backend_of(table).pool->release_workers(); }

void threaded_parallel_for(const KernelTable& table, size_t count, ParallelTask task, void* context) {
  struct Loop {
    ParallelTask task;
    void* context;
  } loop{task, context};
  backend_of(table).pool->run(
      count, table.threads - 1,
      [](void* loop, size_t index, int) {
        const Loop& l = *static_cast<const Loop*>(loop);
        l.task(l.context, index);
      },
      &loop);
}

}  // namespace

int simd128_max_threads() { return QPLAY_WASM_KERNEL_THREADS; }

Result<std::shared_ptr<const KernelTable>> make_simd128_kernel_table_for_threads(int threads) {
  threads = std::min(threads, simd128_max_threads());
  if (threads <= 1) return make_simd128_kernel_table();
  auto backend = std::make_shared<ThreadedBackend>();
  for (int t = 0; t < threads; ++t) {
    Result<std::shared_ptr<const KernelTable>> single = make_simd128_kernel_table();
    if (!single) return single.status();
    backend->per_thread.push_back(single.value());
  }
  backend->pool = shared_worker_pool(threads - 1);
  auto table = std::make_shared<KernelTable>();
  table->name = backend->per_thread[0]->name;
  table->threads = threads;
  table->backend = backend;
  table->release_workers = threaded_release_workers;
  table->parallel_for = threaded_parallel_for;
  table->gemm = threaded_gemm;
  table->im2col = threaded_im2col;
  table->col2im = threaded_col2im;
  table->add_bias = caller_add_bias;
  table->sum_rows = caller_sum_rows;
  table->relu_forward = caller_relu_forward;
  table->relu_backward = caller_relu_backward;
  table->max_pool_forward = caller_max_pool_forward;
  table->max_pool_backward = caller_max_pool_backward;
  table->conv3x3_one_channel = caller_conv3x3_one_channel;
  return std::shared_ptr<const KernelTable>(std::move(table));
}

#endif  // __EMSCRIPTEN_PTHREADS__

}  // namespace qplay

#endif  // defined(__wasm_simd128__)

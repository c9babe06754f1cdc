// The "avx2" KernelTable (see avx2_kernels.h).
//
// Why an own GEMM rather than Debian's XNNPACK: its AVX2 6x16 f32 micro-kernel, as Debian's GCC
// compiled it, keeps an accumulator on the stack (docs/performance.md, "Where the time goes"), and
// its fully-connected operator packs op(B) on every call, which training pays every step because
// the weights change. This table packs only what it must and reads the rest in place.
//
// The micro-kernel: C[6, 16] += A[6, k] · B[k, 16] in 12 ymm accumulators; per k, two loads of B,
// six broadcasts of A, twelve FMAs (15 of the 16 ymm registers; the generated code has no stack
// access in the k loop, checked with objdump). A element (r, k) is read at a[r·row_stride +
// k·depth_stride], so op(A) needs no packing whether A arrives as [M, K] (depth stride 1) or, for
// the weight gradients, as [K, M] (row stride 1). op(B) as [K, N] is read in place, row k of a
// panel being 16 contiguous floats at stride ldb, with masked loads for a last panel narrower than
// 16; only op(B) = Bᵀ (the forward pass X·Wᵀ) is packed, a [kDepthBlock][16] slice of a panel at
// a time, with 8x8 transposes. Rows past M need no padding either: the kernel is instantiated for
// 1..6 rows.
//
// The driver below (k blocking, packing, pool tasks) takes its register tile as a GemmTile
// (gemm_micro_kernel.h), so the avx512 table runs the same driver with its 12x32 zmm tile
// (avx512_kernels.h); the 6x16 tile here is the avx2 table's.
//
// Blocking: k in blocks of kDepthBlock, so one panel's slice of B (16 KiB) stays in L1 while the
// tiles of a row block pass over it; later k blocks add to C. Pool tasks are (row block, panel)
// pairs, kRowBlock rows each, and a task runs all k blocks of its pair, so no two tasks write the
// same element of C and the result does not depend on the thread count. A transposed B is packed
// by the task itself, slice by slice into its stack, just before its tiles read the slice (in L1
// then, and no buffer or lock is shared between calls); such tasks are kPackingRowBlock rows tall
// so that a panel is packed once for W1's batch of 128. Packing the whole op(B) in a pass of its
// own first cost W1's forward 4-6% more with the avx512 tile (its 1 MB of packed weights went
// through L2 twice).
//
// Accuracy: FMA rounds once per multiply-add and the k blocks split each sum into pieces, so
// results differ from the reference in the last bits; tests/engine/kernels_test.cpp holds every
// table to a tolerance against a double-precision product, and the training tests run on "auto".
#include "core/engine/kernels/avx2_kernels.h"

#include <immintrin.h>
#include <pthreadpool.h>

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/engine/kernels/gemm_micro_kernel.h"
#include "core/engine/kernels/pthreadpool_lowering.h"
#include "core/engine/kernels/reference_kernels.h"

#define QPLAY_TARGET_AVX2_FMA __attribute__((target("avx2,fma")))

namespace qplay {
namespace {

constexpr int kTileRows = 6;     // of the avx2 tile
constexpr int kPanelWidth = 16;  // of the avx2 tile
// The driver's blocking, the same for every tile, so every tile sums each element of C in the same
// order (k blocks of kDepthBlock, each one FMA chain from its first k) and the tables agree bit for
// bit. kRowBlock is a multiple of every tile's rows.
constexpr int kDepthBlock = 256;       // k per pass: a panel slice of 16 KiB (avx2) or 32 KiB (avx512)
constexpr int kRowBlock = 96;          // rows of C per pool task: 16 avx2 tiles, 8 avx512 tiles
constexpr int kPackingRowBlock = 384;  // the same when the task packs op(B) = Bᵀ
constexpr int kMaxPanelWidth = 32;
// Below this many multiply-adds (M*N*K) a pool call costs more than it saves.
constexpr int64_t kMinMultiplyAddsForThreads = int64_t{1} << 17;
// Depth split: a product with a small C and a long k (a convolution's weight gradient, C[outputs,
// patch] summed over every output pixel of the batch: [16, 9] over 43,264 pixels for W2's conv1) has
// one or a few (row block, panel) tasks, so at 2 threads one core ran it while the other spun (perf:
// the worker idle 32% of a W2 step). Such products are cut into depth slices of kSplitDepth, each a
// task into its own partial C, then added in slice order. The cut depends on M, N and K only, never on
// the tile or the thread count, so the results stay equal across tables and thread counts.
constexpr int kSplitDepth = 8 * kDepthBlock;
constexpr int64_t kMaxSplitOutputs = int64_t{1} << 14;  // elements of C

struct Avx2Backend {
  GemmTile gemm_tile;
  pthreadpool_t threadpool = nullptr;  // null for threads == 1

  ~Avx2Backend() {
    if (threadpool != nullptr) pthreadpool_destroy(threadpool);
  }
};

Avx2Backend& backend_of(const KernelTable& table) { return *static_cast<Avx2Backend*>(table.backend.get()); }

// All-ones in the lanes below `count` (0..8), for masked loads and stores of a partial row.
QPLAY_TARGET_AVX2_FMA inline __m256i first_lanes(int count) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// C[kRows, columns] (+)= A[kRows, depth] · B[depth, columns], columns <= 16. kMaskedB reads B rows
// with masked loads (a last panel read in place, narrower than 16, must not touch memory past N).
template <int kRows, bool kMaskedB>
QPLAY_TARGET_AVX2_FMA void gemm_micro_kernel_6x16_fma(int depth, const float* a, ptrdiff_t a_row_stride,
                                                      ptrdiff_t a_depth_stride, const float* b,
                                                      ptrdiff_t b_depth_stride, int columns, float* c,
                                                      ptrdiff_t ldc, bool accumulate) {
  const __m256i mask_low = first_lanes(std::min(columns, 8));
  const __m256i mask_high = first_lanes(std::max(columns - 8, 0));
  __m256 low[kRows], high[kRows];
#pragma GCC unroll 6
  for (int r = 0; r < kRows; ++r) low[r] = high[r] = _mm256_setzero_ps();
  for (int k = 0; k < depth; ++k, a += a_depth_stride, b += b_depth_stride) {
    __m256 b_low, b_high;
    if constexpr (kMaskedB) {
      b_low = _mm256_maskload_ps(b, mask_low);
      b_high = _mm256_maskload_ps(b + 8, mask_high);
    } else {
      b_low = _mm256_loadu_ps(b);
      b_high = _mm256_loadu_ps(b + 8);
    }
#pragma GCC unroll 6
    for (int r = 0; r < kRows; ++r) {
      const __m256 a_r = _mm256_broadcast_ss(a + r * a_row_stride);
      low[r] = _mm256_fmadd_ps(a_r, b_low, low[r]);
      high[r] = _mm256_fmadd_ps(a_r, b_high, high[r]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < kRows; ++r) {
    float* c_row = c + r * ldc;
    if (columns == kPanelWidth) {
      if (accumulate) {
        low[r] = _mm256_add_ps(_mm256_loadu_ps(c_row), low[r]);
        high[r] = _mm256_add_ps(_mm256_loadu_ps(c_row + 8), high[r]);
      }
      _mm256_storeu_ps(c_row, low[r]);
      _mm256_storeu_ps(c_row + 8, high[r]);
    } else {
      if (accumulate) {
        low[r] = _mm256_add_ps(_mm256_maskload_ps(c_row, mask_low), low[r]);
        high[r] = _mm256_add_ps(_mm256_maskload_ps(c_row + 8, mask_high), high[r]);
      }
      _mm256_maskstore_ps(c_row, mask_low, low[r]);
      _mm256_maskstore_ps(c_row + 8, mask_high, high[r]);
    }
  }
}

template <bool kMaskedB>
constexpr GemmMicroKernel kMicroKernels[kTileRows] = {
    gemm_micro_kernel_6x16_fma<1, kMaskedB>, gemm_micro_kernel_6x16_fma<2, kMaskedB>,
    gemm_micro_kernel_6x16_fma<3, kMaskedB>, gemm_micro_kernel_6x16_fma<4, kMaskedB>,
    gemm_micro_kernel_6x16_fma<5, kMaskedB>, gemm_micro_kernel_6x16_fma<6, kMaskedB>};

GemmMicroKernel avx2_micro_kernel_for(int rows, int columns, bool b_in_place) {
  const bool masked = b_in_place && columns < kPanelWidth;
  return (masked ? kMicroKernels<true> : kMicroKernels<false>)[rows - 1];
}

constexpr GemmTile kAvx2GemmTile = {kTileRows, kPanelWidth, avx2_micro_kernel_for};

// dst[8 rows, stride dst_stride] = the 8x8 block src[8 rows, stride src_stride] transposed.
QPLAY_TARGET_AVX2_FMA inline void transpose_8x8(const float* src, ptrdiff_t src_stride, float* dst,
                                                ptrdiff_t dst_stride) {
  __m256 r[8], t[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * src_stride);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    _mm256_storeu_ps(dst + i * dst_stride, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
    _mm256_storeu_ps(dst + (i + 4) * dst_stride, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
  }
}

QPLAY_TARGET_AVX2_FMA void add_run(const float* source, float* destination, int count);

// One panel of op(B) = Bᵀ, B being [N, K]: panel[K][panel_width] holds columns j0.. of op(B),
// i.e. rows j0.. of B, zero past N. panel_width is a multiple of 8.
QPLAY_TARGET_AVX2_FMA void pack_transposed_b_panel(int N, int K, const float* B, int ldb, int j0,
                                                   int panel_width, float* panel) {
  const int width = std::min(panel_width, N - j0);
  int half = 0;
  for (; half + 8 <= width; half += 8) {
    const float* rows = B + static_cast<size_t>(j0 + half) * ldb;
    int k = 0;
    for (; k + 8 <= K; k += 8) transpose_8x8(rows + k, ldb, panel + k * panel_width + half, panel_width);
    for (; k < K; ++k)
      for (int column = 0; column < 8; ++column)
        panel[k * panel_width + half + column] = rows[column * ldb + k];
  }
  for (int column = half; column < panel_width; ++column) {
    const float* row = B + static_cast<size_t>(j0 + column) * ldb;
    for (int k = 0; k < K; ++k) panel[k * panel_width + column] = column < width ? row[k] : 0.0f;
  }
}

// One product, as the pool tasks see it.
struct GemmTask {
  GemmTile tile;
  int M = 0, N = 0, K = 0;
  const float* a = nullptr;
  ptrdiff_t a_row_stride = 0, a_depth_stride = 0;
  const float* b = nullptr;  // op(B): B[K, N] read in place, or B[N, K] packed a panel slice at a time
  int ldb = 0;
  bool b_transposed = false;
  float* c = nullptr;
  ptrdiff_t ldc = 0;
  bool accumulate = false;
};

// Rows [row_begin, row_begin + rows) of C against the panel starting at column j0, all k blocks.
void run_block(const GemmTask& task, int row_begin, int rows, int j0) {
  const GemmTile& tile = task.tile;
  const int columns = std::min(tile.panel_width, task.N - j0);
  const bool b_in_place = !task.b_transposed;
  // This task's slice of the panel, packed right before its tiles read it, so it is still in L1.
  alignas(64) float packed_slice[kDepthBlock * kMaxPanelWidth];
  const ptrdiff_t b_depth_stride = b_in_place ? task.ldb : tile.panel_width;
  const GemmMicroKernel full_tile = tile.micro_kernel_for(tile.rows, columns, b_in_place);
  const int row_end = row_begin + rows;
  for (int k0 = 0; k0 < task.K; k0 += kDepthBlock) {
    const int depth = std::min(kDepthBlock, task.K - k0);
    const bool accumulate = task.accumulate || k0 > 0;
    const float* b = b_in_place ? task.b + static_cast<size_t>(k0) * task.ldb + j0 : packed_slice;
    if (!b_in_place) {
      pack_transposed_b_panel(task.N, depth, task.b + k0, task.ldb, j0, tile.panel_width, packed_slice);
    }
    for (int i0 = row_begin; i0 < row_end; i0 += tile.rows) {
      const int tile_rows = std::min(tile.rows, row_end - i0);
      const GemmMicroKernel kernel =
          tile_rows == tile.rows ? full_tile : tile.micro_kernel_for(tile_rows, columns, b_in_place);
      kernel(depth, task.a + i0 * task.a_row_stride + k0 * task.a_depth_stride, task.a_row_stride,
             task.a_depth_stride, b, b_depth_stride, columns, task.c + i0 * task.ldc + j0, task.ldc,
             accumulate);
    }
  }
}

void run_block_task(void* context, size_t row_begin, size_t j0, size_t rows, size_t /*columns*/) {
  run_block(*static_cast<const GemmTask*>(context), static_cast<int>(row_begin), static_cast<int>(rows),
            static_cast<int>(j0));
}

// One depth slice's product into its partial C, as in "Depth split" above.
struct SplitDepthTask {
  GemmTask whole;  // with c = the partials, [slices][M, N]
  int slices = 0;
};

void run_depth_slice_task(void* context, size_t slice, size_t row_begin, size_t j0, size_t rows,
                          size_t /*columns*/) {
  const auto& split = *static_cast<const SplitDepthTask*>(context);
  GemmTask task = split.whole;
  const int k0 = static_cast<int>(slice) * kSplitDepth;
  task.K = std::min(kSplitDepth, split.whole.K - k0);
  task.a += k0 * task.a_depth_stride;
  task.b += task.b_transposed ? k0 : static_cast<size_t>(k0) * task.ldb;
  task.c += slice * static_cast<size_t>(task.M) * task.N;
  task.accumulate = false;
  run_block(task, static_cast<int>(row_begin), static_cast<int>(rows), static_cast<int>(j0));
}

bool splits_depth(int M, int N, int K) {
  return K >= 2 * kSplitDepth && static_cast<int64_t>(M) * N <= kMaxSplitOutputs;
}

// C (+)= the sum of the slices' partial products, added in slice order.
void gemm_split_depth(pthreadpool_t threadpool, GemmTask whole, float* C, int ldc, bool accumulate) {
  const int M = whole.M, N = whole.N;
  const size_t outputs = static_cast<size_t>(M) * N;
  SplitDepthTask split;
  split.slices = (whole.K + kSplitDepth - 1) / kSplitDepth;
  std::vector<float> partials(split.slices * outputs);
  whole.c = partials.data(), whole.ldc = N;
  split.whole = whole;
  pthreadpool_parallelize_3d_tile_2d(threadpool, run_depth_slice_task, &split, split.slices, M, N, kRowBlock,
                                     whole.tile.panel_width, /*flags=*/0);
  for (int i = 0; i < M; ++i) {
    float* c_row = C + static_cast<size_t>(i) * ldc;
    if (!accumulate) std::fill_n(c_row, N, 0.0f);
    for (int slice = 0; slice < split.slices; ++slice)
      add_run(partials.data() + slice * outputs + static_cast<size_t>(i) * N, c_row, N);
  }
}

void avx2_gemm(const KernelTable& table, Transpose transpose_a, Transpose transpose_b, int M, int N, int K,
               const float* A, int lda, const float* B, int ldb, float* C, int ldc, bool accumulate) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    if (!accumulate)
      for (int i = 0; i < M; ++i) std::fill_n(C + static_cast<size_t>(i) * ldc, N, 0.0f);
    return;
  }
  Avx2Backend& state = backend_of(table);
  const bool parallel = static_cast<int64_t>(M) * N * K >= kMinMultiplyAddsForThreads;
  pthreadpool_t threadpool = parallel ? state.threadpool : nullptr;

  GemmTask task;
  task.tile = state.gemm_tile;
  const int panel_width = task.tile.panel_width;
  task.M = M, task.N = N, task.K = K;
  task.a = A;
  task.a_row_stride = transpose_a == Transpose::no ? lda : 1;
  task.a_depth_stride = transpose_a == Transpose::no ? 1 : lda;
  task.c = C, task.ldc = ldc, task.accumulate = accumulate;
  task.b = B, task.ldb = ldb, task.b_transposed = transpose_b == Transpose::yes;
  if (splits_depth(M, N, K)) return gemm_split_depth(threadpool, task, C, ldc, accumulate);
  // A task packs its own panel slices, so taller tasks pack a panel fewer times.
  const int row_block = task.b_transposed ? kPackingRowBlock : kRowBlock;
  pthreadpool_parallelize_2d_tile_2d(threadpool, run_block_task, &task, M, N, row_block, panel_width,
                                     /*flags=*/0);
}

// ---------------------------------------------------------------------------------------------
// Convolution lowering and elementwise kernels: memory-bound loops, 8 floats at a time, each sum in
// the reference's order (so these match it bit for bit; only GEMM differs).

void avx2_release_workers(const KernelTable& table) { release_pool_workers(backend_of(table).threadpool); }

void avx2_parallel_for(const KernelTable& table, size_t count, ParallelTask task, void* context) {
  pthreadpool_parallelize_1d(backend_of(table).threadpool, task, context, count, /*flags=*/0);
}

// destination[i] += source[i] for i < count.
QPLAY_TARGET_AVX2_FMA void add_run(const float* source, float* destination, int count) {
  int i = 0;
  for (; i + 8 <= count; i += 8) {
    _mm256_storeu_ps(destination + i,
                     _mm256_add_ps(_mm256_loadu_ps(destination + i), _mm256_loadu_ps(source + i)));
  }
  for (; i < count; ++i) destination[i] += source[i];
}

// source[0, count) to destination.
QPLAY_TARGET_AVX2_FMA void copy_run(const float* source, float* destination, size_t count) {
  size_t i = 0;
  for (; i + 8 <= count; i += 8) _mm256_storeu_ps(destination + i, _mm256_loadu_ps(source + i));
  for (; i < count; ++i) destination[i] = source[i];
}

QPLAY_TARGET_AVX2_FMA void zero_run(float* destination, size_t count) {
  size_t i = 0;
  for (; i + 8 <= count; i += 8) _mm256_storeu_ps(destination + i, _mm256_setzero_ps());
  for (; i < count; ++i) destination[i] = 0.0f;
}

// im2col and col2im by the reference's walk (for_each_kernel_row), the runs moved 8 floats at a time, so
// the bits are the reference's. W2's conv2 has runs of 3 x 16 = 48 floats, which the reference copies
// with memmove calls (3.5% of W2 training) and adds with 4-float SSE code (col2im 5.7%; perf, avx512
// table, 1 thread). Images of up to 4 channels keep the reference's im2col by kernel offset.
void im2col_by_runs(const ConvGeometry& geometry, const float* image, float* columns) {
  if (geometry.in_channels <= 4) return reference_im2col<float>(geometry, image, columns);
  for_each_kernel_row(
      geometry,
      [&](size_t image_offset, size_t column_offset, size_t count) {
        copy_run(image + image_offset, columns + column_offset, count);
      },
      [&](size_t column_offset, size_t count) { zero_run(columns + column_offset, count); });
}

void col2im_by_runs(const ConvGeometry& geometry, const float* columns, float* image) {
  for_each_kernel_row(
      geometry,
      [&](size_t image_offset, size_t column_offset, size_t count) {
        add_run(columns + column_offset, image + image_offset, static_cast<int>(count));
      },
      [](size_t, size_t) {});
}

void avx2_im2col(const KernelTable& table, const ConvGeometry& geometry, const float* image, float* columns) {
  pooled_im2col(backend_of(table).threadpool, geometry, image, columns, im2col_by_runs);
}

void avx2_col2im(const KernelTable& table, const ConvGeometry& geometry, const float* columns, float* image) {
  pooled_col2im(backend_of(table).threadpool, geometry, columns, image, col2im_by_runs);
}

// rows[row_begin..row_end) of add_bias.
void add_bias_rows(const float* bias, float* rows, int N, size_t row_begin, size_t row_end) {
  for (size_t i = row_begin; i < row_end; ++i) add_run(bias, rows + i * N, N);
}

void avx2_sum_rows(const KernelTable&, int M, int N, const float* rows, float* sums, bool accumulate) {
  if (!accumulate) std::fill_n(sums, N, 0.0f);
  for (int i = 0; i < M; ++i) add_run(rows + static_cast<size_t>(i) * N, sums, N);
}

// x < 0 ? 0 : x, so NaN stays NaN (the comparison is false) and -0 stays -0, as in the reference.
QPLAY_TARGET_AVX2_FMA void relu_forward_run(const float* x, float* y, size_t n) {
  const __m256 zero = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 value = _mm256_loadu_ps(x + i);
    _mm256_storeu_ps(y + i, _mm256_andnot_ps(_mm256_cmp_ps(value, zero, _CMP_LT_OQ), value));
  }
  for (; i < n; ++i) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

QPLAY_TARGET_AVX2_FMA void relu_backward_run(const float* y, const float* dy, float* dx, size_t n) {
  const __m256 zero = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 positive = _mm256_cmp_ps(_mm256_loadu_ps(y + i), zero, _CMP_GT_OQ);
    _mm256_storeu_ps(dx + i, _mm256_and_ps(_mm256_loadu_ps(dy + i), positive));
  }
  for (; i < n; ++i) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

// The elementwise passes over a CNN's activations (800k floats for W2's first convolution) split
// into fixed chunks across the pool: each value is computed alone, so the bits do not depend on the
// thread count, and at 2 threads these passes no longer run while the second core waits.
constexpr size_t kElementwiseChunk = size_t{1} << 15;  // floats per pool task

struct ElementwiseTask {
  const float* a = nullptr;
  const float* b = nullptr;
  float* out = nullptr;
  size_t n = 0;
  int columns = 0;  // add_bias: N
};

// Runs run(task, begin, end) over [0, n) in chunks of kElementwiseChunk, on the pool when there is more
// than one chunk.
template <void (*run)(const ElementwiseTask&, size_t, size_t)>
void run_in_chunks(const KernelTable& table, const ElementwiseTask& task, size_t n, size_t chunk) {
  const size_t chunks = (n + chunk - 1) / chunk;
  if (chunks <= 1) return run(task, 0, n);
  struct Chunked {
    const ElementwiseTask* task;
    size_t n, chunk;
  } chunked{&task, n, chunk};
  pthreadpool_parallelize_1d(
      backend_of(table).threadpool,
      [](void* context, size_t index) {
        const auto& c = *static_cast<const Chunked*>(context);
        run(*c.task, index * c.chunk, std::min(c.n, (index + 1) * c.chunk));
      },
      &chunked, chunks, /*flags=*/0);
}

void add_bias_chunk(const ElementwiseTask& t, size_t row_begin, size_t row_end) {
  add_bias_rows(t.a, t.out, t.columns, row_begin, row_end);
}
void relu_forward_chunk(const ElementwiseTask& t, size_t begin, size_t end) {
  relu_forward_run(t.a + begin, t.out + begin, end - begin);
}
void relu_backward_chunk(const ElementwiseTask& t, size_t begin, size_t end) {
  relu_backward_run(t.a + begin, t.b + begin, t.out + begin, end - begin);
}

void avx2_add_bias(const KernelTable& table, int M, int N, const float* bias, float* rows) {
  ElementwiseTask task;
  task.a = bias, task.out = rows, task.columns = N;
  run_in_chunks<add_bias_chunk>(table, task, M, std::max<size_t>(1, kElementwiseChunk / std::max(N, 1)));
}

void avx2_relu_forward(const KernelTable& table, int n, const float* x, float* y) {
  ElementwiseTask task;
  task.a = x, task.out = y;
  run_in_chunks<relu_forward_chunk>(table, task, n, kElementwiseChunk);
}

void avx2_relu_backward(const KernelTable& table, int n, const float* y, const float* dy, float* dx) {
  ElementwiseTask task;
  task.a = y, task.b = dy, task.out = dx;
  run_in_chunks<relu_backward_chunk>(table, task, n, kElementwiseChunk);
}

// Max-pool, 8 channels at a time with the reference's comparisons (so the same bits, NaN and ties
// included; kernel_table.h has the rules), one image per pool task; channel counts that are not a
// multiple of 8 (no CNN here has them) run the reference. _mm256_max_ps(in, m) is
// in > m ? in : m, the reference's std::max(m, in): a NaN input keeps m, a tie keeps the earlier one.
// The rescanning reference backward was 14.6% of W2 training (perf, 1 thread).
QPLAY_TARGET_AVX2_FMA void max_pool_forward_image(const ConvGeometry& g, const float* input, float* output) {
  const int out_h = g.out_height(), out_w = g.out_width(), C = g.in_channels;
  if (C % 8 != 0) return reference_max_pool_forward<float>(g, input, output);
  const size_t row_stride = static_cast<size_t>(g.in_width) * C;
  for (int oy = 0; oy < out_h; ++oy)
    for (int ox = 0; ox < out_w; ++ox, output += C) {
      const float* window = input + (static_cast<size_t>(oy) * g.stride * g.in_width + ox * g.stride) * C;
      for (int c = 0; c < C; c += 8) {
        __m256 maximum = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
        for (int ky = 0; ky < g.kernel; ++ky)
          for (int kx = 0; kx < g.kernel; ++kx)
            maximum = _mm256_max_ps(_mm256_loadu_ps(window + ky * row_stride + kx * C + c), maximum);
        _mm256_storeu_ps(output + c, maximum);
      }
    }
}

// One image of reference_max_pool_backward: the same 0/1 flags times the gradient, added in the same order.
// relu_before stores 0 where the input is not > 0 at every add, which leaves what the ReLU's own backward
// pass would have (its 7.5% + 2.6% of W2 training were two passes over the same 800k floats).
QPLAY_TARGET_AVX2_FMA void max_pool_backward_image(const ConvGeometry& g, const float* input,
                                                   const float* output, const float* output_grad,
                                                   float* input_grad, bool relu_before) {
  const int out_h = g.out_height(), out_w = g.out_width(), C = g.in_channels;
  if (C % 8 != 0) {
    return reference_max_pool_backward<float>(g, input, output, output_grad, input_grad, relu_before);
  }
  std::fill_n(input_grad, static_cast<size_t>(g.in_height) * g.in_width * C, 0.0f);
  const size_t row_stride = static_cast<size_t>(g.in_width) * C;
  const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
  // All-ones lanes: the ReLU passes the gradient (every lane without relu_before).
  const __m256 pass_all = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
  for (int oy = 0; oy < out_h; ++oy)
    for (int ox = 0; ox < out_w; ++ox, output += C, output_grad += C) {
      const size_t origin = (static_cast<size_t>(oy) * g.stride * g.in_width + ox * g.stride) * C;
      for (int c = 0; c < C; c += 8) {
        const __m256 maximum = _mm256_loadu_ps(output + c), grad = _mm256_loadu_ps(output_grad + c);
        __m256 taken = _mm256_setzero_ps();  // all-ones lanes once a channel's gradient is handed out
        for (int ky = 0; ky < g.kernel; ++ky)
          for (int kx = 0; kx < g.kernel; ++kx) {
            const size_t at = origin + ky * row_stride + static_cast<size_t>(kx) * C + c;
            const __m256 in = _mm256_loadu_ps(input + at);
            // The first element also takes a NaN (not below anything); the others only equality.
            const __m256 hit = ky == 0 && kx == 0
                                   ? _mm256_cmp_ps(in, maximum, _CMP_NLT_UQ)
                                   : _mm256_andnot_ps(taken, _mm256_cmp_ps(in, maximum, _CMP_EQ_OQ));
            const __m256 routed = _mm256_mul_ps(_mm256_and_ps(hit, one), grad);
            const __m256 passes = relu_before ? _mm256_cmp_ps(in, zero, _CMP_GT_OQ) : pass_all;
            _mm256_storeu_ps(input_grad + at,
                             _mm256_and_ps(_mm256_add_ps(_mm256_loadu_ps(input_grad + at), routed), passes));
            taken = _mm256_or_ps(taken, hit);
          }
      }
    }
}

// One image of a batched max-pool per pool task.
struct MaxPoolTask {
  ConvGeometry one_image;
  size_t input_stride = 0, output_stride = 0;  // floats per image
  const float* input = nullptr;
  const float* output = nullptr;
  const float* output_grad = nullptr;
  float* forward_output = nullptr;
  float* input_grad = nullptr;
  bool relu_before = false;
};

MaxPoolTask max_pool_task(const ConvGeometry& geometry) {
  MaxPoolTask task;
  task.one_image = geometry;
  task.one_image.batch = 1;
  task.input_stride = static_cast<size_t>(geometry.in_height) * geometry.in_width * geometry.in_channels;
  task.output_stride =
      static_cast<size_t>(geometry.out_height()) * geometry.out_width() * geometry.in_channels;
  return task;
}

// Below this many input floats one thread pools faster than two.
constexpr size_t kMinPoolInputForThreads = size_t{1} << 16;

pthreadpool_t pool_for(const KernelTable& table, const ConvGeometry& geometry) {
  const size_t input =
      static_cast<size_t>(geometry.batch) * geometry.in_height * geometry.in_width * geometry.in_channels;
  return input >= kMinPoolInputForThreads ? backend_of(table).threadpool : nullptr;
}

void avx2_max_pool_forward(const KernelTable& table, const ConvGeometry& geometry, const float* input,
                           float* output) {
  MaxPoolTask task = max_pool_task(geometry);
  task.input = input, task.forward_output = output;
  pthreadpool_parallelize_1d(
      pool_for(table, geometry),
      [](void* context, size_t image) {
        const auto& t = *static_cast<const MaxPoolTask*>(context);
        max_pool_forward_image(t.one_image, t.input + image * t.input_stride,
                               t.forward_output + image * t.output_stride);
      },
      &task, geometry.batch, /*flags=*/0);
}

void avx2_max_pool_backward(const KernelTable& table, const ConvGeometry& geometry, const float* input,
                            const float* output, const float* output_grad, float* input_grad,
                            bool relu_before) {
  MaxPoolTask task = max_pool_task(geometry);
  task.input = input, task.output = output, task.output_grad = output_grad, task.input_grad = input_grad;
  task.relu_before = relu_before;
  pthreadpool_parallelize_1d(
      pool_for(table, geometry),
      [](void* context, size_t image) {
        const auto& t = *static_cast<const MaxPoolTask*>(context);
        max_pool_backward_image(t.one_image, t.input + image * t.input_stride,
                                t.output + image * t.output_stride, t.output_grad + image * t.output_stride,
                                t.input_grad + image * t.input_stride, t.relu_before);
      },
      &task, geometry.batch, /*flags=*/0);
}

// ---------------------------------------------------------------------------------------------
// conv3x3_one_channel (kernel_table.h). W2's conv1 (28x28x1 -> 16) lowered to 9 floats per pixel
// and a GEMM at k = 9 spends its time storing columns and C, then reads C back for bias and ReLU.
// Here each image is copied once into a zero border (the zeros its columns would hold) and each
// pixel's outputs are 9 broadcast-FMAs in the GEMM's k order from a zero accumulator, then + bias:
// the bits of im2col, GEMM and add_bias, stored once, ReLU included.

constexpr int kDirectConvTaps = 9;

struct DirectConvTask {
  ConvGeometry one_image;
  int outputs = 0, padded_outputs = 0;  // padded_outputs: a multiple of 8
  const float* taps = nullptr;          // weight transposed, [9][padded_outputs], zero past outputs
  const float* bias = nullptr;          // [padded_outputs], zero past outputs
  const float* image = nullptr;
  float* output = nullptr;
  float* relu_output = nullptr;  // null: no ReLU
};

QPLAY_TARGET_AVX2_FMA void store_conv_outputs(__m256 sum, __m256i mask, bool whole, float* output,
                                              float* relu_output) {
  const __m256 relu = _mm256_andnot_ps(_mm256_cmp_ps(sum, _mm256_setzero_ps(), _CMP_LT_OQ), sum);
  if (whole) {
    _mm256_storeu_ps(output, sum);
    if (relu_output) _mm256_storeu_ps(relu_output, relu);
  } else {
    _mm256_maskstore_ps(output, mask, sum);
    if (relu_output) _mm256_maskstore_ps(relu_output, mask, relu);
  }
}

// One image: 8 output channels of 4 pixels at a time (4 accumulators, 9 weight vectors in registers).
QPLAY_TARGET_AVX2_FMA void conv3x3_one_channel_image(const DirectConvTask& t, size_t image) {
  const int height = t.one_image.in_height, width = t.one_image.in_width, outputs = t.outputs;
  const int padded_width = width + 2;
  std::vector<float> padded(static_cast<size_t>(height + 2) * padded_width, 0.0f);
  const float* source = t.image + image * height * width;
  for (int y = 0; y < height; ++y)
    std::copy_n(source + static_cast<size_t>(y) * width, width, padded.data() + (y + 1) * padded_width + 1);
  const size_t image_outputs = static_cast<size_t>(height) * width * outputs;
  float* output = t.output + image * image_outputs;
  float* relu_output = t.relu_output ? t.relu_output + image * image_outputs : nullptr;
  for (int o0 = 0; o0 < outputs; o0 += 8) {
    const bool whole = outputs - o0 >= 8;
    const __m256i mask = first_lanes(std::min(8, outputs - o0));
    __m256 weights[kDirectConvTaps];
    for (int tap = 0; tap < kDirectConvTaps; ++tap)
      weights[tap] = _mm256_loadu_ps(t.taps + tap * t.padded_outputs + o0);
    const __m256 bias = _mm256_loadu_ps(t.bias + o0);
    for (int y = 0; y < height; ++y) {
      const float* window = padded.data() + static_cast<size_t>(y) * padded_width;  // row y - 1, column -1
      const size_t row = static_cast<size_t>(y) * width;
      int x = 0;
      for (; x + 4 <= width; x += 4) {
        __m256 sums[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
        for (int tap = 0; tap < kDirectConvTaps; ++tap) {
          const float* at = window + (tap / 3) * padded_width + tap % 3 + x;
#pragma GCC unroll 4
          for (int p = 0; p < 4; ++p)
            sums[p] = _mm256_fmadd_ps(_mm256_broadcast_ss(at + p), weights[tap], sums[p]);
        }
#pragma GCC unroll 4
        for (int p = 0; p < 4; ++p) {
          const size_t at = (row + x + p) * outputs + o0;
          store_conv_outputs(_mm256_add_ps(sums[p], bias), mask, whole, output + at,
                             relu_output ? relu_output + at : nullptr);
        }
      }
      for (; x < width; ++x) {
        __m256 sum = _mm256_setzero_ps();
        for (int tap = 0; tap < kDirectConvTaps; ++tap)
          sum = _mm256_fmadd_ps(_mm256_broadcast_ss(window + (tap / 3) * padded_width + tap % 3 + x),
                                weights[tap], sum);
        const size_t at = (row + x) * outputs + o0;
        store_conv_outputs(_mm256_add_ps(sum, bias), mask, whole, output + at,
                           relu_output ? relu_output + at : nullptr);
      }
    }
  }
}

void avx2_conv3x3_one_channel(const KernelTable& table, const ConvGeometry& geometry, int outputs,
                              const float* image, const float* weight, const float* bias, float* output,
                              float* relu_output) {
  assert(geometry.in_channels == 1 && geometry.kernel == 3 && geometry.stride == 1 && geometry.padding == 1);
  DirectConvTask task;
  task.one_image = geometry;
  task.one_image.batch = 1;
  task.outputs = outputs;
  task.padded_outputs = (outputs + 7) / 8 * 8;
  std::vector<float> taps(static_cast<size_t>(kDirectConvTaps) * task.padded_outputs, 0.0f);
  std::vector<float> padded_bias(task.padded_outputs, 0.0f);
  for (int o = 0; o < outputs; ++o)
    for (int tap = 0; tap < kDirectConvTaps; ++tap)
      taps[tap * task.padded_outputs + o] = weight[o * kDirectConvTaps + tap];
  std::copy_n(bias, outputs, padded_bias.data());
  task.taps = taps.data(), task.bias = padded_bias.data();
  task.image = image, task.output = output, task.relu_output = relu_output;
  const size_t values =
      static_cast<size_t>(geometry.batch) * geometry.in_height * geometry.in_width * outputs;
  pthreadpool_parallelize_1d(
      values >= kMinPoolInputForThreads ? backend_of(table).threadpool : nullptr,
      [](void* context, size_t image) {
        conv3x3_one_channel_image(*static_cast<const DirectConvTask*>(context), image);
      },
      &task, geometry.batch, /*flags=*/0);
}

}  // namespace

bool cpu_has_avx2_fma() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

Result<std::shared_ptr<const KernelTable>> make_avx2_kernel_table(int threads) {
  return make_avx2_kernel_table_with_gemm_tile("avx2", threads, kAvx2GemmTile);
}

Result<std::shared_ptr<const KernelTable>> make_avx2_kernel_table_with_gemm_tile(const std::string& name,
                                                                                 int threads,
                                                                                 const GemmTile& gemm_tile) {
  if (threads < 1 || threads > 64) {
    return Status::error(name + ": threads must be between 1 and 64, got " + std::to_string(threads));
  }
  if (!cpu_has_avx2_fma()) {
    return Status::error(name + ": this CPU lacks AVX2 or FMA3; use the reference kernels");
  }
  // Whole tiles per row block, and panels the 8x8 packing fills.
  assert(gemm_tile.rows >= 1 && kRowBlock % gemm_tile.rows == 0 && kPackingRowBlock % gemm_tile.rows == 0);
  assert(gemm_tile.panel_width % 8 == 0 && gemm_tile.panel_width <= kMaxPanelWidth);
  auto state = std::make_shared<Avx2Backend>();
  state->gemm_tile = gemm_tile;
  if (threads > 1) {
    state->threadpool = pthreadpool_create(static_cast<size_t>(threads));
    if (state->threadpool == nullptr) {
      return Status::error(name + ": could not create a pool of " + std::to_string(threads) + " threads");
    }
  }
  auto table = std::make_shared<KernelTable>();
  table->name = name;
  table->threads = threads;
  table->backend = std::move(state);
  table->gemm = avx2_gemm;
  table->im2col = avx2_im2col;
  table->col2im = avx2_col2im;
  table->add_bias = avx2_add_bias;
  table->sum_rows = avx2_sum_rows;
  table->relu_forward = avx2_relu_forward;
  table->relu_backward = avx2_relu_backward;
  table->max_pool_forward = avx2_max_pool_forward;
  table->max_pool_backward = avx2_max_pool_backward;
  table->conv3x3_one_channel = avx2_conv3x3_one_channel;
  if (threads > 1) table->release_workers = avx2_release_workers;
  if (threads > 1) table->parallel_for = avx2_parallel_for;
  return std::shared_ptr<const KernelTable>(std::move(table));
}

}  // namespace qplay

// The "simd128" KernelTable (see simd128_kernels.h): GEMM on a 4x8 register-blocked micro-kernel
// over packed panels, vectorized col2im/add_bias/sum_rows/relu/max-pool, the reference im2col (memcpy
// runs), and a direct one-channel 3x3 convolution (conv3x3_one_channel) with the bits of its lowering.
//
// Bit-identical to the reference table. Every element of C is one f32x4 lane that starts at 0 and
// adds a*b in increasing k, which is exactly reference_gemm's order (baseline WASM SIMD has no FMA,
// the engine builds with -ffp-contract=off), and with accumulate the product is added to C at the
// end, as there. So "auto" switching the WASM build to this table changes no result of any test or
// training run; tests/engine/kernels_simd128_test.cpp checks the bits, kernels_test.cpp the
// tolerance against double. That rules out splitting a sum (several accumulators per element, or a
// K-blocked partial product added to C), and nothing measured below asked for it.
//
// Measured under node 20 (V8) on the project's 2-vCPU VM, one thread, after a 1 s warm-up, minimum
// of 15 calls, best of two runs on a quiet machine (load < 1). GFLOP/s = 2MNK / time.
// clang-format off
//   product (transposes)          M x N x K      simd128            reference
//   512^3 (no, no)              512 x 512 x 512   32.0 (8395 us)    18.0 (14914 us)
//   dX L1 (no, no)              128 x 784 x 256   30.8 (1668 us)    21.5 ( 2388 us)
//   forward L1 (no, yes)        128 x 256 x 784   29.6 (1736 us)    19.3 ( 2661 us)
//   dW1 (yes, no)               256 x 784 x 128   30.8 (1668 us)    20.8 ( 2474 us)
//   dX L2 (no, no)              128 x 256 x 256   30.5 ( 550 us)    19.8 (  848 us)
// clang-format on
// (XNNPACK's own wasmsimd GEMM: 33-39 GFLOP/s at 512^3 on this machine class, toolchain.md 4.)
//
// Why each choice (GFLOP/s at 512^3 and the MLP shapes, ranges over runs while another build held
// the machine, so compare within a line, not with the table):
// - 4x8 tile, k loop NOT unrolled: 30-33. Unrolling is what hurts: clang (14) reorders an unrolled
//   body accumulator by accumulator (seen in the .wasm), so every B vector and A broadcast of the
//   unrolled k steps is live at once; on 16 xmm registers V8 must then spill (inferred from the
//   timings, not read from V8's code): 4x8 unrolled by 2: 22, by 4: 13-18.
// - 6x8 (12 accumulators + 2 B + 1 A = 15 registers): 13-20 unrolled by 4, 19 not unrolled; 5x8:
//   14-19. Both are at or past V8's register budget, so the larger tile's better load ratio never pays.
// - op(A) packed per 4-row tile ([K][4], zero rows past M): one sequential stream and a single
//   load32_splat per element whatever the transpose; M*K copies against 2*M*N*K flops.
// - op(B) packed once per call into 8-wide panels ([K][8], zero columns past N): B^T (the forward
//   pass) is transposed 4x4 with shuffles, which keeps it level with the plain case (forward L1
//   as (no, yes) and as (no, no): within the run-to-run noise). Packed weights are not cached:
//   training changes them every step.
// - Tails: rows past M and columns past N are zero in the packed operands, so the micro-kernel is
//   always the full 4x8 one; only the store is narrowed (through a buffer for < 8 columns).
// - The other entries are memory-bound loops: f32x4 over contiguous runs, same order of additions
//   as the reference (so, again, the same bits).
#if defined(__wasm_simd128__)

#include "core/engine/kernels/simd128_kernels.h"

#include <wasm_simd128.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <limits>
#include <vector>

#include "core/engine/kernels/reference_kernels.h"

namespace qplay {
namespace {

// The micro-kernel tile: kTileRows rows of op(A) times one panel of kPanelWidth columns of op(B),
// held in kTileRows x 2 f32x4 accumulators.
constexpr int kTileRows = 4;
constexpr int kPanelWidth = 8;

// Packing buffers, owned by the table through KernelTable::backend and grown as needed.
struct PackingScratch {
  std::vector<float> a_tile;    // [K][kTileRows]: one tile of op(A), k-major, rows past M zero
  std::vector<float> b_panels;  // ceil(N / 8) panels of [K][8]: op(B), columns past N zero
};

PackingScratch& scratch_of(const KernelTable& table) {
  return *static_cast<PackingScratch*>(table.backend.get());
}

// op(B)[K, N] -> panels of [K][8], panel p holding columns 8p..8p+7 (zero past N). B[K, N] is copied
// one f32x4 pair per k; B[N, K] is transposed four k by four columns with shuffles.
void pack_b_panels(Transpose transpose_b, int N, int K, const float* B, int ldb, float* panels) {
  for (int j0 = 0; j0 < N; j0 += kPanelWidth) {
    const int width = std::min(kPanelWidth, N - j0);
    float* panel = panels + static_cast<size_t>(j0) * K;
    if (transpose_b == Transpose::no) {
      const float* source = B + j0;
      if (width == kPanelWidth) {
        for (int k = 0; k < K; ++k, source += ldb) {
          wasm_v128_store(panel + k * kPanelWidth, wasm_v128_load(source));
          wasm_v128_store(panel + k * kPanelWidth + 4, wasm_v128_load(source + 4));
        }
      } else {
        for (int k = 0; k < K; ++k, source += ldb) {
          float* row = panel + k * kPanelWidth;
          std::copy_n(source, width, row);
          std::fill(row + width, row + kPanelWidth, 0.0f);
        }
      }
      continue;
    }
    // B[N, K]: columns j0.. of op(B) are rows j0.. of B.
    int half = 0;
    for (; half + 4 <= width; half += 4) {
      const float* r0 = B + static_cast<size_t>(j0 + half) * ldb;
      const float *r1 = r0 + ldb, *r2 = r1 + ldb, *r3 = r2 + ldb;
      int k = 0;
      for (; k + 4 <= K; k += 4) {
        const v128_t x0 = wasm_v128_load(r0 + k), x1 = wasm_v128_load(r1 + k);
        const v128_t x2 = wasm_v128_load(r2 + k), x3 = wasm_v128_load(r3 + k);
        const v128_t t01_low = wasm_i32x4_shuffle(x0, x1, 0, 4, 1, 5);
        const v128_t t23_low = wasm_i32x4_shuffle(x2, x3, 0, 4, 1, 5);
        const v128_t t01_high = wasm_i32x4_shuffle(x0, x1, 2, 6, 3, 7);
        const v128_t t23_high = wasm_i32x4_shuffle(x2, x3, 2, 6, 3, 7);
        float* out = panel + k * kPanelWidth + half;
        wasm_v128_store(out, wasm_i64x2_shuffle(t01_low, t23_low, 0, 2));
        wasm_v128_store(out + kPanelWidth, wasm_i64x2_shuffle(t01_low, t23_low, 1, 3));
        wasm_v128_store(out + 2 * kPanelWidth, wasm_i64x2_shuffle(t01_high, t23_high, 0, 2));
        wasm_v128_store(out + 3 * kPanelWidth, wasm_i64x2_shuffle(t01_high, t23_high, 1, 3));
      }
      for (; k < K; ++k) {
        float* out = panel + k * kPanelWidth + half;
        out[0] = r0[k], out[1] = r1[k], out[2] = r2[k], out[3] = r3[k];
      }
    }
    for (int column = half; column < kPanelWidth; ++column) {
      const float* source = B + static_cast<size_t>(j0 + column) * ldb;
      for (int k = 0; k < K; ++k) panel[k * kPanelWidth + column] = column < width ? source[k] : 0.0f;
    }
  }
}

// Rows i0..i0+rows-1 of op(A)[M, K] -> tile[K][kTileRows], zero past `rows`, so the micro-kernel
// reads one sequential stream and broadcasts each element with a single load32_splat.
void pack_a_tile(Transpose transpose_a, int i0, int rows, int K, const float* A, int lda, float* tile) {
  if (transpose_a == Transpose::yes) {  // A[K, M]: the tile's rows sit side by side in each row of A
    const float* source = A + i0;
    for (int k = 0; k < K; ++k, source += lda) {
      float* out = tile + k * kTileRows;
      std::copy_n(source, rows, out);
      std::fill(out + rows, out + kTileRows, 0.0f);
    }
    return;
  }
  for (int r = 0; r < kTileRows; ++r) {
    const float* source = A + static_cast<size_t>(i0 + r) * lda;
    if (r < rows) {
      for (int k = 0; k < K; ++k) tile[k * kTileRows + r] = source[k];
    } else {
      for (int k = 0; k < K; ++k) tile[k * kTileRows + r] = 0.0f;
    }
  }
}

// C[rows, columns] (+)= tile · panel over K, rows <= 4 and columns <= 8. Per k: two f32x4 of the
// B panel, four broadcast A values, 8 mul + 8 add; each accumulator adds its products in increasing
// k, exactly like reference_gemm. The k loop is deliberately not unrolled (see the top). A full
// 8-wide tile is stored straight from the accumulators; a narrower one goes through a small buffer.
void gemm_4x8_micro_kernel__wasmsimd(int K, const float* a, const float* b, float* c, int ldc, int rows,
                                     int columns, bool accumulate) {
  v128_t c0_low = wasm_f32x4_const_splat(0.0f), c0_high = c0_low, c1_low = c0_low, c1_high = c0_low;
  v128_t c2_low = c0_low, c2_high = c0_low, c3_low = c0_low, c3_high = c0_low;
#pragma clang loop unroll(disable)
  for (int k = 0; k < K; ++k, a += kTileRows, b += kPanelWidth) {
    const v128_t b_low = wasm_v128_load(b), b_high = wasm_v128_load(b + 4);
    v128_t a_r = wasm_v128_load32_splat(a);
    c0_low = wasm_f32x4_add(c0_low, wasm_f32x4_mul(a_r, b_low));
    c0_high = wasm_f32x4_add(c0_high, wasm_f32x4_mul(a_r, b_high));
    a_r = wasm_v128_load32_splat(a + 1);
    c1_low = wasm_f32x4_add(c1_low, wasm_f32x4_mul(a_r, b_low));
    c1_high = wasm_f32x4_add(c1_high, wasm_f32x4_mul(a_r, b_high));
    a_r = wasm_v128_load32_splat(a + 2);
    c2_low = wasm_f32x4_add(c2_low, wasm_f32x4_mul(a_r, b_low));
    c2_high = wasm_f32x4_add(c2_high, wasm_f32x4_mul(a_r, b_high));
    a_r = wasm_v128_load32_splat(a + 3);
    c3_low = wasm_f32x4_add(c3_low, wasm_f32x4_mul(a_r, b_low));
    c3_high = wasm_f32x4_add(c3_high, wasm_f32x4_mul(a_r, b_high));
  }
  const v128_t accumulators[kTileRows][2] = {
      {c0_low, c0_high}, {c1_low, c1_high}, {c2_low, c2_high}, {c3_low, c3_high}};
  if (columns == kPanelWidth) {
    for (int r = 0; r < rows; ++r) {
      float* c_row = c + static_cast<size_t>(r) * ldc;
      v128_t low = accumulators[r][0], high = accumulators[r][1];
      if (accumulate) {
        low = wasm_f32x4_add(wasm_v128_load(c_row), low);
        high = wasm_f32x4_add(wasm_v128_load(c_row + 4), high);
      }
      wasm_v128_store(c_row, low);
      wasm_v128_store(c_row + 4, high);
    }
    return;
  }
  float buffer[kPanelWidth];
  for (int r = 0; r < rows; ++r) {
    float* c_row = c + static_cast<size_t>(r) * ldc;
    wasm_v128_store(buffer, accumulators[r][0]);
    wasm_v128_store(buffer + 4, accumulators[r][1]);
    for (int j = 0; j < columns; ++j) c_row[j] = accumulate ? c_row[j] + buffer[j] : buffer[j];
  }
}

void simd128_gemm(const KernelTable& table, Transpose transpose_a, Transpose transpose_b, int M, int N, int K,
                  const float* A, int lda, const float* B, int ldb, float* C, int ldc, bool accumulate) {
  if (M == 0 || N == 0) return;
  PackingScratch& scratch = scratch_of(table);
  const int panels = (N + kPanelWidth - 1) / kPanelWidth;
  const size_t b_size = static_cast<size_t>(panels) * kPanelWidth * K;
  if (scratch.b_panels.size() < b_size) scratch.b_panels.resize(b_size);
  const size_t a_size = static_cast<size_t>(kTileRows) * K;
  if (scratch.a_tile.size() < a_size) scratch.a_tile.resize(a_size);
  pack_b_panels(transpose_b, N, K, B, ldb, scratch.b_panels.data());
  for (int i0 = 0; i0 < M; i0 += kTileRows) {
    const int rows = std::min(kTileRows, M - i0);
    pack_a_tile(transpose_a, i0, rows, K, A, lda, scratch.a_tile.data());
    float* c_rows = C + static_cast<size_t>(i0) * ldc;
    for (int j0 = 0; j0 < N; j0 += kPanelWidth) {
      gemm_4x8_micro_kernel__wasmsimd(K, scratch.a_tile.data(),
                                      scratch.b_panels.data() + static_cast<size_t>(j0) * K, c_rows + j0, ldc,
                                      rows, std::min(kPanelWidth, N - j0), accumulate);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Convolution lowering and elementwise kernels.

void simd128_im2col(const KernelTable&, const ConvGeometry& geometry, const float* image, float* columns) {
  reference_im2col<float>(geometry, image, columns);  // already memcpy/memset runs
}

// image[offset..] += columns[..] over one run, four at a time.
void add_run(const float* source, float* destination, size_t count) {
  size_t i = 0;
  for (; i + 4 <= count; i += 4) {
    wasm_v128_store(destination + i,
                    wasm_f32x4_add(wasm_v128_load(destination + i), wasm_v128_load(source + i)));
  }
  for (; i < count; ++i) destination[i] += source[i];
}

void simd128_col2im(const KernelTable&, const ConvGeometry& geometry, const float* columns, float* image) {
  for_each_kernel_row(
      geometry,
      [&](size_t image_offset, size_t column_offset, size_t count) {
        add_run(columns + column_offset, image + image_offset, count);
      },
      [](size_t, size_t) {});
}

void simd128_add_bias(const KernelTable&, int M, int N, const float* bias, float* rows) {
  for (int i = 0; i < M; ++i) add_run(bias, rows + static_cast<size_t>(i) * N, N);
}

void simd128_sum_rows(const KernelTable&, int M, int N, const float* rows, float* sums, bool accumulate) {
  if (!accumulate) std::fill_n(sums, N, 0.0f);
  for (int i = 0; i < M; ++i) add_run(rows + static_cast<size_t>(i) * N, sums, N);
}

// x < 0 ? 0 : x, so NaN stays NaN (the comparison is false) and -0 stays -0, as in the reference.
void simd128_relu_forward(const KernelTable&, int n, const float* x, float* y) {
  const v128_t zero = wasm_f32x4_const_splat(0.0f);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const v128_t value = wasm_v128_load(x + i);
    wasm_v128_store(y + i, wasm_v128_andnot(value, wasm_f32x4_lt(value, zero)));
  }
  for (; i < n; ++i) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

void simd128_relu_backward(const KernelTable&, int n, const float* y, const float* dy, float* dx) {
  const v128_t zero = wasm_f32x4_const_splat(0.0f);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const v128_t positive = wasm_f32x4_gt(wasm_v128_load(y + i), zero);
    wasm_v128_store(dx + i, wasm_v128_and(wasm_v128_load(dy + i), positive));
  }
  for (; i < n; ++i) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

// Max-pool, 4 channels at a time with the reference's comparisons, so the same bits (NaN and ties
// included); channel counts that are not a multiple of 4 run the reference. pmax(m, in) is m < in ? in : m,
// the reference's std::max(m, in); f32x4.max would turn a NaN input into a NaN output instead of skipping it.
void simd128_max_pool_forward(const KernelTable&, const ConvGeometry& g, const float* input, float* output) {
  const int out_h = g.out_height(), out_w = g.out_width(), C = g.in_channels;
  if (C % 4 != 0) return reference_max_pool_forward<float>(g, input, output);
  const size_t row_stride = static_cast<size_t>(g.in_width) * C;
  for (int b = 0; b < g.batch; ++b)
    for (int oy = 0; oy < out_h; ++oy)
      for (int ox = 0; ox < out_w; ++ox, output += C) {
        const float* window =
            input + ((static_cast<size_t>(b) * g.in_height + oy * g.stride) * g.in_width + ox * g.stride) * C;
        for (int c = 0; c < C; c += 4) {
          v128_t maximum = wasm_f32x4_splat(-std::numeric_limits<float>::infinity());
          for (int ky = 0; ky < g.kernel; ++ky)
            for (int kx = 0; kx < g.kernel; ++kx)
              maximum = wasm_f32x4_pmax(maximum, wasm_v128_load(window + ky * row_stride + kx * C + c));
          wasm_v128_store(output + c, maximum);
        }
      }
}

// As reference_max_pool_backward: the same 0/1 flags times the gradient, added in the same order;
// relu_before stores 0 where the input is not > 0 at every add (the ReLU's backward, folded in).
void simd128_max_pool_backward(const KernelTable&, const ConvGeometry& g, const float* input,
                               const float* output, const float* output_grad, float* input_grad,
                               bool relu_before) {
  const int out_h = g.out_height(), out_w = g.out_width(), C = g.in_channels;
  if (C % 4 != 0) {
    return reference_max_pool_backward<float>(g, input, output, output_grad, input_grad, relu_before);
  }
  std::fill_n(input_grad, static_cast<size_t>(g.batch) * g.in_height * g.in_width * C, 0.0f);
  const size_t row_stride = static_cast<size_t>(g.in_width) * C;
  const v128_t one = wasm_f32x4_splat(1.0f), zero = wasm_f32x4_splat(0.0f);
  const v128_t pass_all = wasm_i32x4_splat(-1);  // the ReLU passes every lane without relu_before
  for (int b = 0; b < g.batch; ++b)
    for (int oy = 0; oy < out_h; ++oy)
      for (int ox = 0; ox < out_w; ++ox, output += C, output_grad += C) {
        const size_t origin =
            ((static_cast<size_t>(b) * g.in_height + oy * g.stride) * g.in_width + ox * g.stride) * C;
        for (int c = 0; c < C; c += 4) {
          const v128_t maximum = wasm_v128_load(output + c), grad = wasm_v128_load(output_grad + c);
          v128_t taken = wasm_i32x4_splat(0);  // all-ones lanes once a channel's gradient is handed out
          for (int ky = 0; ky < g.kernel; ++ky)
            for (int kx = 0; kx < g.kernel; ++kx) {
              const size_t at = origin + ky * row_stride + static_cast<size_t>(kx) * C + c;
              const v128_t in = wasm_v128_load(input + at);
              // The first element also takes a NaN (not below anything); the others only equality.
              const v128_t hit = ky == 0 && kx == 0 ? wasm_v128_not(wasm_f32x4_lt(in, maximum))
                                                    : wasm_v128_andnot(wasm_f32x4_eq(in, maximum), taken);
              const v128_t routed = wasm_f32x4_mul(wasm_v128_and(hit, one), grad);
              const v128_t passes = relu_before ? wasm_f32x4_gt(in, zero) : pass_all;
              wasm_v128_store(input_grad + at,
                              wasm_v128_and(wasm_f32x4_add(wasm_v128_load(input_grad + at), routed), passes));
              taken = wasm_v128_or(taken, hit);
            }
        }
      }
}

// conv3x3_one_channel (kernel_table.h): each image copied once into a zero border (the zeros its
// columns would hold), then 4 output channels of 4 pixels at a time, each lane adding its 9 products
// from 0 in (ky, kx) order, as the GEMM above adds them, then the bias: the bits of im2col, GEMM and
// add_bias (so the reference's), without storing 9 columns per pixel and reading C back twice.
constexpr int kDirectConvTaps = 9;

// Lanes [0, count) of value to destination, count <= 4.
void store_lanes(v128_t value, float* destination, int count) {
  if (count == 4) return wasm_v128_store(destination, value);
  float buffer[4];
  wasm_v128_store(buffer, value);
  std::copy_n(buffer, count, destination);
}

void store_conv_outputs(v128_t sum, int count, float* output, float* relu_output) {
  store_lanes(sum, output, count);
  if (relu_output) {
    store_lanes(wasm_v128_andnot(sum, wasm_f32x4_lt(sum, wasm_f32x4_const_splat(0.0f))), relu_output, count);
  }
}

void simd128_conv3x3_one_channel(const KernelTable&, const ConvGeometry& g, int outputs, const float* image,
                                 const float* weight, const float* bias, float* output, float* relu_output) {
  const int height = g.in_height, width = g.in_width, padded_width = width + 2;
  const int padded_outputs = (outputs + 3) / 4 * 4;
  std::vector<float> taps(static_cast<size_t>(kDirectConvTaps) * padded_outputs, 0.0f);
  std::vector<float> padded_bias(padded_outputs, 0.0f);
  for (int o = 0; o < outputs; ++o)
    for (int tap = 0; tap < kDirectConvTaps; ++tap)
      taps[tap * padded_outputs + o] = weight[o * kDirectConvTaps + tap];
  std::copy_n(bias, outputs, padded_bias.data());
  std::vector<float> padded(static_cast<size_t>(height + 2) * padded_width, 0.0f);
  for (int b = 0; b < g.batch; ++b, image += height * width) {
    for (int y = 0; y < height; ++y)
      std::copy_n(image + static_cast<size_t>(y) * width, width, padded.data() + (y + 1) * padded_width + 1);
    for (int o0 = 0; o0 < outputs; o0 += 4) {
      const int count = std::min(4, outputs - o0);
      const v128_t bias_lanes = wasm_v128_load(padded_bias.data() + o0);
      for (int y = 0; y < height; ++y) {
        const float* window = padded.data() + static_cast<size_t>(y) * padded_width;  // row y - 1, column -1
        const size_t row = (static_cast<size_t>(b) * height + y) * width;
        int x = 0;
        for (; x + 4 <= width; x += 4) {
          v128_t sums[4] = {wasm_f32x4_const_splat(0.0f), wasm_f32x4_const_splat(0.0f),
                            wasm_f32x4_const_splat(0.0f), wasm_f32x4_const_splat(0.0f)};
          for (int tap = 0; tap < kDirectConvTaps; ++tap) {
            const v128_t w = wasm_v128_load(taps.data() + tap * padded_outputs + o0);
            const float* at = window + (tap / 3) * padded_width + tap % 3 + x;
            for (int p = 0; p < 4; ++p)
              sums[p] = wasm_f32x4_add(sums[p], wasm_f32x4_mul(wasm_v128_load32_splat(at + p), w));
          }
          for (int p = 0; p < 4; ++p) {
            const size_t at = (row + x + p) * outputs + o0;
            store_conv_outputs(wasm_f32x4_add(sums[p], bias_lanes), count, output + at,
                               relu_output ? relu_output + at : nullptr);
          }
        }
        for (; x < width; ++x) {
          v128_t sum = wasm_f32x4_const_splat(0.0f);
          for (int tap = 0; tap < kDirectConvTaps; ++tap) {
            const v128_t w = wasm_v128_load(taps.data() + tap * padded_outputs + o0);
            sum = wasm_f32x4_add(
                sum,
                wasm_f32x4_mul(wasm_v128_load32_splat(window + (tap / 3) * padded_width + tap % 3 + x), w));
          }
          const size_t at = (row + x) * outputs + o0;
          store_conv_outputs(wasm_f32x4_add(sum, bias_lanes), count, output + at,
                             relu_output ? relu_output + at : nullptr);
        }
      }
    }
  }
}

}  // namespace

Result<std::shared_ptr<const KernelTable>> make_simd128_kernel_table() {
  auto table = std::make_shared<KernelTable>();
  table->name = "simd128";
  table->threads = 1;
  table->backend = std::make_shared<PackingScratch>();
  table->gemm = simd128_gemm;
  table->im2col = simd128_im2col;
  table->col2im = simd128_col2im;
  table->add_bias = simd128_add_bias;
  table->sum_rows = simd128_sum_rows;
  table->relu_forward = simd128_relu_forward;
  table->relu_backward = simd128_relu_backward;
  table->max_pool_forward = simd128_max_pool_forward;
  table->max_pool_backward = simd128_max_pool_backward;
  table->conv3x3_one_channel = simd128_conv3x3_one_channel;
  return std::shared_ptr<const KernelTable>(std::move(table));
}

}  // namespace qplay

#endif  // defined(__wasm_simd128__)

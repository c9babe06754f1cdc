// The simd128 variant of the int8 GEMM (int8_gemm.h): WebAssembly SIMD has no 8-bit multiply-add,
// so the weights are packed as int16 and the 4 rows of a tile of A are widened to int16 once; per
// pair of k, each row's two values are splat to every lane (one load32_splat) and i32x4.dot_i16x8_s
// multiplies them with 4 columns' pairs and adds each pair into an int32 lane: 8 multiply-adds per
// instruction. A 4x8 tile (8 accumulators, 2 weight vectors, 1 splat) stays within the 16 xmm
// registers V8 has, and its k loop is not unrolled, for the reason simd128_kernels.cpp measured.
// WebAssembly builds with SIMD128 only; compiles to nothing elsewhere.
#ifdef __wasm_simd128__
#include <wasm_simd128.h>

#include "core/engine/kernels/int8_gemm_variants.h"

namespace qplay {

void int8_gemm_simd128(const Int8GemmArguments& g) {
  constexpr int kRows = 4;
  const int pairs = (g.depth + 1) / 2;
  const size_t row_words = size_t(pairs) * 2;
  const size_t panel_words = row_words * kInt8Simd128PanelColumns;
  int16_t* tile = reinterpret_cast<int16_t*>(g.scratch);  // [kRows][row_words]
  for (int m0 = 0; m0 < g.rows; m0 += kRows) {
    const int rows = g.rows - m0 < kRows ? g.rows - m0 : kRows;
    for (int r = 0; r < kRows; ++r) {
      int16_t* out = tile + r * row_words;
      const int8_t* in = g.a + size_t(m0 + r) * g.lda;
      const int copied = r < rows ? g.depth : 0;
      for (int k = 0; k < copied; ++k) out[k] = in[k];
      for (size_t k = copied; k < row_words; ++k) out[k] = 0;
    }
    for (int n0 = 0; n0 < g.outputs; n0 += kInt8Simd128PanelColumns) {
      const v128_t offsets_low = wasm_v128_load(g.offsets + n0),
                   offsets_high = wasm_v128_load(g.offsets + n0 + 4);
      v128_t c0_low = offsets_low, c0_high = offsets_high, c1_low = offsets_low, c1_high = offsets_high;
      v128_t c2_low = offsets_low, c2_high = offsets_high, c3_low = offsets_low, c3_high = offsets_high;
      const int16_t* w = g.packed_words + size_t(n0 / kInt8Simd128PanelColumns) * panel_words;
      const int16_t *x0 = tile, *x1 = tile + row_words, *x2 = tile + 2 * row_words,
                    *x3 = tile + 3 * row_words;
#pragma clang loop unroll(disable)
      for (int p = 0; p < pairs; ++p, w += 2 * kInt8Simd128PanelColumns) {
        const v128_t w_low = wasm_v128_load(w), w_high = wasm_v128_load(w + kInt8Simd128PanelColumns);
        v128_t x = wasm_v128_load32_splat(x0 + 2 * p);
        c0_low = wasm_i32x4_add(c0_low, wasm_i32x4_dot_i16x8(x, w_low));
        c0_high = wasm_i32x4_add(c0_high, wasm_i32x4_dot_i16x8(x, w_high));
        x = wasm_v128_load32_splat(x1 + 2 * p);
        c1_low = wasm_i32x4_add(c1_low, wasm_i32x4_dot_i16x8(x, w_low));
        c1_high = wasm_i32x4_add(c1_high, wasm_i32x4_dot_i16x8(x, w_high));
        x = wasm_v128_load32_splat(x2 + 2 * p);
        c2_low = wasm_i32x4_add(c2_low, wasm_i32x4_dot_i16x8(x, w_low));
        c2_high = wasm_i32x4_add(c2_high, wasm_i32x4_dot_i16x8(x, w_high));
        x = wasm_v128_load32_splat(x3 + 2 * p);
        c3_low = wasm_i32x4_add(c3_low, wasm_i32x4_dot_i16x8(x, w_low));
        c3_high = wasm_i32x4_add(c3_high, wasm_i32x4_dot_i16x8(x, w_high));
      }
      const v128_t sums[kRows][2] = {
          {c0_low, c0_high}, {c1_low, c1_high}, {c2_low, c2_high}, {c3_low, c3_high}};
      const int columns =
          g.outputs - n0 < kInt8Simd128PanelColumns ? g.outputs - n0 : kInt8Simd128PanelColumns;
      for (int r = 0; r < rows; ++r) {
        int32_t* c = g.c + size_t(m0 + r) * g.ldc + n0;
        if (columns == kInt8Simd128PanelColumns) {
          wasm_v128_store(c, sums[r][0]);
          wasm_v128_store(c + 4, sums[r][1]);
        } else {
          int32_t row[kInt8Simd128PanelColumns];
          wasm_v128_store(row, sums[r][0]);
          wasm_v128_store(row + 4, sums[r][1]);
          for (int n = 0; n < columns; ++n) c[n] = row[n];
        }
      }
    }
  }
}

}  // namespace qplay
#endif  // __wasm_simd128__

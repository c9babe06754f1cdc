// The loop the x86 int8 GEMM variants share (int8_gemm_avx2.cpp, int8_gemm_avx_vnni.cpp,
// int8_gemm_avx512_vnni.cpp), each instantiating it with its Dot policy, which it defines in an
// anonymous namespace: that gives every instantiation internal linkage, so no variant's code can
// stand in for another's at link time. Include it only from those files (no std headers here; see
// int8_gemm_variants.h).
//
// For each tile of Dot::kRows rows of A: copy the rows into the scratch, k zero-padded to a multiple
// of 4 and each byte XORed with Dot::kActivationXor (0x80 turns a signed code x into the unsigned
// x + 128 that vpdpbusd multiplies; the packed offsets subtract 128·Σw again), rows past M zero. Then
// for each tile of Dot::kVectors · Dot::kLanes columns: accumulators start at the offsets, and per
// group of 4 k, each row's 4 bytes are broadcast to every lane and dotted with the weight vectors
// (lane n holds w[n][k..k+3]). The weights of one column tile (K/4 · 64 bytes per 16 columns) stay
// in L1 while the rows of the tile pass over them; the A tile is read kRows·K bytes at a time.
// Rows past M and columns past N are computed on zeros and not stored.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/engine/kernels/int8_gemm_variants.h"

namespace qplay {

// Int8Requantization (int8_gemm.h) of one row's `columns` sums, bit for bit the reference's
// (requantize_int8_row in int8_gemm.cpp): the same float operations in the same order, and the
// engine is compiled with -ffp-contract=off. 1.5·2^23 rounds half to even by the float addition.
template <class Dot>
inline void int8_requantize_tile_row(const Int8GemmArguments& g, const int32_t* sums, const float* scales,
                                     int columns, int8_t* codes) {
  constexpr float kMagic = 12582912.0f;
  const float low = g.requantize_low, high = g.requantize_high;
  for (int n = 0; n < columns; ++n) {
    const float product = static_cast<float>(sums[n]) * scales[n];
    const float scaled = product < low ? low : (product > high ? high : product);
    codes[n] =
        static_cast<int8_t>(static_cast<int32_t>((scaled + kMagic) - kMagic) + g.requantize_zero_point);
  }
}

template <class Dot>
inline void int8_gemm_x86_tiles(const Int8GemmArguments& g) {
  using Vector = typename Dot::Vector;
  constexpr int kRows = Dot::kRows, kVectors = Dot::kVectors, kLanes = Dot::kLanes;
  constexpr int kTileColumns = kVectors * kLanes;
  static_assert(kRows <= kInt8GemmMaxTileRows, "the scratch holds kInt8GemmMaxTileRows rows");
  static_assert(kTileColumns % kInt8X86PanelColumns == 0 || kInt8X86PanelColumns % kTileColumns == 0);
  const int groups = (g.depth + 3) / 4;
  const size_t row_bytes = size_t(groups) * 4;
  const size_t panel_bytes = size_t(groups) * 4 * kInt8X86PanelColumns;
  unsigned char* tile = g.scratch;  // [kRows][row_bytes]
  for (int m0 = 0; m0 < g.rows; m0 += kRows) {
    const int rows = g.rows - m0 < kRows ? g.rows - m0 : kRows;
    for (int r = 0; r < kRows; ++r) {
      unsigned char* out = tile + r * row_bytes;
      const int8_t* in = g.a + size_t(m0 + r) * g.lda;
      const int copied = r < rows ? g.depth : 0;
      for (int k = 0; k < copied; ++k) out[k] = static_cast<unsigned char>(in[k]) ^ Dot::kActivationXor;
      for (size_t k = copied; k < row_bytes; ++k) out[k] = 0;
    }
    for (int n0 = 0; n0 < g.outputs; n0 += kTileColumns) {
      // Vector v covers columns n0 + v·kLanes ..: its panel, and its lanes' offset within the panel.
      const int8_t* weights[kVectors];
      Vector sums[kRows][kVectors];
      for (int v = 0; v < kVectors; ++v) {
        const int column = n0 + v * kLanes;
        weights[v] = g.packed_bytes + size_t(column / kInt8X86PanelColumns) * panel_bytes +
                     (column % kInt8X86PanelColumns) * 4;
        const Vector offsets = Dot::load(g.offsets + column);
#pragma GCC unroll 12
        for (int r = 0; r < kRows; ++r) sums[r][v] = offsets;
      }
      for (int k4 = 0; k4 < groups; ++k4) {
        Vector w[kVectors];
        for (int v = 0; v < kVectors; ++v)
          w[v] = Dot::load_weights(weights[v] + size_t(k4) * 4 * kInt8X86PanelColumns);
#pragma GCC unroll 12
        for (int r = 0; r < kRows; ++r) {
          const Vector x = Dot::broadcast(tile + r * row_bytes + size_t(k4) * 4);
          for (int v = 0; v < kVectors; ++v) sums[r][v] = Dot::accumulate(sums[r][v], x, w[v]);
        }
      }
      const int columns = g.outputs - n0 < kTileColumns ? g.outputs - n0 : kTileColumns;
      if (g.requantize_scales) {
        // Fused requantization: the tile goes through 4 KiB of stack (L1), not a [rows, N] int32 array.
        for (int r = 0; r < rows; ++r) {
          alignas(64) int32_t row[kTileColumns];
          for (int v = 0; v < kVectors; ++v) Dot::store(row + v * kLanes, sums[r][v]);
          int8_t* codes = g.codes + size_t(m0 + r) * g.ldq + n0;
          if (columns == kTileColumns) {
            int8_requantize_tile_row<Dot>(g, row, g.requantize_scales + n0, kTileColumns, codes);
          } else {
            int8_requantize_tile_row<Dot>(g, row, g.requantize_scales + n0, columns, codes);
          }
        }
        continue;
      }
      for (int r = 0; r < rows; ++r) {
        int32_t* c = g.c + size_t(m0 + r) * g.ldc + n0;
        if (columns == kTileColumns) {
          for (int v = 0; v < kVectors; ++v) Dot::store(c + v * kLanes, sums[r][v]);
        } else {
          alignas(64) int32_t row[kTileColumns];
          for (int v = 0; v < kVectors; ++v) Dot::store(row + v * kLanes, sums[r][v]);
          for (int n = 0; n < columns; ++n) c[n] = row[n];
        }
      }
    }
  }
}

}  // namespace qplay

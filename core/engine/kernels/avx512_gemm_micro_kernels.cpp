// The avx512 table's GEMM register tile (see avx512_kernels.h): C[12, 32] += A[12, k] · B[k, 32] in 24
// zmm accumulators; per k, two loads of B, twelve broadcasts of A, 24 FMAs, so 27 of the 32 zmm
// registers and no accumulator spill (objdump: the k loop reloads only two lane masks and two row
// offsets from the stack, loads the FMA units do not wait for). A tile of at most 16 columns (the last panel
// of N = 10 or N = 48, and every panel of a 16-channel convolution) runs a one-vector variant instead of
// multiplying zeros in half the lanes.
//
// This file alone is compiled with -mavx512f (core/engine/CMakeLists.txt), and its code runs only
// where cpu_has_avx512f() said yes. It therefore defines nothing the linker could share with other
// files: every function is in an anonymous namespace and no standard-library template is used. An
// inline function instantiated here (std::min, say) would be compiled for AVX-512 too, and the linker
// keeps one copy of it for the whole program, possibly this one, which an AVX2-only CPU cannot run.
// The test avx512_object_exports_no_shared_code (tests/CMakeLists.txt) holds the file to that.
//
// Masks instead of tail code: AVX-512 loads and stores take a lane mask at no extra cost, and masked
// lanes are not touched (no fault past the end of a matrix), so one kernel serves full and partial
// panels, packed or in place.
#include <immintrin.h>

#include <utility>

#include "core/engine/kernels/avx512_kernels.h"

namespace qplay {
namespace {

constexpr int kTileRows = 12;
constexpr int kVectorWidth = 16;               // floats in a zmm register
constexpr int kPanelWidth = 2 * kVectorWidth;  // columns of the full tile

// C[kRows, columns] (+)= A[kRows, depth] · B[depth, columns], columns <= kVectors · 16.
template <int kRows, int kVectors>
void gemm_micro_kernel_12x32_avx512(int depth, const float* a, ptrdiff_t a_row_stride,
                                    ptrdiff_t a_depth_stride, const float* b, ptrdiff_t b_depth_stride,
                                    int columns, float* c, ptrdiff_t ldc, bool accumulate) {
  __mmask16 lanes[kVectors];
  for (int v = 0; v < kVectors; ++v) {
    const int count = columns - v * kVectorWidth;
    lanes[v] = count >= kVectorWidth ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << count) - 1u);
  }
  __m512 sums[kRows][kVectors];
#pragma GCC unroll 12
  for (int r = 0; r < kRows; ++r)
    for (int v = 0; v < kVectors; ++v) sums[r][v] = _mm512_setzero_ps();
  for (int k = 0; k < depth; ++k, a += a_depth_stride, b += b_depth_stride) {
    __m512 b_row[kVectors];
    for (int v = 0; v < kVectors; ++v) b_row[v] = _mm512_maskz_loadu_ps(lanes[v], b + v * kVectorWidth);
#pragma GCC unroll 12
    for (int r = 0; r < kRows; ++r) {
      const __m512 a_rk = _mm512_set1_ps(a[r * a_row_stride]);
      for (int v = 0; v < kVectors; ++v) sums[r][v] = _mm512_fmadd_ps(a_rk, b_row[v], sums[r][v]);
    }
  }
#pragma GCC unroll 12
  for (int r = 0; r < kRows; ++r) {
    float* c_row = c + r * ldc;
    for (int v = 0; v < kVectors; ++v) {
      if (accumulate) {
        sums[r][v] = _mm512_add_ps(_mm512_maskz_loadu_ps(lanes[v], c_row + v * kVectorWidth), sums[r][v]);
      }
      _mm512_mask_storeu_ps(c_row + v * kVectorWidth, lanes[v], sums[r][v]);
    }
  }
}

// The kernels for 1..kTileRows rows, indexed by rows - 1. A plain array, not std::array: its
// operator[] would be a shared inline function (see the top of the file).
struct KernelsByRows {
  GemmMicroKernel by_rows[kTileRows];
};

template <int kVectors, int... kRowsBelow>
constexpr KernelsByRows kernels_by_rows(std::integer_sequence<int, kRowsBelow...>) {
  return {{gemm_micro_kernel_12x32_avx512<kRowsBelow + 1, kVectors>...}};
}

constexpr KernelsByRows kOneVector = kernels_by_rows<1>(std::make_integer_sequence<int, kTileRows>());
constexpr KernelsByRows kTwoVectors = kernels_by_rows<2>(std::make_integer_sequence<int, kTileRows>());

// Masked loads make in-place and packed panels alike, so b_in_place does not matter here.
GemmMicroKernel avx512_micro_kernel_for(int rows, int columns, bool /*b_in_place*/) {
  return (columns <= kVectorWidth ? kOneVector : kTwoVectors).by_rows[rows - 1];
}

}  // namespace

extern const GemmTile kAvx512GemmTile = {kTileRows, kPanelWidth, avx512_micro_kernel_for};

}  // namespace qplay

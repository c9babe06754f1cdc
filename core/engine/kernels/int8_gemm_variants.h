// What int8_gemm.cpp hands each fast variant of the int8 GEMM (int8_gemm.h), one file per variant.
// Plain pointers only: the x86 files are compiled with their own -m flags, and any inline function
// they share with the rest of the engine (a std::vector member, std::min) could be emitted there
// with AVX-512 instructions and picked by the linker for everyone; so they include no std header.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qplay {

// Rows of A a variant copies into its scratch at once (the x86 tiles and the simd128 tile fit in it).
constexpr int kInt8GemmMaxTileRows = 12;
// Bytes of scratch a call needs for depth K: the tile of A widened to int16 at most, k padded to 4.
constexpr size_t int8_gemm_scratch_bytes(int depth) {
  return size_t(kInt8GemmMaxTileRows) * ((size_t(depth) + 3) / 4 * 4) * 2;
}

struct Int8GemmArguments {
  const int8_t* packed_bytes;   // x86 layouts (int8_gemm.h)
  const int16_t* packed_words;  // simd128 layout
  const int32_t* offsets;       // [panels · panel width], zero-padded
  int outputs, depth, rows;     // N, K, M
  const int8_t* a;              // [M, lda]
  size_t lda;
  int32_t* c;  // [M, ldc]; unused when requantize_scales is set
  size_t ldc;
  unsigned char* scratch;  // int8_gemm_scratch_bytes(depth)
  // Set: write codes[M, ldq] (Int8Requantization in int8_gemm.h) instead of c.
  const float* requantize_scales;
  float requantize_low, requantize_high;
  int32_t requantize_zero_point;
  int8_t* codes;
  size_t ldq;
};

// x86 panels: 16 columns of int32 lanes, each lane 4 consecutive k (one vpdpbusd / vpmaddubsw step).
constexpr int kInt8X86PanelColumns = 16;
// simd128 panels: 8 columns, each i32x4.dot_i16x8_s lane 2 consecutive k.
constexpr int kInt8Simd128PanelColumns = 8;

void int8_gemm_avx2(const Int8GemmArguments& arguments);
void int8_gemm_avx_vnni(const Int8GemmArguments& arguments);
void int8_gemm_avx512_vnni(const Int8GemmArguments& arguments);
void int8_gemm_simd128(const Int8GemmArguments& arguments);

}  // namespace qplay

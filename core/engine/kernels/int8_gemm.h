// The integer matrix product of real int8 inference (deploy/int8_inference.h):
//   C[M, N] = offsets[N] + A[M, K] · W[N, K]ᵀ      A int8 codes, W int8 in [-127, 127], C int32
// with the weights packed once per model for one variant:
//   reference    plain loops over W as given; always built, the definition the others are tested against
//   avx2         vpmaddubsw + vpmaddwd on ymm (x86-64 with AVX2)
//   avx_vnni     vpdpbusd on ymm, VEX-encoded (AVX-VNNI: Alder Lake, Zen 4, ...)
//   avx512_vnni  vpdpbusd on zmm (AVX512-VNNI: Ice Lake, Zen 4, ...)
//   simd128      i32x4.dot_i16x8_s (WebAssembly SIMD)
// Integer sums are exact, so every variant returns the reference's C bit for bit; which variants a
// binary has is a build question (x86-64 native / WebAssembly), which it may run a CPU question,
// asked at run time: the x86 files alone are compiled with their -m flags, so the engine still
// runs on a CPU with AVX2 only (or none).
//
// Also here: the requantization of the sums to the next layer's int8 codes, which the x86 variants
// fuse into their tile's epilogue. Not here: zero points and choosing scales (nn/int8_op.h), threads
// (the caller splits rows).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace qplay {

enum class Int8GemmVariant { reference, avx2, avx_vnni, avx512_vnni, simd128 };
inline constexpr Int8GemmVariant kAllInt8GemmVariants[] = {
    Int8GemmVariant::reference, Int8GemmVariant::avx2, Int8GemmVariant::avx_vnni,
    Int8GemmVariant::avx512_vnni, Int8GemmVariant::simd128};

const char* int8_gemm_variant_name(Int8GemmVariant variant);  // "reference", "avx2", "avx-vnni", ...
// Empty when this binary has the variant and this CPU runs it; else why not ("this CPU has no AVX-VNNI").
std::string int8_gemm_variant_unavailable_reason(Int8GemmVariant variant);
bool int8_gemm_variant_available(Int8GemmVariant variant);
// The fastest available variant: avx512_vnni, avx_vnni, avx2, simd128, else the reference (measured
// order: docs/performance.md, "The int8 slider").
Int8GemmVariant fastest_int8_gemm_variant();

// W and the column offsets in the layout of one variant. The x86 variants keep W in panels of 16
// columns, k in groups of 4 ([panel][k / 4][16][4] bytes, zero-padded in k and columns); simd128 in
// panels of 8 columns of int16, k in pairs ([panel][k / 2][8][2]); the reference as given ([N, K]).
struct PackedInt8Weights {
  Int8GemmVariant variant = Int8GemmVariant::reference;
  int outputs = 0;               // N
  int depth = 0;                 // K
  std::vector<int8_t> bytes;     // reference and x86 variants
  std::vector<int16_t> words;    // simd128
  std::vector<int32_t> offsets;  // [panels · panel width]: offsets[n] plus what the variant's trick needs
};

// weights[outputs, depth] (every value in [-127, 127]), offsets[outputs]. The variant must be available.
PackedInt8Weights pack_int8_weights(Int8GemmVariant variant, std::span<const int8_t> weights, int outputs,
                                    int depth, std::span<const int32_t> offsets);

// c[m·ldc + n] = offsets[n] + Σ_k a[m·lda + k] · weights[n, k] for m < M, n < N; lda >= K, ldc >= N.
void int8_gemm(const PackedInt8Weights& weights, int M, const int8_t* a, size_t lda, int32_t* c, size_t ldc);

// XNNPACK's fp32 requantization of one sum c in column n: one float product, clamped in float to the
// output codes (clamping before rounding is the same as after: the bounds are whole numbers), rounded
// half to even, plus the zero point:
//   code = int32(round_half_even(clamp(float(c) · scales[n], low, high))) + zero_point
struct Int8Requantization {
  const float* scales = nullptr;  // [N]
  float low = 0, high = 0;        // the output grid's q_min and q_max minus its zero point
  int32_t zero_point = 0;
};

// codes[m·ldq + n] = the requantization of int8_gemm's c[m, n]; ldq >= N. The x86 variants requantize
// each register tile as it leaves the registers (the int32 sums never go to memory); the others call
// int8_gemm on a scratch and requantize its rows.
void int8_gemm_requantized(const PackedInt8Weights& weights, int M, const int8_t* a, size_t lda,
                           const Int8Requantization& requantization, int8_t* codes, size_t ldq);

}  // namespace qplay

// The int8 GEMM's variants chosen at run time, their weight packing and the reference loops; see
// int8_gemm.h. The fast variants live in int8_gemm_<variant>.cpp (int8_gemm_variants.h).
#include "core/engine/kernels/int8_gemm.h"

#include <algorithm>
#include <cassert>
#if defined(QPLAY_HAVE_INT8_X86) && (defined(__x86_64__) || defined(_M_X64))
#include <cpuid.h>
#endif

#include "core/engine/kernels/int8_gemm_variants.h"

namespace qplay {
namespace {

#if defined(QPLAY_HAVE_INT8_X86) && (defined(__x86_64__) || defined(_M_X64))
constexpr bool kHaveX86 = true;
#else
constexpr bool kHaveX86 = false;
#endif
#ifdef __wasm_simd128__
constexpr bool kHaveSimd128 = true;
#else
constexpr bool kHaveSimd128 = false;
#endif

#if defined(QPLAY_HAVE_INT8_X86) && (defined(__x86_64__) || defined(_M_X64))
// AVX-VNNI is CPUID.(EAX=7, ECX=1):EAX bit 4, asked directly: clang 14's __builtin_cpu_supports does not
// know "avxvnni". The ymm state the OS must save is the one AVX2 needs, which the builtin checks.
bool cpu_has_avx_vnni() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) && (eax & (1u << 4)) != 0;
}
#endif

// Whether the CPU runs the variant; __builtin_cpu_supports also asks whether the OS saves the
// registers (XCR0), so a kernel without AVX-512 state support counts as no AVX-512.
bool cpu_runs(Int8GemmVariant variant) {
#if defined(QPLAY_HAVE_INT8_X86) && (defined(__x86_64__) || defined(_M_X64))
  switch (variant) {
    case Int8GemmVariant::avx2:
      return __builtin_cpu_supports("avx2");
    case Int8GemmVariant::avx_vnni:
      return __builtin_cpu_supports("avx2") && cpu_has_avx_vnni();
    case Int8GemmVariant::avx512_vnni:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vnni");
    default:
      return false;
  }
#else
  (void)variant;
  return false;
#endif
}

size_t panel_count(int outputs, int panel_columns) {
  return (static_cast<size_t>(outputs) + panel_columns - 1) / panel_columns;
}

size_t x86_panel_count(int outputs) { return (panel_count(outputs, kInt8X86PanelColumns) + 1) / 2 * 2; }

// [panel][k / 4][16][4] with zero padding; panels rounded up to an even count, so the 32-column
// tiles of avx512_vnni never read past the last one.
void pack_x86(std::span<const int8_t> weights, int outputs, int depth, PackedInt8Weights& packed) {
  const size_t groups = (static_cast<size_t>(depth) + 3) / 4;
  packed.bytes.assign(x86_panel_count(outputs) * groups * 4 * kInt8X86PanelColumns, 0);
  for (int n = 0; n < outputs; ++n) {
    int8_t* panel = packed.bytes.data() + (n / kInt8X86PanelColumns) * groups * 4 * kInt8X86PanelColumns;
    for (int k = 0; k < depth; ++k) {
      panel[(k / 4) * 4 * kInt8X86PanelColumns + (n % kInt8X86PanelColumns) * 4 + k % 4] =
          weights[static_cast<size_t>(n) * depth + k];
    }
  }
}

// [panel][k / 2][8][2] as int16, zero padding.
void pack_simd128(std::span<const int8_t> weights, int outputs, int depth, PackedInt8Weights& packed) {
  const size_t pairs = (static_cast<size_t>(depth) + 1) / 2;
  packed.words.assign(panel_count(outputs, kInt8Simd128PanelColumns) * pairs * 2 * kInt8Simd128PanelColumns,
                      0);
  for (int n = 0; n < outputs; ++n) {
    int16_t* panel =
        packed.words.data() + (n / kInt8Simd128PanelColumns) * pairs * 2 * kInt8Simd128PanelColumns;
    for (int k = 0; k < depth; ++k) {
      panel[(k / 2) * 2 * kInt8Simd128PanelColumns + (n % kInt8Simd128PanelColumns) * 2 + k % 2] =
          weights[static_cast<size_t>(n) * depth + k];
    }
  }
}

void reference_int8_gemm(const PackedInt8Weights& packed, int M, const int8_t* a, size_t lda, int32_t* c,
                         size_t ldc) {
  const int N = packed.outputs, K = packed.depth;
  for (int m = 0; m < M; ++m) {
    const int8_t* x = a + m * lda;
    for (int n = 0; n < N; ++n) {
      const int8_t* w = packed.bytes.data() + static_cast<size_t>(n) * K;
      int32_t sum = packed.offsets[n];
      for (int k = 0; k < K; ++k) sum += int32_t{x[k]} * int32_t{w[k]};
      c[m * ldc + n] = sum;
    }
  }
}

}  // namespace

const char* int8_gemm_variant_name(Int8GemmVariant variant) {
  switch (variant) {
    case Int8GemmVariant::reference:
      return "reference";
    case Int8GemmVariant::avx2:
      return "avx2";
    case Int8GemmVariant::avx_vnni:
      return "avx-vnni";
    case Int8GemmVariant::avx512_vnni:
      return "avx512-vnni";
    case Int8GemmVariant::simd128:
      return "simd128";
  }
  return "?";
}

std::string int8_gemm_variant_unavailable_reason(Int8GemmVariant variant) {
  const std::string name = int8_gemm_variant_name(variant);
  switch (variant) {
    case Int8GemmVariant::reference:
      return "";
    case Int8GemmVariant::simd128:
      return kHaveSimd128 ? "" : "simd128 is built into WebAssembly builds with -msimd128 only";
    case Int8GemmVariant::avx2:
    case Int8GemmVariant::avx_vnni:
    case Int8GemmVariant::avx512_vnni:
      if (!kHaveX86) return name + " is built into native x86-64 builds only";
      return cpu_runs(variant) ? "" : "this CPU cannot run " + name;
  }
  return name + " is unknown";
}

bool int8_gemm_variant_available(Int8GemmVariant variant) {
  return int8_gemm_variant_unavailable_reason(variant).empty();
}

Int8GemmVariant fastest_int8_gemm_variant() {
  // Computed once: the CPU does not change, and the slider asks for every model it builds.
  static const Int8GemmVariant fastest = [] {
    for (Int8GemmVariant variant : {Int8GemmVariant::avx512_vnni, Int8GemmVariant::avx_vnni,
                                    Int8GemmVariant::avx2, Int8GemmVariant::simd128}) {
      if (int8_gemm_variant_available(variant)) return variant;
    }
    return Int8GemmVariant::reference;
  }();
  return fastest;
}

PackedInt8Weights pack_int8_weights(Int8GemmVariant variant, std::span<const int8_t> weights, int outputs,
                                    int depth, std::span<const int32_t> offsets) {
  assert(int8_gemm_variant_available(variant));
  assert(weights.size() == static_cast<size_t>(outputs) * depth && offsets.size() == size_t(outputs));
  PackedInt8Weights packed;
  packed.variant = variant;
  packed.outputs = outputs;
  packed.depth = depth;
  packed.offsets.assign(offsets.begin(), offsets.end());
  switch (variant) {
    case Int8GemmVariant::reference:
      packed.bytes.assign(weights.begin(), weights.end());
      return packed;
    case Int8GemmVariant::simd128:
      pack_simd128(weights, outputs, depth, packed);
      packed.offsets.resize(panel_count(outputs, kInt8Simd128PanelColumns) * kInt8Simd128PanelColumns, 0);
      return packed;
    case Int8GemmVariant::avx2:
    case Int8GemmVariant::avx_vnni:
    case Int8GemmVariant::avx512_vnni:
      pack_x86(weights, outputs, depth, packed);
      packed.offsets.resize(x86_panel_count(outputs) * kInt8X86PanelColumns, 0);
      if (variant != Int8GemmVariant::avx2) {
        // vpdpbusd multiplies x + 128 (unsigned): take 128·Σw back out once here.
        for (int n = 0; n < outputs; ++n) {
          int32_t weight_sum = 0;
          for (int k = 0; k < depth; ++k) weight_sum += weights[static_cast<size_t>(n) * depth + k];
          packed.offsets[n] -= 128 * weight_sum;
        }
      }
      return packed;
  }
  return packed;
}

namespace {

// The reference requantization of one row (int8_gemm.h); the x86 tiles repeat it bit for bit.
void requantize_int8_row(const Int8Requantization& requantization, int columns, const int32_t* sums,
                         int8_t* codes) {
  const float low = requantization.low, high = requantization.high;
  // Restrict pointers: int8_t stores may alias anything, and without them the loop is not vectorized
  // (measured: 14% of a W4A8 slider move scalar).
  const float* __restrict scales = requantization.scales;
  const int32_t* __restrict in = sums;
  int8_t* __restrict out = codes;
  for (int n = 0; n < columns; ++n) {
    const float product = static_cast<float>(in[n]) * scales[n];
    const float scaled = product < low ? low : (product > high ? high : product);
    constexpr float kMagic = 12582912.0f;  // 1.5·2^23: the addition rounds half to even
    out[n] =
        static_cast<int8_t>(static_cast<int32_t>((scaled + kMagic) - kMagic) + requantization.zero_point);
  }
}

// Either c (requantization null) or codes.
void run_int8_gemm(const PackedInt8Weights& weights, int M, const int8_t* a, size_t lda, int32_t* c,
                   size_t ldc, const Int8Requantization* requantization, int8_t* codes, size_t ldq) {
  // One scratch per thread: calls from several threads (the rows of a chunk split across a pool)
  // each copy their own tiles of A.
  thread_local std::vector<unsigned char> scratch;
  scratch.resize(std::max(scratch.size(), int8_gemm_scratch_bytes(weights.depth)));
  const Int8GemmArguments arguments{weights.bytes.data(),
                                    weights.words.data(),
                                    weights.offsets.data(),
                                    weights.outputs,
                                    weights.depth,
                                    M,
                                    a,
                                    lda,
                                    c,
                                    ldc,
                                    scratch.data(),
                                    requantization ? requantization->scales : nullptr,
                                    requantization ? requantization->low : 0.0f,
                                    requantization ? requantization->high : 0.0f,
                                    requantization ? requantization->zero_point : 0,
                                    codes,
                                    ldq};
  switch (weights.variant) {
#if defined(QPLAY_HAVE_INT8_X86) && (defined(__x86_64__) || defined(_M_X64))
    case Int8GemmVariant::avx2:
      return int8_gemm_avx2(arguments);
    case Int8GemmVariant::avx_vnni:
      return int8_gemm_avx_vnni(arguments);
    case Int8GemmVariant::avx512_vnni:
      return int8_gemm_avx512_vnni(arguments);
#endif
#ifdef __wasm_simd128__
    case Int8GemmVariant::simd128:
      return int8_gemm_simd128(arguments);
#endif
    default:
      assert(false && "pack_int8_weights packs only available variants");
  }
}

bool fuses_requantization(Int8GemmVariant variant) {
  return variant == Int8GemmVariant::avx2 || variant == Int8GemmVariant::avx_vnni ||
         variant == Int8GemmVariant::avx512_vnni;
}

}  // namespace

void int8_gemm(const PackedInt8Weights& weights, int M, const int8_t* a, size_t lda, int32_t* c, size_t ldc) {
  assert(lda >= size_t(weights.depth) && ldc >= size_t(weights.outputs));
  if (M <= 0 || weights.outputs == 0) return;
  if (weights.variant == Int8GemmVariant::reference || weights.depth == 0) {
    reference_int8_gemm(weights, M, a, lda, c, ldc);
    return;
  }
  run_int8_gemm(weights, M, a, lda, c, ldc, nullptr, nullptr, 0);
}

void int8_gemm_requantized(const PackedInt8Weights& weights, int M, const int8_t* a, size_t lda,
                           const Int8Requantization& requantization, int8_t* codes, size_t ldq) {
  assert(lda >= size_t(weights.depth) && ldq >= size_t(weights.outputs));
  if (M <= 0 || weights.outputs == 0) return;
  if (fuses_requantization(weights.variant) && weights.depth > 0) {
    run_int8_gemm(weights, M, a, lda, nullptr, 0, &requantization, codes, ldq);
    return;
  }
  // A few rows at a time, so the int32 sums stay in cache between the product and the requantization.
  constexpr int kRows = 16;
  thread_local std::vector<int32_t> sums;
  sums.resize(std::max(sums.size(), size_t(kRows) * weights.outputs));
  for (int m0 = 0; m0 < M; m0 += kRows) {
    const int rows = std::min(kRows, M - m0);
    int8_gemm(weights, rows, a + size_t(m0) * lda, lda, sums.data(), weights.outputs);
    for (int r = 0; r < rows; ++r) {
      requantize_int8_row(requantization, weights.outputs, sums.data() + size_t(r) * weights.outputs,
                          codes + size_t(m0 + r) * ldq);
    }
  }
}

}  // namespace qplay

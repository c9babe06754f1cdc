// The avx_vnni variant of the int8 GEMM (int8_gemm.h), compiled with -mavx2 -mavxvnni alone (CMake):
// a 6x16 tile (12 ymm accumulators, 2 weight vectors and 1 broadcast: 15 of the 16 registers VEX
// code has) of VEX-encoded vpdpbusd, which multiplies 4 unsigned by 4 signed bytes and adds them
// to an int32 lane without saturation: 32 multiply-adds per instruction. The activations enter as
// x + 128 (the tile copy XORs 0x80) and the packed offsets hold bias - 128·Σw.
#include <immintrin.h>

#include "core/engine/kernels/int8_gemm_x86_tile.h"

namespace qplay {
namespace {

struct DotAvxVnni {
  using Vector = __m256i;
  static constexpr int kRows = 6, kVectors = 2, kLanes = 8;
  static constexpr unsigned char kActivationXor = 0x80;
  static Vector load(const int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static Vector load_weights(const int8_t* p) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  }
  static void store(int32_t* p, Vector v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  static Vector broadcast(const unsigned char* four) {
    int32_t value;
    __builtin_memcpy(&value, four, 4);
    return _mm256_set1_epi32(value);
  }
  // Inline asm for the reason given in int8_gemm_avx512_vnni.cpp (GCC 12 copies the intrinsic's
  // accumulator around every instruction); {vex} (escaped as %{vex%} in asm) asks for the AVX-VNNI
  // encoding, not AVX512-VL's.
  static Vector accumulate(Vector sums, Vector x, Vector w) {
#if defined(__GNUC__)
    __asm__("%{vex%} vpdpbusd %2, %1, %0" : "+x"(sums) : "x"(x), "x"(w));
    return sums;
#else
    return _mm256_dpbusd_avx_epi32(sums, x, w);
#endif
  }
};

}  // namespace

void int8_gemm_avx_vnni(const Int8GemmArguments& arguments) { int8_gemm_x86_tiles<DotAvxVnni>(arguments); }

}  // namespace qplay

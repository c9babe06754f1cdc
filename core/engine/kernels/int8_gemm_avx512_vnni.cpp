// The avx512_vnni variant of the int8 GEMM (int8_gemm.h), compiled with -mavx512f -mavx512bw
// -mavx512vnni alone (CMake): a 12x32 tile (24 zmm accumulators, 2 weight vectors, 1 broadcast of
// the 32 registers) of vpdpbusd on zmm, 64 multiply-adds per instruction. Activations as x + 128
// and offsets as bias - 128·Σw, as in the avx_vnni variant.
#include <immintrin.h>

#include "core/engine/kernels/int8_gemm_x86_tile.h"

namespace qplay {
namespace {

struct DotAvx512Vnni {
  using Vector = __m512i;
  static constexpr int kRows = 12, kVectors = 2, kLanes = 16;
  static constexpr unsigned char kActivationXor = 0x80;
  static Vector load(const int32_t* p) { return _mm512_loadu_si512(p); }
  static Vector load_weights(const int8_t* p) { return _mm512_loadu_si512(p); }
  static void store(int32_t* p, Vector v) { _mm512_storeu_si512(p, v); }
  static Vector broadcast(const unsigned char* four) {
    int32_t value;
    __builtin_memcpy(&value, four, 4);
    return _mm512_set1_epi32(value);
  }
  // Inline asm, not _mm512_dpbusd_epi32: GCC 12 does not tie the intrinsic's accumulator to its
  // output, and copied each of the 24 accumulators to a fresh register and to the stack around every
  // vpdpbusd (objdump; 3 moves per multiply, ~35% of the core's vpdpbusd peak). "+v" keeps each in
  // its register.
  static Vector accumulate(Vector sums, Vector x, Vector w) {
#if defined(__GNUC__)
    __asm__("vpdpbusd %2, %1, %0" : "+v"(sums) : "v"(x), "v"(w));
    return sums;
#else
    return _mm512_dpbusd_epi32(sums, x, w);
#endif
  }
};

}  // namespace

void int8_gemm_avx512_vnni(const Int8GemmArguments& arguments) {
  int8_gemm_x86_tiles<DotAvx512Vnni>(arguments);
}

}  // namespace qplay

// The avx2 variant of the int8 GEMM (int8_gemm.h), compiled with -mavx2 alone (CMake): a 4x16 tile
// (8 ymm accumulators) of vpmaddubsw + vpmaddwd steps.
//
// vpmaddubsw multiplies unsigned by signed bytes and adds pairs into int16 with saturation, so the
// codes cannot go in as they are (x + 128 up to 255 times |w| up to 127, twice, overflows int16).
// Instead |x| (at most 128, unsigned) meets w with the sign of x (vpsignb; |w| <= 127, so negating it
// is exact): |x|·sign(x)·w = x·w, and a pair sums to at most 2·128·127 = 32,512 < 32,767. vpmaddwd
// against ones widens the pairs to int32. One step: abs (shared by the tile's vectors), sign,
// vpmaddubsw, vpmaddwd, add for 32 multiply-adds; 4 rows so the 15 ymm registers hold everything.
#include <immintrin.h>

#include "core/engine/kernels/int8_gemm_x86_tile.h"

namespace qplay {
namespace {

struct DotAvx2 {
  using Vector = __m256i;
  static constexpr int kRows = 4, kVectors = 2, kLanes = 8;
  static constexpr unsigned char kActivationXor = 0;
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
  static Vector accumulate(Vector sums, Vector x, Vector w) {
    const __m256i pairs = _mm256_maddubs_epi16(_mm256_abs_epi8(x), _mm256_sign_epi8(w, x));
    return _mm256_add_epi32(sums, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
  }
};

}  // namespace

void int8_gemm_avx2(const Int8GemmArguments& arguments) { int8_gemm_x86_tiles<DotAvx2>(arguments); }

}  // namespace qplay

// Specification of the int8 GEMM (core/engine/kernels/int8_gemm.h): the reference against sums
// written out by hand, then every fast variant against the reference, bit for bit, over a sweep of
// shapes in the style of XNNPACK's GemmTester: odd depths (k tails of every length below 4), column
// tails around each panel width, 1 row and row tails of every tile height, strided A and C, and the
// extreme codes (-128 activations against ±127 weights, where vpmaddubsw would saturate without
// its sign trick). A variant this CPU or build lacks is skipped, saying why.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/engine/base/rng.h"
#include "core/engine/kernels/int8_gemm.h"

namespace qplay {
namespace {

enum class Codes { random, extreme };

class Int8GemmTester {
 public:
  Int8GemmTester& m(int value) {
    m_ = value;
    return *this;
  }
  Int8GemmTester& n(int value) {
    n_ = value;
    return *this;
  }
  Int8GemmTester& k(int value) {
    k_ = value;
    return *this;
  }
  Int8GemmTester& a_stride(int extra) {
    a_extra_ = extra;
    return *this;
  }
  Int8GemmTester& c_stride(int extra) {
    c_extra_ = extra;
    return *this;
  }
  Int8GemmTester& codes(Codes value) {
    codes_ = value;
    return *this;
  }

  // Also requantize (int8_gemm_requantized): the codes must then equal the reference's.
  Int8GemmTester& requantized(bool value = true) {
    requantized_ = value;
    return *this;
  }

  // The variant's C (or codes) equals the reference's, and the padding between rows is untouched.
  void test(Int8GemmVariant variant, uint64_t seed) const {
    SCOPED_TRACE(std::string(int8_gemm_variant_name(variant)) + " m=" + std::to_string(m_) + " n=" +
                 std::to_string(n_) + " k=" + std::to_string(k_) + " lda=K+" + std::to_string(a_extra_) +
                 " ldc=N+" + std::to_string(c_extra_) + (codes_ == Codes::extreme ? " extreme" : ""));
    Rng rng(seed);
    const size_t lda = k_ + a_extra_, ldc = n_ + c_extra_;
    std::vector<int8_t> a(m_ * lda), w(static_cast<size_t>(n_) * k_);
    std::vector<int32_t> offsets(n_);
    for (int8_t& x : a) {
      x = codes_ == Codes::extreme ? (rng.below(2) ? -128 : 127)
                                   : static_cast<int8_t>(int(rng.below(256)) - 128);
    }
    for (int8_t& x : w) {
      x = codes_ == Codes::extreme ? (rng.below(2) ? -127 : 127)
                                   : static_cast<int8_t>(int(rng.below(255)) - 127);
    }
    for (int32_t& offset : offsets) offset = static_cast<int32_t>(rng.below(2000001)) - 1000000;
    if (requantized_) {
      test_requantized(variant, rng, a, lda, w, offsets, ldc);
      return;
    }
    const std::vector<int32_t> expected = run(Int8GemmVariant::reference, a, lda, w, offsets, ldc);
    const std::vector<int32_t> actual = run(variant, a, lda, w, offsets, ldc);
    ASSERT_EQ(actual.size(), expected.size());
    for (int row = 0; row < m_; ++row) {
      for (size_t column = 0; column < ldc; ++column) {
        ASSERT_EQ(actual[row * ldc + column], expected[row * ldc + column])
            << "row " << row << " column " << column << (column >= size_t(n_) ? " (padding)" : "");
      }
    }
  }

 private:
  static constexpr int32_t kUntouched = 0x5eed5eed;

  // Scales that put sums on ties (1/2, 1/4: half-even rounding), past both clamps (1/8 of sums up to
  // ±10^6 against codes of at most ±255) and in between (random); zero points inside the codes.
  void test_requantized(Int8GemmVariant variant, Rng& rng, const std::vector<int8_t>& a, size_t lda,
                        const std::vector<int8_t>& w, const std::vector<int32_t>& offsets, size_t ldq) const {
    std::vector<float> scales(n_);
    for (int n = 0; n < n_; ++n) {
      const float choices[] = {0.5f, 0.25f, 0.125f, 1.0f / (1 + rng.below(5000))};
      scales[n] = choices[rng.below(4)];
    }
    const int32_t zero_point = static_cast<int32_t>(rng.below(256)) - 128;
    const bool relu = rng.below(2);  // the ReLU-fused grid: q_min is the zero point
    const Int8Requantization requantization{scales.data(), relu ? 0.0f : float(-128 - zero_point),
                                            float(127 - zero_point), zero_point};
    auto codes_of = [&](Int8GemmVariant of) {
      const PackedInt8Weights packed = pack_int8_weights(of, w, n_, k_, offsets);
      std::vector<int8_t> codes(m_ * ldq, int8_t{0x5e});
      int8_gemm_requantized(packed, m_, a.data(), lda, requantization, codes.data(), ldq);
      return codes;
    };
    const std::vector<int8_t> expected = codes_of(Int8GemmVariant::reference);
    const std::vector<int8_t> actual = codes_of(variant);
    for (size_t i = 0; i < actual.size(); ++i) {
      ASSERT_EQ(int(actual[i]), int(expected[i])) << "requantized, row " << i / ldq << " column " << i % ldq
                                                  << (i % ldq >= size_t(n_) ? " (padding)" : "");
    }
  }

  std::vector<int32_t> run(Int8GemmVariant variant, const std::vector<int8_t>& a, size_t lda,
                           const std::vector<int8_t>& w, const std::vector<int32_t>& offsets,
                           size_t ldc) const {
    const PackedInt8Weights packed = pack_int8_weights(variant, w, n_, k_, offsets);
    std::vector<int32_t> c(m_ * ldc, kUntouched);
    int8_gemm(packed, m_, a.data(), lda, c.data(), ldc);
    return c;
  }

  int m_ = 1, n_ = 1, k_ = 1, a_extra_ = 0, c_extra_ = 0;
  Codes codes_ = Codes::random;
  bool requantized_ = false;
};

TEST(Int8GemmReference, SumsTheProductsOntoTheOffsets) {
  // [2, 3] · [2, 3]ᵀ with the most negative code.
  const std::vector<int8_t> a = {1, -2, 3, -128, 127, 0};
  const std::vector<int8_t> w = {4, 5, -6, -127, 127, 1};
  const std::vector<int32_t> offsets = {10, -20};
  const PackedInt8Weights packed = pack_int8_weights(Int8GemmVariant::reference, w, 2, 3, offsets);
  std::vector<int32_t> c(4);
  int8_gemm(packed, 2, a.data(), 3, c.data(), 2);
  EXPECT_EQ(c, (std::vector<int32_t>{10 + 4 - 10 - 18, -20 - 127 - 254 + 3, 10 - 512 + 635,
                                     -20 + 128 * 127 + 127 * 127}));
}

TEST(Int8GemmReference, RequantizesEachSumByItsColumnsScaleRoundingHalfToEvenAndClamping) {
  // 1 x 4 sums {5, -5, 7, 1000} (the identity on a one-element depth), zero point 3, codes -128..127.
  const std::vector<int8_t> a = {1};
  const std::vector<int8_t> w = {5, -5, 7, 127};
  const std::vector<int32_t> offsets = {0, 0, 0, 873};  // the last sum 1000
  const std::vector<float> scales = {0.5f, 0.5f, 0.5f, 1.0f};
  const PackedInt8Weights packed = pack_int8_weights(Int8GemmVariant::reference, w, 4, 1, offsets);
  std::vector<int8_t> codes(4);
  int8_gemm_requantized(packed, 1, a.data(), 1, Int8Requantization{scales.data(), -131.0f, 124.0f, 3},
                        codes.data(), 4);
  // 2.5 -> 2, -2.5 -> -2, 3.5 -> 4 (half to even), 1000 -> clamped to 124; each plus 3.
  EXPECT_EQ(codes, (std::vector<int8_t>{5, 1, 7, 127}));
}

TEST(Int8GemmVariants, TheReferenceIsAlwaysAvailableAndTheFastestIsAvailable) {
  EXPECT_TRUE(int8_gemm_variant_available(Int8GemmVariant::reference));
  EXPECT_TRUE(int8_gemm_variant_available(fastest_int8_gemm_variant()));
  for (Int8GemmVariant variant : kAllInt8GemmVariants) {
    std::printf("[ int8     ] %s: %s\n", int8_gemm_variant_name(variant),
                int8_gemm_variant_available(variant) ? "available"
                                                     : int8_gemm_variant_unavailable_reason(variant).c_str());
  }
}

void sweep_against_reference(Int8GemmVariant variant) {
  if (!int8_gemm_variant_available(variant)) GTEST_SKIP() << int8_gemm_variant_unavailable_reason(variant);
  uint64_t seed = 1;
  // Depths: every k tail below 4 and 2, one k group, W1's 784 and 256, a conv patch of 3x3x16.
  for (int k : {1, 2, 3, 4, 5, 7, 8, 29, 144, 256, 783, 784, 1025}) {
    for (int n : {1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 65}) {
      Int8GemmTester().m(1).n(n).k(k).test(variant, ++seed);
      Int8GemmTester().m(13).n(n).k(k).a_stride(3).c_stride(5).test(variant, ++seed);
    }
  }
  // Row tails of every tile height (4, 6, 12 rows) and several tiles.
  for (int m = 1; m <= 26; ++m) Int8GemmTester().m(m).n(20).k(37).test(variant, ++seed);
  Int8GemmTester().m(250).n(256).k(784).test(variant, ++seed);
  // Extreme codes: a k of 1100 sums 1100·128·127, far beyond int16, within int32.
  for (int k : {1, 2, 3, 64, 1100}) {
    for (int n : {16, 19, 40}) Int8GemmTester().m(14).n(n).k(k).codes(Codes::extreme).test(variant, ++seed);
  }
  // The requantization fused into the tiles: column tails, row tails, strided codes, extreme codes.
  for (int k : {1, 3, 29, 784}) {
    for (int n : {1, 10, 15, 16, 17, 31, 32, 33, 65, 256}) {
      Int8GemmTester().m(1).n(n).k(k).requantized().test(variant, ++seed);
      Int8GemmTester().m(13).n(n).k(k).a_stride(3).c_stride(5).requantized().test(variant, ++seed);
    }
  }
  for (int m = 1; m <= 26; ++m) Int8GemmTester().m(m).n(20).k(37).requantized().test(variant, ++seed);
  Int8GemmTester().m(14).n(40).k(1100).codes(Codes::extreme).requantized().test(variant, ++seed);
}

TEST(Int8GemmVariants, Avx2MatchesTheReferenceOverASweepOfShapes) {
  sweep_against_reference(Int8GemmVariant::avx2);
}
TEST(Int8GemmVariants, AvxVnniMatchesTheReferenceOverASweepOfShapes) {
  sweep_against_reference(Int8GemmVariant::avx_vnni);
}
TEST(Int8GemmVariants, Avx512VnniMatchesTheReferenceOverASweepOfShapes) {
  sweep_against_reference(Int8GemmVariant::avx512_vnni);
}
TEST(Int8GemmVariants, Simd128MatchesTheReferenceOverASweepOfShapes) {
  sweep_against_reference(Int8GemmVariant::simd128);
}

}  // namespace
}  // namespace qplay

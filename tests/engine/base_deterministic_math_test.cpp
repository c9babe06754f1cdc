// The engine's own transcendental functions (base/deterministic_math.h): they must agree with libm to
// a few ulp over the ranges training uses, since they replace it wherever a float result feeds the
// weights (softmax, schedules, Adam, tanh/softplus layers, CPQ), so that native and WebAssembly builds
// train to the same bits.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/engine/base/deterministic_math.h"
#include "core/engine/base/rng.h"

namespace qplay {
namespace {

// |a - b| in units of the last place of b.
double ulps(double a, double b) {
  if (a == b) return 0;
  const double unit = std::nextafter(std::fabs(b), HUGE_VAL) - std::fabs(b);
  return std::fabs(a - b) / unit;
}

template <typename Ours, typename Libm>
double worst_ulps(Ours ours, Libm libm, double low, double high) {
  Rng rng(7);
  double worst = 0;
  for (int i = 0; i < 200000; ++i) {
    const double x = low + (high - low) * rng.uniform();
    worst = std::max(worst, ulps(ours(x), libm(x)));
  }
  return worst;
}

TEST(DeterministicMath, AgreesWithLibmToAFewUlp) {
  EXPECT_LE(worst_ulps(
                deterministic_exp, [](double x) { return std::exp(x); }, -700, 700),
            4);
  EXPECT_LE(worst_ulps(
                deterministic_exp, [](double x) { return std::exp(x); }, -1, 1),
            2);
  EXPECT_LE(worst_ulps(
                deterministic_expm1, [](double x) { return std::expm1(x); }, -0.5, 0.5),
            2);
  EXPECT_LE(worst_ulps(
                deterministic_expm1, [](double x) { return std::expm1(x); }, -30, 30),
            4);
  EXPECT_LE(worst_ulps(
                deterministic_log1p, [](double x) { return std::log1p(x); }, -0.5, 0.5),
            4);
  EXPECT_LE(worst_ulps(
                deterministic_log1p, [](double x) { return std::log1p(x); }, 0.5, 1e6),
            4);
  EXPECT_LE(worst_ulps(
                deterministic_tanh, [](double x) { return std::tanh(x); }, -25, 25),
            4);
  EXPECT_LE(worst_ulps(
                deterministic_tanh, [](double x) { return std::tanh(x); }, -1e-3, 1e-3),
            4);
  EXPECT_LE(worst_ulps(
                deterministic_atanh, [](double x) { return std::atanh(x); }, -0.999, 0.999),
            6);
  EXPECT_LE(worst_ulps(
                deterministic_log, [](double x) { return std::log(x); }, 1e-300, 1e300),
            4);
  EXPECT_LE(worst_ulps(
                deterministic_cos, [](double x) { return std::cos(x); }, 0, 3.2),
            4);
}

TEST(DeterministicMath, EdgesAreThoseOfLibm) {
  EXPECT_EQ(deterministic_exp(0), 1.0);
  EXPECT_EQ(deterministic_exp(1000), HUGE_VAL);
  EXPECT_EQ(deterministic_exp(-1000), 0.0);
  EXPECT_TRUE(std::isnan(deterministic_exp(std::nan(""))));
  EXPECT_EQ(deterministic_log(0), -HUGE_VAL);
  EXPECT_TRUE(std::isnan(deterministic_log(-1)));
  EXPECT_EQ(deterministic_log(1), 0.0);
  EXPECT_EQ(deterministic_tanh(100), 1.0);
  EXPECT_EQ(deterministic_tanh(-100), -1.0);
  EXPECT_EQ(deterministic_pow(0.9, 0), 1.0);
  EXPECT_NEAR(deterministic_pow(0.999, 100000), std::pow(0.999, 100000), 1e-11 * std::pow(0.999, 100000))
      << "17 roundings of repeated squaring";
  EXPECT_EQ(deterministic_pow(2, -3), 0.125);
  // Subnormal results round like libm's.
  EXPECT_EQ(deterministic_exp(-740), std::exp(-740));
}

}  // namespace
}  // namespace qplay

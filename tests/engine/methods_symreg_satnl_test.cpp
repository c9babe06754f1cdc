// SymReg + SatNL (+ SAM/ASAM), methods.md §3: finite-difference gradient checks in double for both
// symmetry penalties, the tanh reparameterization and the whole step objective w.r.t. the latent
// master parameters (the objective is templated, so the check runs on a Network<double>; a
// separate test shows the float TrainingMethod computes the same gradient); the penalties' zeros;
// the SAM/ASAM radii; attach() keeping the initial effective weights; and, on a toy spiral, that
// training with SymReg makes the weights far more symmetric than the baseline while SatNL keeps
// |w| < c, which the baseline's weights exceed; and (the paper's claim at toy scale) that the result
// loses less accuracy than the baseline under 3-bit per-tensor post-training weight quantization.
// The fast paths the float training step takes (the radix sort, the engine's float tanh, the penalty
// written with λ and sort buffers reused, the effective weights kept from the last step) are checked
// bit for bit against the plain definitions.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "core/engine/base/bit_cast.h"
#include "core/engine/base/rng.h"
#include "core/engine/data/batcher.h"
#include "core/engine/data/toy_datasets.h"
#include "core/engine/deploy/post_training.h"
#include "core/engine/methods/symreg_satnl.h"
#include "core/engine/train/evaluation.h"
#include "core/engine/train/optimizer.h"
#include "tests/engine/finite_differences.h"
#include "tests/engine/kernel_tables_under_test.h"

namespace qplay {
namespace {

using finite_differences::kStep;
using finite_differences::numeric_gradient;
using finite_differences::random_vector;
using finite_differences::relative_error;

constexpr double kTolerance = 1e-6;

double norm(const std::vector<double>& v) {
  return std::sqrt(std::inner_product(v.begin(), v.end(), v.begin(), 0.0));
}

// [SECTION] Symmetry penalties

using PenaltyFunction = double (*)(std::span<const double>, std::span<double>);

void check_penalty_gradient(PenaltyFunction penalty, size_t n, uint64_t seed) {
  // Random normal weights with a shift: distinct values (gaps >> the FD step, so the sort order is
  // the same at w ± h) and a clearly non-zero penalty.
  std::vector<double> weights = random_vector(n, seed);
  for (double& w : weights) w += 0.3;
  std::vector<double> analytic(n);
  penalty(weights, analytic);
  auto value = [&](const std::vector<double>& w) { return penalty(w, std::span<double>()); };
  EXPECT_GT(value(weights), 0.01) << "n " << n;
  EXPECT_LT(relative_error(analytic, numeric_gradient(weights, value)), kTolerance) << "n " << n;
}

TEST(SymmetryPenalty, OneToOneGradientMatchesFiniteDifferences) {
  for (size_t n : {2, 9, 10, 33}) check_penalty_gradient(&symmetry_penalty_one_to_one<double>, n, 100 + n);
}

TEST(SymmetryPenalty, TwoToTwoGradientMatchesFiniteDifferences) {
  // n mod 4 = 0..3: the middle n mod 4 weights are unpaired and must get a zero gradient.
  for (size_t n : {4, 12, 13, 14, 15})
    check_penalty_gradient(&symmetry_penalty_two_to_two<double>, n, 200 + n);
}

TEST(SymmetryPenalty, IsZeroForASymmetricSetAndPositiveOtherwise) {
  for (SymmetryPairing pairing : {SymmetryPairing::one_to_one, SymmetryPairing::two_to_two}) {
    // Mirror images in scrambled order, with and without an unpaired 0 in the middle.
    std::vector<double> even = {0.7, -0.2, -1.3, 0.2, 1.3, -0.7, 0.05, -0.05};
    std::vector<double> odd = even;
    odd.insert(odd.begin() + 3, 0.0);
    for (const std::vector<double>& symmetric : {even, odd}) {
      std::vector<double> gradient(symmetric.size(), 1.0);
      EXPECT_NEAR(symmetry_penalty<double>(pairing, symmetric, gradient), 0.0, 1e-15);
      for (double g : gradient) EXPECT_NEAR(g, 0.0, 1e-15);  // a minimum
      std::vector<double> moved = symmetric;
      moved[0] += 0.1;  // one weight off its mirror
      EXPECT_GT(symmetry_penalty<double>(pairing, moved, std::span<double>()), 1e-4);
      std::vector<double> shifted = symmetric;
      for (double& w : shifted) w += 0.1;  // the whole set off centre
      EXPECT_GT(symmetry_penalty<double>(pairing, shifted, std::span<double>()), 1e-3);
    }
  }
}

TEST(SymmetryPenalty, TwoToTwoIsLooserThanOneToOne) {
  // Sorted: -3, -1 | 1.5, 2.5. 1:1 pairs (-3 + 2.5) and (-1 + 1.5) do not cancel; the 2:2 group
  // -3 - 1 + 1.5 + 2.5 does.
  std::vector<double> weights = {1.5, -3.0, 2.5, -1.0};
  EXPECT_NEAR(symmetry_penalty_one_to_one<double>(weights, std::span<double>()), 0.25, 1e-15);
  EXPECT_NEAR(symmetry_penalty_two_to_two<double>(weights, std::span<double>()), 0.0, 1e-15);
}

TEST(SymmetryPenalty, TiesTinySetsAndNonFiniteWeights) {
  std::vector<double> gradient(4, 7.0);
  // No pair: zero, zero gradient.
  EXPECT_EQ(
      symmetry_penalty_one_to_one<double>(std::vector<double>{0.4}, std::span<double>(gradient).first(1)),
      0.0);
  EXPECT_EQ(gradient[0], 0.0);
  EXPECT_EQ(symmetry_penalty_two_to_two<double>(std::vector<double>{0.4, 0.5, 0.9},
                                                std::span<double>(gradient).first(3)),
            0.0);
  // All tied at a: pairs sum to 2a, L_sym1 = 4a², and the gradient is the one-sided derivative
  // 2·2a/2 = 2a for each weight; its sum 8a is the derivative along (1,1,1,1), exact here.
  const double a = 0.3;
  std::vector<double> tied(4, a);
  EXPECT_NEAR(symmetry_penalty_one_to_one<double>(tied, gradient), 4 * a * a, 1e-15);
  for (double g : gradient) EXPECT_NEAR(g, 2 * a, 1e-15);
  std::vector<double> broken = {0.1, NAN, -0.1, 0.2};
  EXPECT_TRUE(std::isnan(symmetry_penalty_one_to_one<double>(broken, gradient)));
  for (double g : gradient) EXPECT_EQ(g, 0.0);
}

// [SECTION] The pairing's order and the float penalty's fast path

std::vector<float> random_floats(size_t n, uint64_t seed, double scale, double shift = 0) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(rng.normal() * scale + shift);
  return v;
}

// Sets that stress the sort, run in this order with one set of buffers (as a step reuses them for
// every tensor and step): weights like a layer's, the largest again after one SGD-sized move of every
// weight (most sorted positions change), values over the whole float range, heavy ties (a coarse
// grid) with signed zeros among them, one value repeated, all in one first-digit bucket.
std::vector<std::pair<std::string, std::vector<float>>> sort_cases() {
  std::vector<std::pair<std::string, std::vector<float>>> cases;
  for (size_t n : {0, 1, 2, 3, 17, 64, 65, 1000, 4097, 100352})
    cases.emplace_back("normal n=" + std::to_string(n), random_floats(n, 300 + n, 0.03));
  std::vector<float> moved = cases.back().second;
  const std::vector<float> step = random_floats(moved.size(), 6, 1e-4);
  for (size_t i = 0; i < moved.size(); ++i) moved[i] += step[i];
  cases.emplace_back("moved", moved);
  std::vector<float> wide = random_floats(5000, 7, 1.0);
  Rng rng(8);
  for (float& w : wide) w = static_cast<float>(w * std::ldexp(1.0, static_cast<int>(rng.below(250)) - 125));
  wide[0] = std::numeric_limits<float>::max();
  wide[1] = -std::numeric_limits<float>::max();
  wide[2] = std::numeric_limits<float>::denorm_min();
  wide[3] = -std::numeric_limits<float>::denorm_min();
  cases.emplace_back("wide exponents", wide);
  std::vector<float> tied = random_floats(3001, 9, 2.0);
  for (size_t i = 0; i < tied.size(); ++i) tied[i] = std::round(tied[i] * 2) / 2;  // many exact ties
  for (size_t i = 0; i < tied.size(); i += 7) tied[i] = (i % 2) ? -0.0f : 0.0f;    // and signed zeros
  cases.emplace_back("ties and signed zeros", tied);
  std::vector<float> many_tied = random_floats(70001, 12, 2.0);  // several chunks of the sort's first pass
  for (size_t i = 0; i < many_tied.size(); ++i) many_tied[i] = std::round(many_tied[i] * 8) / 8;
  for (size_t i = 0; i < many_tied.size(); i += 5) many_tied[i] = (i % 2) ? -0.0f : 0.0f;
  cases.emplace_back("many ties and signed zeros", many_tied);
  cases.emplace_back("all equal", std::vector<float>(300, -0.25f));
  std::vector<float> one_bucket = random_floats(20000, 10, 0.001, 0.3);  // all in [0.25, 0.3125)
  for (float& w : one_bucket) w = std::clamp(w, 0.2501f, 0.3124f);
  cases.emplace_back("one first-digit bucket", one_bucket);
  return cases;
}

TEST(SymmetryOrder, RadixSortGivesTheReferenceOrder) {
  SymmetrySortBuffers buffers;  // reused across sizes, as the training step reuses it across tensors
  for (const auto& [name, weights] : sort_cases()) {
    std::vector<uint32_t> expected(weights.size()), actual(weights.size(), 12345);
    ascending_order_reference<float>(weights, expected);
    ascending_order_radix(weights, actual, buffers);
    EXPECT_EQ(actual, expected) << name;
  }
}

// The float penalty straight from its definition (reference order, values read through it, λ
// applied afterwards), as the engine computed it before the radix sort.
float reference_float_penalty(SymmetryPairing pairing, const std::vector<float>& weights,
                              std::vector<float>& gradient, float lambda) {
  const size_t n = weights.size(), group = pairing == SymmetryPairing::two_to_two ? 2 : 1,
               terms = n / (2 * group);
  std::vector<uint32_t> order(n);
  ascending_order_reference<float>(weights, order);
  gradient.assign(n, 0.0f);
  float total = 0;
  for (size_t j = 0; j < terms; ++j) {
    float sum = 0;
    for (size_t k = 0; k < group; ++k)
      sum += weights[order[j * group + k]] + weights[order[n - 1 - j * group - k]];
    total += sum * sum;
    for (size_t k = 0; k < group; ++k)
      gradient[order[j * group + k]] = gradient[order[n - 1 - j * group - k]] = 2.0f * sum / float(terms);
  }
  for (float& g : gradient) g *= lambda;
  return terms == 0 ? 0.0f : total / float(terms);
}

// Bits, so that -0 and +0 (and NaN) compare as what they are.
std::vector<uint32_t> bits_of(const std::vector<float>& values) {
  std::vector<uint32_t> bits(values.size());
  for (size_t i = 0; i < values.size(); ++i) bits[i] = qplay::bit_cast<uint32_t>(values[i]);
  return bits;
}

// The value sums the squared group sums in order in runs of 32768 terms and the runs' totals in order
// (symreg_satnl.h): the bits of the plain order up to 32768 terms, its value within float rounding beyond.
void expect_penalty_value(float actual, float expected, SymmetryPairing pairing, size_t n,
                          const std::string& name) {
  const size_t terms = n / (pairing == SymmetryPairing::two_to_two ? 4 : 2);
  if (terms <= 32768)
    EXPECT_EQ(qplay::bit_cast<uint32_t>(actual), qplay::bit_cast<uint32_t>(expected)) << name;
  else
    EXPECT_NEAR(actual, expected, 1e-5 * expected) << name;
}

TEST(SymmetryPenalty, FloatFastPathIsBitIdenticalToTheDefinition) {
  SymmetrySortBuffers buffers;
  for (SymmetryPairing pairing : {SymmetryPairing::one_to_one, SymmetryPairing::two_to_two}) {
    for (const auto& [name, weights] : sort_cases()) {
      for (float lambda : {1.0f, 0.1f}) {
        std::vector<float> expected_gradient, gradient(weights.size(), 7.0f);
        const float expected = reference_float_penalty(pairing, weights, expected_gradient, lambda);
        const float actual =
            symmetry_penalty<float>(pairing, weights, gradient, lambda, buffers, *reference_kernel_table());
        expect_penalty_value(actual, expected, pairing, weights.size(), name);
        EXPECT_EQ(bits_of(gradient), bits_of(expected_gradient)) << name << " lambda " << lambda;
        // Without buffers and λ: the same value (the public two-argument form).
        EXPECT_EQ(qplay::bit_cast<uint32_t>(symmetry_penalty<float>(pairing, weights, std::span<float>())),
                  qplay::bit_cast<uint32_t>(actual))
            << name;
      }
    }
  }
  // Signed zeros paired with each other and with nonzero weights.
  const std::vector<float> zeros = {-0.0f, 0.5f, -0.0f, -0.5f, -0.0f};
  std::vector<float> expected_gradient, gradient(zeros.size());
  reference_float_penalty(SymmetryPairing::one_to_one, zeros, expected_gradient, 1.0f);
  symmetry_penalty<float>(SymmetryPairing::one_to_one, zeros, gradient, 1.0f, buffers,
                          *reference_kernel_table());
  EXPECT_EQ(bits_of(gradient), bits_of(expected_gradient));
  // Non-finite weights: NaN and a zero gradient, as in double.
  for (float bad : {NAN, INFINITY}) {
    std::vector<float> broken = random_floats(100, 11, 0.1);
    broken[37] = bad;
    std::vector<float> g(100, 3.0f);
    EXPECT_TRUE(std::isnan(symmetry_penalty<float>(SymmetryPairing::one_to_one, broken, g, 0.1f, buffers,
                                                   *reference_kernel_table())));
    for (float x : g) EXPECT_EQ(qplay::bit_cast<uint32_t>(x), 0u);
  }
}

TEST(SymmetryPenalty, TheKernelTablesThreadsChangeNoBit) {
  for (SymmetryPairing pairing : {SymmetryPairing::one_to_one, SymmetryPairing::two_to_two}) {
    for (const auto& [name, weights] : sort_cases()) {
      SymmetrySortBuffers single_buffers;
      std::vector<float> expected(weights.size());
      const float expected_value = symmetry_penalty<float>(pairing, weights, expected, 0.1f, single_buffers,
                                                           *reference_kernel_table());
      for (const std::shared_ptr<const KernelTable>& table : tables_under_test()) {
        SymmetrySortBuffers buffers;
        std::vector<float> gradient(weights.size(), 7.0f);
        const float value = symmetry_penalty<float>(pairing, weights, gradient, 0.1f, buffers, *table);
        EXPECT_EQ(qplay::bit_cast<uint32_t>(value), qplay::bit_cast<uint32_t>(expected_value))
            << name << " on " << describe(*table);
        EXPECT_EQ(bits_of(gradient), bits_of(expected)) << name << " on " << describe(*table);
      }
    }
  }
}

TEST(WeightAsymmetry, IsZeroWhenSymmetricTwoWhenShiftedByItsRmsAndScaleFree) {
  std::vector<double> symmetric = {-1.0, 0.5, -0.5, 1.0, 0.25, -0.25};
  EXPECT_NEAR(weight_asymmetry<double>(symmetric), 0.0, 1e-15);
  const double rms = std::sqrt((1.0 + 0.25 + 0.0625) * 2 / 6);
  std::vector<double> shifted = symmetric;
  for (double& w : shifted) w += rms;
  EXPECT_NEAR(weight_asymmetry<double>(shifted), 2.0, 1e-12);
  std::vector<double> scaled = shifted;
  for (double& w : scaled) w *= 37.0;
  EXPECT_NEAR(weight_asymmetry<double>(scaled), 2.0, 1e-12);
  EXPECT_EQ(weight_asymmetry<double>(std::vector<double>(5, 0.0)), 0.0);
}

// [SECTION] Saturating weights

TEST(SaturatingWeights, BackwardMatchesFiniteDifferences) {
  const double scale = 0.7;
  std::vector<double> latent = random_vector(30, 31, 1.5);  // up to ~4c: deep into saturation
  std::vector<double> r = random_vector(30, 32);
  std::vector<double> weights(30), analytic(30);
  saturating_weights_forward<double>(latent, scale, weights);
  saturating_weights_backward<double>(weights, scale, r, analytic);
  auto f = [&](const std::vector<double>& v) {
    std::vector<double> w(v.size());
    saturating_weights_forward<double>(v, scale, w);
    return std::inner_product(r.begin(), r.end(), w.begin(), 0.0);
  };
  EXPECT_LT(relative_error(analytic, numeric_gradient(latent, f)), kTolerance);
}

TEST(SaturatingWeights, InverseRoundTripsAndTheRangeStaysInsideC) {
  const double scale = 0.5;
  std::vector<double> weights = {-0.45, -0.2, 0.0, 0.1, 0.3, 0.49};
  std::vector<double> latent(weights.size()), back(weights.size());
  saturating_weights_inverse<double>(weights, scale, latent);
  saturating_weights_forward<double>(latent, scale, back);
  for (size_t i = 0; i < weights.size(); ++i) EXPECT_NEAR(back[i], weights[i], 1e-14);
  EXPECT_GT(std::fabs(latent[5]), 2 * std::fabs(weights[5]));  // near c the latent runs far out
  // Beyond ±c the inverse clamps instead of returning ±inf.
  std::vector<double> outside = {-2.0, 2.0}, clamped(2);
  saturating_weights_inverse<double>(outside, scale, clamped);
  EXPECT_NEAR(clamped[1], scale * std::atanh(kSaturationInverseLimit), 1e-12);
  EXPECT_NEAR(clamped[0], -clamped[1], 1e-15);
  std::vector<double> huge = {-50.0, 3.0, 50.0}, bounded(3);
  saturating_weights_forward<double>(huge, scale, bounded);
  for (double w : bounded) EXPECT_LE(std::fabs(w), scale);
}

// ulps between two finite floats of the same sign.
int64_t ulps_apart(float a, float b) {
  return std::abs(int64_t(qplay::bit_cast<int32_t>(a)) - int64_t(qplay::bit_cast<int32_t>(b)));
}

TEST(SaturatingWeights, FloatTanhIsTheNearestFloat) {
  // c = 1 makes the forward the engine's float tanh itself. Inputs: the range weights use, the
  // saturated tail, tiny and subnormal values; every array length 1..40 so that the vector loops'
  // tails run too. Expected: std::tanh in double, rounded once. The engine's error is < 1e-15
  // relative, so a result may differ by 1 ulp only when tanh(x) is that close to a midpoint between
  // floats: none in a sweep of all 2.1e9 non-negative floats (against glibc's double tanh).
  std::vector<float> inputs;
  Rng rng(21);
  for (int i = 0; i < 200000; ++i) inputs.push_back(static_cast<float>(rng.uniform(-12.0, 12.0)));
  for (int i = 0; i < 50000; ++i) inputs.push_back(static_cast<float>(rng.normal() * 0.7));
  for (int i = 0; i < 20000; ++i)
    inputs.push_back(
        static_cast<float>(rng.uniform(-1.0, 1.0) * std::ldexp(1.0, -static_cast<int>(rng.below(150)))));
  for (float x :
       {0.0f, 1e-45f, 1e-38f, 0.5493061f, 1.0f, 9.0f, 9.01f, 9.02f, 10.0f, 10.000001f, 88.0f, 3e38f})
    for (float sign : {1.0f, -1.0f}) inputs.push_back(sign * x);
  size_t offset = 0, length = 1, differ = 0;
  while (offset < inputs.size()) {
    const size_t n = std::min(length, inputs.size() - offset);
    std::span<const float> x = std::span<const float>(inputs).subspan(offset, n);
    std::vector<float> y(n);
    saturating_weights_forward<float>(x, 1.0f, y);
    for (size_t i = 0; i < n; ++i) {
      const float expected = static_cast<float>(std::tanh(double(x[i])));
      differ += y[i] != expected;
      EXPECT_LE(ulps_apart(y[i], expected), 1) << "x " << x[i];
      EXPECT_EQ(std::signbit(y[i]), std::signbit(x[i])) << "x " << x[i];  // odd, -0 included
    }
    offset += n;
    length = length % 40 + 1;
  }
  EXPECT_EQ(differ, 0u);
  // Non-finite inputs behave as std::tanh: ±inf saturate, NaN stays NaN.
  const std::vector<float> special = {INFINITY, -INFINITY, NAN};
  std::vector<float> out(3);
  saturating_weights_forward<float>(special, 1.0f, out);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -1.0f);
  EXPECT_TRUE(std::isnan(out[2]));
}

TEST(SaturatingWeights, FloatForwardIsScaleTimesTanhOfTheRatio) {
  // c·tanh(v/c) with the ratio and the product rounded in float, as written; saturation at ±c.
  const float scale = 0.0437f;
  std::vector<float> latent = random_floats(1001, 22, 0.05), weights(1001);
  latent[0] = 50.0f;
  saturating_weights_forward<float>(latent, scale, weights);
  for (size_t i = 0; i < latent.size(); ++i)
    EXPECT_EQ(weights[i], scale * static_cast<float>(std::tanh(double(latent[i] / scale)))) << latent[i];
  EXPECT_EQ(weights[0], scale);
}

TEST(SaturatingWeights, ScaleIsTheKnobTimesTheStandardDeviation) {
  std::vector<float> weights = {1.0f, 3.0f, 1.0f, 3.0f};  // mean 2, std 1
  EXPECT_NEAR(saturation_scale_for<float>(weights, 2.5), 2.5f, 1e-6f);
  EXPECT_NEAR(saturation_scale_for<float>(std::vector<float>(3, 0.2f), 2.5), 2.5f, 1e-6f);  // no spread
}

// [SECTION] Sharpness-aware perturbations

TEST(SharpnessAware, SamPerturbationHasNormRhoAlongTheGradient) {
  std::vector<double> gradient = random_vector(17, 41, 0.01), perturbation(17);
  sam_perturbation<double>(gradient, 0.05, perturbation);
  EXPECT_NEAR(norm(perturbation), 0.05, 1e-15);
  const double ratio = perturbation[0] / gradient[0];
  EXPECT_GT(ratio, 0.0);
  for (size_t i = 0; i < gradient.size(); ++i) EXPECT_NEAR(perturbation[i], ratio * gradient[i], 1e-15);
  std::vector<double> zero(17, 0.0);
  sam_perturbation<double>(zero, 0.05, perturbation);
  for (double e : perturbation) EXPECT_EQ(e, 0.0);
}

TEST(SharpnessAware, AsamPerturbationHasNormRhoRelativeToTheWeights) {
  const double rho = 0.5, eta = 0.01;
  std::vector<double> weights = random_vector(17, 42, 0.3), gradient = random_vector(17, 43),
                      perturbation(17);
  asam_perturbation<double>(weights, gradient, rho, eta, perturbation);
  std::vector<double> relative(17);
  for (size_t i = 0; i < 17; ++i) relative[i] = perturbation[i] / (std::fabs(weights[i]) + eta);
  EXPECT_NEAR(norm(relative), rho, 1e-14);
  // Along T²g: ε_i / ((|w_i| + η)² g_i) is one positive constant, so larger weights move more.
  auto squared_scale = [&](size_t i) {
    return (std::fabs(weights[i]) + eta) * (std::fabs(weights[i]) + eta);
  };
  const double constant = perturbation[0] / (squared_scale(0) * gradient[0]);
  EXPECT_GT(constant, 0.0);
  for (size_t i = 0; i < 17; ++i)
    EXPECT_NEAR(perturbation[i], constant * squared_scale(i) * gradient[i], 1e-14);
}

// [SECTION] The whole step objective, in double

Network<double> small_double_network(const std::string& spec, uint64_t seed) {
  Result<Architecture> architecture = parse_architecture(spec, {1, 1, 3}, 3);
  EXPECT_TRUE(architecture.ok()) << architecture.message();
  Network<double> network(*architecture, reference_kernel_table());
  network.initialize(seed);
  return network;
}

struct SmallBatch {
  std::vector<double> features;
  std::vector<int32_t> labels;
  int size;
};

SmallBatch small_batch(int size, uint64_t seed) {
  SmallBatch b{random_vector(size_t(size) * 3, seed), std::vector<int32_t>(size), size};
  for (int i = 0; i < size; ++i) b.labels[i] = (i * 5 + 1) % 3;
  return b;
}

// CE(effective(master)) + λ Σ_l L_sym(effective(master)_l), evaluated without symreg_gradients.
double objective_at(Network<double>& network, const SymRegState<double>& state,
                    const SymRegSettings& settings, const SmallBatch& batch,
                    const std::vector<double>& master) {
  std::vector<double> effective(master.size());
  symreg_effective_parameters<double>(network, state, master, effective);
  ForwardOptions<double> options;
  options.parameters = effective;
  network.forward(batch.features, batch.size, options);
  double total = network.loss(batch.labels);
  for (const ParameterTensor& t : network.parameter_tensors())
    if (t.is_weight)
      total +=
          settings.symmetry_lambda *
          symmetry_penalty<double>(settings.pairing, network.tensor(std::span<const double>(effective), t),
                                   std::span<double>());
  return total;
}

TEST(SymRegObjective, GradientMatchesFiniteDifferencesOfLossPlusPenalty) {
  struct Case {
    const char* spec;
    SymmetryPairing pairing;
    bool saturating;
  };
  for (const Case& c : {Case{"mlp:6,5:tanh", SymmetryPairing::one_to_one, true},
                        Case{"mlp:7:softplus", SymmetryPairing::two_to_two, true},
                        Case{"mlp:6,5:tanh", SymmetryPairing::two_to_two, false}}) {
    SymRegSettings settings;
    settings.symmetry_lambda = 0.5;  // large, so the penalty's share of the gradient is not lost in CE's
    settings.pairing = c.pairing;
    settings.saturating_weights = c.saturating;
    // c = 2·std of the uniform init = 1.15 × its bound: the largest weights sit at 0.87c, where tanh's
    // slope is 0.25. (Below √3 the inverse would clamp them to one latent value: ties, a kink.)
    settings.saturation_scale = 2.0;
    Network<double> network = small_double_network(c.spec, 3);
    SymRegState<double> state = attach_symreg(network, settings);
    const SmallBatch batch = small_batch(5, 4);
    SymRegStepValues<double> values =
        symreg_gradients<double>(network, state, settings, batch.features, batch.labels, batch.size);
    std::vector<double> analytic(network.gradients().begin(), network.gradients().end());
    const std::vector<double> master(network.parameters().begin(), network.parameters().end());
    auto f = [&](const std::vector<double>& m) { return objective_at(network, state, settings, batch, m); };
    EXPECT_NEAR(values.loss + values.penalty, f(master), 1e-12) << c.spec;
    EXPECT_GT(values.penalty, 1e-3) << c.spec;
    EXPECT_LT(relative_error(analytic, numeric_gradient(master, f)), kTolerance) << c.spec;
  }
}

TEST(SymRegObjective, SamGradientIsTheLossGradientAtThePerturbedPointPlusThePenaltyGradient) {
  for (SharpnessAware sam : {SharpnessAware::sam, SharpnessAware::asam}) {
    SymRegSettings settings;
    settings.symmetry_lambda = 0.5;
    settings.sam = sam;
    Network<double> network = small_double_network("mlp:6,5:tanh", 5);
    SymRegState<double> state = attach_symreg(network, settings);
    const SmallBatch batch = small_batch(6, 6);
    const std::vector<double> master(network.parameters().begin(), network.parameters().end());

    // The pieces, from the plain (non-SAM) objective.
    SymRegSettings plain = settings, loss_only = settings;
    plain.sam = loss_only.sam = SharpnessAware::none;
    loss_only.symmetry_lambda = 0;
    auto gradient_at = [&](const std::vector<double>& parameters, const SymRegSettings& s) {
      std::copy(parameters.begin(), parameters.end(), network.parameters().begin());
      symreg_gradients<double>(network, state, s, batch.features, batch.labels, batch.size);
      std::copy(master.begin(), master.end(), network.parameters().begin());
      return std::vector<double>(network.gradients().begin(), network.gradients().end());
    };
    const std::vector<double> loss_gradient = gradient_at(master, loss_only);
    const std::vector<double> full_gradient = gradient_at(master, plain);
    std::vector<double> weights, weight_gradient;  // the weight tensors only, flat
    for (const ParameterTensor& t : network.parameter_tensors()) {
      if (!t.is_weight) continue;
      for (size_t i = t.offset; i < t.offset + t.size(); ++i) {
        weights.push_back(master[i]);
        weight_gradient.push_back(loss_gradient[i]);
      }
    }
    std::vector<double> epsilon(weights.size());
    const double rho = effective_sam_rho(settings);
    if (sam == SharpnessAware::sam)
      sam_perturbation<double>(weight_gradient, rho, epsilon);
    else
      asam_perturbation<double>(weights, weight_gradient, rho, settings.asam_eta, epsilon);
    std::vector<double> perturbed = master;
    size_t position = 0;
    for (const ParameterTensor& t : network.parameter_tensors())
      if (t.is_weight)
        for (size_t i = t.offset; i < t.offset + t.size(); ++i) perturbed[i] += epsilon[position++];
    const std::vector<double> perturbed_loss_gradient = gradient_at(perturbed, loss_only);
    std::vector<double> expected(master.size());
    for (size_t i = 0; i < master.size(); ++i)
      expected[i] = perturbed_loss_gradient[i] + (full_gradient[i] - loss_gradient[i]);

    network.forward(batch.features, batch.size);  // some other forward, to be replaced
    SymRegStepValues<double> values =
        symreg_gradients<double>(network, state, settings, batch.features, batch.labels, batch.size);
    std::vector<double> actual(network.gradients().begin(), network.gradients().end());
    EXPECT_LT(relative_error(actual, expected), 1e-12);
    // ... and differs clearly from the plain gradient, so the check above catches an ignored ε̂.
    EXPECT_GT(relative_error(full_gradient, expected), 1e-3);

    // The reported loss and the probabilities left in the network are the unperturbed ones.
    const std::vector<double> probabilities(network.probabilities().begin(), network.probabilities().end());
    std::vector<double> effective(master.size());
    symreg_effective_parameters<double>(network, state, master, effective);
    ForwardOptions<double> options;
    options.parameters = effective;
    network.forward(batch.features, batch.size, options);
    EXPECT_NEAR(values.loss, network.loss(batch.labels), 1e-15);
    for (size_t i = 0; i < probabilities.size(); ++i) EXPECT_EQ(probabilities[i], network.probabilities()[i]);
  }
}

// [SECTION] The TrainingMethod (float)

Network<float> float_network(const std::string& spec, TensorShape input, int classes, uint64_t seed) {
  Result<Architecture> architecture = parse_architecture(spec, input, classes);
  EXPECT_TRUE(architecture.ok()) << architecture.message();
  Network<float> network(*architecture, reference_kernel_table());
  network.initialize(seed);
  return network;
}

std::unique_ptr<TrainingMethod> symreg_method(const SymRegSettings& settings) {
  Result<std::unique_ptr<TrainingMethod>> method = make_symreg_method(settings);
  EXPECT_TRUE(method.ok()) << method.message();
  return std::move(method).value();
}

TEST(SymRegMethod, FloatStepMatchesTheDoubleObjective) {
  for (SharpnessAware sam : {SharpnessAware::none, SharpnessAware::asam}) {
    SymRegSettings settings;
    settings.symmetry_lambda = 0.5;
    settings.sam = sam;
    Network<double> reference = small_double_network("mlp:6,5:tanh", 9);
    SymRegState<double> state = attach_symreg(reference, settings);
    const SmallBatch batch = small_batch(6, 10);
    const SymRegStepValues<double> expected =
        symreg_gradients<double>(reference, state, settings, batch.features, batch.labels, batch.size);

    Network<float> network = float_network("mlp:6,5:tanh", {1, 1, 3}, 3, 9);
    std::unique_ptr<TrainingMethod> method = symreg_method(settings);
    EXPECT_EQ(method->name(), "symreg");
    method->attach(network);
    const std::vector<float> features(batch.features.begin(), batch.features.end());
    const StepResult result = method->compute_gradients(network, {features, batch.labels, batch.size}, {});
    EXPECT_NEAR(result.loss, expected.loss, 1e-5);
    EXPECT_NEAR(result.penalty, expected.penalty, 1e-5);
    const std::vector<double> actual(network.gradients().begin(), network.gradients().end());
    EXPECT_LT(relative_error(actual,
                             std::vector<double>(reference.gradients().begin(), reference.gradients().end())),
              1e-4)
        << "sam " << int(sam);
  }
}

// Float gradients of every parameter as bits.
std::vector<uint32_t> gradient_bits(Network<float>& network) {
  return bits_of(std::vector<float>(network.gradients().begin(), network.gradients().end()));
}

TEST(SymRegObjective, FromEffectiveIsBitIdenticalToTheFullStep) {
  for (SharpnessAware sam : {SharpnessAware::none, SharpnessAware::sam}) {
    for (SymmetryPairing pairing : {SymmetryPairing::one_to_one, SymmetryPairing::two_to_two}) {
      SymRegSettings settings;
      settings.pairing = pairing;
      settings.sam = sam;
      Network<float> full = float_network("mlp:24,16", {1, 1, 5}, 3, 31),
                     split = float_network("mlp:24,16", {1, 1, 5}, 3, 31);
      SymRegState<float> full_state = attach_symreg(full, settings),
                         split_state = attach_symreg(split, settings);
      const std::vector<float> features = random_floats(7 * 5, 32, 1.0);
      const std::vector<int32_t> labels = {0, 1, 2, 2, 1, 0, 1};
      const SymRegStepValues<float> expected =
          symreg_gradients<float>(full, full_state, settings, features, labels, 7);
      symreg_effective_parameters<float>(split, split_state, std::as_const(split).parameters(),
                                         split_state.effective);
      const SymRegStepValues<float> actual =
          symreg_gradients_from_effective<float>(split, split_state, settings, features, labels, 7);
      EXPECT_EQ(qplay::bit_cast<uint32_t>(actual.loss), qplay::bit_cast<uint32_t>(expected.loss));
      EXPECT_EQ(qplay::bit_cast<uint32_t>(actual.penalty), qplay::bit_cast<uint32_t>(expected.penalty));
      EXPECT_GT(actual.penalty, 0.0f);
      EXPECT_EQ(gradient_bits(split), gradient_bits(full))
          << "sam " << int(sam) << " pairing " << int(pairing);
    }
  }
}

TEST(SymRegMethod, StepsAreBitIdenticalToTheFreeFunctions) {
  // The method keeps the effective weights from after_optimizer_step to the next compute_gradients
  // and runs the tanh once per step; the free function recomputes them. Five SGD steps of each.
  SymRegSettings settings;
  Network<float> network = float_network("mlp:24,16", {1, 1, 5}, 3, 33),
                 reference = float_network("mlp:24,16", {1, 1, 5}, 3, 33);
  OptimizerSettings optimizer;
  network.set_optimizer_slot_count(optimizer_slot_count(optimizer.kind));
  reference.set_optimizer_slot_count(optimizer_slot_count(optimizer.kind));
  std::unique_ptr<TrainingMethod> method = symreg_method(settings);
  method->attach(network);
  SymRegState<float> state = attach_symreg(reference, settings);  // reference.parameters() are latent v
  const std::vector<int32_t> labels = {2, 0, 1, 1, 0, 2};
  for (long step = 1; step <= 5; ++step) {
    const std::vector<float> features = random_floats(6 * 5, 40 + step, 1.0);
    const StepResult result = method->compute_gradients(network, {features, labels, 6}, {});
    const SymRegStepValues<float> expected =
        symreg_gradients<float>(reference, state, settings, features, labels, 6);
    EXPECT_EQ(qplay::bit_cast<uint32_t>(result.loss), qplay::bit_cast<uint32_t>(expected.loss))
        << "step " << step;
    EXPECT_EQ(qplay::bit_cast<uint32_t>(result.penalty), qplay::bit_cast<uint32_t>(expected.penalty));
    EXPECT_EQ(gradient_bits(network), gradient_bits(reference)) << "step " << step;
    optimizer_step(network, optimizer, optimizer.learning_rate, step);
    optimizer_step(reference, optimizer, optimizer.learning_rate, step);
    method->after_optimizer_step(network, {});
  }
  // Between steps the network holds the deployed w = c·tanh(v/c) of the reference's v.
  std::vector<float> deployed(reference.parameter_count());
  symreg_effective_parameters<float>(reference, state, std::as_const(reference).parameters(), deployed);
  EXPECT_EQ(bits_of(std::vector<float>(network.parameters().begin(), network.parameters().end())),
            bits_of(deployed));
}

TEST(SymRegMethod, AttachKeepsTheInitialEffectiveWeightsAndReportsC) {
  Network<float> network = float_network("mlp:16,8", {1, 1, 2}, 3, 11);
  const std::vector<float> initial(network.parameters().begin(), network.parameters().end());
  std::unique_ptr<TrainingMethod> method = symreg_method({});
  method->attach(network);
  // Between steps the network holds the deployed weights, which start as the initial ones.
  for (size_t i = 0; i < initial.size(); ++i) {
    EXPECT_NEAR(network.parameters()[i], initial[i], 1e-6f * std::max(1.0f, std::fabs(initial[i])));
  }
  // During a step it holds the latent v, which differs from w wherever tanh bends.
  const std::vector<float> features = {0.1f, -0.2f, 0.3f, 0.4f};
  const std::vector<int32_t> labels = {0, 2};
  method->compute_gradients(network, {features, labels, 2}, {});
  double largest_latent_change = 0;
  for (size_t i = 0; i < initial.size(); ++i)
    largest_latent_change =
        std::max(largest_latent_change, double(std::fabs(network.parameters()[i] - initial[i])));
  EXPECT_GT(largest_latent_change, 0.01);
  method->after_optimizer_step(network, {});
  int scales = 0;
  for (const MethodReadout& readout : method->readouts(network)) {
    if (readout.name != "saturation scale c") continue;
    ++scales;
    for (const ParameterTensor& t : network.parameter_tensors())
      if (t.is_weight && t.layer == readout.layer)
        EXPECT_NEAR(
            readout.value,
            saturation_scale_for<float>(std::span<const float>(initial).subspan(t.offset, t.size()), 2.5),
            1e-6);
  }
  EXPECT_EQ(scales, 3);
}

TEST(SymRegSettings, AbsurdValuesAreRejectedWithMessages) {
  EXPECT_TRUE(validate(SymRegSettings{}).ok());
  auto message_for = [](auto change) {
    SymRegSettings settings;
    change(settings);
    Result<std::unique_ptr<TrainingMethod>> method = make_symreg_method(settings);
    EXPECT_FALSE(method.ok());
    return method.ok() ? std::string() : method.message();
  };
  EXPECT_EQ(message_for([](SymRegSettings& s) { s.symmetry_lambda = -0.1; }),
            "symmetry lambda: -0.1 is not allowed, use a finite value >= 0 (methods.md sweeps 1e-4 to 1e-1)");
  EXPECT_NE(message_for([](SymRegSettings& s) { s.symmetry_lambda = NAN; }).find("symmetry lambda: nan"),
            std::string::npos);
  EXPECT_NE(message_for([](SymRegSettings& s) { s.sam_rho = NAN; }).find("SAM rho: nan is not allowed"),
            std::string::npos);
  EXPECT_NE(message_for([](SymRegSettings& s) { s.sam_rho = -1; }).find("SAM rho: -1"), std::string::npos);
  EXPECT_NE(message_for([](SymRegSettings& s) {
              s.saturation_scale = 0;
            }).find("saturation scale: 0 is not allowed"),
            std::string::npos);
  EXPECT_NE(message_for([](SymRegSettings& s) { s.saturation_scale = -2; }).find("saturation scale: -2"),
            std::string::npos);
  EXPECT_NE(message_for([](SymRegSettings& s) { s.asam_eta = INFINITY; }).find("ASAM eta: inf"),
            std::string::npos);
  EXPECT_NE(message_for([](SymRegSettings& s) {
              s.sam = static_cast<SharpnessAware>(7);
            }).find("sharpness-aware: 7"),
            std::string::npos);
}

// [SECTION] Behaviour on a toy problem

struct Trained {
  Network<float> network;
  std::unique_ptr<TrainingMethod> method;
  std::vector<float> initial;  // the effective weights at initialization
};

Trained train_on(const Dataset& data, std::unique_ptr<TrainingMethod> method, const std::string& spec,
                 int steps, uint64_t seed) {
  Trained t{float_network(spec, {1, 1, 2}, data.num_classes, seed), std::move(method), {}};
  t.initial.assign(t.network.parameters().begin(), t.network.parameters().end());
  OptimizerSettings optimizer;  // SGD, lr 0.05, momentum 0.9
  t.network.set_optimizer_slot_count(optimizer_slot_count(optimizer.kind));
  t.method->attach(t.network);
  const int batch_size = 32;
  EpochBatcher batcher(data.train_size(), batch_size, seed);
  std::vector<float> features(size_t(batch_size) * 2);
  std::vector<int32_t> labels(batch_size);
  std::span<const uint32_t> indices;
  for (long step = 1; step <= steps; ++step) {
    if (!batcher.next(indices)) {
      batcher.start_epoch(batcher.epoch() + 1);
      batcher.next(indices);
    }
    gather_batch(data.train_x, indices, features.data());
    gather_labels(data.train_y, indices, labels.data());
    StepContext context;
    context.step = step;
    context.learning_rate = optimizer.learning_rate;
    const int size = static_cast<int>(indices.size());
    const StepResult result =
        t.method->compute_gradients(t.network,
                                    {std::span<const float>(features).first(size_t(size) * 2),
                                     std::span<const int32_t>(labels).first(size), size},
                                    context);
    EXPECT_TRUE(std::isfinite(result.loss)) << "step " << step;
    optimizer_step(t.network, optimizer, optimizer.learning_rate, step);
    t.method->after_optimizer_step(t.network, context);
  }
  return t;
}

std::vector<float> deployed(const Trained& t) {
  return {t.network.parameters().begin(), t.network.parameters().end()};
}

Dataset spiral() {
  ToyDatasetOptions options;
  options.kind = ToyDatasetKind::spiral;
  options.num_samples = 600;
  options.noise = 0.05;
  options.seed = 3;
  Result<Dataset> data = make_toy_dataset(options);
  EXPECT_TRUE(data.ok()) << data.message();
  return std::move(data).value();
}

// readouts() of a method as {layer -> value} for one readout name.
std::vector<std::pair<int, double>> readouts_named(const Trained& t, const std::string& name) {
  std::vector<std::pair<int, double>> out;
  for (const MethodReadout& r : t.method->readouts(t.network))
    if (r.name == name) out.emplace_back(r.layer, r.value);
  return out;
}

// Default settings (λ 0.1, SatNL at 2.5·std, no SAM) against the baseline, same seed, data, batches
// and optimizer, 400 SGD steps of mlp:32,32 on the 3-arm spiral, three seeds. Measured (seeds 21,
// 22, 23), weight asymmetry of layers 0 / 2 / 4 (2x32, 32x32, 32x3 weights):
//   baseline  0.100 0.010 0.018 | 0.181 0.018 0.011 | 0.082 0.017 0.042
//   symreg    0.007 0.014 0.002 | 0.011 0.005 0.005 | 0.006 0.026 0.013
// The first and last layers, where training makes the weights drift off centre, become 3-16x more
// symmetric. The 32x32 layer stays at the level that sampling noise alone gives ~1000 weights
// (its initial values are 0.001-0.013): the penalty's pull on one weight is 4λ·(pair sum)/n, 16x
// weaker there than in the first layer; λ = 1 brings it to 0.003-0.007.
TEST(SymRegMethod, TrainingLowersAsymmetryAndSatNLBoundsWeights) {
  const Dataset data = spiral();
  double baseline_mean = 0, symreg_mean = 0;  // over seeds and layers
  for (uint64_t seed : {21, 22, 23}) {
    Trained baseline = train_on(data, make_baseline_method(), "mlp:32,32", 400, seed);
    Trained symreg = train_on(data, symreg_method({}), "mlp:32,32", 400, seed);
    const std::vector<float> baseline_weights = deployed(baseline), symreg_weights = deployed(symreg);
    const auto asymmetries = readouts_named(symreg, "weight asymmetry");
    const auto scales = readouts_named(symreg, "saturation scale c");
    ASSERT_EQ(asymmetries.size(), 3u);
    ASSERT_EQ(scales.size(), 3u);
    double baseline_largest_ratio = 0;  // max |w| / c over the baseline's layers, c by the same rule
    size_t k = 0;
    for (const ParameterTensor& t : symreg.network.parameter_tensors()) {
      if (!t.is_weight) continue;
      std::span<const float> b = std::span<const float>(baseline_weights).subspan(t.offset, t.size());
      std::span<const float> r = std::span<const float>(symreg_weights).subspan(t.offset, t.size());
      EXPECT_EQ(asymmetries[k].first, t.layer);
      EXPECT_NEAR(asymmetries[k].second, weight_asymmetry(r), 1e-6);
      const double baseline_asymmetry = weight_asymmetry(b);
      if (t.layer == 0) EXPECT_LT(asymmetries[k].second, baseline_asymmetry / 5) << "seed " << seed;
      baseline_mean += baseline_asymmetry / 9;
      symreg_mean += asymmetries[k].second / 9;
      const double c = scales[k].second;
      for (float w : r) EXPECT_LT(std::fabs(w), c) << "seed " << seed << " layer " << t.layer;
      const double baseline_c = saturation_scale_for<float>(
          std::span<const float>(baseline.initial).subspan(t.offset, t.size()), 2.5);
      for (float w : b) baseline_largest_ratio = std::max(baseline_largest_ratio, std::fabs(w) / baseline_c);
      ++k;
    }
    EXPECT_GT(baseline_largest_ratio, 1.5)
        << "seed " << seed << ": without SatNL the bound is not met by itself";
    std::vector<float> view = symreg_weights;
    ForwardOptions<float> options;
    options.parameters = view;
    EXPECT_GT(evaluate(symreg.network, data.test_x, data.test_y, options).accuracy, 0.93) << "seed " << seed;
    EXPECT_GT(evaluate(baseline.network, data.test_x, data.test_y).accuracy, 0.93) << "seed " << seed;
  }
  EXPECT_LT(symreg_mean, baseline_mean / 3) << "baseline " << baseline_mean << " symreg " << symreg_mean;
}

// The paper's claim (§3.5, Table 2) at toy scale: after post-training quantization of the weights
// (per-tensor, symmetric restricted range, min-max; activations float), SymReg+SatNL loses less test
// accuracy than the baseline. Default settings, the same training as above, eight seeds; no setting
// was tuned for this test. Measured mean test accuracy (float / 4 / 3 / 2 bits):
//   baseline        0.973 / 0.965 / 0.944 / 0.657
//   symreg+satnl    0.974 / 0.972 / 0.965 / 0.881   (3 bits: better on 7 of 8 seeds, worse on 1)
// Honest attribution, same protocol: SatNL alone (λ = 0) gives 0.964 at 3 bits and 0.893 at 2 bits,
// SymReg alone (no SatNL) 0.926 and 0.652, no better than the baseline. On this toy problem the gain
// comes from SatNL's narrower range; the asymmetry the penalty removes matters little to a 3-layer MLP.
double accuracy_at_bits(Trained& t, const Dataset& data, int bits) {
  std::vector<float> weights = deployed(t), view(weights.size());
  QuantizationSetting setting;
  setting.weights.bits = bits;
  setting.weights.granularity = Granularity::per_tensor;
  setting.weights.symmetry = Symmetry::symmetric;
  quantize_weights_into(t.network, weights, setting, view);
  ForwardOptions<float> options;
  options.parameters = view;
  return evaluate(t.network, data.test_x, data.test_y, options).accuracy;
}

TEST(SymRegQuantization, LosesLessAccuracyThanTheBaselineAtThreeBitWeights) {
  const Dataset data = spiral();
  double baseline_drop = 0, symreg_drop = 0;
  for (uint64_t seed = 21; seed < 29; ++seed) {
    Trained baseline = train_on(data, make_baseline_method(), "mlp:32,32", 400, seed);
    Trained symreg = train_on(data, symreg_method({}), "mlp:32,32", 400, seed);
    baseline_drop += (accuracy_at_bits(baseline, data, 0) - accuracy_at_bits(baseline, data, 3)) / 8;
    symreg_drop += (accuracy_at_bits(symreg, data, 0) - accuracy_at_bits(symreg, data, 3)) / 8;
  }
  // Measured: 0.029 and 0.008.
  EXPECT_LT(symreg_drop, baseline_drop - 0.01) << "baseline " << baseline_drop << " symreg " << symreg_drop;
}

}  // namespace
}  // namespace qplay

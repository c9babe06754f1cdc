// CPQ + DropBits + learned bit-width (methods/cpq_dropbits.h; methods.md §4).
//   Math: the forward is round-to-nearest with clipping; Σ_k π_k = 1; the multi-class STE backward
//   is the exact derivative of the surrogate Σ_k g_k π_k w.r.t. x, α (through π) and σ, and the
//   direct α path is the code (central differences in double, h = 1e-6, relative error ≤ 1e-6, as
//   in nn_gradient_check_test.cpp); DropBits masks are nested, keep bit 1, give 2^{b'}-point grids
//   with the same α and drop at rate p; the hard-concrete P(z > 0) matches Monte Carlo.
//   Behaviour on the spiral: CPQ clusters weights at grid points, a large λ_b lowers a learned
//   bit-width (λ_b = 0 keeps it), and 3-bit CPQ stays near the float baseline.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/engine/base/rng.h"
#include "core/engine/data/batcher.h"
#include "core/engine/data/toy_datasets.h"
#include "core/engine/methods/cpq_dropbits.h"
#include "core/engine/train/evaluation.h"
#include "core/engine/train/optimizer.h"

namespace qplay {
namespace {

constexpr double kStep = 1e-6;
constexpr double kTolerance = 1e-6;

// Relative error max|a-b| / max(1e-3, max|b|) between analytic and numeric gradients.
double relative_error(const std::vector<double>& analytic, const std::vector<double>& numeric) {
  double diff = 0, scale = 1e-3;
  for (size_t i = 0; i < analytic.size(); ++i) {
    diff = std::max(diff, std::fabs(analytic[i] - numeric[i]));
    scale = std::max(scale, std::fabs(numeric[i]));
  }
  return diff / scale;
}

double central_difference(const std::function<double(double)>& f, double at) {
  return (f(at + kStep) - f(at - kStep)) / (2 * kStep);
}

// Σ_k grid_step·k·π_k(x; cell_step, σ): the surrogate with the grid values held at grid_step, so that
// its derivative in cell_step is the STE path of α.
double surrogate(double x, double grid_step, double cell_step, double noise, int bits) {
  std::vector<double> probabilities(size_t{1} << bits);
  cpq_cell_probabilities<double>(x, cell_step, noise, bits, probabilities);
  double sum = 0;
  for (int k = cpq_code_min(bits); k <= cpq_code_max(bits); ++k)
    sum += grid_step * k * probabilities[k - cpq_code_min(bits)];
  return sum;
}

// Points across and beyond the grid, some right at thresholds and grid points.
std::vector<double> probe_points(double step, int bits, uint64_t seed) {
  Rng rng(seed);
  std::vector<double> x;
  const double reach = (cpq_code_max(bits) + 3) * step;
  for (int i = 0; i < 40; ++i) x.push_back(rng.uniform(-reach, reach));
  for (int k = cpq_code_min(bits); k < cpq_code_max(bits); ++k) x.push_back(step * (k + 0.5));
  x.push_back(0.0);
  x.push_back(-reach * 4);
  return x;
}

struct SurrogateCase {
  int bits;
  double step, noise;
};
const SurrogateCase kSurrogateCases[] = {
    {2, 0.3, 0.1}, {3, 0.3, 0.1}, {3, 0.05, 0.005}, {5, 0.2, 0.4}, {8, 0.01, 0.02}};

// [SECTION] §4.1 forward and probabilities

TEST(CpqQuantizer, ForwardIsTheNearestPointOfTheClippedGrid) {
  Rng rng(1);
  for (int bits = 2; bits <= 8; ++bits) {
    const double step = 0.37;
    std::vector<double> x(500), quantized(500);
    for (double& v : x) v = rng.uniform(-1.5, 1.5) * step * (1 << bits);
    cpq_quantize_forward<double>(x, step, bits, quantized);
    for (size_t i = 0; i < x.size(); ++i) {
      double nearest = step * cpq_code_min(bits);  // brute force over the enumerated grid
      for (int k = cpq_code_min(bits); k <= cpq_code_max(bits); ++k)
        if (std::fabs(x[i] - step * k) < std::fabs(x[i] - nearest)) nearest = step * k;
      ASSERT_EQ(quantized[i], nearest) << "bits " << bits << " x " << x[i];
    }
  }
}

TEST(CpqQuantizer, ForwardIsTheModeOfPiAwayFromTheOuterThresholds) {
  // Inside the grid the most probable cell is the nearest one; only within 3.5% of a cell of the two
  // outermost thresholds (σ = α/3) do the open boundary cells win (header: the forward is rounding).
  const int bits = 3;
  const double step = 0.5, noise = step / 3;
  const double lowest_threshold = step * (cpq_code_min(bits) + 0.5);
  const double highest_threshold = step * (cpq_code_max(bits) - 0.5);
  std::vector<double> probabilities(8);
  int compared = 0;
  for (double x = -3; x <= 3; x += 0.001) {
    if (std::fabs(x - lowest_threshold) < 0.04 * step || std::fabs(x - highest_threshold) < 0.04 * step)
      continue;
    cpq_cell_probabilities<double>(x, step, noise, bits, probabilities);
    const int mode = static_cast<int>(std::max_element(probabilities.begin(), probabilities.end()) -
                                      probabilities.begin()) +
                     cpq_code_min(bits);
    ASSERT_EQ(mode, cpq_code<double>(x, step, bits)) << x;
    ++compared;
  }
  EXPECT_GT(compared, 5000);
}

TEST(CpqQuantizer, CellProbabilitiesArePositiveAndSumToOne) {
  for (const SurrogateCase& c : kSurrogateCases) {
    std::vector<double> probabilities(size_t{1} << c.bits);
    for (double x : probe_points(c.step, c.bits, 2)) {
      cpq_cell_probabilities<double>(x, c.step, c.noise, c.bits, probabilities);
      double sum = 0;
      for (double p : probabilities) {
        EXPECT_GE(p, 0.0);
        sum += p;
      }
      EXPECT_NEAR(sum, 1.0, 1e-12) << "bits " << c.bits << " x " << x;
    }
  }
}

// [SECTION] §4.1 multi-class STE backward against finite differences of the surrogate

TEST(CpqSurrogateDerivatives, XMatchesFiniteDifferencesOfTheSurrogate) {
  for (const SurrogateCase& c : kSurrogateCases) {
    std::vector<double> analytic, numeric;
    for (double x : probe_points(c.step, c.bits, 3)) {
      analytic.push_back(cpq_surrogate_derivatives<double>(x, c.step, c.noise, c.bits).x);
      numeric.push_back(
          central_difference([&](double v) { return surrogate(v, c.step, c.step, c.noise, c.bits); }, x));
    }
    EXPECT_LT(relative_error(analytic, numeric), kTolerance) << "bits " << c.bits;
  }
}

TEST(CpqSurrogateDerivatives, StepThroughProbabilitiesMatchesFiniteDifferencesWithTheGridHeld) {
  for (const SurrogateCase& c : kSurrogateCases) {
    std::vector<double> analytic, numeric;
    for (double x : probe_points(c.step, c.bits, 4)) {
      analytic.push_back(cpq_surrogate_derivatives<double>(x, c.step, c.noise, c.bits).step);
      numeric.push_back(
          central_difference([&](double a) { return surrogate(x, c.step, a, c.noise, c.bits); }, c.step));
    }
    EXPECT_LT(relative_error(analytic, numeric), kTolerance) << "bits " << c.bits;
  }
}

TEST(CpqSurrogateDerivatives, NoiseMatchesFiniteDifferencesOfTheSurrogate) {
  for (const SurrogateCase& c : kSurrogateCases) {
    std::vector<double> analytic, numeric;
    for (double x : probe_points(c.step, c.bits, 5)) {
      analytic.push_back(cpq_surrogate_derivatives<double>(x, c.step, c.noise, c.bits).noise);
      numeric.push_back(
          central_difference([&](double s) { return surrogate(x, c.step, c.step, s, c.bits); }, c.noise));
    }
    EXPECT_LT(relative_error(analytic, numeric), kTolerance) << "bits " << c.bits;
  }
}

TEST(CpqQuantizer, DirectStepPathIsTheCode) {
  // x̂ = α k* with k* locally constant in α: ∂x̂/∂α = k*, including the clipped codes.
  const int bits = 3;
  const double step = 0.3;
  for (double x : {-2.0, -0.55, -0.1, 0.05, 0.4, 0.81, 3.0}) {
    auto forward = [&](double a) {
      std::vector<double> in{x}, out(1);
      cpq_quantize_forward<double>(in, a, bits, out);
      return out[0];
    };
    EXPECT_NEAR(central_difference(forward, step), cpq_code<double>(x, step, bits), 1e-9) << x;
  }
}

TEST(CpqQuantizeBackward, MatchesFiniteDifferencesOfTheSurrogateObjectiveInLogParameters) {
  // F = Σ_i u_i x̂_i with the backward's model x̂_i = S(x_i) for x and σ, and, for α, the surrogate
  // through π plus the direct path e^{log α}·k*_i (k* held at the current α).
  const int bits = 3;
  const double step = 0.25, noise = 0.07;
  Rng rng(6);
  std::vector<double> x(30), u(30);
  for (double& v : x) v = rng.uniform(-1.3, 1.1);
  for (double& v : u) v = rng.normal();
  std::vector<double> weight_gradient(x.size());
  const CpqScaleGradients scales = cpq_quantize_backward<double>(x, u, step, noise, bits, weight_gradient);

  std::vector<double> numeric(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    numeric[i] =
        u[i] * central_difference([&](double v) { return surrogate(v, step, step, noise, bits); }, x[i]);
  EXPECT_LT(relative_error(weight_gradient, numeric), kTolerance);

  auto objective_in_log_step = [&](double log_step) {
    double sum = 0;
    for (size_t i = 0; i < x.size(); ++i)
      sum += u[i] * (surrogate(x[i], step, std::exp(log_step), noise, bits) +
                     std::exp(log_step) * cpq_code<double>(x[i], step, bits));
    return sum;
  };
  auto objective_in_log_noise = [&](double log_noise) {
    double sum = 0;
    for (size_t i = 0; i < x.size(); ++i)
      sum += u[i] * surrogate(x[i], step, step, std::exp(log_noise), bits);
    return sum;
  };
  EXPECT_LT(relative_error({scales.log_step}, {central_difference(objective_in_log_step, std::log(step))}),
            kTolerance);
  EXPECT_LT(relative_error({scales.log_noise}, {central_difference(objective_in_log_noise, std::log(noise))}),
            kTolerance);

  // In place (the method overwrites u in network.gradients()) gives the same numbers.
  std::vector<double> in_place = u;
  cpq_quantize_backward<double>(x, in_place, step, noise, bits, in_place);
  EXPECT_EQ(in_place, weight_gradient);
}

TEST(CpqQuantizeBackward, FloatAgreesWithDouble) {
  // The float path (the method's) uses a shorter threshold window (18σ instead of 38σ).
  for (const SurrogateCase& c : kSurrogateCases) {
    std::vector<double> x = probe_points(c.step, c.bits, 7);
    x.resize(40);  // the random points only: at an exact threshold float and double may round apart
    std::vector<double> u(x.size(), 1.0), gradient(x.size());
    std::vector<float> xf(x.begin(), x.end()), uf(x.size(), 1.0f), gradient_float(x.size());
    const CpqScaleGradients exact = cpq_quantize_backward<double>(x, u, c.step, c.noise, c.bits, gradient);
    const CpqScaleGradients rounded = cpq_quantize_backward<float>(
        xf, uf, static_cast<float>(c.step), static_cast<float>(c.noise), c.bits, gradient_float);
    EXPECT_LT(relative_error(std::vector<double>(gradient_float.begin(), gradient_float.end()), gradient),
              1e-5);
    EXPECT_NEAR(rounded.log_step, exact.log_step, 1e-4 * std::max(1.0, std::fabs(exact.log_step)));
    EXPECT_NEAR(rounded.log_noise, exact.log_noise, 1e-4 * std::max(1.0, std::fabs(exact.log_noise)));
  }
}

// [SECTION] §4.1 the fast backward against the literal one

// What rounding in one weight's three derivatives is relative to, in double over every threshold t_k
// of the grid (z_k = (x - t_k)/σ): (α/σ) Σ Sig'(z_k) for ∂S/∂x; |k*| + Σ Sig'(z_k) |t_k|/σ for the
// log α path (its code k* and ∂S/∂α); (α/σ) Σ Sig'(z_k) (1 + |z_k|) for ∂S/∂σ (a shift of z moves
// Sig'(z) z by up to Sig'(z) (1 + |z|) times as much). `edge` is the part from thresholds with
// |z| > c - 1, c the window of T: terms that either backward may leave out.
struct BackwardScales {
  CpqSurrogateDerivatives all, edge;
};

BackwardScales backward_scales(double x, double step, double noise, int bits, double window) {
  BackwardScales scales;
  auto add = [](CpqSurrogateDerivatives& scale, double x_term, double step_term, double noise_term) {
    scale.x += x_term;
    scale.step += step_term;
    scale.noise += noise_term;
  };
  for (int k = cpq_code_min(bits); k < cpq_code_max(bits); ++k) {
    const double threshold = step * (k + 0.5), z = (x - threshold) / noise;
    const double e = std::exp(-std::fabs(z)), slope = e / ((1 + e) * (1 + e));
    const double x_term = step / noise * slope, step_term = slope * std::fabs(threshold) / noise;
    const double noise_term = step / noise * slope * (1 + std::fabs(z));
    add(scales.all, x_term, step_term, noise_term);
    if (std::fabs(z) > window - 1) add(scales.edge, x_term, step_term, noise_term);
  }
  scales.all.step += std::fabs(cpq_code<double>(x, step, bits));
  return scales;
}

// ⌈c σ/α⌉ for the window c of T: how many steps beyond the outermost threshold a weight still gets a
// slope.
template <typename T>
double threshold_reach_in_steps(T step, T noise) {
  const double window = 2 - std::log(std::numeric_limits<T>::epsilon());
  return std::ceil(window * static_cast<double>(noise) / static_cast<double>(step));
}

// Weights across the grid and out to beyond the window on both sides, every grid point and threshold
// exactly, a hair off a threshold, ±0 and far outside.
template <typename T>
std::vector<T> backward_sweep_points(T step, T noise, int bits, Rng& rng) {
  const double reach = (threshold_reach_in_steps(step, noise) + 2) * static_cast<double>(step);
  const double low = cpq_code_min(bits) * static_cast<double>(step) - reach;
  const double high = cpq_code_max(bits) * static_cast<double>(step) + reach;
  std::vector<T> x;
  for (int i = 0; i < 60; ++i) x.push_back(static_cast<T>(rng.uniform(low, high)));
  for (int k = cpq_code_min(bits); k <= cpq_code_max(bits); k += 1 + (1 << bits) / 16) {
    const T threshold = step * (T(k) + T(0.5));
    x.insert(x.end(), {step * T(k), threshold, std::nextafter(threshold, T(0)), threshold + noise / 1000});
  }
  x.insert(x.end(), {T(0), -T(0), step * T(1e6), -step * T(1e6)});
  return x;
}

// For bits 1..8 (DropBits trains down to 1), α over three decades and ρ = α/σ from 0.1 to 120, the
// fast and the literal backward of single weights differ per derivative by at most
//   `relative(κ)`·scale + 2·(edge scale) + 1e4·(smallest normal T),
// κ = 1 + (|x| + α)/σ the condition number of z = (x - t)/σ (the literal sum rounds each t_k and
// x - t_k, the fast one steps z by ρ), the last term the subnormal range, where rounding is absolute.
template <typename T>
void expect_fast_backward_equals_literal(const std::function<double(double)>& relative) {
  const double window = 2 - std::log(std::numeric_limits<T>::epsilon());
  const double subnormal = 1e4 * static_cast<double>(std::numeric_limits<T>::min());
  Rng rng(12);
  int compared = 0;
  for (int bits = 1; bits <= 8; ++bits)
    for (double step_value : {0.01, 0.3, 3.0})
      for (double spacing : {0.1, 0.5, 1.0, 2.0, 3.0, 8.0, 17.0, 40.0, 120.0}) {
        const T step = static_cast<T>(step_value), noise = static_cast<T>(step_value / spacing);
        for (T x : backward_sweep_points(step, noise, bits, rng)) {
          std::vector<T> weights{x}, u{T(1)}, fast(1), literal(1);
          const CpqScaleGradients fast_scales = cpq_quantize_backward<T>(weights, u, step, noise, bits, fast);
          const CpqScaleGradients literal_scales =
              cpq_quantize_backward_reference<T>(weights, u, step, noise, bits, literal);
          const BackwardScales scales = backward_scales(x, step, noise, bits, window);
          const double tolerance =
              relative(1 + (std::fabs(static_cast<double>(x)) + step_value) / static_cast<double>(noise));
          auto allowed = [&](double all, double edge) { return tolerance * all + 2 * edge + subnormal; };
          const std::string where = "bits " + std::to_string(bits) + " α " + std::to_string(step_value) +
                                    " α/σ " + std::to_string(spacing) + " x/α " +
                                    std::to_string(static_cast<double>(x / step));
          ASSERT_LE(std::fabs(static_cast<double>(fast[0]) - static_cast<double>(literal[0])),
                    allowed(scales.all.x, scales.edge.x))
              << "∂S/∂x, " << where;
          ASSERT_LE(std::fabs(fast_scales.log_step - literal_scales.log_step) / static_cast<double>(step),
                    allowed(scales.all.step, scales.edge.step))
              << "log α, " << where;
          ASSERT_LE(std::fabs(fast_scales.log_noise - literal_scales.log_noise) / static_cast<double>(noise),
                    allowed(scales.all.noise, scales.edge.noise))
              << "log σ, " << where;
          ++compared;
        }
      }
  EXPECT_GT(compared, 20000);
}

TEST(CpqQuantizeBackward, FastEqualsTheLiteralSumToFloatRounding) {
  const double epsilon = std::numeric_limits<float>::epsilon();
  expect_fast_backward_equals_literal<float>([&](double kappa) { return 32 * epsilon * kappa; });
}

TEST(CpqQuantizeBackward, FastEqualsTheLiteralSumToDoubleRounding) {
  // In double also never more than 1e-12 relative to the scale, whatever κ.
  const double epsilon = std::numeric_limits<double>::epsilon();
  expect_fast_backward_equals_literal<double>(
      [&](double kappa) { return std::min(32 * epsilon * kappa, 1e-12); });
}

TEST(CpqQuantizeBackward, FastSumsWholeTensorsInBlocksAsWeightByWeight) {
  // Sizes around the block of 256 weights, gradients u of both signs, in place or not: every element
  // and both scale gradients as the literal backward gives them (float, the method's type).
  const double epsilon = std::numeric_limits<float>::epsilon(), window = 2 - std::log(epsilon);
  const int bits = 3;
  const float step = 0.03f, noise = step / 6;
  Rng rng(13);
  for (size_t size : {size_t{1}, size_t{7}, size_t{255}, size_t{256}, size_t{257}, size_t{1000}}) {
    std::vector<float> x(size), u(size), fast(size), literal(size);
    for (float& v : x) v = static_cast<float>(rng.uniform(-5.5, 4.5) * step);
    for (float& v : u) v = static_cast<float>(rng.normal());
    const CpqScaleGradients fast_scales = cpq_quantize_backward<float>(x, u, step, noise, bits, fast);
    const CpqScaleGradients literal_scales =
        cpq_quantize_backward_reference<float>(x, u, step, noise, bits, literal);
    double allowed_step = 0, allowed_noise = 0;
    for (size_t i = 0; i < size; ++i) {
      const BackwardScales scales = backward_scales(x[i], step, noise, bits, window);
      const double tolerance = 32 * epsilon * (1 + (std::fabs(x[i]) + step) / noise);
      EXPECT_LE(std::fabs(fast[i] - literal[i]),
                std::fabs(u[i]) * (tolerance * scales.all.x + 2 * scales.edge.x))
          << "size " << size << " element " << i;
      allowed_step += std::fabs(u[i]) * (tolerance * scales.all.step + 2 * scales.edge.step) * step;
      allowed_noise += std::fabs(u[i]) * (tolerance * scales.all.noise + 2 * scales.edge.noise) * noise;
    }
    EXPECT_LE(std::fabs(fast_scales.log_step - literal_scales.log_step), allowed_step) << "size " << size;
    EXPECT_LE(std::fabs(fast_scales.log_noise - literal_scales.log_noise), allowed_noise) << "size " << size;

    std::vector<float> in_place = u;
    const CpqScaleGradients in_place_scales =
        cpq_quantize_backward<float>(x, in_place, step, noise, bits, in_place);
    EXPECT_EQ(in_place, fast);
    EXPECT_EQ(in_place_scales.log_step, fast_scales.log_step);
    EXPECT_EQ(in_place_scales.log_noise, fast_scales.log_noise);
  }
}

TEST(CpqQuantizeBackward, NonFiniteAndHugeWeightsGetWhatTheLiteralSumGives) {
  // No slope (so a gradient of exactly 0 and no σ term); the code, and so the direct α path, is the
  // clipped one for ±inf and huge weights and NaN for NaN, as in the literal sum.
  const float step = 0.1f, noise = 0.02f;
  const float huge = std::numeric_limits<float>::max(), inf = std::numeric_limits<float>::infinity();
  for (float x : {std::numeric_limits<float>::quiet_NaN(), inf, -inf, huge, -huge}) {
    std::vector<float> weights{x}, u{1.0f}, fast(1), literal(1);
    const CpqScaleGradients fast_scales = cpq_quantize_backward<float>(weights, u, step, noise, 3, fast);
    const CpqScaleGradients literal_scales =
        cpq_quantize_backward_reference<float>(weights, u, step, noise, 3, literal);
    EXPECT_EQ(fast[0], 0.0f) << x;
    EXPECT_EQ(literal[0], 0.0f) << x;
    EXPECT_EQ(fast_scales.log_noise, literal_scales.log_noise) << x;
    if (std::isnan(x))
      EXPECT_TRUE(std::isnan(fast_scales.log_step) && std::isnan(literal_scales.log_step));
    else
      EXPECT_EQ(fast_scales.log_step, literal_scales.log_step) << x;
  }
}

TEST(CpqQuantizer, ForwardIsStepTimesCodeBitForBit) {
  // The forward rounds without a library call (round_half_even_small); it must give the very
  // numbers of step · cpq_code (std::nearbyint), ties to even and the sign of zero included.
  Rng rng(14);
  for (int bits = 1; bits <= 8; ++bits)
    for (float step : {0.25f, 0.037f, 3.0f}) {  // 0.25: every x.5 code is exact, so ties happen
      std::vector<float> x;
      for (int i = 0; i < 300; ++i)
        x.push_back(static_cast<float>(rng.uniform(-1.5, 1.5) * step * (1 << bits)));
      for (int k = cpq_code_min(bits) - 2; k <= cpq_code_max(bits) + 2; ++k)
        x.insert(x.end(), {step * (k + 0.5f), step * (k - 0.5f), step * k});
      x.insert(x.end(), {0.0f, -0.0f, -0.3f * step, std::numeric_limits<float>::infinity(),
                         -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()});
      std::vector<float> quantized(x.size());
      cpq_quantize_forward<float>(x, step, bits, quantized);
      for (size_t i = 0; i < x.size(); ++i) {
        const float expected = step * cpq_code(x[i], step, bits);
        if (std::isnan(expected)) {
          EXPECT_TRUE(std::isnan(quantized[i]));
          continue;
        }
        ASSERT_EQ(quantized[i], expected) << "bits " << bits << " x " << x[i];
        ASSERT_EQ(std::signbit(quantized[i]), std::signbit(expected)) << "bits " << bits << " x " << x[i];
      }
    }
}

// [SECTION] §4.2 DropBits

TEST(DropBits, MasksAreNestedAndNeverGoBelowTwoBits) {
  Rng rng(8);
  std::vector<uint8_t> masks(5);
  std::set<int> widths;
  for (int draw = 0; draw < 5000; ++draw) {
    sample_dropbits_masks(0.3, rng, masks);
    ASSERT_EQ(masks[0], 1);
    ASSERT_EQ(masks[1], 1);
    for (size_t j = 1; j < masks.size(); ++j) ASSERT_LE(masks[j], masks[j - 1]);
    widths.insert(masked_bit_width(masks));
  }
  EXPECT_EQ(widths, (std::set<int>{2, 3, 4, 5}));
}

// The 1-bit grid of this convention is {-α, 0}: every non-negative weight would train as 0. Even at the
// highest drop rate no step lands there, with fixed masks or with learned gates pushed to drop everything.
TEST(DropBits, NeverTrainsOnTheOneBitGrid) {
  Rng rng(3);
  std::vector<uint8_t> masks(3);
  for (int draw = 0; draw < 2000; ++draw) {
    sample_dropbits_masks(0.95, rng, masks);
    ASSERT_GE(masked_bit_width(masks), kCpqFewestBits);
  }
  std::vector<double> x = {-0.3, -0.1, 0.0, 0.1, 0.3}, quantized(x.size());
  cpq_quantize_forward<double>(x, 0.1, 1, quantized);
  EXPECT_EQ(quantized, (std::vector<double>{-0.1, -0.1, 0.0, 0.0, 0.0})) << "why 1 bit is excluded";
}

TEST(DropBits, ReducedGridKeepsTheStepAndDropsTheOuterPoints) {
  const double step = 0.125;
  for (int reduced = 1; reduced <= 5; ++reduced) {
    std::vector<double> x, quantized;
    for (double v = -10; v <= 10; v += 0.001) x.push_back(v);
    quantized.resize(x.size());
    cpq_quantize_forward<double>(x, step, reduced, quantized);
    const std::set<double> points(quantized.begin(), quantized.end());
    EXPECT_EQ(points.size(), size_t{1} << reduced);
    EXPECT_EQ(*points.begin(), -step * (1 << (reduced - 1)));
    EXPECT_EQ(*points.rbegin(), step * ((1 << (reduced - 1)) - 1));
    for (double p : points) EXPECT_EQ(p / step, std::round(p / step));  // points of the full grid
  }
}

TEST(DropBits, DropFrequencyMatchesTheRate) {
  const double p = 0.2;
  const int draws = 20000, bits = 4;
  Rng rng(9);
  std::vector<uint8_t> masks(bits);
  int level3_dropped = 0, level3_kept = 0, level4_dropped_given_kept = 0;
  double width_sum = 0;
  for (int draw = 0; draw < draws; ++draw) {
    sample_dropbits_masks(p, rng, masks);
    width_sum += masked_bit_width(masks);
    if (!masks[2]) {
      ++level3_dropped;
    } else {
      ++level3_kept;
      level4_dropped_given_kept += masks[3] ? 0 : 1;
    }
  }
  // Five binomial standard deviations: a fixed seed, and a wrong rate (or a non-nested draw) is far off.
  EXPECT_NEAR(static_cast<double>(level3_dropped) / draws, p, 5 * std::sqrt(p * (1 - p) / draws));
  EXPECT_NEAR(static_cast<double>(level4_dropped_given_kept) / level3_kept, p,
              5 * std::sqrt(p * (1 - p) / level3_kept));
  const double expected_width = 2 + (1 - p) + (1 - p) * (1 - p);
  EXPECT_NEAR(width_sum / draws, expected_width, 0.03);
}

// [SECTION] §4.3 hard-concrete gates and the bit-level gradients

TEST(HardConcrete, ProbabilityNonzeroMatchesMonteCarlo) {
  const int samples = 100000;
  for (double log_alpha : {-2.0, 0.0, 1.5}) {
    Rng rng(10);
    int nonzero = 0, above_half = 0;
    for (int i = 0; i < samples; ++i) {
      double u = rng.uniform();
      while (u <= 0) u = rng.uniform();
      const double z = hard_concrete_sample(log_alpha, u);
      ASSERT_GE(z, 0.0);
      ASSERT_LE(z, 1.0);
      nonzero += z > 0 ? 1 : 0;
      above_half += z > 0.5 ? 1 : 0;
    }
    const double p = hard_concrete_probability_nonzero(log_alpha);
    EXPECT_NEAR(static_cast<double>(nonzero) / samples, p, 5 * std::sqrt(p * (1 - p) / samples)) << log_alpha;
    const double keep = 1 / (1 + std::exp(-log_alpha));  // P(z > ½) = Sig(log a)
    EXPECT_NEAR(static_cast<double>(above_half) / samples, keep, 5 * std::sqrt(keep * (1 - keep) / samples));
  }
}

TEST(HardConcrete, SampleAndPenaltyDerivativesMatchFiniteDifferences) {
  std::vector<double> analytic, numeric;
  int interior = 0;
  for (double log_alpha : {-1.0, 0.3, 2.0})
    for (double u : {0.05, 0.3, 0.5, 0.7, 0.95}) {
      const double z = hard_concrete_sample(log_alpha, u);
      if (z <= 1e-4 || z >= 1 - 1e-4) {
        EXPECT_EQ(hard_concrete_sample_derivative(log_alpha, u), 0.0);  // clamped: no gradient
        continue;
      }
      ++interior;
      analytic.push_back(hard_concrete_sample_derivative(log_alpha, u));
      numeric.push_back(central_difference([&](double a) { return hard_concrete_sample(a, u); }, log_alpha));
    }
  EXPECT_GT(interior, 5);
  EXPECT_LT(relative_error(analytic, numeric), kTolerance);

  std::vector<double> penalty, penalty_numeric;
  for (double log_alpha : {-3.0, -1.0, 0.0, 1.4, 4.0}) {
    penalty.push_back(hard_concrete_probability_nonzero_derivative(log_alpha));
    penalty_numeric.push_back(
        central_difference([](double a) { return hard_concrete_probability_nonzero(a); }, log_alpha));
  }
  EXPECT_LT(relative_error(penalty, penalty_numeric), kTolerance);
}

TEST(HardConcrete, TestGateKeepsALevelExactlyWhenLogAlphaIsPositive) {
  EXPECT_LT(hard_concrete_test_gate(-0.01), 0.5);
  EXPECT_GT(hard_concrete_test_gate(0.01), 0.5);
  EXPECT_EQ(hard_concrete_test_gate(5.0), 1.0);   // stretched and clamped: exactly on
  EXPECT_EQ(hard_concrete_test_gate(-5.0), 0.0);  // exactly off
}

// x̂(M) = Q_1 + Σ_j M_j (Q_j - Q_{j-1}) for continuous M: what bit_level_gradients differentiates.
double mixture_objective(const std::vector<double>& x, const std::vector<double>& u, double step,
                         const std::vector<double>& masks) {
  double sum = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    double value = step * cpq_code(x[i], step, kCpqFewestBits);
    for (size_t j = 0; j < masks.size(); ++j) {
      const int level = static_cast<int>(j) + kCpqFewestBits + 1;
      value += masks[j] * step * (cpq_code(x[i], step, level) - cpq_code(x[i], step, level - 1));
    }
    sum += u[i] * value;
  }
  return sum;
}

TEST(BitLevelGradients, MatchFiniteDifferencesOfTheTelescopingMixture) {
  const int bits = 5;
  const double step = 0.1;
  Rng rng(11);
  std::vector<double> x(50), u(50);
  for (double& v : x) v = rng.normal() * 0.4;
  for (double& v : u) v = rng.normal();
  std::vector<double> analytic(bits - kCpqFewestBits);
  bit_level_gradients<double>(x, u, step, bits, analytic);
  std::vector<double> masks = {1, 0, 1}, numeric(bits - kCpqFewestBits);
  for (int j = 0; j < bits - kCpqFewestBits; ++j)
    numeric[j] = central_difference(
        [&](double m) {
          std::vector<double> moved = masks;
          moved[j] = m;
          return mixture_objective(x, u, step, moved);
        },
        masks[j]);
  EXPECT_LT(relative_error(analytic, numeric), kTolerance);

  // For nested 0/1 masks the mixture is the b'-bit forward.
  for (int reduced = kCpqFewestBits; reduced <= bits; ++reduced) {
    std::vector<double> nested(bits - kCpqFewestBits, 0.0), quantized(x.size());
    for (int j = 0; j < reduced - kCpqFewestBits; ++j) nested[j] = 1;
    cpq_quantize_forward<double>(x, step, reduced, quantized);
    double expected = 0;
    for (size_t i = 0; i < x.size(); ++i) expected += u[i] * quantized[i];
    EXPECT_NEAR(mixture_objective(x, u, step, nested), expected, 1e-12);
  }
}

TEST(BitLevelGradients, EqualTheLiteralSumOfCodeDifferences) {
  // bit_level_gradients rounds x/α once for all levels; the sums must be those of the definition,
  // Σ_i u_i (α k_j(x_i) - α k_{j-1}(x_i)) with cpq_code at each level, in the same order: equal.
  const int bits = 6;
  const float step = 0.02f;
  Rng rng(15);
  std::vector<float> x(700), u(700);
  for (float& v : x) v = static_cast<float>(rng.normal() * 0.5);
  for (float& v : u) v = static_cast<float>(rng.normal());
  x[0] = step * 2.5f;  // a tie
  std::vector<double> fast(bits - kCpqFewestBits), literal(bits - kCpqFewestBits, 0.0);
  bit_level_gradients<float>(x, u, step, bits, fast);
  for (size_t i = 0; i < x.size(); ++i)
    for (int level = kCpqFewestBits + 1; level <= bits; ++level)
      literal[level - kCpqFewestBits - 1] +=
          static_cast<double>(u[i]) *
          static_cast<double>(step * cpq_code(x[i], step, level) - step * cpq_code(x[i], step, level - 1));
  EXPECT_EQ(fast, literal);
}

TEST(NestedGates, BackwardMatchesFiniteDifferencesOfTheNestingProduct) {
  // F(z) = Σ_j c_j Π_{i≤j} z_i is linear in each z_i, so at every 0/1 corner the straight-through
  // backward must equal its exact partial derivatives.
  const std::vector<double> c = {0.7, -1.3, 0.4, 2.1};
  auto objective = [&](const std::vector<double>& z) {
    double sum = 0, product = 1;
    for (size_t j = 0; j < z.size(); ++j) sum += c[j] * (product *= z[j]);
    return sum;
  };
  for (int corner = 0; corner < 16; ++corner) {
    std::vector<double> z(4);
    for (int i = 0; i < 4; ++i) z[i] = (corner >> i) & 1;
    std::vector<double> analytic(4), numeric(4);
    nested_gates_backward(z, c, analytic);
    for (int i = 0; i < 4; ++i)
      numeric[i] = central_difference(
          [&](double v) {
            std::vector<double> moved = z;
            moved[i] = v;
            return objective(moved);
          },
          z[i]);
    EXPECT_LT(relative_error(analytic, numeric), kTolerance) << "corner " << corner;
  }
}

// [SECTION] Settings

TEST(CpqSettings, ValidateRejectsAbsurdValuesWithMessages) {
  EXPECT_TRUE(validate(CpqSettings{}).ok());
  auto message_of = [](auto change) {
    CpqSettings s;
    change(s);
    return validate(s).message();
  };
  EXPECT_NE(message_of([](CpqSettings& s) { s.bits = 1; }).find("2..8"), std::string::npos);
  EXPECT_NE(message_of([](CpqSettings& s) { s.bits = 9; }).find("bits"), std::string::npos);
  EXPECT_NE(message_of([](CpqSettings& s) { s.drop_rate = 1.0; }).find("drop rate"), std::string::npos);
  EXPECT_NE(message_of([](CpqSettings& s) { s.drop_rate = NAN; }).find("drop rate"), std::string::npos);
  EXPECT_NE(message_of([](CpqSettings& s) { s.bits_lambda = -1; }).find("lambda"), std::string::npos);
  EXPECT_NE(message_of([](CpqSettings& s) { s.bits_lambda = INFINITY; }).find("lambda"), std::string::npos);
  EXPECT_NE(message_of([](CpqSettings& s) { s.method_learning_rate = 0; }).find("learning rate"),
            std::string::npos);
  EXPECT_NE(message_of([](CpqSettings& s) { s.learn_bits = true, s.dropbits = false; }).find("dropbits"),
            std::string::npos);
  EXPECT_NE(message_of([](CpqSettings& s) { s.learn_bits = true, s.drop_rate = 0; }).find("drop rate"),
            std::string::npos);
  CpqSettings bad;
  bad.bits = 0;
  Result<std::unique_ptr<TrainingMethod>> method = make_cpq_method(bad);
  EXPECT_FALSE(method.ok());
  EXPECT_NE(method.message().find("bits"), std::string::npos);
}

// [SECTION] Behaviour on the spiral

const Dataset& spiral() {
  static const Dataset data = [] {
    ToyDatasetOptions options;
    options.kind = ToyDatasetKind::spiral;
    options.num_samples = 900;
    options.noise = 0.05;
    return std::move(make_toy_dataset(options).value());
  }();
  return data;
}

std::unique_ptr<Network<float>> new_network(uint64_t seed) {
  Result<Architecture> architecture = parse_architecture("mlp:32,32", TensorShape{1, 1, 2}, 3);
  auto network = std::make_unique<Network<float>>(architecture.value(), reference_kernel_table());
  network->initialize(seed);
  return network;
}

// Trains with SGD (lr 0.05, momentum 0.9, batch 32) for `epochs`, driving the method as the Trainer does.
void train(Network<float>& network, TrainingMethod& method, int epochs) {
  OptimizerSettings optimizer;
  network.set_optimizer_slot_count(optimizer_slot_count(optimizer.kind));
  method.attach(network);
  const Dataset& data = spiral();
  EpochBatcher batcher(data.train_size(), 32, 3);
  Rng method_rng(4);
  std::vector<float> features(32 * 2);
  std::vector<int32_t> labels(32);
  long step = 0;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    batcher.start_epoch(epoch);
    std::span<const uint32_t> indices;
    while (batcher.next(indices)) {
      gather_batch(data.train_x, indices, features.data());
      gather_labels(data.train_y, indices, labels.data());
      TrainingBatch batch{features, labels, static_cast<int>(indices.size())};
      StepContext context{++step, static_cast<double>(epoch) / epochs, optimizer.learning_rate, &method_rng};
      method.compute_gradients(network, batch, context);
      optimizer_step(network, optimizer, optimizer.learning_rate, step);
      method.after_optimizer_step(network, context);
    }
  }
}

double readout(const TrainingMethod& method, const Network<float>& network, const std::string& name,
               int layer) {
  for (const MethodReadout& r : method.readouts(network))
    if (r.name == name && r.layer == layer) return r.value;
  ADD_FAILURE() << "no readout " << name << " for layer " << layer;
  return 0;
}

std::vector<int> weighted_layers(const Network<float>& network) {
  std::vector<int> layers;
  for (const ParameterTensor& t : network.parameter_tensors())
    if (t.is_weight) layers.push_back(t.layer);
  return layers;
}

// Mean over all weights of |w/α - k*| (k* the clipped nearest code): 0.25 for weights uniform in the cells.
double mean_distance_to_grid(const Network<float>& network, const std::function<double(int layer)>& step_of,
                             int bits) {
  double sum = 0;
  size_t count = 0;
  for (const ParameterTensor& t : network.parameter_tensors()) {
    if (!t.is_weight) continue;
    const double step = step_of(t.layer);
    for (float w : network.tensor(network.parameters(), t)) {
      sum += std::fabs(w / step - cpq_code<double>(w, step, bits));
      ++count;
    }
  }
  return sum / static_cast<double>(count);
}

double test_accuracy(Network<float>& network, const ForwardOptions<float>& options = {}) {
  return evaluate(network, spiral().test_x, spiral().test_y, options).accuracy;
}

constexpr int kEpochs = 40;

// The control a broken backward would resemble: 3-bit QAT on the same grid (α = max|W|/4, fixed at
// attach) with the engine's clipped straight-through estimator (gradient 1 inside the grid's range,
// 0 outside). Weights that the loss wants between two grid points oscillate across the threshold,
// so they pile up there instead of at grid points.
class ClippedStraightThroughQat final : public TrainingMethod {
 public:
  std::string_view name() const override { return "clipped-ste-qat"; }
  void attach(Network<float>& network) override {
    for (const ParameterTensor& t : network.parameter_tensors())
      steps_.push_back(max_abs_over_four(network, t));
  }
  StepResult compute_gradients(Network<float>& network, const TrainingBatch& batch,
                               const StepContext&) override {
    view_.assign(network.parameters().begin(), network.parameters().end());
    const std::vector<ParameterTensor>& tensors = network.parameter_tensors();
    for (size_t t = 0; t < tensors.size(); ++t)
      if (tensors[t].is_weight)
        cpq_quantize_forward<float>(network.tensor(std::as_const(network).parameters(), tensors[t]),
                                    steps_[t], 3,
                                    std::span<float>(view_).subspan(tensors[t].offset, tensors[t].size()));
    ForwardOptions<float> options;
    options.parameters = view_;
    const float loss = forward_loss_backward(network, batch, options);
    for (size_t t = 0; t < tensors.size(); ++t) {
      if (!tensors[t].is_weight) continue;
      std::span<const float> weights = network.tensor(std::as_const(network).parameters(), tensors[t]);
      std::span<float> gradient = network.tensor(network.gradients(), tensors[t]);
      for (size_t i = 0; i < weights.size(); ++i) {
        const float code = weights[i] / steps_[t];
        if (code < cpq_code_min(3) - 0.5f || code > cpq_code_max(3) + 0.5f) gradient[i] = 0;
      }
    }
    return {loss, 0.0f};
  }
  double step_of_layer(const Network<float>& network, int layer) const {
    for (size_t t = 0; t < network.parameter_tensors().size(); ++t)
      if (network.parameter_tensors()[t].is_weight && network.parameter_tensors()[t].layer == layer)
        return steps_[t];
    return 1.0;
  }
  static float max_abs_over_four(const Network<float>& network, const ParameterTensor& t) {
    float max_abs = 0;
    for (float w : network.tensor(network.parameters(), t)) max_abs = std::max(max_abs, std::fabs(w));
    return max_abs / 4;
  }

 private:
  std::vector<float> steps_, view_;
};

TEST(CpqMethod, PullsWeightsTowardGridPoints) {
  auto baseline_network = new_network(21);
  std::unique_ptr<TrainingMethod> baseline = make_baseline_method();
  train(*baseline_network, *baseline, kEpochs);
  const double baseline_distance = mean_distance_to_grid(
      *baseline_network,
      [&](int layer) {  // the grid CPQ would start from: max|W| / 2^{b-1}
        for (const ParameterTensor& t : baseline_network->parameter_tensors())
          if (t.is_weight && t.layer == layer)
            return ClippedStraightThroughQat::max_abs_over_four(*baseline_network, t);
        return 1.0f;
      },
      3);

  auto ste_network = new_network(21);
  ClippedStraightThroughQat ste;
  train(*ste_network, ste, kEpochs);
  const double ste_distance = mean_distance_to_grid(
      *ste_network, [&](int layer) { return ste.step_of_layer(*ste_network, layer); }, 3);

  auto cpq_network = new_network(21);
  std::unique_ptr<TrainingMethod> cpq = std::move(make_cpq_method(CpqSettings{}).value());
  train(*cpq_network, *cpq, kEpochs);
  const double cpq_distance = mean_distance_to_grid(
      *cpq_network, [&](int layer) { return readout(*cpq, *cpq_network, "step α", layer); }, 3);
  std::printf(
      "mean distance to the 3-bit grid (cells): baseline %.3f, clipped-STE QAT %.3f, CPQ + DropBits %.3f\n",
      baseline_distance, ste_distance, cpq_distance);
  // Seeds 21-28 measured: baseline 0.245-0.263, CPQ + DropBits 0.184-0.205 (ratio ≤ 0.81); the clipped
  // STE piles weights at thresholds (0.45), and an identity or σ ≫ α backward stays at or above 0.25.
  EXPECT_GT(baseline_distance, 0.2);
  EXPECT_LT(cpq_distance, 0.9 * baseline_distance);
  EXPECT_LT(cpq_distance, ste_distance - 0.1);
}

TEST(CpqMethod, LargeBitsLambdaLowersALearnedBitWidthAndZeroLambdaKeepsIt) {
  for (double lambda : {0.0, 1.0}) {
    CpqSettings settings;
    settings.bits = 4;
    settings.learn_bits = true;
    settings.bits_lambda = lambda;
    // Gate logits start at logit(0.8) = 1.39 and Adam moves them by at most the rate per step: at the
    // default 1e-3 no gate could flip within this run's ~800 steps.
    settings.method_learning_rate = 1e-2;
    auto network = new_network(22);
    std::unique_ptr<TrainingMethod> cpq = std::move(make_cpq_method(settings).value());
    train(*network, *cpq, kEpochs);
    int lowest = settings.bits;
    std::string bits_text;
    for (int layer : weighted_layers(*network)) {
      const int bits = static_cast<int>(readout(*cpq, *network, "learned weight bits", layer));
      lowest = std::min(lowest, bits);
      bits_text += " " + std::to_string(bits);
    }
    std::vector<float> view;
    const ForwardOptions<float> trained = cpq->trained_forward(*network, view);
    std::printf("λ_b = %g: learned bits per layer%s, test accuracy %.3f\n", lambda, bits_text.c_str(),
                test_accuracy(*network, trained));
    // The scored forward runs at the learned widths: at most 2^{b_l} distinct weights in layer l.
    for (const ParameterTensor& t : network->parameter_tensors()) {
      if (!t.is_weight) continue;
      std::span<const float> weights = std::span<const float>(view).subspan(t.offset, t.size());
      const int bits = static_cast<int>(readout(*cpq, *network, "learned weight bits", t.layer));
      EXPECT_LE(std::set<float>(weights.begin(), weights.end()).size(), size_t{1} << bits)
          << "layer " << t.layer;
    }
    if (lambda == 0)
      EXPECT_EQ(lowest, settings.bits);
    else
      EXPECT_LT(lowest, settings.bits);
    EXPECT_GE(lowest, kCpqFewestBits) << "a learned bit-width never reaches the {-α, 0} grid";
  }
}

TEST(CpqMethod, ThreeBitAccuracyStaysNearTheFloatBaseline) {
  auto baseline_network = new_network(23);
  std::unique_ptr<TrainingMethod> baseline = make_baseline_method();
  train(*baseline_network, *baseline, kEpochs);
  const double float_accuracy = test_accuracy(*baseline_network);
  // For scale: the baseline rounded to the same 3-bit grid after training (α = max|W|/4 per layer).
  std::vector<float> rounded(baseline_network->parameters().begin(), baseline_network->parameters().end());
  for (const ParameterTensor& t : baseline_network->parameter_tensors())
    if (t.is_weight)
      cpq_quantize_forward<float>(baseline_network->tensor(std::as_const(*baseline_network).parameters(), t),
                                  ClippedStraightThroughQat::max_abs_over_four(*baseline_network, t), 3,
                                  std::span<float>(rounded).subspan(t.offset, t.size()));
  ForwardOptions<float> rounded_options;
  rounded_options.parameters = rounded;
  const double rounded_accuracy = test_accuracy(*baseline_network, rounded_options);

  double cpq_accuracy[2] = {0, 0};
  for (bool dropbits : {false, true}) {
    CpqSettings settings;
    settings.dropbits = dropbits;
    auto cpq_network = new_network(23);
    std::unique_ptr<TrainingMethod> cpq = std::move(make_cpq_method(settings).value());
    train(*cpq_network, *cpq, kEpochs);
    std::vector<float> view;
    const ForwardOptions<float> trained = cpq->trained_forward(*cpq_network, view);
    cpq_accuracy[dropbits] = test_accuracy(*cpq_network, trained);
    // The scored model is the 3-bit one: at most 8 distinct values per weight tensor.
    for (const ParameterTensor& t : cpq_network->parameter_tensors()) {
      if (!t.is_weight) continue;
      std::span<const float> weights = std::span<const float>(view).subspan(t.offset, t.size());
      EXPECT_LE(std::set<float>(weights.begin(), weights.end()).size(), 8u);
    }
  }
  std::printf(
      "test accuracy: float baseline %.3f, baseline rounded to 3 bits %.3f, 3-bit CPQ %.3f, "
      "3-bit CPQ + DropBits %.3f\n",
      float_accuracy, rounded_accuracy, cpq_accuracy[0], cpq_accuracy[1]);
  EXPECT_GT(float_accuracy, 0.9);
  EXPECT_GT(cpq_accuracy[0], float_accuracy - 0.03);
  EXPECT_GT(cpq_accuracy[1], float_accuracy - 0.05);
}

TEST(CpqMethod, TrainingForwardIsTheScoredForwardWithoutDropBits) {
  // §4.1: the forward is the mode, not a sample, so without DropBits training and test see the same net.
  CpqSettings settings;
  settings.dropbits = false;
  auto network = new_network(24);
  std::unique_ptr<TrainingMethod> cpq = std::move(make_cpq_method(settings).value());
  train(*network, *cpq, 2);
  const Dataset& data = spiral();
  std::vector<float> features(16 * 2);
  std::vector<int32_t> labels(16);
  std::vector<uint32_t> indices(16);
  for (uint32_t i = 0; i < 16; ++i) indices[i] = i;
  gather_batch(data.train_x, indices, features.data());
  gather_labels(data.train_y, indices, labels.data());
  cpq->compute_gradients(*network, {features, labels, 16}, StepContext{});
  const std::vector<float> training(network->probabilities().begin(), network->probabilities().end());
  std::vector<float> view;
  network->forward(features, 16, cpq->trained_forward(*network, view));
  network->loss(labels);
  const std::vector<float> scored(network->probabilities().begin(), network->probabilities().end());
  EXPECT_EQ(training, scored);
}

// With masks per channel every output channel trains at its own b' in the same step; with one mask per layer
// they share it. Read off the training forward: a linear layer's output for the unit inputs e_j is column j
// of the quantized weights, and a row on the b'-bit grid has codes in [-2^(b'-1), 2^(b'-1) - 1].
TEST(CpqMethod, MasksPerChannelGiveEachOutputChannelItsOwnBitWidth) {
  Result<Architecture> architecture = parse_architecture("linear", {1, 1, 16}, 8);
  ASSERT_TRUE(architecture.ok());
  std::vector<float> unit_inputs(16 * 16, 0.0f);
  for (int j = 0; j < 16; ++j) unit_inputs[j * 16 + j] = 1.0f;
  const std::vector<int32_t> labels(16, 0);
  auto widest_code_per_row = [&](bool per_channel) {
    Network<float> network(*architecture, reference_kernel_table());
    network.initialize(31);
    CpqSettings settings;
    settings.bits = 5;
    settings.drop_rate = 0.5;
    settings.masks = per_channel ? DropBitsMasks::per_channel : DropBitsMasks::per_layer;
    std::unique_ptr<TrainingMethod> cpq = std::move(make_cpq_method(settings).value());
    cpq->attach(network);
    const double step = readout(*cpq, network, "step α", 0);
    Rng rng(32);
    cpq->compute_gradients(network, {unit_inputs, labels, 16}, StepContext{1, 0, 0.05, &rng});
    std::span<const float> outputs = network.layer_output(0);  // [16 inputs, 8 rows] = W_view transposed
    std::set<int> widest;
    for (int r = 0; r < 8; ++r) {
      int most = 0;
      for (int j = 0; j < 16; ++j)
        most = std::max(most, static_cast<int>(std::lround(std::fabs(outputs[j * 8 + r] / step))));
      widest.insert(most);
    }
    return widest;
  };
  const std::set<int> shared = widest_code_per_row(false), own = widest_code_per_row(true);
  // This draw puts the whole layer at few bits, where every row reaches the grid's edge: one widest code.
  EXPECT_EQ(shared.size(), 1u) << "one b' for the whole layer";
  EXPECT_GT(own.size(), 1u) << "rows at different b'";
  for (int code : own) EXPECT_GE(code, 1) << "never the 1-bit grid";
  CpqSettings learned;
  learned.learn_bits = true;
  learned.masks = DropBitsMasks::per_channel;
  EXPECT_FALSE(make_cpq_method(learned).ok()) << "learned gates are per layer";
}

TEST(CpqMethod, PenaltyIsLambdaTimesTheExpectedKeptLevelsPerWeight) {
  // Layer shares sum to 1, so at attach (every gate at logit(1 - p)) the L0 term is λ (b-1) P(z > 0).
  CpqSettings settings;
  settings.bits = 5;
  settings.learn_bits = true;
  settings.bits_lambda = 0.3;
  auto network = new_network(26);
  std::unique_ptr<TrainingMethod> cpq = std::move(make_cpq_method(settings).value());
  network->set_optimizer_slot_count(optimizer_slot_count(OptimizerKind::sgd));
  cpq->attach(*network);
  std::vector<float> features(8 * 2);
  std::vector<int32_t> labels(8);
  std::vector<uint32_t> indices = {0, 1, 2, 3, 4, 5, 6, 7};
  gather_batch(spiral().train_x, indices, features.data());
  gather_labels(spiral().train_y, indices, labels.data());
  Rng rng(7);
  const StepResult result =
      cpq->compute_gradients(*network, {features, labels, 8}, StepContext{1, 0, 0.05, &rng});
  // Levels 3..5 have gates (never below 2 bits): 3 per layer, each with P(z > 0) at the initial logit.
  const double expected = 0.3 * 3 * hard_concrete_probability_nonzero(std::log(0.8 / 0.2));
  EXPECT_NEAR(result.penalty, expected, 1e-6);
  EXPECT_GT(result.loss, 0.0f);
}

TEST(CpqMethod, ReadoutsCoverEveryWeightedLayerAndAreStable) {
  CpqSettings settings;
  settings.learn_bits = true;
  auto network = new_network(25);
  std::unique_ptr<TrainingMethod> cpq = std::move(make_cpq_method(settings).value());
  train(*network, *cpq, 1);
  const std::vector<MethodReadout> first = cpq->readouts(*network);
  EXPECT_EQ(first.size(), 3 * weighted_layers(*network).size());
  std::vector<float> view_a, view_b;
  cpq->trained_forward(*network, view_a);
  cpq->trained_forward(*network, view_b);  // deterministic gates: no sampling at test time
  EXPECT_EQ(view_a, view_b);
  for (int layer : weighted_layers(*network)) {
    EXPECT_GT(readout(*cpq, *network, "step α", layer), 0.0);
    EXPECT_GT(readout(*cpq, *network, "noise σ", layer), 0.0);
  }
}

}  // namespace
}  // namespace qplay

// Specification of the uniform quantizers (core/engine/quant/quantizer.h): grid shapes, rounding,
// per-channel weights, error budgets per bit-width, the clipped STE, degenerate input and validation.
// Range methods and the activation observer are specified in quant_range_test.cpp.
#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "core/engine/base/rng.h"
#include "core/engine/quant/quantizer.h"

namespace qplay {

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInfinity = std::numeric_limits<float>::infinity();

std::vector<float> gaussian(size_t n, uint64_t seed, double stddev = 1.0) {
  Rng rng(seed);
  std::vector<float> values(n);
  for (float& v : values) v = static_cast<float>(rng.normal(0.0, stddev));
  return values;
}

std::vector<float> uniform(size_t n, uint64_t seed, double low = -1.0, double high = 1.0) {
  Rng rng(seed);
  std::vector<float> values(n);
  for (float& v : values) v = static_cast<float>(rng.uniform(low, high));
  return values;
}

// ||quantized - x|| / ||x||
double relative_rms_error(std::span<const float> x, std::span<const float> quantized) {
  double error = 0.0, signal = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    error += (static_cast<double>(quantized[i]) - x[i]) * (static_cast<double>(quantized[i]) - x[i]);
    signal += static_cast<double>(x[i]) * x[i];
  }
  return std::sqrt(error / signal);
}

std::vector<QuantGrid> grids_of_every_kind(int bits) {
  return {symmetric_grid(2.5f, bits), asymmetric_grid(-0.7f, 3.1f, bits), unsigned_grid(6.0f, bits)};
}

// [SECTION] Grid shapes

TEST(SymmetricGrid, UsesTheRestrictedRangeSoTheGridIsExactlySymmetric) {
  for (int bits = 2; bits <= 8; ++bits) {
    const QuantGrid grid = symmetric_grid(2.5f, bits);
    const int32_t largest_code = (1 << (bits - 1)) - 1;
    EXPECT_EQ(grid.q_max, largest_code) << bits << " bits";
    EXPECT_EQ(grid.q_min, -largest_code) << bits << " bits";
    EXPECT_EQ(grid.zero_point, 0);
    EXPECT_FLOAT_EQ(dequantize(grid, grid.q_max), 2.5f);
    for (int32_t q = 0; q <= grid.q_max; ++q) EXPECT_EQ(dequantize(grid, -q), -dequantize(grid, q));
  }
}

TEST(SymmetricGrid, RepresentsZeroExactly) {
  for (int bits = 2; bits <= 8; ++bits) {
    const QuantGrid grid = symmetric_grid(2.5f, bits);
    EXPECT_EQ(fake_quantize(grid, 0.0f), 0.0f);
    EXPECT_EQ(fake_quantize(grid, 0.4f * grid.scale), 0.0f);
  }
}

TEST(SymmetricGrid, FakeQuantizeIsAnOddFunction) {
  // What SymReg relies on (methods.md §3.2): a symmetric weight distribution stays symmetric.
  const std::vector<float> values = gaussian(4096, 11);
  for (int bits = 1; bits <= 8; ++bits) {
    const QuantGrid grid = symmetric_grid(3.0f, bits);
    for (float v : values) ASSERT_EQ(fake_quantize(grid, -v), -fake_quantize(grid, v)) << v << ", " << bits;
  }
}

TEST(QuantizePerChannel, TwoBitGridIsSymmetric) {
  // Rows [3, 4]; with 2 bits each row's values are {-max|row|, 0, +max|row|}.
  const std::vector<float> weights = {0.1f,   -0.9f, 0.5f, 0.2f,   //
                                      4.0f,   -1.0f, 2.5f, -3.9f,  //
                                      -0.01f, 0.02f, 0.0f, 0.015f};
  std::vector<float> out(weights.size());
  const std::vector<QuantGrid> grids = quantize_per_channel_symmetric(weights, 3, 2, out);
  ASSERT_EQ(grids.size(), 3u);
  const float row_max[] = {0.9f, 4.0f, 0.02f};
  for (int c = 0; c < 3; ++c) {
    EXPECT_EQ(grids[c].q_min, -1);
    EXPECT_EQ(grids[c].q_max, 1);
    EXPECT_FLOAT_EQ(grids[c].scale, row_max[c]);
    for (int i = 0; i < 4; ++i) {
      const float v = out[c * 4 + i];
      EXPECT_TRUE(v == 0.0f || v == grids[c].scale || v == -grids[c].scale) << "row " << c << ": " << v;
    }
  }
  EXPECT_EQ(out[1], -0.9f);
  EXPECT_EQ(out[2], 0.9f);  // 0.5 / 0.9 rounds to 1
  EXPECT_EQ(out[3], 0.0f);
}

TEST(SymmetricGrid, OneBitGridIsSignTimesScale) {
  const QuantGrid grid = symmetric_grid(0.75f, 1);
  EXPECT_EQ(level_count(grid), 2);
  EXPECT_EQ(fake_quantize(grid, 0.001f), 0.75f);
  EXPECT_EQ(fake_quantize(grid, 20.0f), 0.75f);
  EXPECT_EQ(fake_quantize(grid, -0.001f), -0.75f);
  EXPECT_EQ(fake_quantize(grid, 0.0f), -0.75f);  // documented: 0 is not representable, it maps to -scale
  EXPECT_EQ(quantize_to_int(grid, 0.3f), 1);
  EXPECT_EQ(quantize_to_int(grid, -0.3f), -1);
  // Levels are 2·scale apart, so the unclipped range reaches one scale beyond them.
  EXPECT_FLOAT_EQ(clip_range(grid).max, 1.5f);
  EXPECT_FLOAT_EQ(clip_range(grid).min, -1.5f);
}

TEST(AsymmetricGrid, RepresentsZeroExactly) {
  Rng rng(5);
  for (int trial = 0; trial < 200; ++trial) {
    const float a = static_cast<float>(rng.uniform(-10.0, 10.0)),
                b = static_cast<float>(rng.uniform(-10.0, 10.0));
    for (int bits = 1; bits <= 8; ++bits) {
      const QuantGrid grid = asymmetric_grid(std::min(a, b), std::max(a, b), bits);
      EXPECT_EQ(grid.q_min, 0);
      EXPECT_EQ(grid.q_max, (1 << bits) - 1);
      EXPECT_EQ(fake_quantize(grid, 0.0f), 0.0f) << a << ", " << b << ", " << bits << " bits";
    }
  }
}

TEST(AsymmetricGrid, CoversTheRangeWidenedToContainZero) {
  const QuantGrid grid = asymmetric_grid(-1.0f, 3.0f, 8);
  EXPECT_FLOAT_EQ(grid.scale, 4.0f / 255.0f);
  EXPECT_EQ(grid.zero_point, 64);  // round(1 / (4/255)) = round(63.75)
  EXPECT_NEAR(dequantize(grid, grid.q_min), -1.0f, grid.scale / 2);
  EXPECT_NEAR(dequantize(grid, grid.q_max), 3.0f, grid.scale / 2);

  const QuantGrid positive_only = asymmetric_grid(2.0f, 5.0f, 8);  // behaves as [0, 5]
  EXPECT_EQ(positive_only.zero_point, 0);
  EXPECT_FLOAT_EQ(dequantize(positive_only, positive_only.q_max), 5.0f);
  const QuantGrid negative_only = asymmetric_grid(-5.0f, -2.0f, 8);  // behaves as [-5, 0]
  EXPECT_EQ(negative_only.zero_point, 255);
  EXPECT_FLOAT_EQ(dequantize(negative_only, negative_only.q_min), -5.0f);
}

TEST(UnsignedGrid, SpansZeroToMax) {
  const QuantGrid grid = unsigned_grid(6.0f, 8);
  EXPECT_EQ(grid.q_min, 0);
  EXPECT_EQ(grid.q_max, 255);
  EXPECT_EQ(grid.zero_point, 0);
  EXPECT_FLOAT_EQ(dequantize(grid, 255), 6.0f);
  EXPECT_EQ(fake_quantize(grid, -3.0f), 0.0f);
  EXPECT_FLOAT_EQ(fake_quantize(grid, 7.0f), 6.0f);
}

TEST(GridForRange, PicksTheExtentEachKindNeeds) {
  const ValueRange range{-3.0f, 2.0f};
  EXPECT_EQ(grid_for_range(GridKind::symmetric, range, 4), symmetric_grid(3.0f, 4));
  EXPECT_EQ(grid_for_range(GridKind::asymmetric, range, 4), asymmetric_grid(-3.0f, 2.0f, 4));
  EXPECT_EQ(grid_for_range(GridKind::unsigned_after_relu, range, 4), unsigned_grid(2.0f, 4));
}

// [SECTION] Rounding

TEST(QuantizeToInt, RoundsHalfToEven) {
  const QuantGrid grid = symmetric_grid(127.0f, 8);  // scale 1
  ASSERT_EQ(grid.scale, 1.0f);
  EXPECT_EQ(quantize_to_int(grid, 0.5f), 0);
  EXPECT_EQ(quantize_to_int(grid, 1.5f), 2);
  EXPECT_EQ(quantize_to_int(grid, 2.5f), 2);
  EXPECT_EQ(quantize_to_int(grid, -0.5f), 0);
  EXPECT_EQ(quantize_to_int(grid, -2.5f), -2);
  EXPECT_EQ(quantize_to_int(grid, 2.51f), 3);
}

TEST(QuantizeToInt, ClampsToTheCodeRange) {
  for (const QuantGrid& grid : grids_of_every_kind(4)) {
    EXPECT_EQ(quantize_to_int(grid, 1e30f), grid.q_max);
    EXPECT_EQ(quantize_to_int(grid, kInfinity), grid.q_max);
    EXPECT_EQ(quantize_to_int(grid, -1e30f), grid.q_min);
    EXPECT_EQ(quantize_to_int(grid, -kInfinity), grid.q_min);
  }
}

TEST(FakeQuantize, IsIdempotent) {
  const std::vector<float> values = gaussian(4096, 3, 2.0);
  for (int bits = 1; bits <= 8; ++bits) {
    for (const QuantGrid& grid : grids_of_every_kind(bits)) {
      for (float v : values) {
        const float once = fake_quantize(grid, v);
        ASSERT_EQ(fake_quantize(grid, once), once) << v << " at " << bits << " bits";
      }
    }
  }
}

TEST(FakeQuantize, LeavesGridValuesUnchanged) {
  for (int bits = 1; bits <= 8; ++bits) {
    for (const QuantGrid& grid : grids_of_every_kind(bits)) {
      int levels = 0;
      for (int32_t q = grid.q_min; q <= grid.q_max; q += grid.q_step, ++levels) {
        EXPECT_EQ(quantize_to_int(grid, dequantize(grid, q)), q);
        EXPECT_EQ(fake_quantize(grid, dequantize(grid, q)), dequantize(grid, q));
      }
      EXPECT_EQ(levels, level_count(grid));
    }
  }
}

// [SECTION] Weights

TEST(QuantizePerChannel, OutputTakesAtMostTwoToTheBitsValuesPerChannel) {
  const int channels = 4, row = 1000;
  const std::vector<float> weights = gaussian(channels * row, 17);
  std::vector<float> out(weights.size());
  for (int bits = 1; bits <= 8; ++bits) {
    for (Symmetry symmetry : {Symmetry::symmetric, Symmetry::asymmetric}) {
      quantize_weights(weights, channels, {.bits = bits, .symmetry = symmetry}, out);
      for (int c = 0; c < channels; ++c) {
        const std::set<float> distinct(out.begin() + c * row, out.begin() + (c + 1) * row);
        EXPECT_LE(distinct.size(), size_t{1} << bits) << bits << " bits, channel " << c;
        if (bits >= 4) {
          EXPECT_GE(distinct.size(), size_t{1} << (bits - 2)) << "too few levels used";
        }
      }
    }
  }
}

TEST(QuantizePerChannel, GivesOneGridPerOutputChannelFromItsOwnRow) {
  const int channels = 5, row = 64;  // e.g. dense W[5, 64]
  const std::vector<float> weights = gaussian(channels * row, 23);
  const std::vector<QuantGrid> grids = choose_weight_grids(weights, channels, {.bits = 4});
  ASSERT_EQ(grids.size(), static_cast<size_t>(channels));
  for (int c = 0; c < channels; ++c) {
    std::vector<float> unused(row);
    const std::span<const float> row_weights(weights.data() + c * row, row);
    EXPECT_EQ(grids[c], quantize_per_tensor_symmetric(row_weights, 4, unused)) << "channel " << c;
  }
  EXPECT_EQ(
      choose_weight_grids(weights, channels, {.bits = 4, .granularity = Granularity::per_tensor}).size(), 1u);
}

TEST(QuantizePerChannel, BeatsPerTensorWhenChannelScalesDiffer) {
  const int row = 256;
  const double channel_stddev[] = {0.01, 0.1, 1.0, 10.0};
  std::vector<float> weights;
  for (int c = 0; c < 4; ++c) {
    const std::vector<float> values = gaussian(row, 100 + c, channel_stddev[c]);
    weights.insert(weights.end(), values.begin(), values.end());
  }
  std::vector<float> per_channel(weights.size()), per_tensor(weights.size());
  quantize_per_channel_symmetric(weights, 4, 4, per_channel);
  quantize_per_tensor_symmetric(weights, 4, per_tensor);
  // Each row's relative error: per-tensor zeroes the small rows entirely.
  for (int c = 0; c < 4; ++c) {
    const std::span<const float> x(weights.data() + c * row, row);
    const double channel_error =
        relative_rms_error(x, std::span<const float>(per_channel.data() + c * row, row));
    const double tensor_error =
        relative_rms_error(x, std::span<const float>(per_tensor.data() + c * row, row));
    EXPECT_LT(channel_error, 0.25) << "channel " << c;
    EXPECT_LE(channel_error, tensor_error + 1e-12) << "channel " << c;
    if (c < 2) {
      EXPECT_GT(tensor_error, 0.9) << "channel " << c;
    }
  }
}

TEST(FakeQuantizeWeights, FloatSpecHasNoGridsAndCopies) {
  const std::vector<float> weights = gaussian(12, 2);
  std::vector<float> out(weights.size(), -1.0f);
  EXPECT_TRUE(quantize_weights(weights, 3, WeightQuantSpec{}, out).empty());
  EXPECT_EQ(out, weights);
}

TEST(FakeQuantizeWeights, MayWriteInPlace) {
  std::vector<float> weights = gaussian(60, 4);
  std::vector<float> expected(weights.size());
  const std::vector<QuantGrid> grids = quantize_per_channel_asymmetric(weights, 6, 3, expected);
  fake_quantize_weights(weights, 6, grids, weights);
  EXPECT_EQ(weights, expected);
}

// [SECTION] Error budgets per bit-width (in the style of ggml's MAX_QUANTIZATION_TOTAL_ERROR_2BITS)

// Relative RMS error ||fake_quantize(x) - x|| / ||x|| of per-tensor min-max symmetric quantization
// of 16384 values: N(0, 1) from Rng(1), U(-1, 1) from Rng(2). Budgets are the measured values plus
// ~25 %, except 2-bit Gaussian: an all-zero output already scores 1.0 there (max|x| ≈ 4σ puts almost
// everything in the zero bin), so its budget stays below 1.
struct ErrorBudget {
  int bits;
  double gaussian;
  double uniform;
};
constexpr ErrorBudget kMinMaxSymmetricPerTensorBudgets[] = {
    // bits, budgets       measured: gaussian  uniform
    {2, 0.97, 0.62},      //   0.9360     0.4961
    {3, 0.49, 0.21},      //   0.3920     0.1656
    {4, 0.21, 0.089},     //   0.1687     0.07131
    {5, 0.098, 0.042},    //   0.07864    0.03326
    {6, 0.048, 0.020},    //   0.03799    0.01604
    {7, 0.024, 0.0098},   //   0.01872    0.007875
    {8, 0.0115, 0.0049},  //   0.009217   0.003935
};
constexpr size_t kBudgetSampleSize = 16384;

double min_max_symmetric_error(std::span<const float> x, int bits) {
  std::vector<float> quantized(x.size());
  quantize_per_tensor_symmetric(x, bits, quantized);
  return relative_rms_error(x, quantized);
}

TEST(QuantizationErrorBudget, GaussianDataStaysWithinTheBudgetOfEachBitWidth) {
  const std::vector<float> x = gaussian(kBudgetSampleSize, 1);
  for (const ErrorBudget& budget : kMinMaxSymmetricPerTensorBudgets) {
    EXPECT_LT(min_max_symmetric_error(x, budget.bits), budget.gaussian) << budget.bits << " bits";
  }
}

TEST(QuantizationErrorBudget, UniformDataStaysWithinTheBudgetOfEachBitWidth) {
  const std::vector<float> x = uniform(kBudgetSampleSize, 2);
  for (const ErrorBudget& budget : kMinMaxSymmetricPerTensorBudgets) {
    EXPECT_LT(min_max_symmetric_error(x, budget.bits), budget.uniform) << budget.bits << " bits";
  }
}

TEST(QuantizationErrorBudget, ErrorRoughlyHalvesPerExtraBit) {
  // The step shrinks by (2^{b-1}-1) / (2^b-1): 1/3 from 2 to 3 bits, then towards 1/2.
  for (const std::vector<float>& x : {gaussian(kBudgetSampleSize, 1), uniform(kBudgetSampleSize, 2)}) {
    for (int bits = 2; bits < 8; ++bits) {
      const double ratio = min_max_symmetric_error(x, bits + 1) / min_max_symmetric_error(x, bits);
      EXPECT_GT(ratio, 0.3) << bits << " -> " << bits + 1 << " bits";
      EXPECT_LT(ratio, 0.6) << bits << " -> " << bits + 1 << " bits";
    }
  }
}

// [SECTION] Straight-through estimator

TEST(StraightThroughEstimator, PassesGradientInsideTheClipRangeAndZeroesItOutside) {
  const QuantGrid grid = symmetric_grid(1.0f, 3);  // levels k/3, k = -3..3; clip range ±(1 + 1/6)
  const std::vector<float> weights = {0.0f, 0.5f, -1.0f, 1.1f, 1.0f + 1.0f / 6.0f, 1.2f, -1.2f, 5.0f, kNaN};
  const std::vector<float> upstream(weights.size(), 2.0f);
  std::vector<float> gradient(weights.size(), -7.0f);
  straight_through_backward(weights, 1, {grid}, upstream, gradient);
  const std::vector<float> expected = {2.0f, 2.0f, 2.0f, 2.0f, 2.0f, 0.0f, 0.0f, 0.0f, 0.0f};
  EXPECT_EQ(gradient, expected);
}

TEST(StraightThroughEstimator, UsesEachChannelsOwnGrid) {
  const std::vector<float> weights = {5.0f, 0.5f,    //  channel 0: grid max 1
                                      5.0f, 10.0f};  // channel 1: grid max 10
  const std::vector<QuantGrid> grids = {symmetric_grid(1.0f, 4), symmetric_grid(10.0f, 4)};
  const std::vector<float> upstream = {1.0f, 2.0f, 3.0f, 4.0f};
  std::vector<float> gradient(4);
  straight_through_backward(weights, 2, grids, upstream, gradient);
  EXPECT_EQ(gradient, (std::vector<float>{0.0f, 2.0f, 3.0f, 4.0f}));
}

TEST(StraightThroughEstimator, FloatWeightsPassEveryGradient) {
  const std::vector<float> weights = {100.0f, -3.0f};
  std::vector<float> gradient = {0.5f, -0.25f};
  straight_through_backward(weights, 1, {}, gradient, gradient);
  EXPECT_EQ(gradient, (std::vector<float>{0.5f, -0.25f}));
}

TEST(StraightThroughEstimator, ActivationMaskUsesTheUnquantizedValues) {
  const QuantGrid grid = unsigned_grid(1.0f, 2);  // levels 0, 1/3, 2/3, 1; clip range [-1/6, 7/6]
  std::vector<float> values = {-0.5f, -0.1f, 0.4f, 1.1f, 1.5f};
  const std::vector<float> unquantized = values;
  fake_quantize_activations(values, grid);
  EXPECT_EQ(values, (std::vector<float>{0.0f, 0.0f, 1.0f / 3.0f, 1.0f, 1.0f}));
  std::vector<float> gradient = {1.0f, 1.0f, 1.0f, 1.0f, 1.0f};
  activation_straight_through_backward(unquantized, grid, gradient);
  EXPECT_EQ(gradient, (std::vector<float>{0.0f, 1.0f, 1.0f, 1.0f, 0.0f}));
}

// [SECTION] Degenerate input

TEST(DegenerateInput, AllZerosGiveAValidGridAndZeros) {
  const std::vector<float> zeros(32, 0.0f);
  std::vector<float> out(zeros.size(), 1.0f);
  for (int bits = 1; bits <= 8; ++bits) {
    for (Symmetry symmetry : {Symmetry::symmetric, Symmetry::asymmetric}) {
      for (RangeMethod method : {RangeMethod::min_max, RangeMethod::percentile, RangeMethod::mse}) {
        const WeightQuantSpec spec{.bits = bits, .symmetry = symmetry, .range_method = method};
        for (const QuantGrid& grid : quantize_weights(zeros, 4, spec, out)) {
          EXPECT_GT(grid.scale, 0.0f);
          EXPECT_TRUE(std::isfinite(grid.scale));
        }
        // The 1-bit sign grid has no zero; everything else reproduces the zeros.
        if (bits > 1 || symmetry == Symmetry::asymmetric) {
          EXPECT_EQ(out, zeros) << bits << " bits";
        }
        for (float v : out) EXPECT_TRUE(std::isfinite(v));
      }
    }
  }
  EXPECT_EQ(unsigned_grid(0.0f, 8).scale, 1.0f);
}

TEST(DegenerateInput, SingleValueIsReproduced) {
  const std::vector<float> weight = {0.7f};
  std::vector<float> out(1);
  for (int bits = 1; bits <= 8; ++bits) {
    for (Symmetry symmetry : {Symmetry::symmetric, Symmetry::asymmetric}) {
      for (RangeMethod method : {RangeMethod::min_max, RangeMethod::percentile, RangeMethod::mse}) {
        quantize_weights(weight, 1, {.bits = bits, .symmetry = symmetry, .range_method = method}, out);
        EXPECT_FLOAT_EQ(out[0], 0.7f) << bits << " bits";
      }
    }
  }
}

TEST(DegenerateInput, ConstantChannelIsReproduced) {
  std::vector<float> weights(2 * 8, 0.3f);
  for (int i = 8; i < 16; ++i) weights[i] = static_cast<float>(i);  // a second, ordinary channel
  std::vector<float> out(weights.size());
  for (Symmetry symmetry : {Symmetry::symmetric, Symmetry::asymmetric}) {
    quantize_weights(weights, 2, {.bits = 4, .symmetry = symmetry}, out);
    for (int i = 0; i < 8; ++i) EXPECT_FLOAT_EQ(out[i], 0.3f);
  }
}

TEST(DegenerateInput, NaNAndInfinityGiveFiniteOutputs) {
  std::vector<float> weights = gaussian(64, 9);
  const std::vector<float> finite_weights = weights;
  weights[3] = kNaN;
  weights[10] = kInfinity;
  weights[40] = -kInfinity;
  std::vector<float> out(weights.size());
  for (int bits = 1; bits <= 8; ++bits) {
    for (Symmetry symmetry : {Symmetry::symmetric, Symmetry::asymmetric}) {
      for (Granularity granularity : {Granularity::per_tensor, Granularity::per_channel}) {
        for (RangeMethod method : {RangeMethod::min_max, RangeMethod::percentile, RangeMethod::mse}) {
          const WeightQuantSpec spec{bits, granularity, symmetry, method};
          const std::vector<QuantGrid> grids = quantize_weights(weights, 4, spec, out);
          for (const QuantGrid& grid : grids) EXPECT_TRUE(std::isfinite(grid.scale) && grid.scale > 0.0f);
          for (float v : out) ASSERT_TRUE(std::isfinite(v)) << bits << " bits";
          if (method == RangeMethod::min_max) {
            EXPECT_EQ(grids, choose_weight_grids(finite_weights, 4, spec))
                << "only finite values set the range";
          }
        }
      }
    }
  }
  const QuantGrid grid = symmetric_grid(1.0f, 8);
  EXPECT_EQ(fake_quantize(grid, kNaN), 0.0f);  // NaN quantizes like 0
  EXPECT_EQ(fake_quantize(grid, kInfinity), 1.0f);
  EXPECT_TRUE(std::isfinite(symmetric_grid(kNaN, 8).scale));
  EXPECT_TRUE(std::isfinite(asymmetric_grid(kNaN, kInfinity, 8).scale));
  EXPECT_TRUE(std::isfinite(unsigned_grid(-kInfinity, 8).scale));
}

TEST(DegenerateInput, TinyRangesDoNotUnderflowTheScale) {
  const float tiny = std::numeric_limits<float>::denorm_min();
  for (const QuantGrid& grid :
       {symmetric_grid(tiny, 8), asymmetric_grid(-tiny, tiny, 8), unsigned_grid(tiny, 8)}) {
    EXPECT_GT(grid.scale, 0.0f);
    EXPECT_EQ(fake_quantize(grid, 0.0f), 0.0f);
  }
}

TEST(DegenerateInput, HandMadeZeroScaleGridStillGivesFiniteCodes) {
  const QuantGrid broken{0.0f, 0, -7, 7};
  EXPECT_EQ(quantize_to_int(broken, 0.0f), 0);  // 0/0 is NaN, which quantizes like 0
  EXPECT_EQ(quantize_to_int(broken, 1.0f), 7);
  EXPECT_EQ(quantize_to_int(broken, -1.0f), -7);
}

// [SECTION] Validation

TEST(ValidateWeightQuantSpec, AcceptsZeroToEightBits) {
  for (int bits = 0; bits <= 8; ++bits) EXPECT_TRUE(validate(WeightQuantSpec{.bits = bits}).ok()) << bits;
}

TEST(ValidateWeightQuantSpec, RejectsBitsOutsideZeroToEightWithAMessage) {
  for (int bits : {9, -1}) {
    const Status status = validate(WeightQuantSpec{.bits = bits});
    ASSERT_FALSE(status.ok());
    EXPECT_NE(status.message().find(std::to_string(bits)), std::string::npos) << status.message();
    EXPECT_NE(status.message().find("0 (float) or 1..8"), std::string::npos) << status.message();
    EXPECT_NE(status.message().find("weight"), std::string::npos) << status.message();
  }
}

TEST(ValidateWeightQuantSpec, AcceptsPercentilesAboveFiftyUpToHundred) {
  for (double percentile : {50.001, 99.9, 99.99, 100.0}) {
    EXPECT_TRUE(validate(WeightQuantSpec{.percentile = percentile}).ok()) << percentile;
  }
  for (double percentile : {50.0, 10.0, 100.5, static_cast<double>(kNaN)}) {
    const Status status = validate(WeightQuantSpec{.percentile = percentile});
    EXPECT_FALSE(status.ok()) << percentile;
    EXPECT_NE(status.message().find("(50, 100]"), std::string::npos) << status.message();
  }
  EXPECT_EQ(validate(WeightQuantSpec{.percentile = 100.5}).message(),
            "weight percentile: 100.5 is not allowed, use a value in (50, 100], e.g. 99.99");
}

TEST(ValidateActivationQuantSpec, NamesActivationsInItsMessages) {
  EXPECT_TRUE(validate(ActivationQuantSpec{.bits = 8}).ok());
  const Status status = validate(ActivationQuantSpec{.bits = 9});
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("activation bits"), std::string::npos) << status.message();
  EXPECT_FALSE(validate(ActivationQuantSpec{.bits = 4, .percentile = 30.0}).ok());
}

}  // namespace
}  // namespace qplay

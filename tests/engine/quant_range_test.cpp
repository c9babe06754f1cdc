// Specification of range setting (core/engine/quant/range_estimation.h): min-max, percentile and
// MSE-optimal grids from values, and the activation observer that accumulates calibration batches.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "core/engine/base/rng.h"
#include "core/engine/quant/range_estimation.h"

namespace qplay {

namespace {

constexpr GridKind kEveryGridKind[] = {GridKind::symmetric, GridKind::asymmetric,
                                       GridKind::unsigned_after_relu};

std::vector<float> gaussian(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> values(n);
  for (float& v : values) v = static_cast<float>(rng.normal());
  return values;
}

// N(0, 1) with 16 outliers at ±12σ: the case where min-max wastes the grid on a handful of values.
std::vector<float> gaussian_with_outliers(size_t n, uint64_t seed) {
  std::vector<float> values = gaussian(n, seed);
  for (int i = 0; i < 16; ++i) values[i * (n / 16)] = i % 2 == 0 ? 12.0f : -12.0f;
  return values;
}

// The integers first, first + 1, ..., first + n - 1, shuffled.
std::vector<float> shuffled_integers(int first, int n, uint64_t seed) {
  std::vector<float> values(n);
  for (int i = 0; i < n; ++i) values[i] = static_cast<float>(first + i);
  Rng rng(seed);
  rng.shuffle(values);
  return values;
}

double squared_error(std::span<const float> values, const QuantGrid& grid) {
  double sum = 0.0;
  for (float v : values) {
    const double error = static_cast<double>(fake_quantize(grid, v)) - v;
    sum += error * error;
  }
  return sum;
}

// [SECTION] Min-max

TEST(CalibrateRangeMinMax, UsesTheExactExtremes) {
  const std::vector<float> values = {0.5f, -2.0f, 3.0f, 1.0f};
  EXPECT_EQ(calibrate_range_min_max(values, GridKind::symmetric, 8), symmetric_grid(3.0f, 8));
  EXPECT_EQ(calibrate_range_min_max(values, GridKind::asymmetric, 8), asymmetric_grid(-2.0f, 3.0f, 8));
  EXPECT_EQ(calibrate_range_min_max(values, GridKind::unsigned_after_relu, 8), unsigned_grid(3.0f, 8));
  const std::vector<float> mostly_negative = {-5.0f, 1.0f};
  EXPECT_EQ(calibrate_range_min_max(mostly_negative, GridKind::symmetric, 4), symmetric_grid(5.0f, 4));
}

TEST(CalibrateRangeMinMax, SkipsNonFiniteValues) {
  const float nan = std::numeric_limits<float>::quiet_NaN(),
              infinity = std::numeric_limits<float>::infinity();
  const std::vector<float> values = {nan, 0.5f, infinity, -2.0f, -infinity};
  EXPECT_EQ(calibrate_range_min_max(values, GridKind::asymmetric, 8), asymmetric_grid(-2.0f, 0.5f, 8));
}

// [SECTION] Percentile

TEST(CalibrateRangePercentile, PicksTheValueBelowWhichThatShareLies) {
  const std::vector<float> values = shuffled_integers(1, 10000, 7);  // 1..10000
  const struct {
    double percentile;
    float expected_max;
  } cases[] = {{100.0, 10000.0f}, {99.99, 9999.0f}, {99.9, 9990.0f}, {99.0, 9900.0f}, {50.01, 5001.0f}};
  for (const auto& c : cases) {
    EXPECT_EQ(calibrate_range_percentile(values, GridKind::symmetric, 8, c.percentile),
              symmetric_grid(c.expected_max, 8))
        << c.percentile;
    EXPECT_EQ(calibrate_range_percentile(values, GridKind::unsigned_after_relu, 8, c.percentile),
              unsigned_grid(c.expected_max, 8))
        << c.percentile;
  }
}

TEST(CalibrateRangePercentile, UsesMagnitudesForSymmetricGrids) {
  std::vector<float> values = shuffled_integers(1, 1000, 3);
  for (float& v : values) v = -v;  // -1..-1000
  EXPECT_EQ(calibrate_range_percentile(values, GridKind::symmetric, 8, 99.0), symmetric_grid(990.0f, 8));
}

TEST(CalibrateRangePercentile, CutsBothTailsEquallyForAsymmetricGrids) {
  const std::vector<float> values = shuffled_integers(-5000, 10000, 8);  // -5000..4999
  // 99.9 %: 10 values above the upper cut, 10 below the lower one.
  EXPECT_EQ(calibrate_range_percentile(values, GridKind::asymmetric, 8, 99.9),
            asymmetric_grid(-4990.0f, 4989.0f, 8));
}

TEST(CalibrateRangePercentile, ClipsOutliers) {
  const std::vector<float> values = gaussian_with_outliers(16384, 1);
  const QuantGrid min_max = calibrate_range_min_max(values, GridKind::symmetric, 8);
  const QuantGrid clipped = calibrate_range_percentile(values, GridKind::symmetric, 8, 99.9);
  EXPECT_LT(clipped.scale, 0.5f * min_max.scale);
  EXPECT_EQ(fake_quantize(clipped, 12.0f), dequantize(clipped, clipped.q_max));
  EXPECT_EQ(fake_quantize(clipped, -12.0f), dequantize(clipped, clipped.q_min));
  EXPECT_EQ(fake_quantize(min_max, 12.0f), 12.0f);
}

TEST(CalibrateRangePercentile, DoesNotDependOnTheOrderOfValues) {
  std::vector<float> values = gaussian(5000, 4);
  const QuantGrid before = calibrate_range_percentile(values, GridKind::asymmetric, 6, 99.5);
  Rng rng(99);
  rng.shuffle(values);
  EXPECT_EQ(calibrate_range_percentile(values, GridKind::asymmetric, 6, 99.5), before);
}

// [SECTION] MSE-optimal

TEST(CalibrateRangeMse, BeatsOrEqualsMinMaxOnGaussianDataWithOutliers) {
  const std::vector<float> values = gaussian_with_outliers(16384, 1);
  for (GridKind kind : {GridKind::symmetric, GridKind::asymmetric}) {
    for (int bits = 2; bits <= 8; ++bits) {
      const double min_max_error = squared_error(values, calibrate_range_min_max(values, kind, bits));
      const double mse_error = squared_error(values, calibrate_range_mse(values, kind, bits));
      EXPECT_LE(mse_error, min_max_error) << bits << " bits";
      // Measured (symmetric): 0.86x, 0.22x and 0.36x the min-max error at 2, 3 and 4 bits.
      if (bits <= 4) {
        EXPECT_LT(mse_error, 0.9 * min_max_error) << bits << " bits";
      }
    }
  }
}

TEST(CalibrateRangeMse, SearchesBetweenPointThreeAndOneTimesTheMinMaxRange) {
  const std::vector<float> values = gaussian_with_outliers(4096, 2);
  for (int bits = 2; bits <= 8; ++bits) {
    const float min_max_scale = calibrate_range_min_max(values, GridKind::symmetric, bits).scale;
    const float mse_scale = calibrate_range_mse(values, GridKind::symmetric, bits).scale;
    EXPECT_GE(mse_scale, 0.3f * min_max_scale * (1.0f - 1e-6f)) << bits << " bits";
    EXPECT_LE(mse_scale, min_max_scale) << bits << " bits";
  }
}

TEST(CalibrateRangeMse, KeepsTheFullRangeOfUniformDataAtEightBits) {
  Rng rng(6);
  std::vector<float> values(8192);
  for (float& v : values) v = static_cast<float>(rng.uniform(0.0, 1.0));
  const QuantGrid min_max = calibrate_range_min_max(values, GridKind::unsigned_after_relu, 8);
  EXPECT_GT(calibrate_range_mse(values, GridKind::unsigned_after_relu, 8).scale, 0.97f * min_max.scale);
}

TEST(CalibrateRangeMse, OneBitSignGridUsesTheMeanMagnitude) {
  const std::vector<float> values = gaussian(4096, 5);
  double sum_abs = 0.0;
  for (float v : values) sum_abs += std::fabs(v);
  const float mean_abs = static_cast<float>(sum_abs / values.size());
  const QuantGrid grid = calibrate_range_mse(values, GridKind::symmetric, 1);
  EXPECT_EQ(grid, symmetric_grid(mean_abs, 1));
  for (float factor : {0.9f, 0.99f, 1.01f, 1.1f}) {
    EXPECT_LT(squared_error(values, grid), squared_error(values, symmetric_grid(factor * mean_abs, 1)))
        << factor;
  }
}

TEST(CalibrateRange, DispatchesByRangeMethod) {
  const std::vector<float> values = gaussian_with_outliers(2048, 3);
  for (GridKind kind : kEveryGridKind) {
    EXPECT_EQ(calibrate_range(values, kind, 4, RangeMethod::min_max, 99.0),
              calibrate_range_min_max(values, kind, 4));
    EXPECT_EQ(calibrate_range(values, kind, 4, RangeMethod::percentile, 99.0),
              calibrate_range_percentile(values, kind, 4, 99.0));
    EXPECT_EQ(calibrate_range(values, kind, 4, RangeMethod::mse, 99.0), calibrate_range_mse(values, kind, 4));
  }
}

TEST(CalibrateRange, EmptyOrAllNaNInputGivesTheDegenerateGrid) {
  const std::vector<float> nothing;
  const std::vector<float> all_nan(5, std::numeric_limits<float>::quiet_NaN());
  for (GridKind kind : kEveryGridKind) {
    for (RangeMethod method : {RangeMethod::min_max, RangeMethod::percentile, RangeMethod::mse}) {
      EXPECT_EQ(calibrate_range(nothing, kind, 8, method, 99.0).scale, 1.0f);
      EXPECT_EQ(calibrate_range(all_nan, kind, 8, method, 99.0).scale, 1.0f);
    }
  }
}

// [SECTION] Activation observer

constexpr ActivationQuantSpec kMinMax8Bits{.bits = 8};

TEST(ActivationRangeObserver, SeveralBatchesEqualMinMaxOverTheConcatenation) {
  std::vector<float> all;
  ActivationRangeObserver observer;
  for (uint64_t batch = 0; batch < 3; ++batch) {
    std::vector<float> values = gaussian(500, 10 + batch);
    for (float& v : values) v = v * static_cast<float>(batch + 1) + static_cast<float>(batch);
    observer.observe(values);
    all.insert(all.end(), values.begin(), values.end());
  }
  EXPECT_EQ(observer.range().min, *std::min_element(all.begin(), all.end()));
  EXPECT_EQ(observer.range().max, *std::max_element(all.begin(), all.end()));
  EXPECT_EQ(observer.observed_count(), 1500);
  EXPECT_EQ(observer.grid(kMinMax8Bits, false), calibrate_range_min_max(all, GridKind::symmetric, 8));
  EXPECT_EQ(observer.grid(kMinMax8Bits, true),
            calibrate_range_min_max(all, GridKind::unsigned_after_relu, 8));
}

TEST(ActivationRangeObserver, MatchesDirectCalibrationWhileEverythingFitsInTheSample) {
  std::vector<float> all;
  ActivationRangeObserver observer;
  for (uint64_t batch = 0; batch < 4; ++batch) {
    const std::vector<float> values = gaussian_with_outliers(1024, 20 + batch);
    observer.observe(values);
    all.insert(all.end(), values.begin(), values.end());
  }
  const ActivationQuantSpec percentile{
      .bits = 4, .range_method = RangeMethod::percentile, .percentile = 99.9};
  const ActivationQuantSpec mse{.bits = 4, .range_method = RangeMethod::mse};
  EXPECT_EQ(observer.grid(percentile, false), calibrate_range_percentile(all, GridKind::symmetric, 4, 99.9));
  EXPECT_EQ(observer.grid(mse, false), calibrate_range_mse(all, GridKind::symmetric, 4));
}

TEST(ActivationRangeObserver, KeepsABoundedUniformSampleBeyondItsCapacity) {
  // 4x the capacity of U(0, 1) (post-ReLU-like, >= 0), in batches of 4096.
  constexpr size_t kTotal = 4 * ActivationRangeObserver::kSampleCapacity;
  ActivationRangeObserver observer;
  Rng rng(31);
  std::vector<float> batch(4096);
  for (size_t seen = 0; seen < kTotal; seen += batch.size()) {
    for (float& v : batch) v = static_cast<float>(rng.uniform());
    observer.observe(batch);
  }
  EXPECT_EQ(observer.sample_size(), ActivationRangeObserver::kSampleCapacity);
  EXPECT_EQ(observer.observed_count(), static_cast<int64_t>(kTotal));
  // The 90th percentile of the sample is near that of U(0, 1).
  const ActivationQuantSpec percentile{
      .bits = 8, .range_method = RangeMethod::percentile, .percentile = 90.0};
  EXPECT_NEAR(dequantize(observer.grid(percentile, true), 255), 0.9f, 0.01f);
  const ActivationQuantSpec mse{.bits = 8, .range_method = RangeMethod::mse};
  EXPECT_GT(observer.grid(mse, true).scale, 0.97f / 255.0f);
}

TEST(ActivationRangeObserver, SampleRepresentsEarlyAndLateBatchesInProportion) {
  // 3x capacity zeros, then 1x capacity ones: a uniform sample holds ~1/4 ones, so its 70th
  // percentile is 0 and its 80th is 1. A sample frozen on the first batches would give 0 for both,
  // one that keeps mostly the latest values 1 for both.
  constexpr size_t kCapacity = ActivationRangeObserver::kSampleCapacity;
  ActivationRangeObserver observer;
  observer.observe(std::vector<float>(3 * kCapacity, 0.0f));
  observer.observe(std::vector<float>(kCapacity, 1.0f));
  const ActivationQuantSpec seventieth{
      .bits = 8, .range_method = RangeMethod::percentile, .percentile = 70.0};
  const ActivationQuantSpec eightieth{.bits = 8, .range_method = RangeMethod::percentile, .percentile = 80.0};
  EXPECT_EQ(observer.grid(seventieth, true), unsigned_grid(0.0f, 8));
  EXPECT_EQ(observer.grid(eightieth, true), unsigned_grid(1.0f, 8));
}

TEST(ActivationRangeObserver, SameBatchesGiveTheSameGrid) {
  ActivationRangeObserver first, second;
  for (uint64_t batch = 0; batch < 3; ++batch) {
    const std::vector<float> values = gaussian(40000, 40 + batch);  // 120000 values: the reservoir replaces
    first.observe(values);
    second.observe(values);
  }
  const ActivationQuantSpec percentile{
      .bits = 6, .range_method = RangeMethod::percentile, .percentile = 99.99};
  EXPECT_EQ(first.grid(percentile, false), second.grid(percentile, false));
}

TEST(ActivationRangeObserver, SkipsNonFiniteValues) {
  const float nan = std::numeric_limits<float>::quiet_NaN(),
              infinity = std::numeric_limits<float>::infinity();
  ActivationRangeObserver observer;
  observer.observe(std::vector<float>{nan, 2.0f, infinity, 0.5f, -infinity});
  EXPECT_EQ(observer.observed_count(), 2);
  EXPECT_EQ(observer.range().min, 0.5f);
  EXPECT_EQ(observer.range().max, 2.0f);
  for (RangeMethod method : {RangeMethod::min_max, RangeMethod::percentile, RangeMethod::mse}) {
    EXPECT_TRUE(std::isfinite(observer.grid({.bits = 4, .range_method = method}, true).scale));
  }
}

TEST(ActivationRangeObserver, BeforeAnyValueGivesTheDegenerateGrid) {
  const ActivationRangeObserver observer;
  for (RangeMethod method : {RangeMethod::min_max, RangeMethod::percentile, RangeMethod::mse}) {
    EXPECT_EQ(observer.grid({.bits = 8, .range_method = method}, true).scale, 1.0f);
    EXPECT_EQ(observer.grid({.bits = 8, .range_method = method}, false).scale, 1.0f);
  }
}

TEST(ActivationRangeObserver, UnsignedAfterReluAndSymmetricSignedOtherwise) {
  ActivationRangeObserver observer;
  observer.observe(std::vector<float>{0.0f, 1.0f, 2.0f, 3.0f});
  const QuantGrid after_relu = observer.grid({.bits = 4}, true);
  EXPECT_EQ(after_relu.q_min, 0);
  EXPECT_EQ(after_relu.q_max, 15);
  const QuantGrid signed_grid = observer.grid({.bits = 4}, false);
  EXPECT_EQ(signed_grid.q_min, -7);
  EXPECT_EQ(signed_grid.q_max, 7);
  EXPECT_FLOAT_EQ(dequantize(after_relu, 15), 3.0f);
  EXPECT_FLOAT_EQ(dequantize(signed_grid, 7), 3.0f);
}

}  // namespace
}  // namespace qplay

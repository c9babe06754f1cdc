// Min-max, percentile and MSE-optimal range setting, and the activation observer; see range_estimation.h.
#include "core/engine/quant/range_estimation.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace qplay {
namespace {

// methods.md: "grid search over s in [0.3, 1]·s_minmax with ~100 steps".
constexpr int kMseSearchSteps = 100;
constexpr double kMseSmallestRangeFraction = 0.3;

ValueRange finite_min_max(std::span<const float> values) {
  ValueRange range;
  bool any = false;
  for (float v : values) {
    if (!std::isfinite(v)) continue;
    range.min = any ? std::min(range.min, v) : v;
    range.max = any ? std::max(range.max, v) : v;
    any = true;
  }
  return range;
}

double squared_error(std::span<const float> values, const QuantGrid& grid) {
  double sum = 0.0;
  for (float v : values) {
    if (!std::isfinite(v)) continue;
    const double error = static_cast<double>(fake_quantize(grid, v)) - v;
    sum += error * error;
  }
  return sum;
}

// 0-based index of the order statistic that has `percentile` % of n values at or below it.
size_t percentile_index(size_t n, double percentile) {
  // The small slack keeps 99.99 % of 10000 at rank 9999 although 0.9999 * 10000 rounds above 9999.
  const double rank = std::ceil(percentile / 100.0 * static_cast<double>(n) - 1e-9);
  return static_cast<size_t>(std::clamp(rank, 1.0, static_cast<double>(n))) - 1;
}

// The MSE search over ranges fraction * full_range, with the error measured on values (which may be a
// sample of the data that full_range was taken from).
QuantGrid mse_optimal_grid(std::span<const float> values, GridKind kind, int bits, ValueRange full_range) {
  if (kind == GridKind::symmetric && bits == 1) {
    double sum_abs = 0.0;
    size_t count = 0;
    for (float v : values) {
      if (!std::isfinite(v)) continue;
      sum_abs += std::fabs(v);
      ++count;
    }
    return symmetric_grid(count == 0 ? 0.0f : static_cast<float>(sum_abs / static_cast<double>(count)), 1);
  }
  QuantGrid best = grid_for_range(kind, full_range, bits);
  double best_error = squared_error(values, best);
  for (int step = 1; step < kMseSearchSteps; ++step) {
    const double fraction = 1.0 - (1.0 - kMseSmallestRangeFraction) * step / (kMseSearchSteps - 1);
    const ValueRange shrunk{static_cast<float>(fraction * full_range.min),
                            static_cast<float>(fraction * full_range.max)};
    const QuantGrid candidate = grid_for_range(kind, shrunk, bits);
    const double error = squared_error(values, candidate);
    if (error < best_error) {
      best = candidate;
      best_error = error;
    }
  }
  return best;
}

// The dispatcher behind calibrate_range and ActivationRangeObserver::grid: min-max from full_range,
// percentile and MSE from values.
QuantGrid calibrate(ValueRange full_range, std::span<const float> values, GridKind kind, int bits,
                    RangeMethod method, double percentile) {
  switch (method) {
    case RangeMethod::min_max:
      return grid_for_range(kind, full_range, bits);
    case RangeMethod::percentile:
      return calibrate_range_percentile(values, kind, bits, percentile);
    case RangeMethod::mse:
      break;
  }
  return mse_optimal_grid(values, kind, bits, full_range);
}

}  // namespace

QuantGrid calibrate_range_min_max(std::span<const float> values, GridKind kind, int bits) {
  return grid_for_range(kind, finite_min_max(values), bits);
}

QuantGrid calibrate_range_percentile(std::span<const float> values, GridKind kind, int bits,
                                     double percentile) {
  assert(percentile > 50.0 && percentile <= 100.0);
  std::vector<float> ordered;
  ordered.reserve(values.size());
  for (float v : values) {
    if (std::isfinite(v)) ordered.push_back(kind == GridKind::symmetric ? std::fabs(v) : v);
  }
  if (ordered.empty()) return grid_for_range(kind, ValueRange{}, bits);
  const size_t upper = percentile_index(ordered.size(), percentile);
  std::nth_element(ordered.begin(), ordered.begin() + upper, ordered.end());
  const float high = ordered[upper];
  if (kind != GridKind::asymmetric) return grid_for_range(kind, ValueRange{0.0f, high}, bits);
  // The lower tail mirrors the upper one.
  const size_t lower = ordered.size() - 1 - upper;
  std::nth_element(ordered.begin(), ordered.begin() + lower, ordered.end());
  return asymmetric_grid(ordered[lower], high, bits);
}

QuantGrid calibrate_range_mse(std::span<const float> values, GridKind kind, int bits) {
  return mse_optimal_grid(values, kind, bits, finite_min_max(values));
}

QuantGrid calibrate_range(std::span<const float> values, GridKind kind, int bits, RangeMethod method,
                          double percentile) {
  return calibrate(finite_min_max(values), values, kind, bits, method, percentile);
}

void ActivationRangeObserver::observe(std::span<const float> values) {
  for (float v : values) {
    if (!std::isfinite(v)) continue;
    range_.min = observed_count_ == 0 ? v : std::min(range_.min, v);
    range_.max = observed_count_ == 0 ? v : std::max(range_.max, v);
    if (sample_.size() < kSampleCapacity) {
      sample_.push_back(v);
    } else {
      // Algorithm R: the (n+1)-th value replaces a random slot with probability capacity / (n+1), which
      // keeps the sample uniform over everything observed so far.
      const auto slot = static_cast<uint64_t>(rng_.uniform() * static_cast<double>(observed_count_ + 1));
      if (slot < kSampleCapacity) sample_[slot] = v;
    }
    ++observed_count_;
  }
}

QuantGrid ActivationRangeObserver::grid(const ActivationQuantSpec& spec, bool is_unsigned) const {
  assert(spec.bits >= 1 && validate(spec).ok());
  const GridKind kind = is_unsigned ? GridKind::unsigned_after_relu : GridKind::symmetric;
  return calibrate(range_, sample_, kind, spec.bits, spec.range_method, spec.percentile);
}

}  // namespace qplay

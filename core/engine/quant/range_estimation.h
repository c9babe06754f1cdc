// From observed values to a grid: the three range-setting methods of methods.md ("Range setting":
// min/max, percentile, MSE-optimal), for weights (every value at hand) and for activations
// (ActivationRangeObserver, which accumulates calibration batches).
// Non-finite values (NaN, ±inf) are skipped everywhere: one diverged value must not set the grid of
// all the others.
//
// Not here: the grid formulas (quantizer.h), and which layers get observed (post_training.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/engine/base/rng.h"
#include "core/engine/quant/quantizer.h"

namespace qplay {

// The grid over the exact range of the finite values (the degenerate grid of scale 1 if there are none).
QuantGrid calibrate_range_min_max(std::span<const float> values, GridKind kind, int bits);

// The range that contains `percentile` % of the values, percentile in (50, 100]: the smallest value v
// with at least that share of the data <= v (so 100 is the maximum). Symmetric grids take the
// percentile of |x|; asymmetric grids cut both tails of x equally; unsigned grids cut the upper tail.
QuantGrid calibrate_range_percentile(std::span<const float> values, GridKind kind, int bits,
                                     double percentile);

// The grid minimising ||fake_quantize(x) - x||² among ranges fraction * (min-max range),
// fraction in [0.3, 1] over 100 steps (methods.md); ties keep the wider range. The 1-bit symmetric
// grid takes the closed form instead: scale = mean |x| is the exact minimiser of ||s·sign(x) - x||²
// (XNOR-Net, Rastegari et al. 2016), and for Gaussian data it often lies below the search's 0.3·max|x|.
QuantGrid calibrate_range_mse(std::span<const float> values, GridKind kind, int bits);

// One of the three by RangeMethod; percentile is used by RangeMethod::percentile only.
QuantGrid calibrate_range(std::span<const float> values, GridKind kind, int bits, RangeMethod method,
                          double percentile);

// Activation statistics over several calibration batches (e.g. N = 512 training images, methods.md
// "PTQ evaluation loop"). Min and max are exact over everything observed. Percentile and MSE run on a
// uniform random sample of at most kSampleCapacity values (reservoir sampling, Vitter's Algorithm R,
// with a fixed seed so the same batches give the same grid). A sample rather than a histogram: the
// percentile and MSE code is then the same code, tested once, as for weights, and it is exact at every
// grid step; a 2048-bin histogram over a running range must be re-binned whenever the range grows and
// holds only ~8 bins per step of an 8-bit grid.
class ActivationRangeObserver {
 public:
  static constexpr size_t kSampleCapacity = 65536;  // 256 KiB per observed tensor

  void observe(std::span<const float> values);

  // Unsigned (is_unsigned: inputs that follow a ReLU, >= 0) or symmetric signed grid by
  // spec.range_method; spec.bits in 1..8. Before any finite value, the degenerate grid of scale 1.
  QuantGrid grid(const ActivationQuantSpec& spec, bool is_unsigned) const;

  ValueRange range() const { return range_; }                 // exact, finite values only
  int64_t observed_count() const { return observed_count_; }  // finite values observed
  size_t sample_size() const { return sample_.size(); }       // <= kSampleCapacity

 private:
  ValueRange range_;
  int64_t observed_count_ = 0;
  std::vector<float> sample_;
  Rng rng_{0x9e3779b97f4a7c15ULL};
};

}  // namespace qplay

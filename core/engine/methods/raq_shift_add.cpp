// RAQ's shift-add 2-bit weights (methods.md §5.1), declared in raq.h: the exact least-squares scale of a
// channel, the quantizer and its clipped straight-through backward. The rest of RAQ is in raq.cpp.
//
// The scale is the global minimum of a piecewise quadratic in α with a piece per split of the sorted |w|
// into high and low levels (raq.h). shift_add_least_squares_scale_reference sorts every |w| and tries every
// piece: the definition. shift_add_least_squares_scale finds the same minimum without sorting the channel:
// one pass puts each |w| into a bucket of its float's exponent and top mantissa bits with the bucket's count
// and sum, which bounds the vertex of every piece whose split falls in the bucket; only the buckets whose
// bound meets the bucket's own range can hold the minimum (usually one or two of ~100), and only their
// weights are sorted and scanned exactly. The training step quantizes every weight every step, and the full
// sort was a third of RAQ's step cost.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "core/engine/base/bit_cast.h"
#include "core/engine/kernels/kernel_table.h"
#include "core/engine/methods/raq.h"

namespace qplay {
namespace {

// The two magnitudes of a channel in units of α, and the boundary between them.
struct LevelMagnitudes {
  double low, high;
  double boundary() const { return (low + high) / 2; }  // |w| > boundary·α takes high
  // Σ c_i² over a channel of n weights whose k largest take the high level.
  double quadratic(size_t k, size_t n) const { return high * high * double(k) + low * low * double(n - k); }
};

LevelMagnitudes magnitudes_of(ShiftAddLevels levels) {
  return levels == ShiftAddLevels::residual_binary ? LevelMagnitudes{0.5, 1.5} : LevelMagnitudes{0.5, 1.0};
}

// 2^round(log2 α) from the exact binary exponent, so that it is bit-identical on every platform
// (no libm log2): α = m·2^e with m in [0.5, 1), and log2(2m) in [0, 1) rounds up iff 2m >= √2.
double nearest_power_of_two(double alpha) {
  if (!(alpha > 0)) return alpha;
  int exponent = 0;
  const double mantissa = std::frexp(alpha, &exponent);
  return 2 * mantissa >= std::sqrt(2.0) ? std::ldexp(1.0, exponent) : std::ldexp(1.0, exponent - 1);
}

// The best vertex over pieces k = first_k .. first_k + descending.size() - 1 of a channel of n magnitudes
// with sum `sum`: piece k (the k largest take the high level) is α in [a_{k+1}, a_k] / boundary, where
//   E(α) = Σa² − 2α·linear_k + α²·quadratic_k,  linear_k = high·H_k + low·(sum − H_k),
// H_k the sum of the k largest. descending[t] is a_{first_k + t + 1}, `upper` is a_{first_k} (unused when
// first_k is 0) and high_sum is H_{first_k}. At a piece boundary one weight changes level and its error, the
// lower of two parabolas, peaks there, so E has no minimum on a boundary: the global minimum is the vertex
// linear_k / quadratic_k of a piece that contains it (or α = 0). E(vertex) = Σa² − linear²/quadratic, so
// the best piece has the largest gain linear²/quadratic; a later piece must gain strictly more.
struct ScaleSearch {
  LevelMagnitudes m;
  size_t n = 0;
  double sum = 0;
  double best_alpha = 0, best_gain = 0;

  // Pieces first_k .. first_k + descending.size() - 1.
  void try_pieces(size_t first_k, double upper, double high_sum, std::span<const float> descending) {
    for (size_t t = 0; t < descending.size(); ++t) {
      if (t > 0) high_sum += descending[t - 1], upper = descending[t - 1];
      try_piece(first_k + t, upper, double(descending[t]), high_sum);
    }
  }
  // Piece n, every weight high: its upper end is the smallest |w|, and it has no lower end.
  void try_all_high(double smallest) { try_piece(n, smallest, 0.0, sum); }

  void try_piece(size_t k, double upper, double lower, double high_sum) {
    const double linear = m.high * high_sum + m.low * (sum - high_sum);
    const double quadratic = m.quadratic(k, n);
    // The vertex lies in the piece: lower <= linear / quadratic <= upper, without a division.
    const bool below_upper = k == 0 || linear * m.boundary() <= upper * quadratic;
    const bool above_lower = k == n || linear * m.boundary() >= lower * quadratic;
    if (!below_upper || !above_lower) return;
    const double gain = linear * linear / quadratic;
    if (gain > best_gain) best_gain = gain, best_alpha = linear / quadratic;
  }
};

// Buckets of |w| by float bits: `bits >> kBucketShift` keeps the exponent and 5 mantissa bits (32 buckets
// an octave); the top bucket holds the channel's largest |w| and bucket 0 everything 8 octaves below it.
constexpr int kScaleBuckets = 256;
constexpr int kBucketShift = 18;
// Slack on the pruning bounds against the rounding of the bucket sums (double, ~1e-16 relative): a bucket
// that misses its bound by less than this is scanned anyway.
constexpr double kPruningSlack = 1e-9;

double least_squares_scale_pruned(std::span<const float> weights, ShiftAddLevels levels,
                                  std::vector<float>& chosen) {
  const size_t n = weights.size();
  uint32_t top_bits = 0, bottom_bits = std::numeric_limits<uint32_t>::max();
  for (float w : weights) {
    const uint32_t bits = qplay::bit_cast<uint32_t>(w) & 0x7fffffffu;
    top_bits = std::max(top_bits, bits);
    bottom_bits = std::min(bottom_bits, bits);
  }
  if (n == 0 || top_bits == 0) return 0.0;                                                       // all zero
  if (top_bits >= 0x7f800000u) return shift_add_least_squares_scale_reference(weights, levels);  // inf, NaN
  const int64_t base = int64_t(top_bits >> kBucketShift) - (kScaleBuckets - 1);
  auto bucket_of = [base](float w) {
    const int64_t b = int64_t((qplay::bit_cast<uint32_t>(w) & 0x7fffffffu) >> kBucketShift) - base;
    return static_cast<int>(b < 0 ? 0 : b);
  };
  // Bucket b holds |w| in [lower_edge(b), lower_edge(b + 1)).
  auto lower_edge = [base](int b) -> double {
    const int64_t first = base + b;
    return b == 0 || first <= 0 ? 0.0 : double(qplay::bit_cast<float>(uint32_t(first) << kBucketShift));
  };
  // Two histograms, even and odd positions, so that runs of weights in one bucket do not wait on each other.
  uint32_t count[kScaleBuckets] = {}, odd_count[kScaleBuckets] = {};
  double bucket_sum[kScaleBuckets] = {}, odd_sum[kScaleBuckets] = {};
  size_t i = 0;
  for (; i + 2 <= n; i += 2) {
    const int even_bucket = bucket_of(weights[i]), odd_bucket = bucket_of(weights[i + 1]);
    ++count[even_bucket], ++odd_count[odd_bucket];
    bucket_sum[even_bucket] += std::fabs(double(weights[i]));
    odd_sum[odd_bucket] += std::fabs(double(weights[i + 1]));
  }
  if (i < n)
    ++count[bucket_of(weights[i])], bucket_sum[bucket_of(weights[i])] += std::fabs(double(weights[i]));
  for (int b = 0; b < kScaleBuckets; ++b) count[b] += odd_count[b], bucket_sum[b] += odd_sum[b];
  ScaleSearch search{magnitudes_of(levels), n};
  for (int b = kScaleBuckets - 1; b >= 0; --b) search.sum += bucket_sum[b];

  // Pieces k with a_{k+1} in bucket b: k = above + t for t = 0 .. count - 1, where H_k is high_above plus t
  // weights of the bucket, each in [lower edge of b, upper edge of b]. So the vertex of piece k lies between
  // (low·sum + (high − low)·(high_above + t·edge)) / quadratic(above + t) for the two edges, and each bound
  // is monotone in t (a ratio of two linear functions), so its extremes are at t = 0 and t = count − 1. The
  // piece needs vertex·boundary in [a_{k+1}, a_k], within [lower edge of b, upper edge of the nearest
  // non-empty bucket above].
  const LevelMagnitudes& m = search.m;
  bool scan[kScaleBuckets] = {}, keep[kScaleBuckets] = {};
  size_t above[kScaleBuckets] = {};
  double high_above[kScaleBuckets] = {};
  size_t k = 0;
  double high = 0, upper_edge = std::numeric_limits<double>::infinity();
  int previous = -1;  // the nearest non-empty bucket above
  for (int b = kScaleBuckets - 1; b >= 0; --b) {
    if (count[b] == 0) continue;
    above[b] = k, high_above[b] = high;
    const double low_edge = lower_edge(b), high_edge = lower_edge(b + 1);
    // vertex·boundary against a limit without a division: linear·boundary against limit·quadratic.
    auto linear_bound = [&](double edge, size_t t) {
      return (m.low * search.sum + (m.high - m.low) * (high + double(t) * edge)) * m.boundary();
    };
    const size_t last = count[b] - 1;
    const bool reaches_lower =
        linear_bound(high_edge, 0) >= low_edge * (1 - kPruningSlack) * m.quadratic(k, n) ||
        linear_bound(high_edge, last) >= low_edge * (1 - kPruningSlack) * m.quadratic(k + last, n);
    const bool reaches_upper =
        std::isinf(upper_edge) ||
        linear_bound(low_edge, 0) <= upper_edge * (1 + kPruningSlack) * m.quadratic(k, n) ||
        linear_bound(low_edge, last) <= upper_edge * (1 + kPruningSlack) * m.quadratic(k + last, n);
    if (reaches_lower && reaches_upper) {
      scan[b] = keep[b] = true;
      if (previous >= 0) keep[previous] = true;  // its smallest weight is a_k of the bucket's first piece
    }
    k += count[b], high += bucket_sum[b];
    upper_edge = lower_edge(b + 1);
    previous = b;
  }
  // The kept weights, without a branch per weight (a kept bucket is a coin flip for the predictor).
  chosen.resize(n);
  size_t kept = 0;
  for (float w : weights) {
    chosen[kept] = std::fabs(w);
    kept += keep[bucket_of(w)];
  }
  chosen.resize(kept);
  std::sort(chosen.begin(), chosen.end(), std::greater<float>());
  // chosen holds the kept buckets in descending order, so a scanned bucket's a_k is the entry before it.
  size_t offset = 0;
  for (int b = kScaleBuckets - 1; b >= 0; --b) {
    if (!keep[b]) continue;
    const std::span<const float> bucket(chosen.data() + offset, count[b]);
    const double upper = offset > 0 ? double(chosen[offset - 1]) : std::numeric_limits<double>::infinity();
    if (scan[b]) search.try_pieces(above[b], upper, high_above[b], bucket);
    offset += count[b];
  }
  search.try_all_high(qplay::bit_cast<float>(bottom_bits));
  return search.best_alpha;
}

}  // namespace

double shift_add_least_squares_scale_reference(std::span<const float> weights, ShiftAddLevels levels) {
  std::vector<float> descending(weights.size());
  for (size_t i = 0; i < weights.size(); ++i) descending[i] = std::fabs(weights[i]);
  std::sort(descending.begin(), descending.end(), std::greater<float>());
  ScaleSearch search{magnitudes_of(levels), weights.size()};
  for (float a : descending) search.sum += a;
  if (!(search.sum > 0)) return 0.0;
  search.try_pieces(0, 0.0, 0.0, descending);
  search.try_all_high(descending.back());
  return search.best_alpha;
}

double shift_add_least_squares_scale(std::span<const float> weights, ShiftAddLevels levels) {
  std::vector<float> chosen;
  return least_squares_scale_pruned(weights, levels, chosen);
}

namespace {

// Channels per pool task of shift_add_quantize: each channel's search is independent, so the split changes
// no bit; 8 channels of 784 weights are about 20 us, well above a pool call's cost.
constexpr int kChannelsPerTask = 8;

// Channels [first, last) of shift_add_quantize, with their own scratch.
void quantize_channels(std::span<const float> weights, size_t n, int first, int last,
                       const ShiftAddVariant& variant, std::span<float> quantized, std::span<float> scales) {
  const LevelMagnitudes m = magnitudes_of(variant.levels);
  std::vector<float> chosen;  // the pruned search's scratch, reused by every channel of the range
  chosen.reserve(n);
  for (int c = first; c < last; ++c) {
    std::span<const float> row = weights.subspan(c * n, n);
    double alpha = least_squares_scale_pruned(row, variant.levels, chosen);
    if (variant.power_of_two_scale) alpha = nearest_power_of_two(alpha);
    const float scale = static_cast<float>(alpha);
    scales[c] = scale;
    // The float scale decides the level too, so the STE's clip and the forward agree exactly.
    const float low = static_cast<float>(m.low) * scale, high = static_cast<float>(m.high) * scale;
    const double boundary = m.boundary() * double(scale);
    for (size_t i = 0; i < n; ++i) {
      const float w = row[i];
      const float magnitude = std::fabs(double(w)) > boundary ? high : low;
      quantized[c * n + i] = w < 0 ? -magnitude : magnitude;
    }
  }
}

}  // namespace

void shift_add_quantize(std::span<const float> weights, int channels, const ShiftAddVariant& variant,
                        std::span<float> quantized, std::span<float> scales, const KernelTable* kernels) {
  assert(channels > 0 && weights.size() % channels == 0 && quantized.size() >= weights.size());
  assert(scales.size() >= size_t(channels));
  const size_t n = weights.size() / channels;
  const size_t tasks = (size_t(channels) + kChannelsPerTask - 1) / kChannelsPerTask;
  auto quantize_task = [&](size_t task) {
    const int first = int(task) * kChannelsPerTask;
    quantize_channels(weights, n, first, std::min(channels, first + kChannelsPerTask), variant, quantized,
                      scales);
  };
  if (kernels != nullptr) return parallel_for(*kernels, tasks, quantize_task);
  for (size_t task = 0; task < tasks; ++task) quantize_task(task);
}

void shift_add_straight_through_backward(std::span<const float> weights, int channels, ShiftAddLevels levels,
                                         std::span<const float> scales, std::span<float> gradient) {
  assert(channels > 0 && weights.size() % channels == 0 && gradient.size() >= weights.size());
  const double outer = magnitudes_of(levels).high;
  const size_t n = weights.size() / channels;
  for (int c = 0; c < channels; ++c) {
    const double clip = outer * double(scales[c]);
    for (size_t i = c * n; i < (c + 1) * n; ++i)  // a select, not a branch, so that it vectorizes
      gradient[i] = std::fabs(double(weights[i])) > clip ? 0.0f : gradient[i];
  }
}

void shift_add_quantize_weights(const Network<float>& network, std::span<const float> master,
                                const ShiftAddVariant& variant, std::span<float> view,
                                std::vector<std::vector<float>>* scales) {
  assert(master.size() == network.parameter_count() && view.size() >= master.size());
  std::copy(master.begin(), master.end(), view.begin());
  const auto& tensors = network.parameter_tensors();
  if (scales) scales->assign(tensors.size(), {});
  std::vector<float> tensor_scales;
  for (size_t t = 0; t < tensors.size(); ++t) {
    const ParameterTensor& tensor = tensors[t];
    if (!tensor.is_weight) continue;
    tensor_scales.resize(tensor.rows);
    shift_add_quantize(master.subspan(tensor.offset, tensor.size()), tensor.rows, variant,
                       view.subspan(tensor.offset, tensor.size()), tensor_scales, &network.kernels());
    if (scales) (*scales)[t] = tensor_scales;
  }
}

}  // namespace qplay

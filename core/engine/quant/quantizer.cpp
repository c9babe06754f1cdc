// Grid formulas, fake quantization and the clipped straight-through estimator; see quantizer.h.
#include "core/engine/quant/quantizer.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <string>

#include "core/engine/quant/range_estimation.h"

namespace qplay {
namespace {

// Codes up to 2^16 and their products with a scale are exact enough in float; the UI offers 1..8.
constexpr int kMaxGridBits = 16;
constexpr int kMaxSpecBits = 8;

// An all-zero, NaN or infinite range: any scale represents 0 exactly, and 1 keeps every later
// division finite.
constexpr float kDegenerateScale = 1.0f;

float usable_scale(float scale) { return scale > 0.0f && std::isfinite(scale) ? scale : kDegenerateScale; }

int32_t largest_unsigned_code(int bits) { return (int32_t{1} << bits) - 1; }

Status check_bits(const char* setting, int bits) {
  if (bits >= 0 && bits <= kMaxSpecBits) return Status();
  return Status::error(std::string(setting) + " bits: " + std::to_string(bits) +
                       " is not allowed, use 0 (float) or 1.." + std::to_string(kMaxSpecBits));
}

Status check_percentile(const char* setting, double percentile) {
  if (percentile > 50.0 && percentile <= 100.0) return Status();  // also rejects NaN
  char given[32];
  std::snprintf(given, sizeof(given), "%g", percentile);  // "99.5", not to_string's "99.500000"
  return Status::error(std::string(setting) + " percentile: " + given +
                       " is not allowed, use a value in (50, 100], e.g. 99.99");
}

// weights[channels, elements_per_channel]: the row length.
size_t elements_per_channel(std::span<const float> weights, int channels) {
  assert(channels >= 1 && weights.size() % static_cast<size_t>(channels) == 0);
  return weights.size() / static_cast<size_t>(channels);
}

const QuantGrid& grid_of_channel(const std::vector<QuantGrid>& grids, [[maybe_unused]] int channels,
                                 int channel) {
  assert(grids.size() == 1 || grids.size() == static_cast<size_t>(channels));
  return grids.size() == 1 ? grids[0] : grids[channel];
}

// gradient_out[i] = gradient_in[i] where values[i] is inside range, else 0 (NaN values are outside).
void pass_gradient_inside(std::span<const float> values, ValueRange range, std::span<const float> gradient_in,
                          std::span<float> gradient_out) {
  for (size_t i = 0; i < values.size(); ++i) {
    const bool inside = values[i] >= range.min && values[i] <= range.max;
    gradient_out[i] = inside ? gradient_in[i] : 0.0f;
  }
}

}  // namespace

Status validate(const WeightQuantSpec& spec) {
  if (Status status = check_bits("weight", spec.bits); !status) return status;
  return check_percentile("weight", spec.percentile);
}

Status validate(const ActivationQuantSpec& spec) {
  if (Status status = check_bits("activation", spec.bits); !status) return status;
  return check_percentile("activation", spec.percentile);
}

QuantGrid symmetric_grid(float max_abs, int bits) {
  assert(bits >= 1 && bits <= kMaxGridBits);
  if (bits == 1) return QuantGrid{usable_scale(max_abs), 0, -1, 1, 2};
  const int32_t largest_code = (int32_t{1} << (bits - 1)) - 1;
  return QuantGrid{usable_scale(max_abs / static_cast<float>(largest_code)), 0, -largest_code, largest_code};
}

QuantGrid asymmetric_grid(float min, float max, int bits) {
  assert(bits >= 1 && bits <= kMaxGridBits);
  const int32_t largest_code = largest_unsigned_code(bits);
  // Written so that NaN ends as 0: the range must contain 0 for the zero point to exist.
  const float low = min < 0.0f ? min : 0.0f;
  const float high = max > 0.0f ? max : 0.0f;
  const float scale = (high - low) / static_cast<float>(largest_code);
  if (usable_scale(scale) != scale) return QuantGrid{kDegenerateScale, 0, 0, largest_code};
  const float zero_point = std::clamp(std::nearbyint(-low / scale), 0.0f, static_cast<float>(largest_code));
  return QuantGrid{scale, static_cast<int32_t>(zero_point), 0, largest_code};
}

QuantGrid unsigned_grid(float max, int bits) {
  assert(bits >= 1 && bits <= kMaxGridBits);
  const int32_t largest_code = largest_unsigned_code(bits);
  return QuantGrid{usable_scale(max / static_cast<float>(largest_code)), 0, 0, largest_code};
}

QuantGrid grid_for_range(GridKind kind, ValueRange range, int bits) {
  switch (kind) {
    case GridKind::symmetric:
      return symmetric_grid(std::max(std::fabs(range.min), std::fabs(range.max)), bits);
    case GridKind::asymmetric:
      return asymmetric_grid(range.min, range.max, bits);
    case GridKind::unsigned_after_relu:
      break;
  }
  return unsigned_grid(range.max, bits);
}

int32_t quantize_to_int(const QuantGrid& grid, float x) {
  float scaled = x / grid.scale;
  if (std::isnan(scaled)) scaled = 0.0f;  // a NaN code would make the int conversion undefined
  float code;
  if (grid.q_step == 1) {
    // Round before adding the zero point: x/s + z in float could move a value onto a tie.
    code = std::nearbyint(scaled) + static_cast<float>(grid.zero_point);
  } else {
    const float step = static_cast<float>(grid.q_step), first = static_cast<float>(grid.q_min);
    code = first + step * std::nearbyint((scaled + static_cast<float>(grid.zero_point) - first) / step);
  }
  // Clamped in float: a huge or infinite x must not reach the int conversion.
  return static_cast<int32_t>(
      std::clamp(code, static_cast<float>(grid.q_min), static_cast<float>(grid.q_max)));
}

float dequantize(const QuantGrid& grid, int32_t q) {
  return grid.scale * static_cast<float>(q - grid.zero_point);
}

float fake_quantize(const QuantGrid& grid, float x) { return dequantize(grid, quantize_to_int(grid, x)); }

int level_count(const QuantGrid& grid) { return (grid.q_max - grid.q_min) / grid.q_step + 1; }

std::string to_string(const QuantGrid& grid) {
  char text[128];
  std::snprintf(text, sizeof text, "{scale %g, zero_point %d, codes %d..%d", grid.scale, grid.zero_point,
                grid.q_min, grid.q_max);
  std::string description = text;
  if (grid.q_step != 1) description += ", step " + std::to_string(grid.q_step);
  return description + "}";
}

ValueRange clip_range(const QuantGrid& grid) {
  const float half_step = 0.5f * grid.scale * static_cast<float>(grid.q_step);
  return {dequantize(grid, grid.q_min) - half_step, dequantize(grid, grid.q_max) + half_step};
}

std::vector<QuantGrid> choose_weight_grids(std::span<const float> weights, int channels,
                                           const WeightQuantSpec& spec) {
  assert(validate(spec).ok());
  if (spec.bits == 0) return {};
  const GridKind kind = spec.symmetry == Symmetry::symmetric ? GridKind::symmetric : GridKind::asymmetric;
  if (spec.granularity == Granularity::per_tensor) {
    return {calibrate_range(weights, kind, spec.bits, spec.range_method, spec.percentile)};
  }
  const size_t row = elements_per_channel(weights, channels);
  std::vector<QuantGrid> grids;
  grids.reserve(static_cast<size_t>(channels));
  for (int c = 0; c < channels; ++c) {
    grids.push_back(
        calibrate_range(weights.subspan(c * row, row), kind, spec.bits, spec.range_method, spec.percentile));
  }
  return grids;
}

void fake_quantize_weights(std::span<const float> weights, int channels, const std::vector<QuantGrid>& grids,
                           std::span<float> out) {
  assert(out.size() == weights.size());
  if (grids.empty()) {
    if (out.data() != weights.data()) std::copy(weights.begin(), weights.end(), out.begin());
    return;
  }
  const size_t row = elements_per_channel(weights, channels);
  for (int c = 0; c < channels; ++c) {
    const QuantGrid& grid = grid_of_channel(grids, channels, c);
    for (size_t i = c * row; i < (c + 1) * row; ++i) out[i] = fake_quantize(grid, weights[i]);
  }
}

std::vector<QuantGrid> quantize_weights(std::span<const float> weights, int channels,
                                        const WeightQuantSpec& spec, std::span<float> out) {
  std::vector<QuantGrid> grids = choose_weight_grids(weights, channels, spec);
  fake_quantize_weights(weights, channels, grids, out);
  return grids;
}

std::vector<QuantGrid> quantize_per_channel_symmetric(std::span<const float> weights, int channels, int bits,
                                                      std::span<float> out) {
  return quantize_weights(weights, channels, {.bits = bits, .granularity = Granularity::per_channel}, out);
}

std::vector<QuantGrid> quantize_per_channel_asymmetric(std::span<const float> weights, int channels, int bits,
                                                       std::span<float> out) {
  return quantize_weights(
      weights, channels,
      {.bits = bits, .granularity = Granularity::per_channel, .symmetry = Symmetry::asymmetric}, out);
}

QuantGrid quantize_per_tensor_symmetric(std::span<const float> weights, int bits, std::span<float> out) {
  return quantize_weights(weights, 1, {.bits = bits, .granularity = Granularity::per_tensor}, out).front();
}

QuantGrid quantize_per_tensor_asymmetric(std::span<const float> weights, int bits, std::span<float> out) {
  return quantize_weights(
             weights, 1,
             {.bits = bits, .granularity = Granularity::per_tensor, .symmetry = Symmetry::asymmetric}, out)
      .front();
}

void straight_through_backward(std::span<const float> weights, int channels,
                               const std::vector<QuantGrid>& grids, std::span<const float> grad_wrt_quantized,
                               std::span<float> grad_wrt_weights) {
  assert(grad_wrt_quantized.size() == weights.size() && grad_wrt_weights.size() == weights.size());
  if (grids.empty()) {
    if (grad_wrt_weights.data() != grad_wrt_quantized.data()) {
      std::copy(grad_wrt_quantized.begin(), grad_wrt_quantized.end(), grad_wrt_weights.begin());
    }
    return;
  }
  const size_t row = elements_per_channel(weights, channels);
  for (int c = 0; c < channels; ++c) {
    pass_gradient_inside(weights.subspan(c * row, row), clip_range(grid_of_channel(grids, channels, c)),
                         grad_wrt_quantized.subspan(c * row, row), grad_wrt_weights.subspan(c * row, row));
  }
}

void fake_quantize_activations(std::span<float> values, const QuantGrid& grid) {
  for (float& value : values) value = fake_quantize(grid, value);
}

void activation_straight_through_backward(std::span<const float> values, const QuantGrid& grid,
                                          std::span<float> gradient) {
  assert(gradient.size() == values.size());
  pass_gradient_inside(values, clip_range(grid), gradient, gradient);
}

}  // namespace qplay

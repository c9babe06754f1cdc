// Uniform quantizers: the grid a tensor is rounded to, fake quantization (quantize, then dequantize
// back to float) and the clipped straight-through estimator used to train through it. The formulas
// are the "Common building blocks" of shared/research/methods.md:
//   signed symmetric   s = max|w| / (2^{b-1}-1)   q in [-(2^{b-1}-1), 2^{b-1}-1]   (restricted range)
//   asymmetric affine  s = (max-min) / (2^b-1)    q in [0, 2^b-1], z = round(-min/s)
//   unsigned           s = max / (2^b-1)          q in [0, 2^b-1]                  (after ReLU)
//   real value         x = s * (q - z)
// Weight tensors are [channels, elements_per_channel] row-major (dense W[out, in], conv W[out, k*k*in]);
// per-channel means one grid per output channel (row), per-tensor one grid for all rows.
//
// Not here: measuring a range from data (range_estimation.h), deciding which tensors of a network are
// quantized (post_training.h), and integer kernels.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/engine/base/status.h"

namespace qplay {

// [SECTION] Settings, as the UI, the CLI and experiment files name them

enum class Granularity { per_tensor, per_channel };
enum class Symmetry { symmetric, asymmetric };
enum class RangeMethod { min_max, percentile, mse };
constexpr std::array<std::string_view, 2> choice_names(Granularity) { return {"per-tensor", "per-channel"}; }
constexpr std::array<std::string_view, 2> choice_names(Symmetry) { return {"symmetric", "asymmetric"}; }
constexpr std::array<std::string_view, 3> choice_names(RangeMethod) {
  return {"min-max", "percentile", "mse"};
}

struct WeightQuantSpec {
  int bits = 0;  // 0 = float (not quantized), else 1..8
  Granularity granularity = Granularity::per_channel;
  Symmetry symmetry = Symmetry::symmetric;
  RangeMethod range_method = RangeMethod::min_max;
  double percentile = 99.99;  // for RangeMethod::percentile, in (50, 100]

  friend bool operator==(const WeightQuantSpec&, const WeightQuantSpec&) = default;
};

struct ActivationQuantSpec {
  int bits = 0;  // 0 = float (not quantized), else 1..8
  RangeMethod range_method = RangeMethod::min_max;
  double percentile = 99.99;  // for RangeMethod::percentile, in (50, 100]

  friend bool operator==(const ActivationQuantSpec&, const ActivationQuantSpec&) = default;
};

// Errors name the setting, the allowed values and the value given: "weight bits: 9 is not allowed, use
// 0 (float) or 1..8".
Status validate(const WeightQuantSpec& spec);
Status validate(const ActivationQuantSpec& spec);

// [SECTION] Grids

// The real values s * (q - zero_point) for the codes q = q_min, q_min + q_step, ..., q_max.
// Every constructor below returns a finite scale > 0, whatever its input (all zeros, NaN, inf).
struct QuantGrid {
  float scale = 1.0f;
  int32_t zero_point = 0;  // the code whose real value is 0.0 (a code of the grid except on the 1-bit grid)
  int32_t q_min = 0, q_max = 0;
  int32_t q_step = 1;  // 2 only on the 1-bit symmetric grid, whose codes are {-1, +1}

  friend bool operator==(const QuantGrid&, const QuantGrid&) = default;
};

// Where a range comes from or what a grid may represent; min <= max.
struct ValueRange {
  float min = 0.0f;
  float max = 0.0f;
};

// Which of the three grid families a range is turned into.
enum class GridKind { symmetric, asymmetric, unsigned_after_relu };

// bits 2..16: codes ±(2^{b-1}-1), scale = max_abs / (2^{b-1}-1); exactly symmetric, 0 representable.
// bits 1: the sign grid {-max_abs, +max_abs} (codes {-1, +1}, q_step 2), as in binary networks: the
// restricted range of 1 bit would be {0} alone. 0 is not representable; x = 0 maps to -max_abs.
QuantGrid symmetric_grid(float max_abs, int bits);
// Codes 0..2^b-1; the range is widened to contain 0 (min <= 0 <= max) so that 0.0 is exactly a grid value.
QuantGrid asymmetric_grid(float min, float max, int bits);
// Codes 0..2^b-1 over [0, max]: activations after a ReLU.
QuantGrid unsigned_grid(float max, int bits);
// The grid of the given kind covering range: symmetric uses max(|min|, |max|), unsigned uses max.
QuantGrid grid_for_range(GridKind kind, ValueRange range, int bits);

// [SECTION] Scalar quantization

// round(x / scale) + zero_point, rounding half to even, clamped to [q_min, q_max]; NaN quantizes like 0.
int32_t quantize_to_int(const QuantGrid& grid, float x);
float dequantize(const QuantGrid& grid, int32_t q);   // scale * (q - zero_point)
float fake_quantize(const QuantGrid& grid, float x);  // dequantize(quantize_to_int(x))
int level_count(const QuantGrid& grid);               // number of distinct grid values
// "{scale 0.0236, zero_point 0, codes -127..127}" (", step 2" on the 1-bit grid): messages and test failures.
std::string to_string(const QuantGrid& grid);
// [dequantize(q_min) - step/2, dequantize(q_max) + step/2], step = scale * q_step: the values the grid
// rounds without clipping. The clipped STE passes gradients inside it.
ValueRange clip_range(const QuantGrid& grid);

// [SECTION] Weights: weights[channels, elements_per_channel]

// One grid (per_tensor) or `channels` grids (per_channel), set by spec.range_method; none when
// spec.bits == 0. spec must validate().
std::vector<QuantGrid> choose_weight_grids(std::span<const float> weights, int channels,
                                           const WeightQuantSpec& spec);
// out[c, i] = fake_quantize(grid of channel c, weights[c, i]). grids holds 1 or `channels` grids; no grids
// (float) copies. out may be weights itself.
void fake_quantize_weights(std::span<const float> weights, int channels, const std::vector<QuantGrid>& grids,
                           std::span<float> out);
// choose_weight_grids, then fake_quantize_weights into out; returns the grids used.
std::vector<QuantGrid> quantize_weights(std::span<const float> weights, int channels,
                                        const WeightQuantSpec& spec, std::span<float> out);
// Min-max range, the four combinations by name.
std::vector<QuantGrid> quantize_per_channel_symmetric(std::span<const float> weights, int channels, int bits,
                                                      std::span<float> out);
std::vector<QuantGrid> quantize_per_channel_asymmetric(std::span<const float> weights, int channels, int bits,
                                                       std::span<float> out);
QuantGrid quantize_per_tensor_symmetric(std::span<const float> weights, int bits, std::span<float> out);
QuantGrid quantize_per_tensor_asymmetric(std::span<const float> weights, int bits, std::span<float> out);

// Clipped straight-through estimator (methods.md): d(fake_quantize(w))/dw = 1 inside clip_range of w's
// grid, else 0. grad_wrt_quantized[channels, n] -> grad_wrt_weights[channels, n]; may be the same buffer.
// No grids (float weights) passes every gradient.
void straight_through_backward(std::span<const float> weights, int channels,
                               const std::vector<QuantGrid>& grids, std::span<const float> grad_wrt_quantized,
                               std::span<float> grad_wrt_weights);

// [SECTION] Activations

// values[i] = fake_quantize(grid, values[i]). Training through it needs the unquantized values
// afterwards (the STE mask below), so a caller that trains keeps a copy.
void fake_quantize_activations(std::span<float> values, const QuantGrid& grid);
// The same clipped STE for activations, in place: gradient[i] = 0 where the unquantized values[i]
// lies outside clip_range(grid).
void activation_straight_through_backward(std::span<const float> values, const QuantGrid& grid,
                                          std::span<float> gradient);

}  // namespace qplay

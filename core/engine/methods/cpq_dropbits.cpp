#include "core/engine/methods/cpq_dropbits.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/engine/base/deterministic_math.h"
#include "core/engine/deploy/post_training.h"
#include "core/engine/nn/adam.h"

namespace qplay {

// [SECTION] §4.1 The CPQ quantizer

namespace {

template <typename T>
T sigmoid(T z) {
  // Written for both signs so that exp never overflows.
  if (z >= T(0)) return T(1) / (T(1) + portable_exp(-z));
  const T e = portable_exp(z);
  return e / (T(1) + e);
}

// Sig'(z) = Sig(z)(1 - Sig(z)) = e^{-|z|} / (1 + e^{-|z|})², without cancellation in the tails.
template <typename T>
T sigmoid_derivative(T z) {
  const T e = portable_exp(-std::fabs(z));
  return e / ((T(1) + e) * (T(1) + e));
}

// The helpers of the fast backward below are forced inline: its AVX2 clone vectorizes only the code
// inlined into it, and GCC does not always inline baseline-ISA functions into it on its own (it left
// the exp out of line, and the backward ran 30 times slower).
#define QPLAY_CPQ_INLINE __attribute__((always_inline)) inline

// Clamps to [lo, hi] and sends NaN to lo, so that the result converts to int safely. Both
// comparisons are made unconditionally, so that loops over it vectorize (a comparison that runs on
// one branch only could raise an FP exception, which keeps the compiler from converting the branch).
template <typename T>
QPLAY_CPQ_INLINE T clamp_to(T value, T lo, T hi) {
  const T at_most_hi = value > hi ? hi : value;
  return value >= lo ? at_most_hi : lo;
}

// Clamps to [lo, hi] and lets NaN through, as std::clamp does; vectorizes as clamp_to.
template <typename T>
QPLAY_CPQ_INLINE T clamp_keeping_nan(T value, T lo, T hi) {
  const T at_most_hi = value > hi ? hi : value;
  return value < lo ? lo : at_most_hi;
}

// std::nearbyint (ties to even, the default rounding mode) for |v| ≤ 2^{digits-2}, written as
// arithmetic so that loops over it vectorize (SSE2 and WASM SIMD128 have no rounding instruction, so
// std::nearbyint is a library call per element). Adding 1.5·2^{digits-1} leaves no fraction bits, so
// the hardware rounds v to an integer; subtracting it again is exact. copysign restores the sign of a
// zero (-0.3 rounds to -0). Needs IEEE arithmetic without reassociation (no -ffast-math).
template <typename T>
QPLAY_CPQ_INLINE T round_half_even_small(T v) {
  constexpr T shift = T(1.5) * T(uint64_t{1} << (std::numeric_limits<T>::digits - 1));
  return std::copysign((v + shift) - shift, v);
}

// The grid code of the forward for q = x/α: cpq_code without the library call (bitwise equal:
// clamping to the integer range before rounding gives the same integer as rounding first).
template <typename T>
QPLAY_CPQ_INLINE T code_of_scaled(T scaled, T code_min, T code_max) {
  return round_half_even_small(clamp_keeping_nan(scaled, code_min, code_max));
}

// Thresholds whose Sig' term is below e^{-c} of Sig'(0) are below the rounding error of T; they are
// skipped (header: "The backward sums over every threshold within c·σ of x").
template <typename T>
T threshold_window() {
  return T(2) - portable_log(std::numeric_limits<T>::epsilon());
}

// Σ values in double, in four interleaved running sums so that the additions overlap instead of
// each waiting for the last (the order differs from left to right only by rounding in double).
QPLAY_CPQ_INLINE double sum_in_four_lanes(std::span<const double> values) {
  double lanes[4] = {0, 0, 0, 0};
  size_t i = 0;
  for (; i + 4 <= values.size(); i += 4)
    for (size_t lane = 0; lane < 4; ++lane) lanes[lane] += values[i + lane];
  for (; i < values.size(); ++i) lanes[0] += values[i];
  return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
}

}  // namespace

template <typename T>
T cpq_code(T x, T step, int bits) {
  return std::clamp(std::nearbyint(x / step), T(cpq_code_min(bits)), T(cpq_code_max(bits)));
}

template <typename T>
void cpq_quantize_forward(std::span<const T> weights, T step, int bits, std::span<T> quantized) {
  assert(quantized.size() == weights.size() && step > T(0));
  const T code_min = T(cpq_code_min(bits)), code_max = T(cpq_code_max(bits));
  for (size_t i = 0; i < weights.size(); ++i)
    quantized[i] = step * code_of_scaled(weights[i] / step, code_min, code_max);
}

template <typename T>
void cpq_cell_probabilities(T x, T step, T noise, int bits, std::span<T> probabilities) {
  const int k_min = cpq_code_min(bits), k_max = cpq_code_max(bits);
  assert(probabilities.size() == static_cast<size_t>(k_max - k_min + 1));
  for (int k = k_min; k <= k_max; ++k) {
    // P(x + e ≤ edge) = Sig((edge - x)/σ) for logistic e; the outer cells extend to ±∞ (Eq. 1).
    const T grid_point = step * T(k);
    const T upper = k == k_max ? T(1) : sigmoid((grid_point + step / 2 - x) / noise);
    const T lower = k == k_min ? T(0) : sigmoid((grid_point - step / 2 - x) / noise);
    probabilities[k - k_min] = upper - lower;
  }
}

template <typename T>
CpqSurrogateDerivatives cpq_surrogate_derivatives(T x, T step, T noise, int bits) {
  // S = g_min + α Σ_j Sig((x - t_j)/σ) over the thresholds t_j = α(k + ½), k = k_min .. k_max - 1
  // (the telescoped Σ_k g_k π_k of §4.1); only thresholds near x contribute to the derivatives.
  const T reach = threshold_window<T>() * noise;
  const T first_k =
      clamp_to(std::ceil((x - reach) / step - T(0.5)), T(cpq_code_min(bits)), T(cpq_code_max(bits)));
  const T last_k =
      clamp_to(std::floor((x + reach) / step - T(0.5)), T(cpq_code_min(bits) - 1), T(cpq_code_max(bits) - 1));
  T sum_slope = 0, sum_slope_threshold = 0, sum_slope_z = 0;
  for (int k = static_cast<int>(first_k); k <= static_cast<int>(last_k); ++k) {
    const T threshold = step * (T(k) + T(0.5));
    const T z = (x - threshold) / noise;
    const T slope = sigmoid_derivative(z);
    sum_slope += slope;
    sum_slope_threshold += slope * threshold;
    sum_slope_z += slope * z;
  }
  CpqSurrogateDerivatives d;
  d.x = static_cast<double>(step / noise * sum_slope);
  d.step = static_cast<double>(-sum_slope_threshold / noise);
  d.noise = static_cast<double>(-step / noise * sum_slope_z);
  return d;
}

template <typename T>
CpqScaleGradients cpq_quantize_backward_reference(std::span<const T> weights,
                                                  std::span<const T> quantized_gradient, T step, T noise,
                                                  int bits, std::span<T> weight_gradient) {
  assert(quantized_gradient.size() == weights.size() && weight_gradient.size() == weights.size());
  // Sums over up to ~10^5 elements: accumulate in double whatever T is.
  double log_step = 0, log_noise = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    const T u = quantized_gradient[i];
    const CpqSurrogateDerivatives d = cpq_surrogate_derivatives(weights[i], step, noise, bits);
    const double code = static_cast<double>(cpq_code(weights[i], step, bits));
    log_step += static_cast<double>(u) * (code + d.step);
    log_noise += static_cast<double>(u) * d.noise;
    weight_gradient[i] = u * static_cast<T>(d.x);
  }
  // Chain rule to the log parameterization: ∂/∂log α = α ∂/∂α.
  return {static_cast<double>(step) * log_step, static_cast<double>(noise) * log_noise};
}

namespace {
// Weights per block of the fast backward. Its per-weight state lives in arrays of this length on the
// stack, and each pass is a loop over them that the compiler vectorizes.
constexpr size_t kBackwardBlock = 256;
// Added before truncating a threshold index so that truncation is floor: larger than any clamped
// |x/α - ½| (129 at 8 bits).
constexpr int kIndexOffset = 1024;

// The body of cpq_quantize_backward: the sums of cpq_surrogate_derivatives, reorganized (header:
// "The fast backward"). Each weight's thresholds are walked outward from the two next to it: in
// units of σ they are evenly spaced by ρ = α/σ, so each Sig' term's e^{-|z|} is the one before times
// r = e^{-ρ}, and two exps per weight give them all. Always inlined, so that each caller below
// compiles it for its own instruction set.
template <typename T>
__attribute__((always_inline)) inline CpqScaleGradients fast_quantize_backward(
    std::span<const T> weights, std::span<const T> quantized_gradient, T step, T noise, int bits,
    std::span<T> weight_gradient) {
  assert(quantized_gradient.size() == weights.size() && weight_gradient.size() == weights.size());
  assert(step > T(0) && noise > T(0));
  const T code_min = T(cpq_code_min(bits)), code_max = T(cpq_code_max(bits));
  // Threshold indices k (t_k = α(k + ½)) run over [code_min, code_max - 1].
  const T index_min = code_min, index_max = code_max - T(1);
  const T spacing = step / noise;          // ρ
  const T decay = portable_exp(-spacing);  // r
  const T inverse_noise = T(1) / noise;
  // A threshold within c·σ of x is at most ⌊c/ρ⌋ places beyond the one next to x on its side (the
  // window of cpq_surrogate_derivatives); a grid has 2^b - 1 thresholds, so 2^b - 2 places at most.
  const int places =
      static_cast<int>(clamp_to(std::floor(threshold_window<T>() / spacing), T(0), T((1 << bits) - 2)));
  // e^{-d} is 0 in T beyond this d. Weights farther than that many σ outside the grid (and ±inf)
  // are moved to that distance, where they still get exactly no slope, so that z stays finite.
  const T underflow = T(6) - portable_log(std::numeric_limits<T>::denorm_min());
  const T x_min = step * (index_min + T(0.5)) - underflow * noise;
  const T x_max = step * (index_max + T(0.5)) + underflow * noise;

  // Sums over up to ~10^5 elements: accumulate in double whatever T is.
  double log_step = 0, log_noise = 0;
  for (size_t begin = 0; begin < weights.size(); begin += kBackwardBlock) {
    const size_t count = std::min(kBackwardBlock, weights.size() - begin);
    const T* x = weights.data() + begin;
    // [count] per weight: the forward's code; k of the threshold at or below x, and z and e^{-|z|} of
    // it and of the next one up; per side, Σ Sig' and Σ place·Sig' over its thresholds on the grid
    // (place = how many thresholds beyond the first one on that side).
    T code[kBackwardBlock], below_index[kBackwardBlock], below_z[kBackwardBlock], above_z[kBackwardBlock];
    T below_e[kBackwardBlock], above_e[kBackwardBlock];
    T below_slopes[kBackwardBlock], below_moment[kBackwardBlock];
    T above_slopes[kBackwardBlock], above_moment[kBackwardBlock];

    // Every loop is branch-free, so that the compiler vectorizes it: a select only ever picks between
    // values both sides need anyway (arithmetic used on one side only would be moved into a branch,
    // where it might raise an FP exception, and a loop with such a branch is not vectorized).
    for (size_t i = 0; i < count; ++i) {
      const T scaled = x[i] / step;
      code[i] = code_of_scaled(scaled, code_min, code_max);
      // ⌊x/α - ½⌋ within [k_min - 1, k_max]: the thresholds next to x, or the outermost one and the
      // one beyond it (off the grid) for x outside the grid. By truncating a positive number; NaN
      // goes below the grid, and then far from it, where every term is 0 as in the reference.
      const T shifted = clamp_to(scaled - T(0.5), index_min - T(1), index_max) + T(kIndexOffset);
      below_index[i] = T(static_cast<int32_t>(shifted)) - T(kIndexOffset);
      const T near_x = clamp_to(x[i], x_min, x_max);
      const T below_threshold = step * (below_index[i] + T(0.5));
      const T above_threshold = step * ((below_index[i] + T(1)) + T(0.5));
      below_z[i] = (near_x - below_threshold) * inverse_noise;  // ≥ 0 but for x below the grid
      above_z[i] = (near_x - above_threshold) * inverse_noise;  // ≤ 0 but for x above the grid
      // |z|, capped (in a loop of its own: a clamp inside the exp loop would make branches there).
      below_e[i] = std::min(std::fabs(below_z[i]), underflow);
      above_e[i] = std::min(std::fabs(above_z[i]), underflow);
      below_slopes[i] = below_moment[i] = above_slopes[i] = above_moment[i] = T(0);
    }
    for (size_t i = 0; i < count; ++i) {
      below_e[i] = portable_exp_vectorizable(-below_e[i]);
      above_e[i] = portable_exp_vectorizable(-above_e[i]);
    }
    // Going down from below_index and up from below_index + 1, |z| grows by ρ per place: for x
    // between the two, and for x outside the grid on the side that is on the grid.
    for (int place = 0; place <= places; ++place) {
      for (size_t i = 0; i < count; ++i) {
        // 1 for a threshold on the grid, 0 off it, multiplied in (a select would become a branch):
        // off the grid e = 0 gives Sig' = 0.
        const T below_k = below_index[i] - T(place), above_k = below_index[i] + T(1 + place);
        const T eb = below_e[i] * T((below_k >= index_min) & (below_k <= index_max));
        const T ea = above_e[i] * T((above_k >= index_min) & (above_k <= index_max));
        // Sig'(z) = e^{-|z|}/(1 + e^{-|z|})² on both sides with one division (the costliest
        // instruction here): each side's denominator is ≤ 4, so their product stays far from overflow.
        const T below_square = (T(1) + eb) * (T(1) + eb), above_square = (T(1) + ea) * (T(1) + ea);
        const T inverse_squares = T(1) / (below_square * above_square);
        const T below_slope = eb * above_square * inverse_squares;
        const T above_slope = ea * below_square * inverse_squares;
        below_slopes[i] += below_slope;
        below_moment[i] += T(place) * below_slope;
        above_slopes[i] += above_slope;
        above_moment[i] += T(place) * above_slope;
        below_e[i] *= decay;
        above_e[i] *= decay;
      }
    }
    // The sums of cpq_surrogate_derivatives from the per-side ones: the threshold `place` beyond
    // the first on its side has k = k_first ∓ place and z = z_first ± place·ρ. The double sums run
    // first: weight_gradient may be quantized_gradient.
    const T* u = quantized_gradient.data() + begin;
    double step_terms[kBackwardBlock], noise_terms[kBackwardBlock];
    for (size_t i = 0; i < count; ++i) {
      const T sum_slope_k = (below_index[i] + T(0.5)) * below_slopes[i] - below_moment[i] +
                            ((below_index[i] + T(1)) + T(0.5)) * above_slopes[i] + above_moment[i];
      const T sum_slope_z = below_z[i] * below_slopes[i] + spacing * below_moment[i] +
                            above_z[i] * above_slopes[i] - spacing * above_moment[i];
      const double step_derivative = static_cast<double>(-spacing * sum_slope_k);   // ∂S/∂α
      const double noise_derivative = static_cast<double>(-spacing * sum_slope_z);  // ∂S/∂σ
      step_terms[i] = static_cast<double>(u[i]) * (static_cast<double>(code[i]) + step_derivative);
      noise_terms[i] = static_cast<double>(u[i]) * noise_derivative;
    }
    log_step += sum_in_four_lanes({step_terms, count});
    log_noise += sum_in_four_lanes({noise_terms, count});
    T* gradient = weight_gradient.data() + begin;
    for (size_t i = 0; i < count; ++i)
      gradient[i] = u[i] * (spacing * (below_slopes[i] + above_slopes[i]));  // u ∂S/∂x
  }
  // Chain rule to the log parameterization: ∂/∂log α = α ∂/∂α.
  return {static_cast<double>(step) * log_step, static_cast<double>(noise) * log_noise};
}

// float, the type training runs in. On x86-64 Linux it is compiled twice, for AVX2 (8 lanes instead
// of SSE2's 4: half the time) and for the baseline ISA, and the loader picks one for the CPU (the
// ifunc that target_clones generates). Both run the same IEEE operations lane by lane (no FMA: the
// engine builds with -ffp-contract=off and "avx2" does not enable it), so they return the same bits.
#if defined(__x86_64__) && defined(__linux__)
__attribute__((target_clones("avx2", "default")))
#endif
CpqScaleGradients
fast_quantize_backward_float(std::span<const float> weights, std::span<const float> quantized_gradient,
                             float step, float noise, int bits, std::span<float> weight_gradient) {
  return fast_quantize_backward<float>(weights, quantized_gradient, step, noise, bits, weight_gradient);
}

}  // namespace

template <typename T>
CpqScaleGradients cpq_quantize_backward(std::span<const T> weights, std::span<const T> quantized_gradient,
                                        T step, T noise, int bits, std::span<T> weight_gradient) {
  if constexpr (std::is_same_v<T, float>)
    return fast_quantize_backward_float(weights, quantized_gradient, step, noise, bits, weight_gradient);
  else
    return fast_quantize_backward<T>(weights, quantized_gradient, step, noise, bits, weight_gradient);
}

#undef QPLAY_CPQ_INLINE

// [SECTION] §4.2 DropBits

void sample_dropbits_masks(double drop_rate, Rng& rng, std::span<uint8_t> masks) {
  assert(!masks.empty());
  for (size_t j = 0; j < masks.size() && j < size_t(kCpqFewestBits); ++j) masks[j] = 1;
  for (size_t j = kCpqFewestBits; j < masks.size(); ++j) {
    const bool keep = rng.uniform() >= drop_rate;
    masks[j] = static_cast<uint8_t>(masks[j - 1] && keep);
  }
}

int masked_bit_width(std::span<const uint8_t> masks) {
  int width = 0;
  for (uint8_t m : masks) width += m ? 1 : 0;
  return width;
}

// [SECTION] §4.3 Hard-concrete gates

namespace {

template <typename T>
T hard_concrete_stretched(T log_alpha, T uniform) {
  const T s =
      sigmoid((portable_log(uniform) - portable_log1p(-uniform) + log_alpha) / T(kHardConcreteTemperature));
  return s * T(kHardConcreteUpper - kHardConcreteLower) + T(kHardConcreteLower);
}

}  // namespace

template <typename T>
T hard_concrete_sample(T log_alpha, T uniform) {
  return std::clamp(hard_concrete_stretched(log_alpha, uniform), T(0), T(1));
}

template <typename T>
T hard_concrete_sample_derivative(T log_alpha, T uniform) {
  const T stretched = hard_concrete_stretched(log_alpha, uniform);
  if (stretched <= T(0) || stretched >= T(1)) return T(0);
  const T s = (stretched - T(kHardConcreteLower)) / T(kHardConcreteUpper - kHardConcreteLower);
  return T(kHardConcreteUpper - kHardConcreteLower) * s * (T(1) - s) / T(kHardConcreteTemperature);
}

namespace {
// β log(-γ/ζ): the shift that makes P(z > 0) = Sig(log a - shift).
const double kHardConcreteNonzeroShift =
    kHardConcreteTemperature * deterministic_log(-kHardConcreteLower / kHardConcreteUpper);
}  // namespace

template <typename T>
T hard_concrete_probability_nonzero(T log_alpha) {
  return sigmoid(log_alpha - T(kHardConcreteNonzeroShift));
}

template <typename T>
T hard_concrete_probability_nonzero_derivative(T log_alpha) {
  return sigmoid_derivative(log_alpha - T(kHardConcreteNonzeroShift));
}

template <typename T>
T hard_concrete_test_gate(T log_alpha) {
  return std::clamp(sigmoid(log_alpha) * T(kHardConcreteUpper - kHardConcreteLower) + T(kHardConcreteLower),
                    T(0), T(1));
}

template <typename T>
void bit_level_gradients(std::span<const T> weights, std::span<const T> quantized_gradient, T step, int bits,
                         std::span<double> level_gradients) {
  assert(quantized_gradient.size() == weights.size() &&
         level_gradients.size() == static_cast<size_t>(bits - kCpqFewestBits));
  std::fill(level_gradients.begin(), level_gradients.end(), 0.0);
  for (size_t i = 0; i < weights.size(); ++i) {
    const double u = static_cast<double>(quantized_gradient[i]);
    // cpq_code at every level: x/α is rounded once and clamped per level (the same integers).
    const T scaled = weights[i] / step;
    T below = step * code_of_scaled(scaled, T(cpq_code_min(kCpqFewestBits)), T(cpq_code_max(kCpqFewestBits)));
    for (int level = kCpqFewestBits + 1; level <= bits; ++level) {
      const T here = step * code_of_scaled(scaled, T(cpq_code_min(level)), T(cpq_code_max(level)));
      level_gradients[level - kCpqFewestBits - 1] += u * static_cast<double>(here - below);
      below = here;
    }
  }
}

void nested_gates_backward(std::span<const double> hard_gates, std::span<const double> mask_gradients,
                           std::span<double> gate_gradients) {
  const size_t n = hard_gates.size();
  assert(mask_gradients.size() == n && gate_gradients.size() == n);
  for (size_t i = 0; i < n; ++i) {
    double total = 0;
    double product_without_i = 1;  // Π_{k≤j, k≠i} H_k, grown with j
    for (size_t k = 0; k < i; ++k) product_without_i *= hard_gates[k];
    for (size_t j = i; j < n; ++j) {
      if (j > i) product_without_i *= hard_gates[j];
      total += mask_gradients[j] * product_without_i;
    }
    gate_gradients[i] = total;
  }
}

#define QPLAY_INSTANTIATE_CPQ(T)                                                                           \
  template T cpq_code<T>(T, T, int);                                                                       \
  template void cpq_quantize_forward<T>(std::span<const T>, T, int, std::span<T>);                         \
  template void cpq_cell_probabilities<T>(T, T, T, int, std::span<T>);                                     \
  template CpqSurrogateDerivatives cpq_surrogate_derivatives<T>(T, T, T, int);                             \
  template CpqScaleGradients cpq_quantize_backward<T>(std::span<const T>, std::span<const T>, T, T, int,   \
                                                      std::span<T>);                                       \
  template CpqScaleGradients cpq_quantize_backward_reference<T>(std::span<const T>, std::span<const T>, T, \
                                                                T, int, std::span<T>);                     \
  template T hard_concrete_sample<T>(T, T);                                                                \
  template T hard_concrete_sample_derivative<T>(T, T);                                                     \
  template T hard_concrete_probability_nonzero<T>(T);                                                      \
  template T hard_concrete_probability_nonzero_derivative<T>(T);                                           \
  template T hard_concrete_test_gate<T>(T);                                                                \
  template void bit_level_gradients<T>(std::span<const T>, std::span<const T>, T, int, std::span<double>);
QPLAY_INSTANTIATE_CPQ(float)
QPLAY_INSTANTIATE_CPQ(double)
#undef QPLAY_INSTANTIATE_CPQ

// [SECTION] Settings

Status validate(const CpqSettings& s) {
  if (s.bits < 2 || s.bits > 8)
    return Status::error("cpq bits: " + std::to_string(s.bits) + " is not allowed, use 2..8");
  if (!std::isfinite(s.drop_rate) || s.drop_rate < 0 || s.drop_rate >= 1)
    return Status::error("cpq drop rate: " + std::to_string(s.drop_rate) +
                         " is not allowed, use 0 <= rate < 1");
  if (s.learn_bits && !s.dropbits)
    return Status::error(
        "cpq learn bits: needs dropbits on (the learned bit-width is DropBits with learned keep "
        "probabilities)");
  if (s.masks == DropBitsMasks::per_channel && (!s.dropbits || s.learn_bits))
    return Status::error(
        "cpq DropBits masks per channel: need dropbits on and learned bits off (learned gates are per "
        "layer)");
  if (s.learn_bits && s.drop_rate <= 0)
    return Status::error(
        "cpq drop rate: 0 is not allowed with learn bits (it sets the gates' initial keep "
        "probability 1 - rate), use 0 < rate < 1");
  if (!std::isfinite(s.bits_lambda) || s.bits_lambda < 0)
    return Status::error("cpq bits lambda: " + std::to_string(s.bits_lambda) +
                         " is not allowed, use a value >= 0");
  if (!std::isfinite(s.method_learning_rate) || s.method_learning_rate <= 0 || s.method_learning_rate > 1)
    return Status::error("cpq method learning rate: " + std::to_string(s.method_learning_rate) +
                         " is not allowed, use 0 < rate <= 1");
  return {};
}

// [SECTION] The "cpq" TrainingMethod

namespace {

class CpqMethod final : public TrainingMethod {
 public:
  explicit CpqMethod(const CpqSettings& settings) : settings_(settings) {}

  std::string_view name() const override { return "cpq"; }

  void attach(Network<float>& network) override {
    layers_.clear();
    size_t total_weights = 0;
    const std::vector<ParameterTensor>& tensors = network.parameter_tensors();
    for (size_t t = 0; t < tensors.size(); ++t) {
      if (!tensors[t].is_weight) continue;
      Layer layer;
      layer.layer = tensors[t].layer;
      layer.tensor = t;
      layer.offset = layers_.size() * values_per_layer();
      layer.step_bits = settings_.bits;
      layer.hard_gates.assign(gate_count(), 1.0);
      layer.uniforms.assign(gate_count(), 0.5);
      if (settings_.masks == DropBitsMasks::per_channel && settings_.dropbits)
        layer.row_bits.assign(tensors[t].rows, settings_.bits);
      layers_.push_back(layer);
      total_weights += tensors[t].size();
    }
    masks_.assign(settings_.bits, 0);
    level_gradients_.assign(gate_count(), 0.0);
    gate_gradients_.assign(gate_count(), 0.0);
    values_.assign(layers_.size() * values_per_layer(), 0.0);
    gradients_.assign(values_.size(), 0.0);
    first_moments_.assign(values_.size(), 0.0);
    second_moments_.assign(values_.size(), 0.0);
    adam_step_ = 0;
    // The gates start where fixed-rate DropBits is: P(keep) = Sig(log a) = 1 - drop_rate.
    const double initial_gate_logit =
        settings_.learn_bits ? deterministic_log((1 - settings_.drop_rate) / settings_.drop_rate) : 0.0;
    for (Layer& layer : layers_) {
      std::span<const float> weights = network.tensor(network.parameters(), tensors[layer.tensor]);
      float max_abs = 0;
      for (float w : weights) max_abs = std::max(max_abs, std::fabs(w));
      // α = max|W| / 2^{b-1} (§4.1); an all-zero or non-finite tensor gets α = 1 so α stays positive.
      const double step = max_abs > 0 && std::isfinite(max_abs)
                              ? max_abs / static_cast<double>(1 << (settings_.bits - 1))
                              : 1.0;
      layer.parameter_share = static_cast<double>(weights.size()) / static_cast<double>(total_weights);
      values_[layer.offset] = deterministic_log(step);
      values_[layer.offset + 1] = deterministic_log(step / 3);  // σ = α/3 (Relaxed Quantization)
      for (int g = 0; g < gate_count(); ++g) values_[gate_index(layer, g)] = initial_gate_logit;
    }
  }

  StepResult compute_gradients(Network<float>& network, const TrainingBatch& batch,
                               const StepContext& context) override {
    assert(!layers_.empty() || network.parameter_tensors().empty());  // attach() first
    for (Layer& layer : layers_) sample_step_bits(layer, context);
    view_.assign(network.parameters().begin(), network.parameters().end());
    for (const Layer& layer : layers_) quantize_layer_for_step(network, layer, view_);
    ForwardOptions<float> options;
    options.parameters = view_;
    StepResult result;
    result.loss = forward_loss_backward(network, batch, options);
    std::fill(gradients_.begin(), gradients_.end(), 0.0);
    gradients_valid_ = std::isfinite(result.loss);
    if (!gradients_valid_) return result;

    double penalty = 0;
    for (const Layer& layer : layers_) {
      const ParameterTensor& tensor = network.parameter_tensors()[layer.tensor];
      std::span<const float> weights = network.tensor(std::as_const(network).parameters(), tensor);
      std::span<float> gradient = network.tensor(network.gradients(), tensor);  // u = ∂L/∂x̂ on entry
      const float step = static_cast<float>(step_of(layer)), noise = static_cast<float>(noise_of(layer));
      if (settings_.learn_bits) {
        bit_level_gradients<float>(weights, gradient, step, settings_.bits, level_gradients_);
        nested_gates_backward(layer.hard_gates, level_gradients_, gate_gradients_);
      }
      const CpqScaleGradients scales = backward_for_step(network, layer, weights, gradient, step, noise);
      gradients_[layer.offset] = scales.log_step;
      gradients_[layer.offset + 1] = scales.log_noise;
      if (!settings_.learn_bits) continue;
      // L0 term weighted by the layer's share of all weights, so the penalty is λ_b × the expected
      // number of kept levels per weight of the network (memory-aware, §4.3).
      const double lambda = settings_.bits_lambda * layer.parameter_share;
      for (int g = 0; g < gate_count(); ++g) {
        const double log_alpha = values_[gate_index(layer, g)];
        penalty += lambda * hard_concrete_probability_nonzero(log_alpha);
        gradients_[gate_index(layer, g)] =
            gate_gradients_[g] * hard_concrete_sample_derivative(log_alpha, layer.uniforms[g]) +
            lambda * hard_concrete_probability_nonzero_derivative(log_alpha);
      }
    }
    result.penalty = static_cast<float>(penalty);
    return result;
  }

  void after_optimizer_step(Network<float>&, const StepContext&) override {
    if (!gradients_valid_) return;
    // Adam on the method's own parameters only, at its own rate.
    adam_update<double>(values_, gradients_, first_moments_, second_moments_,
                        AdamHyperparameters{.learning_rate = settings_.method_learning_rate}, ++adam_step_);
    gradients_valid_ = false;
  }

  ForwardOptions<float> trained_forward(const Network<float>& network,
                                        std::vector<float>& view) const override {
    view.assign(network.parameters().begin(), network.parameters().end());
    for (const Layer& layer : layers_) quantize_layer(network, layer, learned_bits(layer), view);
    ForwardOptions<float> options;
    options.parameters = view;
    return options;
  }

  bool quantize_on_own_grid(const Network<float>& network, const QuantizationSetting& setting,
                            std::span<float> view,
                            std::vector<std::vector<QuantGrid>>* grids) const override {
    std::copy(network.parameters().begin(), network.parameters().end(), view.begin());
    if (grids) grids->assign(network.parameter_tensors().size(), {});
    for (const Layer& layer : layers_) {
      const std::vector<int>& per_layer = setting.weight_bits_per_layer;
      const bool own = layer.layer < static_cast<int>(per_layer.size()) && per_layer[layer.layer] >= 0;
      const int bits = own ? per_layer[layer.layer] : setting.weights.bits;
      if (bits <= 0) continue;  // this layer stays float
      quantize_layer(network, layer, bits, view);
      if (grids) {
        const QuantGrid grid{static_cast<float>(step_of(layer)), 0, cpq_code_min(bits), cpq_code_max(bits),
                             1};
        (*grids)[layer.tensor].assign(network.parameter_tensors()[layer.tensor].rows, grid);
      }
    }
    return true;
  }

  std::vector<MethodReadout> readouts(const Network<float>&) const override {
    std::vector<MethodReadout> out;
    for (const Layer& layer : layers_) {
      out.push_back(
          {std::string(kLearnedWeightBitsReadout), layer.layer, static_cast<double>(learned_bits(layer))});
      out.push_back({"step α", layer.layer, step_of(layer)});
      out.push_back({"noise σ", layer.layer, noise_of(layer)});
    }
    return out;
  }

 private:
  struct Layer {
    int layer = 0;               // index into Architecture::layers
    size_t tensor = 0;           // index into network.parameter_tensors() of its weight
    size_t offset = 0;           // into values_: [log α, log σ, log a_3 .. log a_b]
    double parameter_share = 0;  // its weights / all weights
    int step_bits = 0;           // b' of the current step
    std::vector<int> row_bits;   // [rows] each output channel's b' this step (masks per channel), else empty
    std::vector<double> hard_gates;  // [b-2] H_j of the current step (learn_bits)
    std::vector<double> uniforms;    // [b-2] the u of each hard-concrete sample of the current step
  };

  // Gates for the levels above kCpqFewestBits: 3..b.
  int gate_count() const { return settings_.bits - kCpqFewestBits; }
  size_t values_per_layer() const { return 2 + static_cast<size_t>(gate_count()); }
  size_t gate_index(const Layer& layer, int gate) const { return layer.offset + 2 + gate; }
  double step_of(const Layer& layer) const { return deterministic_exp(values_[layer.offset]); }
  double noise_of(const Layer& layer) const { return deterministic_exp(values_[layer.offset + 1]); }

  // b_l = 2 + Σ_j M_j with the deterministic test-time gates (§4.3); the full width without learning.
  int learned_bits(const Layer& layer) const {
    if (!settings_.learn_bits) return settings_.bits;
    int bits = kCpqFewestBits;
    while (bits < settings_.bits &&
           hard_concrete_test_gate(values_[gate_index(layer, bits - kCpqFewestBits)]) > 0.5)
      ++bits;
    return bits;
  }

  void sample_step_bits(Layer& layer, const StepContext& context) {
    if (!settings_.dropbits) {
      layer.step_bits = settings_.bits;
      return;
    }
    assert(context.rng);  // DropBits draws its masks from the run's method stream
    if (!settings_.learn_bits) {
      if (settings_.masks == DropBitsMasks::per_channel) {
        for (int& bits : layer.row_bits) {
          sample_dropbits_masks(settings_.drop_rate, *context.rng, masks_);
          bits = masked_bit_width(masks_);
        }
        return;
      }
      sample_dropbits_masks(settings_.drop_rate, *context.rng, masks_);
      layer.step_bits = masked_bit_width(masks_);
      return;
    }
    int bits = kCpqFewestBits;
    bool nested = true;
    for (int g = 0; g < gate_count(); ++g) {
      double u = context.rng->uniform();
      while (u <= 0) u = context.rng->uniform();  // log u needs u in (0, 1)
      layer.uniforms[g] = u;
      layer.hard_gates[g] = hard_concrete_sample(values_[gate_index(layer, g)], u) > 0.5 ? 1.0 : 0.0;
      nested = nested && layer.hard_gates[g] > 0;
      bits += nested ? 1 : 0;
    }
    layer.step_bits = bits;
  }

  // The training step's forward: the layer at its b', or each output channel at its own (masks per channel).
  void quantize_layer_for_step(const Network<float>& network, const Layer& layer,
                               std::span<float> view) const {
    if (layer.row_bits.empty()) return quantize_layer(network, layer, layer.step_bits, view);
    const ParameterTensor& tensor = network.parameter_tensors()[layer.tensor];
    std::span<const float> weights = network.tensor(network.parameters(), tensor);
    const size_t columns = tensor.columns;
    for (size_t r = 0; r < layer.row_bits.size(); ++r)
      cpq_quantize_forward<float>(weights.subspan(r * columns, columns), static_cast<float>(step_of(layer)),
                                  layer.row_bits[r], view.subspan(tensor.offset + r * columns, columns));
  }

  // Its backward, row by row with masks per channel; the scale gradients add up over the rows.
  CpqScaleGradients backward_for_step(const Network<float>& network, const Layer& layer,
                                      std::span<const float> weights, std::span<float> gradient, float step,
                                      float noise) const {
    if (layer.row_bits.empty())
      return cpq_quantize_backward<float>(weights, gradient, step, noise, layer.step_bits, gradient);
    const size_t columns = network.parameter_tensors()[layer.tensor].columns;
    CpqScaleGradients total;
    for (size_t r = 0; r < layer.row_bits.size(); ++r) {
      std::span<float> row_gradient = gradient.subspan(r * columns, columns);
      const CpqScaleGradients row = cpq_quantize_backward<float>(
          weights.subspan(r * columns, columns), row_gradient, step, noise, layer.row_bits[r], row_gradient);
      total.log_step += row.log_step;
      total.log_noise += row.log_noise;
    }
    return total;
  }

  void quantize_layer(const Network<float>& network, const Layer& layer, int bits,
                      std::span<float> view) const {
    const ParameterTensor& tensor = network.parameter_tensors()[layer.tensor];
    cpq_quantize_forward<float>(network.tensor(network.parameters(), tensor),
                                static_cast<float>(step_of(layer)), bits,
                                view.subspan(tensor.offset, tensor.size()));
  }

  CpqSettings settings_;
  std::vector<Layer> layers_;
  // The method's own parameters, their gradients for this step and their Adam moments.
  std::vector<double> values_, gradients_, first_moments_, second_moments_;
  long adam_step_ = 0;
  bool gradients_valid_ = false;
  std::vector<float> view_;  // the CPQ-quantized parameters the training forward runs on
  // Per-step scratch, sized once in attach() so that a step allocates nothing: DropBits masks [b],
  // ∂L/∂M_j and ∂L/∂z_j of one layer's levels 2..b [b-1].
  std::vector<uint8_t> masks_;
  std::vector<double> level_gradients_, gate_gradients_;
};

}  // namespace

Result<std::unique_ptr<TrainingMethod>> make_cpq_method(const CpqSettings& settings) {
  if (Status status = validate(settings); !status.ok()) return status;
  return std::unique_ptr<TrainingMethod>(std::make_unique<CpqMethod>(settings));
}

}  // namespace qplay

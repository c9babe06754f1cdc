#include "core/engine/methods/cpq_dropbits.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace qplay {

// [SECTION] §4.1 The CPQ quantizer

namespace {

template <typename T>
T sigmoid(T z) {
  // Written for both signs so that exp never overflows.
  if (z >= T(0)) return T(1) / (T(1) + std::exp(-z));
  const T e = std::exp(z);
  return e / (T(1) + e);
}

// Sig'(z) = Sig(z)(1 - Sig(z)) = e^{-|z|} / (1 + e^{-|z|})², without cancellation in the tails.
template <typename T>
T sigmoid_derivative(T z) {
  const T e = std::exp(-std::fabs(z));
  return e / ((T(1) + e) * (T(1) + e));
}

// Clamps to [lo, hi] and sends NaN to lo, so that the result converts to int safely.
template <typename T>
T clamp_to(T value, T lo, T hi) {
  return !(value >= lo) ? lo : value > hi ? hi : value;
}

// Thresholds whose Sig' term is below e^{-c} of Sig'(0) are below the rounding error of T; they are
// skipped (header: "The backward sums over every threshold within c·σ of x").
template <typename T>
T threshold_window() {
  return T(2) - std::log(std::numeric_limits<T>::epsilon());
}

}  // namespace

template <typename T>
T cpq_code(T x, T step, int bits) {
  return std::clamp(std::nearbyint(x / step), T(cpq_code_min(bits)), T(cpq_code_max(bits)));
}

template <typename T>
void cpq_quantize_forward(std::span<const T> weights, T step, int bits, std::span<T> quantized) {
  assert(quantized.size() == weights.size() && step > T(0));
  for (size_t i = 0; i < weights.size(); ++i) quantized[i] = step * cpq_code(weights[i], step, bits);
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
CpqScaleGradients cpq_quantize_backward(std::span<const T> weights, std::span<const T> quantized_gradient,
                                        T step, T noise, int bits, std::span<T> weight_gradient) {
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

// [SECTION] §4.2 DropBits

void sample_dropbits_masks(double drop_rate, Rng& rng, std::span<uint8_t> masks) {
  assert(!masks.empty());
  masks[0] = 1;  // bit 1 is never dropped
  for (size_t j = 1; j < masks.size(); ++j) {
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
  const T s = sigmoid((std::log(uniform) - std::log1p(-uniform) + log_alpha) / T(kHardConcreteTemperature));
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
    kHardConcreteTemperature * std::log(-kHardConcreteLower / kHardConcreteUpper);
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
         level_gradients.size() == static_cast<size_t>(bits - 1));
  std::fill(level_gradients.begin(), level_gradients.end(), 0.0);
  for (size_t i = 0; i < weights.size(); ++i) {
    const double u = static_cast<double>(quantized_gradient[i]);
    T below = step * cpq_code(weights[i], step, 1);
    for (int level = 2; level <= bits; ++level) {
      const T here = step * cpq_code(weights[i], step, level);
      level_gradients[level - 2] += u * static_cast<double>(here - below);
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

#define QPLAY_INSTANTIATE_CPQ(T)                                                                         \
  template T cpq_code<T>(T, T, int);                                                                     \
  template void cpq_quantize_forward<T>(std::span<const T>, T, int, std::span<T>);                       \
  template void cpq_cell_probabilities<T>(T, T, T, int, std::span<T>);                                   \
  template CpqSurrogateDerivatives cpq_surrogate_derivatives<T>(T, T, T, int);                           \
  template CpqScaleGradients cpq_quantize_backward<T>(std::span<const T>, std::span<const T>, T, T, int, \
                                                      std::span<T>);                                     \
  template T hard_concrete_sample<T>(T, T);                                                              \
  template T hard_concrete_sample_derivative<T>(T, T);                                                   \
  template T hard_concrete_probability_nonzero<T>(T);                                                    \
  template T hard_concrete_probability_nonzero_derivative<T>(T);                                         \
  template T hard_concrete_test_gate<T>(T);                                                              \
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
      layer.hard_gates.assign(settings_.bits - 1, 1.0);
      layer.uniforms.assign(settings_.bits - 1, 0.5);
      layers_.push_back(layer);
      total_weights += tensors[t].size();
    }
    values_.assign(layers_.size() * values_per_layer(), 0.0);
    gradients_.assign(values_.size(), 0.0);
    first_moments_.assign(values_.size(), 0.0);
    second_moments_.assign(values_.size(), 0.0);
    adam_step_ = 0;
    // The gates start where fixed-rate DropBits is: P(keep) = Sig(log a) = 1 - drop_rate.
    const double initial_gate_logit =
        settings_.learn_bits ? std::log((1 - settings_.drop_rate) / settings_.drop_rate) : 0.0;
    for (Layer& layer : layers_) {
      std::span<const float> weights = network.tensor(network.parameters(), tensors[layer.tensor]);
      float max_abs = 0;
      for (float w : weights) max_abs = std::max(max_abs, std::fabs(w));
      // α = max|W| / 2^{b-1} (§4.1); an all-zero or non-finite tensor gets α = 1 so α stays positive.
      const double step = max_abs > 0 && std::isfinite(max_abs)
                              ? max_abs / static_cast<double>(1 << (settings_.bits - 1))
                              : 1.0;
      layer.parameter_share = static_cast<double>(weights.size()) / static_cast<double>(total_weights);
      values_[layer.offset] = std::log(step);
      values_[layer.offset + 1] = std::log(step / 3);  // σ = α/3 (Relaxed Quantization)
      for (int g = 0; g < settings_.bits - 1; ++g) values_[gate_index(layer, g)] = initial_gate_logit;
    }
  }

  StepResult compute_gradients(Network<float>& network, const TrainingBatch& batch,
                               const StepContext& context) override {
    assert(!layers_.empty() || network.parameter_tensors().empty());  // attach() first
    for (Layer& layer : layers_) sample_step_bits(layer, context);
    view_.assign(network.parameters().begin(), network.parameters().end());
    for (const Layer& layer : layers_) quantize_layer(network, layer, layer.step_bits, view_);
    ForwardOptions<float> options;
    options.parameters = view_;
    StepResult result;
    result.loss = forward_loss_backward(network, batch, options);
    std::fill(gradients_.begin(), gradients_.end(), 0.0);
    gradients_valid_ = std::isfinite(result.loss);
    if (!gradients_valid_) return result;

    std::vector<double> level_gradients(settings_.bits - 1), gate_gradients(settings_.bits - 1);
    double penalty = 0;
    for (const Layer& layer : layers_) {
      const ParameterTensor& tensor = network.parameter_tensors()[layer.tensor];
      std::span<const float> weights = network.tensor(std::as_const(network).parameters(), tensor);
      std::span<float> gradient = network.tensor(network.gradients(), tensor);  // u = ∂L/∂x̂ on entry
      const float step = static_cast<float>(step_of(layer)), noise = static_cast<float>(noise_of(layer));
      if (settings_.learn_bits) {
        bit_level_gradients<float>(weights, gradient, step, settings_.bits, level_gradients);
        nested_gates_backward(layer.hard_gates, level_gradients, gate_gradients);
      }
      const CpqScaleGradients scales =
          cpq_quantize_backward<float>(weights, gradient, step, noise, layer.step_bits, gradient);
      gradients_[layer.offset] = scales.log_step;
      gradients_[layer.offset + 1] = scales.log_noise;
      if (!settings_.learn_bits) continue;
      // L0 term weighted by the layer's share of all weights, so the penalty is λ_b × the expected
      // number of kept levels per weight of the network (memory-aware, §4.3).
      const double lambda = settings_.bits_lambda * layer.parameter_share;
      for (int g = 0; g < settings_.bits - 1; ++g) {
        const double log_alpha = values_[gate_index(layer, g)];
        penalty += lambda * hard_concrete_probability_nonzero(log_alpha);
        gradients_[gate_index(layer, g)] =
            gate_gradients[g] * hard_concrete_sample_derivative(log_alpha, layer.uniforms[g]) +
            lambda * hard_concrete_probability_nonzero_derivative(log_alpha);
      }
    }
    result.penalty = static_cast<float>(penalty);
    return result;
  }

  void after_optimizer_step(Network<float>&, const StepContext&) override {
    if (!gradients_valid_) return;
    // Adam (Kingma & Ba) with bias correction, on the method's own parameters only.
    constexpr double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;
    ++adam_step_;
    const double correction1 = 1 - std::pow(beta1, static_cast<double>(adam_step_));
    const double correction2 = 1 - std::pow(beta2, static_cast<double>(adam_step_));
    for (size_t i = 0; i < values_.size(); ++i) {
      first_moments_[i] = beta1 * first_moments_[i] + (1 - beta1) * gradients_[i];
      second_moments_[i] = beta2 * second_moments_[i] + (1 - beta2) * gradients_[i] * gradients_[i];
      values_[i] -= settings_.method_learning_rate * (first_moments_[i] / correction1) /
                    (std::sqrt(second_moments_[i] / correction2) + epsilon);
    }
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

  std::vector<MethodReadout> readouts(const Network<float>&) const override {
    std::vector<MethodReadout> out;
    for (const Layer& layer : layers_) {
      out.push_back({"learned weight bits", layer.layer, static_cast<double>(learned_bits(layer))});
      out.push_back({"step α", layer.layer, step_of(layer)});
      out.push_back({"noise σ", layer.layer, noise_of(layer)});
    }
    return out;
  }

 private:
  struct Layer {
    int layer = 0;                   // index into Architecture::layers
    size_t tensor = 0;               // index into network.parameter_tensors() of its weight
    size_t offset = 0;               // into values_: [log α, log σ, log a_2 .. log a_b]
    double parameter_share = 0;      // its weights / all weights
    int step_bits = 0;               // b' of the current step
    std::vector<double> hard_gates;  // [b-1] H_j of the current step (learn_bits)
    std::vector<double> uniforms;    // [b-1] the u of each hard-concrete sample of the current step
  };

  size_t values_per_layer() const { return static_cast<size_t>(settings_.bits) + 1; }
  size_t gate_index(const Layer& layer, int gate) const { return layer.offset + 2 + gate; }
  double step_of(const Layer& layer) const { return std::exp(values_[layer.offset]); }
  double noise_of(const Layer& layer) const { return std::exp(values_[layer.offset + 1]); }

  // b_l = 1 + Σ_j M_j with the deterministic test-time gates (§4.3); the full width without learning.
  int learned_bits(const Layer& layer) const {
    if (!settings_.learn_bits) return settings_.bits;
    int bits = 1;
    while (bits < settings_.bits && hard_concrete_test_gate(values_[gate_index(layer, bits - 1)]) > 0.5)
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
      std::vector<uint8_t> masks(settings_.bits);
      sample_dropbits_masks(settings_.drop_rate, *context.rng, masks);
      layer.step_bits = masked_bit_width(masks);
      return;
    }
    int bits = 1;
    bool nested = true;
    for (int g = 0; g < settings_.bits - 1; ++g) {
      double u = context.rng->uniform();
      while (u <= 0) u = context.rng->uniform();  // log u needs u in (0, 1)
      layer.uniforms[g] = u;
      layer.hard_gates[g] = hard_concrete_sample(values_[gate_index(layer, g)], u) > 0.5 ? 1.0 : 0.0;
      nested = nested && layer.hard_gates[g] > 0;
      bits += nested ? 1 : 0;
    }
    layer.step_bits = bits;
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
};

}  // namespace

Result<std::unique_ptr<TrainingMethod>> make_cpq_method(const CpqSettings& settings) {
  if (Status status = validate(settings); !status.ok()) return status;
  return std::unique_ptr<TrainingMethod>(std::make_unique<CpqMethod>(settings));
}

}  // namespace qplay

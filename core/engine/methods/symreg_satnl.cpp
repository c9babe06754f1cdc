// SymReg + SatNL (+ SAM/ASAM), methods.md §3: the formulas and the "symreg" TrainingMethod declared in
// symreg_satnl.h.
#include "core/engine/methods/symreg_satnl.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <string>
#include <utility>

namespace qplay {
namespace {

template <typename T>
bool all_finite(std::span<const T> values) {
  return std::all_of(values.begin(), values.end(), [](T v) { return std::isfinite(v); });
}

// Positions of the weights in ascending order of value, ties broken by position: a total order, so
// the pairing (and the one-sided derivative chosen at ties) is deterministic.
template <typename T>
std::vector<size_t> ascending_order(std::span<const T> weights) {
  std::vector<size_t> order(weights.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return weights[a] < weights[b] || (weights[a] == weights[b] && a < b);
  });
  return order;
}

// Both pairings at once: the j-th group of `group` consecutive sorted weights from the bottom is
// matched with the j-th group from the top, and the penalty is the mean of the squared group sums
// over m = ⌊n / 2·group⌋ terms. group 1 is L_sym1, group 2 is L_sym2 (§3.2). Every weight is in at
// most one group, so its gradient is 2·(its group's sum)/m, written once.
template <typename T>
T mirrored_group_penalty(std::span<const T> weights, std::span<T> gradient_out, size_t group) {
  const size_t n = weights.size();
  assert(gradient_out.empty() || gradient_out.size() == n);
  std::fill(gradient_out.begin(), gradient_out.end(), T(0));
  if (!all_finite(weights)) return std::numeric_limits<T>::quiet_NaN();
  const size_t terms = n / (2 * group);
  if (terms == 0) return T(0);
  const std::vector<size_t> order = ascending_order(weights);
  T total = 0;
  for (size_t j = 0; j < terms; ++j) {
    T sum = 0;
    for (size_t k = 0; k < group; ++k)
      sum += weights[order[j * group + k]] + weights[order[n - 1 - j * group - k]];
    total += sum * sum;
    if (gradient_out.empty()) continue;
    const T gradient = T(2) * sum / static_cast<T>(terms);
    for (size_t k = 0; k < group; ++k) {
      gradient_out[order[j * group + k]] = gradient;
      gradient_out[order[n - 1 - j * group - k]] = gradient;
    }
  }
  return total / static_cast<T>(terms);
}

// The weight tensors of a network in order, and a flat copy of their entries.
template <typename T>
void gather_weights(const Network<T>& network, std::span<const T> all, std::span<T> flat) {
  size_t position = 0;
  for (const ParameterTensor& t : network.parameter_tensors()) {
    if (!t.is_weight) continue;
    std::span<const T> values = network.tensor(all, t);
    std::copy(values.begin(), values.end(), flat.begin() + position);
    position += values.size();
  }
  assert(position == flat.size());
}

template <typename T>
void scatter_add_weights(const Network<T>& network, std::span<const T> flat, std::span<T> all) {
  size_t position = 0;
  for (const ParameterTensor& t : network.parameter_tensors()) {
    if (!t.is_weight) continue;
    std::span<T> values = network.tensor(all, t);
    for (T& v : values) v += flat[position++];
  }
  assert(position == flat.size());
}

template <typename T>
T saturation_scale_of(const SymRegState<T>& state, size_t tensor_index) {
  return tensor_index < state.saturation_scales.size() ? state.saturation_scales[tensor_index] : T(0);
}

// gradients[parameter_count] w.r.t. the effective parameters (the view the forward ran on) ->
// w.r.t. the master parameters, in place: weight tensors with SatNL through the tanh's slope at
// `effective`, the rest unchanged.
template <typename T>
void chain_into_master(const Network<T>& network, const SymRegState<T>& state, std::span<const T> effective,
                       std::span<T> gradients) {
  const auto& tensors = network.parameter_tensors();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const T scale = saturation_scale_of(state, i);
    if (scale <= 0) continue;
    std::span<T> gradient = network.tensor(gradients, tensors[i]);
    saturating_weights_backward(network.tensor(effective, tensors[i]), scale, std::span<const T>(gradient),
                                gradient);
  }
}

std::string number_text(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g", value);  // "0.05", not to_string's "0.050000"
  return text;
}

}  // namespace

// [SECTION] Symmetry penalties

template <typename T>
T symmetry_penalty_one_to_one(std::span<const T> weights, std::span<T> gradient_out) {
  return mirrored_group_penalty(weights, gradient_out, 1);
}

template <typename T>
T symmetry_penalty_two_to_two(std::span<const T> weights, std::span<T> gradient_out) {
  return mirrored_group_penalty(weights, gradient_out, 2);
}

template <typename T>
T symmetry_penalty(SymmetryPairing pairing, std::span<const T> weights, std::span<T> gradient_out) {
  return pairing == SymmetryPairing::two_to_two ? symmetry_penalty_two_to_two(weights, gradient_out)
                                                : symmetry_penalty_one_to_one(weights, gradient_out);
}

template <typename T>
T weight_asymmetry(std::span<const T> weights) {
  const T penalty = symmetry_penalty_one_to_one(weights, std::span<T>());
  T mean_square = 0;
  for (T w : weights) mean_square += w * w;
  if (!weights.empty()) mean_square /= static_cast<T>(weights.size());
  // When mean_square is not > 0 the weights are all zero (penalty 0) or not finite (penalty NaN).
  return mean_square > 0 ? penalty / mean_square : penalty;
}

// [SECTION] Saturating weights

template <typename T>
void saturating_weights_forward(std::span<const T> latent, T scale, std::span<T> weights) {
  assert(latent.size() == weights.size() && scale > 0);
  for (size_t i = 0; i < latent.size(); ++i) weights[i] = scale * std::tanh(latent[i] / scale);
}

template <typename T>
void saturating_weights_backward(std::span<const T> weights, T scale, std::span<const T> weight_gradient,
                                 std::span<T> latent_gradient) {
  assert(weights.size() == weight_gradient.size() && weights.size() == latent_gradient.size() && scale > 0);
  for (size_t i = 0; i < weights.size(); ++i) {
    const T ratio = weights[i] / scale;  // tanh(v/c)
    latent_gradient[i] = weight_gradient[i] * (T(1) - ratio * ratio);
  }
}

template <typename T>
void saturating_weights_inverse(std::span<const T> weights, T scale, std::span<T> latent) {
  assert(weights.size() == latent.size() && scale > 0);
  const T limit = static_cast<T>(kSaturationInverseLimit);
  for (size_t i = 0; i < weights.size(); ++i)
    latent[i] = scale * std::atanh(std::clamp(weights[i] / scale, -limit, limit));
}

template <typename T>
T saturation_scale_for(std::span<const T> initial_weights, double saturation_scale) {
  double mean = 0, variance = 0;
  for (T w : initial_weights) mean += w;
  if (!initial_weights.empty()) mean /= static_cast<double>(initial_weights.size());
  for (T w : initial_weights) variance += (w - mean) * (w - mean);
  if (!initial_weights.empty()) variance /= static_cast<double>(initial_weights.size());
  const double spread = std::sqrt(variance);
  return static_cast<T>(saturation_scale * (spread > 0 && std::isfinite(spread) ? spread : 1.0));
}

// [SECTION] Sharpness-aware perturbations

template <typename T>
void sam_perturbation(std::span<const T> gradient, T rho, std::span<T> perturbation) {
  assert(gradient.size() == perturbation.size());
  double squared_norm = 0;
  for (T g : gradient) squared_norm += double(g) * g;
  const double norm = std::sqrt(squared_norm);
  const T factor = norm > 0 ? static_cast<T>(rho / norm) : T(0);
  for (size_t i = 0; i < gradient.size(); ++i) perturbation[i] = factor * gradient[i];
}

template <typename T>
void asam_perturbation(std::span<const T> parameters, std::span<const T> gradient, T rho, T eta,
                       std::span<T> perturbation) {
  assert(parameters.size() == gradient.size() && gradient.size() == perturbation.size());
  double squared_norm = 0;  // ‖T g‖²
  for (size_t i = 0; i < gradient.size(); ++i) {
    const double scaled = (std::fabs(double(parameters[i])) + eta) * gradient[i];
    squared_norm += scaled * scaled;
  }
  const double norm = std::sqrt(squared_norm);
  const T factor = norm > 0 ? static_cast<T>(rho / norm) : T(0);
  for (size_t i = 0; i < gradient.size(); ++i) {
    const T scale = std::fabs(parameters[i]) + eta;
    perturbation[i] = factor * scale * scale * gradient[i];
  }
}

// [SECTION] Settings and factory

double effective_sam_rho(const SymRegSettings& settings) {
  if (settings.sam_rho != 0) return settings.sam_rho;
  return settings.sam == SharpnessAware::asam ? 0.5 : 0.05;
}

Status validate(const SymRegSettings& s) {
  if (!(s.symmetry_lambda >= 0) || !std::isfinite(s.symmetry_lambda))
    return Status::error("symmetry lambda: " + number_text(s.symmetry_lambda) +
                         " is not allowed, use a finite value >= 0 (methods.md sweeps 1e-4 to 1e-1)");
  if (s.pairing != SymmetryPairing::one_to_one && s.pairing != SymmetryPairing::two_to_two)
    return Status::error("symmetry pairing: " + std::to_string(static_cast<int>(s.pairing)) +
                         " is not allowed, use one_to_one or two_to_two");
  if (!(s.saturation_scale > 0) || !std::isfinite(s.saturation_scale))
    return Status::error(
        "saturation scale: " + number_text(s.saturation_scale) +
        " is not allowed, use a finite value > 0 (c = scale · std of the initial weights; 2.5 "
        "is the default)");
  if (s.sam != SharpnessAware::none && s.sam != SharpnessAware::sam && s.sam != SharpnessAware::asam)
    return Status::error("sharpness-aware: " + std::to_string(static_cast<int>(s.sam)) +
                         " is not allowed, use none, sam or asam");
  if (!(s.sam_rho >= 0) || !std::isfinite(s.sam_rho))
    return Status::error("SAM rho: " + number_text(s.sam_rho) +
                         " is not allowed, use a finite value >= 0 (0 = 0.05 for SAM, 0.5 for ASAM)");
  if (!(s.asam_eta >= 0) || !std::isfinite(s.asam_eta))
    return Status::error("ASAM eta: " + number_text(s.asam_eta) +
                         " is not allowed, use a finite value >= 0, e.g. 0.01");
  return Status();
}

// [SECTION] The objective

template <typename T>
SymRegState<T> attach_symreg(Network<T>& network, const SymRegSettings& settings) {
  const auto& tensors = network.parameter_tensors();
  SymRegState<T> state;
  state.saturation_scales.assign(tensors.size(), T(0));
  size_t weight_count = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (!tensors[i].is_weight) continue;
    weight_count += tensors[i].size();
    if (!settings.saturating_weights) continue;
    std::span<T> weights = network.tensor(network.parameters(), tensors[i]);
    const T scale = saturation_scale_for(std::span<const T>(weights), settings.saturation_scale);
    state.saturation_scales[i] = scale;
    saturating_weights_inverse(std::span<const T>(weights), scale, weights);
  }
  const size_t count = network.parameter_count();
  state.effective.resize(count);
  state.penalty_gradient.resize(count);
  if (settings.sam != SharpnessAware::none) {
    state.perturbed_master.resize(count);
    state.perturbed_effective.resize(count);
    state.flat_weights.resize(weight_count);
    state.flat_gradient.resize(weight_count);
    state.flat_perturbation.resize(weight_count);
  }
  return state;
}

template <typename T>
void symreg_effective_parameters(const Network<T>& network, const SymRegState<T>& state,
                                 std::span<const T> master, std::span<T> out) {
  assert(master.size() == network.parameter_count() && out.size() == master.size());
  std::copy(master.begin(), master.end(), out.begin());
  const auto& tensors = network.parameter_tensors();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const T scale = saturation_scale_of(state, i);
    if (scale > 0)
      saturating_weights_forward(network.tensor(master, tensors[i]), scale, network.tensor(out, tensors[i]));
  }
}

template <typename T>
SymRegStepValues<T> symreg_gradients(Network<T>& network, SymRegState<T>& state,
                                     const SymRegSettings& settings, std::span<const T> features,
                                     std::span<const int32_t> labels, int batch) {
  assert(state.effective.size() == network.parameter_count() && "attach_symreg first");
  const auto& tensors = network.parameter_tensors();
  SymRegStepValues<T> values;
  std::span<const T> effective = state.effective;
  symreg_effective_parameters(network, state, std::as_const(network).parameters(),
                              std::span<T>(state.effective));
  ForwardOptions<T> at_parameters;
  at_parameters.parameters = effective;
  network.forward(features, batch, at_parameters);
  values.loss = network.loss(labels);
  if (!std::isfinite(values.loss)) return values;
  network.backward(labels);
  // Spans into the arena only now: a first forward with a larger batch than before moves it. The
  // later forwards of this step have the same batch.
  std::span<const T> master = std::as_const(network).parameters();
  std::span<T> gradients = network.gradients();

  // λ ∂L_sym/∂w at the unperturbed effective weights, laid out like the parameters (biases 0).
  std::span<T> penalty_gradient = state.penalty_gradient;
  std::fill(penalty_gradient.begin(), penalty_gradient.end(), T(0));
  const T lambda = static_cast<T>(settings.symmetry_lambda);
  if (lambda > 0) {
    T penalty = 0;
    for (const ParameterTensor& t : tensors) {
      if (!t.is_weight) continue;
      std::span<T> gradient = network.tensor(penalty_gradient, t);
      penalty += symmetry_penalty(settings.pairing, network.tensor(effective, t), gradient);
      for (T& g : gradient) g *= lambda;
    }
    values.penalty = lambda * penalty;
  }
  chain_into_master(network, state, effective, penalty_gradient);

  if (settings.sam != SharpnessAware::none) {
    // ε̂ from the CE gradient w.r.t. the master weights at v (the penalty is smooth in w and needs no
    // flatness), then the CE gradient again at v + ε̂.
    assert(state.perturbed_master.size() == master.size() && "attach_symreg with the same settings");
    chain_into_master(network, state, effective, gradients);
    gather_weights(network, std::span<const T>(gradients), std::span<T>(state.flat_gradient));
    gather_weights(network, master, std::span<T>(state.flat_weights));
    const T rho = static_cast<T>(effective_sam_rho(settings));
    if (settings.sam == SharpnessAware::sam) {
      sam_perturbation(std::span<const T>(state.flat_gradient), rho, std::span<T>(state.flat_perturbation));
    } else {
      asam_perturbation(std::span<const T>(state.flat_weights), std::span<const T>(state.flat_gradient), rho,
                        static_cast<T>(settings.asam_eta), std::span<T>(state.flat_perturbation));
    }
    std::copy(master.begin(), master.end(), state.perturbed_master.begin());
    scatter_add_weights(network, std::span<const T>(state.flat_perturbation),
                        std::span<T>(state.perturbed_master));
    symreg_effective_parameters(network, state, std::span<const T>(state.perturbed_master),
                                std::span<T>(state.perturbed_effective));
    ForwardOptions<T> at_perturbed;
    at_perturbed.parameters = state.perturbed_effective;
    network.forward(features, batch, at_perturbed);
    const T perturbed_loss = network.loss(labels);
    if (!std::isfinite(perturbed_loss)) {
      values.loss = perturbed_loss;  // so that the trainer stops on this step too
      return values;
    }
    network.backward(labels);
    chain_into_master(network, state, std::span<const T>(state.perturbed_effective), gradients);
    // Leave the unperturbed forward's probabilities in the network (TrainingMethod's contract).
    network.forward(features, batch, at_parameters);
    network.loss(labels);
  } else {
    chain_into_master(network, state, effective, gradients);
  }
  for (size_t i = 0; i < gradients.size(); ++i) gradients[i] += penalty_gradient[i];
  return values;
}

namespace {

// The master variables are the latent v (with SatNL); between steps the network holds the deployed
// weights w = c·tanh(v/c) (TrainingMethod's contract), and v lives here. For the optimizer's update
// the network briefly holds v and ∂/∂v: from compute_gradients to after_optimizer_step.
class SymRegMethod final : public TrainingMethod {
 public:
  explicit SymRegMethod(const SymRegSettings& settings) : settings_(settings) {}

  std::string_view name() const override { return "symreg"; }

  void attach(Network<float>& network) override {
    state_ = attach_symreg(network, settings_);  // the network's weights become latent v
    latent_.assign(network.parameters().begin(), network.parameters().end());
    restore_deployed_weights(network);
  }

  StepResult compute_gradients(Network<float>& network, const TrainingBatch& batch,
                               const StepContext&) override {
    std::copy(latent_.begin(), latent_.end(), network.parameters().begin());
    SymRegStepValues<float> values =
        symreg_gradients(network, state_, settings_, batch.features, batch.labels, batch.size);
    return {values.loss, values.penalty};
  }

  void after_optimizer_step(Network<float>& network, const StepContext&) override {
    latent_.assign(network.parameters().begin(), network.parameters().end());
    restore_deployed_weights(network);
  }

  std::vector<MethodReadout> readouts(const Network<float>& network) const override {
    std::vector<MethodReadout> readouts;
    const auto& tensors = network.parameter_tensors();
    for (size_t i = 0; i < tensors.size(); ++i) {
      if (!tensors[i].is_weight) continue;
      readouts.push_back({"weight asymmetry", tensors[i].layer, weight_asymmetry(network.tensor(network.parameters(), tensors[i]))});
      const float scale = saturation_scale_of(state_, i);
      if (scale > 0) readouts.push_back({"saturation scale c", tensors[i].layer, scale});
    }
    return readouts;
  }

 private:
  void restore_deployed_weights(Network<float>& network) {
    symreg_effective_parameters(network, state_, std::span<const float>(latent_), network.parameters());
  }

  SymRegSettings settings_;
  SymRegState<float> state_;
  std::vector<float> latent_;
};

}  // namespace

Result<std::unique_ptr<TrainingMethod>> make_symreg_method(const SymRegSettings& settings) {
  Status status = validate(settings);
  if (!status.ok()) return status;
  return std::unique_ptr<TrainingMethod>(std::make_unique<SymRegMethod>(settings));
}

#define QPLAY_INSTANTIATE_SYMREG(T)                                                                          \
  template T symmetry_penalty_one_to_one<T>(std::span<const T>, std::span<T>);                               \
  template T symmetry_penalty_two_to_two<T>(std::span<const T>, std::span<T>);                               \
  template T symmetry_penalty<T>(SymmetryPairing, std::span<const T>, std::span<T>);                         \
  template T weight_asymmetry<T>(std::span<const T>);                                                        \
  template void saturating_weights_forward<T>(std::span<const T>, T, std::span<T>);                          \
  template void saturating_weights_backward<T>(std::span<const T>, T, std::span<const T>, std::span<T>);     \
  template void saturating_weights_inverse<T>(std::span<const T>, T, std::span<T>);                          \
  template T saturation_scale_for<T>(std::span<const T>, double);                                            \
  template void sam_perturbation<T>(std::span<const T>, T, std::span<T>);                                    \
  template void asam_perturbation<T>(std::span<const T>, std::span<const T>, T, T, std::span<T>);            \
  template SymRegState<T> attach_symreg<T>(Network<T>&, const SymRegSettings&);                              \
  template void symreg_effective_parameters<T>(const Network<T>&, const SymRegState<T>&, std::span<const T>, \
                                               std::span<T>);                                                \
  template SymRegStepValues<T> symreg_gradients<T>(Network<T>&, SymRegState<T>&, const SymRegSettings&,      \
                                                   std::span<const T>, std::span<const int32_t>, int);
QPLAY_INSTANTIATE_SYMREG(float)
QPLAY_INSTANTIATE_SYMREG(double)
#undef QPLAY_INSTANTIATE_SYMREG

}  // namespace qplay

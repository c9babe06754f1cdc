#include "core/engine/methods/gradient_l1.h"

#include <algorithm>
#include <cmath>

#include "core/engine/base/deterministic_math.h"

namespace qplay {
namespace {

// sign with sign(0) = 0, branch-free so the loops over every weight vectorize.
template <typename T>
T sign_of(T x) {
  return static_cast<T>(x > T(0)) - static_cast<T>(x < T(0));
}

// Σ|values| with eight partial sums, so it vectorizes without reassociation flags.
template <typename T>
T l1_norm(std::span<const T> values) {
  T partial[8] = {};
  size_t i = 0;
  for (; i + 8 <= values.size(); i += 8)
    for (int lane = 0; lane < 8; ++lane) partial[lane] += std::fabs(values[i + lane]);
  T total = 0;
  for (; i < values.size(); ++i) total += std::fabs(values[i]);
  for (T p : partial) total += p;
  return total;
}

}  // namespace

template <typename T>
typename GradientL1Regularizer<T>::Value GradientL1Regularizer<T>::evaluate(
    Network<T>& network, std::span<const T> features, std::span<const int32_t> labels, int batch,
    T lambda_weights, T lambda_activations, bool add_penalty_gradient) {
  const Architecture& architecture = network.architecture();
  const int layers = static_cast<int>(architecture.layers.size());
  Value value;
  network.forward(features, batch);
  value.loss = network.loss(labels);
  if (!std::isfinite(value.loss)) return value;
  pass_.backward_recording(network, labels);

  // The penalty: Σ|∇_W L| over weights, Σ|∇_y L| over the inputs of weighted layers but the first.
  const int first = network.first_weighted_layer();
  std::span<const T> gradients = network.gradients();
  T weight_norm = 0, activation_norm = 0;
  for (const ParameterTensor& tensor : network.parameter_tensors()) {
    if (tensor.is_weight) weight_norm += l1_norm(network.tensor(gradients, tensor));
  }
  for (int i = first + 1; i < layers; ++i) {
    if (architecture.layers[i].has_parameters()) activation_norm += l1_norm<T>(pass_.output_gradient(i - 1));
  }
  value.penalty = lambda_weights * weight_norm + lambda_activations * activation_norm;
  if (!add_penalty_gradient) return value;

  weight_tangent_.resize(network.parameter_count());
  for (const ParameterTensor& tensor : network.parameter_tensors()) {
    T* tangent = weight_tangent_.data() + tensor.offset;
    const T* g = gradients.data() + tensor.offset;
    const T scale = tensor.is_weight ? lambda_weights : T(0);  // biases are neither penalized nor perturbed
    for (size_t k = 0; k < tensor.size(); ++k) tangent[k] = scale * sign_of(g[k]);
  }
  // The activation term's tangent λ_a·sign(∇_{y_l} L), added at the input of each weighted layer but the
  // first.
  auto add_activation_tangent = [&](int layer, std::span<T> input_tangent) {
    std::span<const T> activation_gradient = pass_.output_gradient(layer - 1);
    for (size_t k = 0; k < input_tangent.size(); ++k)
      input_tangent[k] += lambda_activations * sign_of(activation_gradient[k]);
  };
  std::span<const T> penalty_gradient =
      pass_.gradient_tangent(network, weight_tangent_, batch, add_activation_tangent);
  std::span<T> all = network.gradients();
  for (size_t k = 0; k < all.size(); ++k) all[k] += penalty_gradient[k];
  return value;
}

template class GradientL1Regularizer<float>;
template class GradientL1Regularizer<double>;

namespace {

class GradientL1Method final : public TrainingMethod {
 public:
  explicit GradientL1Method(GradientL1Settings settings) : settings_(settings) {}

  std::string_view name() const override { return "gradl1"; }

  StepResult compute_gradients(Network<float>& network, const TrainingBatch& batch,
                               const StepContext& context) override {
    if (context.progress < settings_.warmup) return {forward_loss_backward(network, batch), 0.0f};
    const float lambda_w = summed_norm_lambda(network);
    const float lambda_a = static_cast<float>(settings_.lambda_activations);
    const bool exact = settings_.mode == GradientL1Mode::exact;
    GradientL1Regularizer<float>::Value value =
        regularizer_.evaluate(network, batch.features, batch.labels, batch.size, lambda_w, lambda_a, exact);
    if (!exact && std::isfinite(value.loss)) add_finite_difference_gradient(network, batch);
    return {value.loss, value.penalty};
  }

 private:
  // λ_w per weight as the penalty's λ of the summed norm: λ_w / (number of weights).
  float summed_norm_lambda(const Network<float>& network) const {
    size_t weights = 0;
    for (const ParameterTensor& tensor : network.parameter_tensors())
      if (tensor.is_weight) weights += tensor.size();
    return static_cast<float>(settings_.lambda_weights / double(std::max<size_t>(weights, 1)));
  }

  // λ_w·(∇L(θ + h·sign(∇_W L)) - ∇L(θ)) / h: the weight term only, and with ReLU only a smoothed
  // surrogate of the exact product (methods.md §1.6). The probabilities of the unperturbed forward
  // are restored so the training accuracy counts the real model.
  void add_finite_difference_gradient(Network<float>& network, const TrainingBatch& batch) {
    std::span<float> parameters = network.parameters();
    std::span<float> gradients = network.gradients();
    saved_gradients_.assign(gradients.begin(), gradients.end());
    saved_parameters_.assign(parameters.begin(), parameters.end());
    const float h = static_cast<float>(settings_.finite_difference_step);
    for (const ParameterTensor& tensor : network.parameter_tensors()) {
      if (!tensor.is_weight) continue;
      for (size_t k = tensor.offset; k < tensor.offset + tensor.size(); ++k)
        parameters[k] += h * sign_of(saved_gradients_[k]);
    }
    forward_loss_backward(network, batch);
    const float scale = summed_norm_lambda(network) / h;
    for (size_t k = 0; k < gradients.size(); ++k)
      gradients[k] = saved_gradients_[k] + scale * (gradients[k] - saved_gradients_[k]);
    std::copy(saved_parameters_.begin(), saved_parameters_.end(), parameters.begin());
    network.forward(batch.features, batch.size);  // restores the unperturbed probabilities
    network.loss(batch.labels);
  }

  GradientL1Settings settings_;
  GradientL1Regularizer<float> regularizer_;
  std::vector<float> saved_gradients_, saved_parameters_;
};

}  // namespace

Status validate(const GradientL1Settings& s) {
  auto bad = [](double x) { return !std::isfinite(x) || x < 0; };
  if (bad(s.lambda_weights) || bad(s.lambda_activations)) {
    return Status::error("gradl1: the penalty weights must be finite and >= 0, got " +
                         std::to_string(s.lambda_weights) + " and " + std::to_string(s.lambda_activations));
  }
  if (!(s.warmup >= 0 && s.warmup < 1)) {
    return Status::error("gradl1: the warm-up is a share of the run from 0 to below 1, got " +
                         std::to_string(s.warmup));
  }
  if (!(s.finite_difference_step > 0 && s.finite_difference_step < 1)) {
    return Status::error("gradl1: the finite-difference step must be in (0, 1), got " +
                         std::to_string(s.finite_difference_step));
  }
  return {};
}

Result<std::unique_ptr<TrainingMethod>> make_gradient_l1_method(const GradientL1Settings& settings) {
  if (Status status = validate(settings); !status) return status;
  return std::unique_ptr<TrainingMethod>(std::make_unique<GradientL1Method>(settings));
}

}  // namespace qplay

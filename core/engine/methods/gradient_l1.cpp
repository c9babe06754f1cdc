#include "core/engine/methods/gradient_l1.h"

#include <algorithm>
#include <cassert>
#include <cmath>

#include "core/engine/base/deterministic_math.h"
#include "core/engine/nn/layer_ops.h"
#include "core/engine/nn/layers.h"

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

// The layer index whose output the network's input of `layer` is (-1: the network input).
int first_weighted_layer(const Architecture& architecture) {
  for (int i = 0; i < static_cast<int>(architecture.layers.size()); ++i)
    if (architecture.layers[i].has_parameters()) return i;
  return -1;
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

  output_gradients_.resize(layers);
  BackwardOptions<T> record;
  record.at_layer_output = [this](int layer, std::span<T> gradient) {
    output_gradients_[layer].assign(gradient.begin(), gradient.end());
  };
  network.backward(labels, record);

  // The penalty: Σ|∇_W L| over weights, Σ|∇_y L| over the inputs of weighted layers but the first.
  const int first = first_weighted_layer(architecture);
  std::span<const T> gradients = network.gradients();
  T weight_norm = 0, activation_norm = 0;
  for (const ParameterTensor& tensor : network.parameter_tensors()) {
    if (tensor.is_weight) weight_norm += l1_norm(network.tensor(gradients, tensor));
  }
  for (int i = first + 1; i < layers; ++i) {
    if (architecture.layers[i].has_parameters()) activation_norm += l1_norm<T>(output_gradients_[i - 1]);
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
  push_tangent_forward(network, batch, lambda_weights, lambda_activations);
  pull_tangent_backward(network, labels, batch);
  std::span<T> all = network.gradients();
  for (size_t k = 0; k < all.size(); ++k) all[k] += penalty_gradient_[k];
  return value;
}

// R{output} of every layer, from R{W} = weight_tangent_ and R{y_l} += λ_a·sign(∇_{y_l} L).
template <typename T>
void GradientL1Regularizer<T>::push_tangent_forward(Network<T>& network, int batch, T, T lambda_activations) {
  const Architecture& architecture = network.architecture();
  const KernelTable& kernels = network.kernels();
  const int layers = static_cast<int>(architecture.layers.size());
  const int first = first_weighted_layer(architecture);
  std::span<const T> parameters = network.parameters();
  tangent_outputs_.resize(layers + 1);
  tangent_inputs_.resize(layers);
  tangent_outputs_[0].assign(size_t(batch) * architecture.input.size(), T(0));
  size_t parameter_index = 0;
  for (int i = 0; i < layers; ++i) {
    const LayerSpec& layer = architecture.layers[i];
    const int in_size = batch * layer.input.size(), out_size = batch * layer.output.size();
    std::vector<T>& tangent_out = tangent_outputs_[i + 1];
    tangent_out.resize(out_size);  // every layer writes all of it
    LayerCall<T> call{kernels, layer, batch};
    TangentForwardTensors<T> tensors{network.layer_output(i - 1).data(), network.layer_output(i).data(),
                                     tangent_outputs_[i].data(), nullptr, tangent_out.data()};
    if (layer.has_parameters()) {
      const ParameterTensor& weight_tensor = network.parameter_tensors()[parameter_index];
      parameter_index += 2;
      call.weight = parameters.data() + weight_tensor.offset;
      columns_.resize(layer_scratch_values(layer, batch));
      call.columns = columns_.data();
      tensors.weight_tangent = weight_tangent_.data() + weight_tensor.offset;
      // Before the first weighted layer nothing carries a tangent; after it the activation term joins.
      std::vector<T>& tangent_x = tangent_inputs_[i];
      tangent_x = tangent_outputs_[i];
      if (i > first) {
        const std::vector<T>& activation_gradient = output_gradients_[i - 1];
        for (int k = 0; k < in_size; ++k)
          tangent_x[k] += lambda_activations * sign_of(activation_gradient[k]);
      }
      tensors.input_tangent = i > first ? tangent_x.data() : nullptr;
    }
    layer_ops<T>(layer.kind).tangent_forward(call, tensors);
  }
}

// R{∇_θ L} by differentiating every backward formula once more along the tangent.
template <typename T>
void GradientL1Regularizer<T>::pull_tangent_backward(Network<T>& network, std::span<const int32_t> labels,
                                                     int batch) {
  (void)labels;  // the softmax cross-entropy's Hessian does not depend on the labels
  const Architecture& architecture = network.architecture();
  const KernelTable& kernels = network.kernels();
  const int layers = static_cast<int>(architecture.layers.size());
  const int first = first_weighted_layer(architecture);
  const int classes = architecture.num_classes;
  std::span<const T> parameters = network.parameters();
  penalty_gradient_.resize(network.parameter_count());  // every weight and bias is written below

  size_t largest = architecture.input.size();
  for (const LayerSpec& layer : architecture.layers) largest = std::max<size_t>(largest, layer.output.size());
  tangent_gradient_.resize(size_t(batch) * largest);
  tangent_gradient_next_.resize(size_t(batch) * largest);
  // The tangent of the loss's gradient w.r.t. the logits starts the pass back.
  softmax_cross_entropy_tangent_backward(batch, classes, network.probabilities().data(),
                                         tangent_outputs_[layers].data(), tangent_gradient_.data());

  int parameter_index = static_cast<int>(network.parameter_tensors().size());
  for (int i = layers - 1; i >= 0; --i) {
    const LayerSpec& layer = architecture.layers[i];
    LayerCall<T> call{kernels, layer, batch};
    TangentBackwardTensors<T> tensors{network.layer_output(i - 1).data(),
                                      network.layer_output(i).data(),
                                      tangent_outputs_[i].data(),
                                      tangent_outputs_[i + 1].data(),
                                      nullptr,
                                      output_gradients_[i].data(),
                                      tangent_gradient_.data(),
                                      nullptr,
                                      nullptr,
                                      i > first ? tangent_gradient_next_.data() : nullptr};
    if (layer.has_parameters()) {
      parameter_index -= 2;
      const ParameterTensor& weight_tensor = network.parameter_tensors()[parameter_index];
      const ParameterTensor& bias_tensor = network.parameter_tensors()[parameter_index + 1];
      call.weight = parameters.data() + weight_tensor.offset;
      columns_.resize(layer_scratch_values(layer, batch));
      call.columns = columns_.data();
      tensors.input_tangent = i > first ? tangent_inputs_[i].data() : nullptr;
      tensors.weight_tangent = weight_tangent_.data() + weight_tensor.offset;
      tensors.weight_gradient_tangent = penalty_gradient_.data() + weight_tensor.offset;
      tensors.bias_gradient_tangent = penalty_gradient_.data() + bias_tensor.offset;
    }
    layer_ops<T>(layer.kind).tangent_backward(call, tensors);
    std::swap(tangent_gradient_, tangent_gradient_next_);
  }
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

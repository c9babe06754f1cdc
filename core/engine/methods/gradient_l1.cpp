#include "core/engine/methods/gradient_l1.h"

#include <algorithm>
#include <cassert>
#include <cmath>

#include "core/engine/base/deterministic_math.h"
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

ConvGeometry geometry_of(const LayerSpec& layer, int batch) {
  return {batch, layer.input.height, layer.input.width, layer.input.channels, layer.kernel, layer.stride,
          layer.padding};
}

// The tangent of max-pool with its argmax held fixed: each window passes on the tangent of its first
// maximum (the element max_pool_backward hands the gradient to).
template <typename T>
void max_pool_tangent_forward(const ConvGeometry& g, const T* input, const T* tangent_in, T* tangent_out) {
  const int out_h = g.out_height(), out_w = g.out_width(), C = g.in_channels;
  for (int b = 0; b < g.batch; ++b)
    for (int oy = 0; oy < out_h; ++oy)
      for (int ox = 0; ox < out_w; ++ox)
        for (int c = 0; c < C; ++c) {
          size_t best = 0;
          bool first = true;
          for (int ky = 0; ky < g.kernel; ++ky)
            for (int kx = 0; kx < g.kernel; ++kx) {
              const size_t at = ((static_cast<size_t>(b) * g.in_height + oy * g.stride + ky) * g.in_width +
                                 ox * g.stride + kx) * C + c;
              if (first || input[at] > input[best]) best = at;
              first = false;
            }
          tangent_out[((static_cast<size_t>(b) * out_h + oy) * out_w + ox) * C + c] = tangent_in[best];
        }
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
    const std::vector<T>& tangent_in = tangent_outputs_[i];
    std::vector<T>& tangent_out = tangent_outputs_[i + 1];
    tangent_out.resize(out_size);  // every layer below writes all of it
    const T* input = network.layer_output(i - 1).data();
    if (layer.has_parameters()) {
      const ParameterTensor& weight_tensor = network.parameter_tensors()[parameter_index];
      parameter_index += 2;
      const T* weight = parameters.data() + weight_tensor.offset;
      const T* weight_tangent = weight_tangent_.data() + weight_tensor.offset;
      std::vector<T>& tangent_x = tangent_inputs_[i];
      tangent_x = tangent_in;
      if (i > first) {
        const std::vector<T>& activation_gradient = output_gradients_[i - 1];
        for (int k = 0; k < in_size; ++k) tangent_x[k] += lambda_activations * sign_of(activation_gradient[k]);
      }
      const bool input_moves = i > first;  // before the first weighted layer nothing carries a tangent
      const int inputs = layer.weight_columns(), outputs = layer.outputs;
      if (layer.kind == LayerKind::dense) {
        // R{z} = R{x}·Wᵀ + x·R{W}ᵀ
        linear_algebra::gemm(kernels, Transpose::no, Transpose::yes, batch, outputs, inputs, input, inputs,
                             weight_tangent, inputs, tangent_out.data(), outputs, false);
        if (input_moves)
          linear_algebra::gemm(kernels, Transpose::no, Transpose::yes, batch, outputs, inputs, tangent_x.data(),
                               inputs, weight, inputs, tangent_out.data(), outputs, true);
      } else {
        const ConvGeometry g = geometry_of(layer, batch);
        const int patches = g.patch_count(), patch_size = g.patch_size();
        columns_.resize(size_t(patches) * patch_size);
        linear_algebra::im2col(kernels, g, input, columns_.data());
        linear_algebra::gemm(kernels, Transpose::no, Transpose::yes, patches, outputs, patch_size, columns_.data(),
                             patch_size, weight_tangent, patch_size, tangent_out.data(), outputs, false);
        if (input_moves) {
          linear_algebra::im2col(kernels, g, tangent_x.data(), columns_.data());
          linear_algebra::gemm(kernels, Transpose::no, Transpose::yes, patches, outputs, patch_size,
                               columns_.data(), patch_size, weight, patch_size, tangent_out.data(), outputs, true);
        }
      }
      continue;
    }
    const T* output = network.layer_output(i).data();
    switch (layer.kind) {
      // Each activation's tangent is its derivative times the input's tangent, which is exactly what
      // its backward computes from the forward output.
      case LayerKind::relu: relu_backward(kernels, out_size, output, tangent_in.data(), tangent_out.data()); break;
      case LayerKind::tanh: tanh_backward(out_size, output, tangent_in.data(), tangent_out.data()); break;
      case LayerKind::softplus: softplus_backward(out_size, output, tangent_in.data(), tangent_out.data()); break;
      case LayerKind::max_pool:
        max_pool_tangent_forward(geometry_of(layer, batch), input, tangent_in.data(), tangent_out.data());
        break;
      case LayerKind::flatten: std::copy_n(tangent_in.data(), in_size, tangent_out.data()); break;
      case LayerKind::dense:  // the weighted layers are handled above
      case LayerKind::conv2d: break;
    }
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

  // Softmax cross-entropy: ∇_z L = (p - onehot)/B, so R{∇_z L} = (p ⊙ R{z} - p·(pᵀR{z}))/B per row.
  size_t largest = architecture.input.size();
  for (const LayerSpec& layer : architecture.layers) largest = std::max<size_t>(largest, layer.output.size());
  tangent_gradient_.resize(size_t(batch) * largest);
  tangent_gradient_next_.resize(size_t(batch) * largest);
  {
    std::span<const T> p = network.probabilities();
    const std::vector<T>& tangent_logits = tangent_outputs_[layers];
    for (int b = 0; b < batch; ++b) {
      const T* pb = p.data() + size_t(b) * classes;
      const T* rz = tangent_logits.data() + size_t(b) * classes;
      T dot = 0;
      for (int k = 0; k < classes; ++k) dot += pb[k] * rz[k];
      for (int k = 0; k < classes; ++k) tangent_gradient_[size_t(b) * classes + k] = pb[k] * (rz[k] - dot) / T(batch);
    }
  }

  int parameter_index = static_cast<int>(network.parameter_tensors().size());
  for (int i = layers - 1; i >= 0; --i) {
    const LayerSpec& layer = architecture.layers[i];
    const int in_size = batch * layer.input.size(), out_size = batch * layer.output.size();
    const T* tangent_delta = tangent_gradient_.data();  // R{∂L/∂ output of i}
    const T* delta = output_gradients_[i].data();       //   ∂L/∂ output of i
    T* tangent_delta_in = tangent_gradient_next_.data();
    const bool needs_input = i > first;
    const T* input = network.layer_output(i - 1).data();
    if (layer.has_parameters()) {
      parameter_index -= 2;
      const ParameterTensor& weight_tensor = network.parameter_tensors()[parameter_index];
      const ParameterTensor& bias_tensor = network.parameter_tensors()[parameter_index + 1];
      const T* weight = parameters.data() + weight_tensor.offset;
      const T* weight_tangent = weight_tangent_.data() + weight_tensor.offset;
      T* weight_result = penalty_gradient_.data() + weight_tensor.offset;
      T* bias_result = penalty_gradient_.data() + bias_tensor.offset;
      const T* tangent_x = tangent_inputs_[i].data();
      const bool input_moves = i > first;
      const int inputs = layer.weight_columns(), outputs = layer.outputs;
      if (layer.kind == LayerKind::dense) {
        // ∇W = δᵀx, ∇b = Σδ, ∇x = δW  =>  R{∇W} = R{δ}ᵀx + δᵀR{x}, R{∇b} = ΣR{δ}, R{∇x} = R{δ}W + δR{W}
        linear_algebra::gemm(kernels, Transpose::yes, Transpose::no, outputs, inputs, batch, tangent_delta, outputs,
                             input, inputs, weight_result, inputs, false);
        if (input_moves)
          linear_algebra::gemm(kernels, Transpose::yes, Transpose::no, outputs, inputs, batch, delta, outputs,
                               tangent_x, inputs, weight_result, inputs, true);
        linear_algebra::sum_rows(kernels, batch, outputs, tangent_delta, bias_result, false);
        if (needs_input) {
          linear_algebra::gemm(kernels, Transpose::no, Transpose::no, batch, inputs, outputs, tangent_delta,
                               outputs, weight, inputs, tangent_delta_in, inputs, false);
          linear_algebra::gemm(kernels, Transpose::no, Transpose::no, batch, inputs, outputs, delta, outputs,
                               weight_tangent, inputs, tangent_delta_in, inputs, true);
        }
      } else {
        const ConvGeometry g = geometry_of(layer, batch);
        const int patches = g.patch_count(), patch_size = g.patch_size();
        columns_.resize(size_t(patches) * patch_size);
        linear_algebra::im2col(kernels, g, input, columns_.data());
        linear_algebra::gemm(kernels, Transpose::yes, Transpose::no, outputs, patch_size, patches, tangent_delta,
                             outputs, columns_.data(), patch_size, weight_result, patch_size, false);
        if (input_moves) {
          linear_algebra::im2col(kernels, g, tangent_x, columns_.data());
          linear_algebra::gemm(kernels, Transpose::yes, Transpose::no, outputs, patch_size, patches, delta, outputs,
                               columns_.data(), patch_size, weight_result, patch_size, true);
        }
        linear_algebra::sum_rows(kernels, patches, outputs, tangent_delta, bias_result, false);
        if (needs_input) {
          linear_algebra::gemm(kernels, Transpose::no, Transpose::no, patches, patch_size, outputs, tangent_delta,
                               outputs, weight, patch_size, columns_.data(), patch_size, false);
          linear_algebra::gemm(kernels, Transpose::no, Transpose::no, patches, patch_size, outputs, delta, outputs,
                               weight_tangent, patch_size, columns_.data(), patch_size, true);
          std::fill_n(tangent_delta_in, in_size, T(0));
          linear_algebra::col2im(kernels, g, columns_.data(), tangent_delta_in);
        }
      }
    } else if (needs_input) {
      const T* output = network.layer_output(i).data();
      switch (layer.kind) {
        case LayerKind::relu:  // relu'' = 0: R{δ_in} = relu'(z)·R{δ_out}
          relu_backward(kernels, out_size, output, tangent_delta, tangent_delta_in);
          break;
        case LayerKind::tanh: {  // δ_in = (1-y²)δ_out  =>  R{δ_in} = (1-y²)R{δ_out} - 2y·R{y}·δ_out
          const T* tangent_y = tangent_outputs_[i + 1].data();
          for (int k = 0; k < out_size; ++k)
            tangent_delta_in[k] = (T(1) - output[k] * output[k]) * tangent_delta[k] -
                                  T(2) * output[k] * tangent_y[k] * delta[k];
          break;
        }
        case LayerKind::softplus: {  // δ_in = s·δ_out, s = σ(z) = 1 - e^{-y}  =>  + s(1-s)·R{z}·δ_out
          const T* tangent_z = tangent_outputs_[i].data();
          for (int k = 0; k < out_size; ++k) {
            const T s = -portable_expm1(-output[k]);
            tangent_delta_in[k] = s * tangent_delta[k] + s * (T(1) - s) * tangent_z[k] * delta[k];
          }
          break;
        }
        case LayerKind::max_pool:
          max_pool_backward(geometry_of(layer, batch), input, tangent_delta, tangent_delta_in);
          break;
        case LayerKind::flatten: std::copy_n(tangent_delta, out_size, tangent_delta_in); break;
        case LayerKind::dense:  // the weighted layers are handled above
        case LayerKind::conv2d: break;
      }
    }
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
    return Status::error("gradl1: the warm-up is a share of the run from 0 to below 1, got " + std::to_string(s.warmup));
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

#include "core/engine/nn/hessian_vector_product.h"

#include <algorithm>
#include <cassert>

#include "core/engine/nn/layer_ops.h"
#include "core/engine/nn/layers.h"

namespace qplay {

template <typename T>
void TangentPass<T>::backward_recording(Network<T>& network, std::span<const int32_t> labels) {
  output_gradients_.resize(network.architecture().layers.size());
  BackwardOptions<T> record;
  record.at_layer_output = [this](int layer, std::span<T> gradient) {
    output_gradients_[layer].assign(gradient.begin(), gradient.end());
  };
  network.backward(labels, record);
}

template <typename T>
std::span<const T> TangentPass<T>::gradient_tangent(
    Network<T>& network, std::span<const T> weight_tangent, int batch,
    const std::function<void(int layer, std::span<T> input_tangent)>& add_input_tangent) {
  assert(weight_tangent.size() == network.parameter_count());
  assert(output_gradients_.size() == network.architecture().layers.size());
  push_tangent_forward(network, weight_tangent, batch, add_input_tangent);
  pull_tangent_backward(network, weight_tangent, batch);
  return gradient_tangent_;
}

// R{output} of every layer from R{W} = weight_tangent and the callers' input tangents.
template <typename T>
void TangentPass<T>::push_tangent_forward(Network<T>& network, std::span<const T> weight_tangent, int batch,
                                          const std::function<void(int, std::span<T>)>& add_input_tangent) {
  const Architecture& architecture = network.architecture();
  const KernelTable& kernels = network.kernels();
  const int layers = static_cast<int>(architecture.layers.size());
  const int first = network.first_weighted_layer();
  std::span<const T> parameters = network.parameters();
  tangent_outputs_.resize(layers + 1);
  tangent_inputs_.resize(layers);
  tangent_outputs_[0].assign(size_t(batch) * architecture.input.size(), T(0));
  size_t parameter_index = 0;
  for (int i = 0; i < layers; ++i) {
    const LayerSpec& layer = architecture.layers[i];
    std::vector<T>& tangent_out = tangent_outputs_[i + 1];
    tangent_out.resize(size_t(batch) * layer.output.size());  // every layer writes all of it
    LayerCall<T> call{kernels, layer, batch};
    TangentForwardTensors<T> tensors{network.layer_output(i - 1).data(), network.layer_output(i).data(),
                                     tangent_outputs_[i].data(), nullptr, tangent_out.data()};
    if (layer.has_parameters()) {
      const ParameterTensor& weight_tensor = network.parameter_tensors()[parameter_index];
      parameter_index += 2;
      call.weight = parameters.data() + weight_tensor.offset;
      columns_.resize(layer_scratch_values(layer, batch));
      call.columns = columns_.data();
      tensors.weight_tangent = weight_tangent.data() + weight_tensor.offset;
      // Before the first weighted layer nothing carries a tangent.
      std::vector<T>& tangent_x = tangent_inputs_[i];
      tangent_x = tangent_outputs_[i];
      if (i > first && add_input_tangent) add_input_tangent(i, tangent_x);
      tensors.input_tangent = i > first ? tangent_x.data() : nullptr;
    }
    layer_ops<T>(layer.kind).tangent_forward(call, tensors);
  }
}

// R{∇_θ L} by differentiating every backward formula once more along the tangent.
template <typename T>
void TangentPass<T>::pull_tangent_backward(Network<T>& network, std::span<const T> weight_tangent,
                                           int batch) {
  const Architecture& architecture = network.architecture();
  const KernelTable& kernels = network.kernels();
  const int layers = static_cast<int>(architecture.layers.size());
  const int first = network.first_weighted_layer();
  std::span<const T> parameters = network.parameters();
  gradient_tangent_.resize(network.parameter_count());  // every weight and bias is written below

  size_t largest = architecture.input.size();
  for (const LayerSpec& layer : architecture.layers) largest = std::max<size_t>(largest, layer.output.size());
  tangent_gradient_.resize(size_t(batch) * largest);
  tangent_gradient_next_.resize(size_t(batch) * largest);
  // The tangent of the loss's gradient w.r.t. the logits starts the pass back (it does not depend on
  // the labels: the softmax cross-entropy's Hessian does not).
  softmax_cross_entropy_tangent_backward(batch, architecture.num_classes, network.probabilities().data(),
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
      tensors.weight_tangent = weight_tangent.data() + weight_tensor.offset;
      tensors.weight_gradient_tangent = gradient_tangent_.data() + weight_tensor.offset;
      tensors.bias_gradient_tangent = gradient_tangent_.data() + bias_tensor.offset;
    }
    layer_ops<T>(layer.kind).tangent_backward(call, tensors);
    std::swap(tangent_gradient_, tangent_gradient_next_);
  }
}

template class TangentPass<float>;
template class TangentPass<double>;

template <typename T>
void hessian_vector_product(Network<T>& network, std::span<const T> features, std::span<const int32_t> labels,
                            int batch, std::span<const T> v, std::span<T> out, TangentPass<T>& pass) {
  assert(out.size() == network.parameter_count());
  network.forward(features, batch);
  network.loss(labels);
  pass.backward_recording(network, labels);
  std::span<const T> product = pass.gradient_tangent(network, v, batch);
  std::copy(product.begin(), product.end(), out.begin());
}

template void hessian_vector_product<float>(Network<float>&, std::span<const float>, std::span<const int32_t>,
                                            int, std::span<const float>, std::span<float>,
                                            TangentPass<float>&);
template void hessian_vector_product<double>(Network<double>&, std::span<const double>,
                                             std::span<const int32_t>, int, std::span<const double>,
                                             std::span<double>, TangentPass<double>&);

}  // namespace qplay

#include "core/engine/nn/network.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <type_traits>

#include "core/engine/base/rng.h"
#include "core/engine/nn/layer_ops.h"
#include "core/engine/nn/layers.h"

namespace qplay {

template <typename T>
Network<T>::Network(Architecture architecture, std::shared_ptr<const KernelTable> kernels)
    : architecture_(std::move(architecture)), kernels_(std::move(kernels)) {
  const auto& layers = architecture_.layers;
  first_parameter_of_layer_.assign(layers.size(), -1);
  size_t offset = 0;
  for (int i = 0; i < static_cast<int>(layers.size()); ++i) {
    const LayerSpec& layer = layers[i];
    if (!layer.has_parameters()) continue;
    if (first_weighted_layer_ < 0) first_weighted_layer_ = i;
    first_parameter_of_layer_[i] = static_cast<int>(parameter_tensors_.size());
    ParameterTensor weight{std::to_string(i) + ".weight", i,     true, layer.weight_rows(),
                           layer.weight_columns(),        offset};
    offset += weight.size();
    ParameterTensor bias{std::to_string(i) + ".bias", i, false, layer.outputs, 1, offset};
    offset += bias.size();
    parameter_tensors_.push_back(weight);
    parameter_tensors_.push_back(bias);
  }
  parameter_count_ = offset;
  arena_.assign(2 * parameter_count_, T(0));
}

template <typename T>
void Network<T>::initialize(uint64_t seed) {
  Rng rng(seed, /*stream=*/0x1717);
  bool relu_network = std::any_of(architecture_.layers.begin(), architecture_.layers.end(),
                                  [](const LayerSpec& l) { return l.kind == LayerKind::relu; });
  std::span<T> all = parameters();
  for (const ParameterTensor& t : parameter_tensors_) {
    std::span<T> values = tensor(all, t);
    if (!t.is_weight) {
      std::fill(values.begin(), values.end(), T(0));
      continue;
    }
    const LayerSpec& layer = architecture_.layers[t.layer];
    double fan_in = t.columns;
    double fan_out = layer.kind == LayerKind::conv2d ? double(t.rows) * layer.kernel * layer.kernel : t.rows;
    // He et al. 2015 keeps ReLU activations' variance; Glorot & Bengio 2010 suits tanh/softplus.
    double bound = relu_network ? std::sqrt(6.0 / fan_in) : std::sqrt(6.0 / (fan_in + fan_out));
    for (T& w : values) w = static_cast<T>(rng.uniform(-bound, bound));
  }
}

template <typename T>
void Network<T>::set_optimizer_slot_count(int slots) {
  if (slots == optimizer_slots_) return;
  optimizer_slots_ = slots;
  arena_.resize((2 + optimizer_slots_) * parameter_count_);
  std::fill(arena_.begin() + 2 * parameter_count_, arena_.end(), T(0));
  batch_capacity_ = 0;  // activations are laid out after the slots; re-laid out on the next forward
}

template <typename T>
std::span<T> Network<T>::optimizer_slot(int slot) {
  assert(slot >= 0 && slot < optimizer_slots_);
  return {arena_.data() + (2 + slot) * parameter_count_, parameter_count_};
}

template <typename T>
int Network<T>::largest_batch() const {
  return static_cast<int>(std::clamp<int64_t>(kMaxBatchValues / architecture_.batch_values_per_sample(), 1,
                                              std::numeric_limits<int>::max()));
}

template <typename T>
void Network<T>::reserve_batch(int batch) {
  if (batch <= batch_capacity_) return;
  batch_capacity_ = std::max(batch, batch_capacity_ * 2);
  layout_activations();
}

template <typename T>
void Network<T>::layout_activations() {
  const auto& layers = architecture_.layers;
  const size_t batch = batch_capacity_;
  size_t offset = (2 + optimizer_slots_) * parameter_count_;
  size_t largest_activation = architecture_.input.size(), largest_columns = 0;
  activation_offsets_.assign(layers.size() + 1, 0);
  quantized_input_offsets_.assign(layers.size(), 0);
  input_columns_offsets_.assign(layers.size(), 0);
  activation_offsets_[0] = offset;
  offset += batch * architecture_.input.size();
  for (size_t i = 0; i < layers.size(); ++i) {
    activation_offsets_[i + 1] = offset;
    offset += batch * layers[i].output.size();
    largest_activation = std::max<size_t>(largest_activation, layers[i].output.size());
    if (layers[i].has_parameters() && static_cast<int>(i) != first_weighted_layer_) {
      quantized_input_offsets_[i] = offset;
      offset += batch * layers[i].input.size();
    }
    const size_t columns = layer_scratch_values(layers[i], batch_capacity_);
    input_columns_offsets_[i] = offset;
    offset += columns;
    largest_columns = std::max(largest_columns, columns);
  }
  gradient_ping_offset_ = offset;
  offset += batch * largest_activation;
  gradient_pong_offset_ = offset;
  offset += batch * largest_activation;
  probabilities_offset_ = offset;
  offset += batch * classes();
  scratch_offset_ = offset;
  offset += largest_columns;
  arena_.resize(offset);
}

template <typename T>
bool Network<T>::quantizes_input_of(int layer) const {
  const ActivationQuantization* q = forward_activation_quantization_;
  return q && layer != first_weighted_layer_ && architecture_.layers[layer].has_parameters() &&
         layer < static_cast<int>(q->input_grids.size()) && q->input_grids[layer].has_value();
}

template <typename T>
bool Network<T>::relu_runs_with_conv(int relu_layer) const {
  const auto& layers = architecture_.layers;
  return relu_layer > 0 && layers[relu_layer].kind == LayerKind::relu &&
         layers[relu_layer - 1].kind == LayerKind::conv2d;
}

template <typename T>
bool Network<T>::relu_runs_with_pool(int relu_layer, const BackwardOptions<T>& options) const {
  const auto& layers = architecture_.layers;
  return !options.at_layer_output && relu_layer + 1 < static_cast<int>(layers.size()) &&
         layers[relu_layer].kind == LayerKind::relu && layers[relu_layer + 1].kind == LayerKind::max_pool;
}

template <typename T>
std::span<const T> Network<T>::layer_output(int layer) const {
  assert(!(forward_only_ && layer < 0) && "a forward_only forward kept no input");
  int width = layer < 0 ? architecture_.input.size() : architecture_.layers[layer].output.size();
  return {data(activation_offsets_[layer + 1]), static_cast<size_t>(current_batch_) * width};
}

template <typename T>
std::span<const T> Network<T>::forward(std::span<const T> input, int batch,
                                       const ForwardOptions<T>& options) {
  const bool from_first_output = !options.first_layer_output.empty();
  assert(from_first_output || input.size() >= static_cast<size_t>(batch) * architecture_.input.size());
  // A caller may pass this network's own parameters(); a larger batch grows (moves) the arena under them.
  const bool own_parameters = options.parameters.empty() || options.parameters.data() == parameters().data();
  reserve_batch(batch);
  current_batch_ = batch;
  forward_parameters_ = own_parameters ? parameters() : options.parameters;
  forward_activation_quantization_ = options.activation_quantization;
  forward_only_ = options.forward_only;
  if constexpr (!std::is_same_v<T, float>) {
    assert(!options.activation_quantization && "activation fake-quantization runs in float networks only");
  }

  const KernelTable& k = *kernels_;
  const auto& layers = architecture_.layers;
  // Given the first weighted layer's output, the layers up to it (flatten, by the caller's word) are
  // skipped.
  const int first = from_first_output ? first_weighted_layer_ + 1 : 0;
  const T* network_input = input.data();
  if (from_first_output) {
    const size_t size = size_t(batch) * layers[first_weighted_layer_].output.size();
    assert(options.first_layer_output.size() >= size);
    std::copy_n(options.first_layer_output.begin(), size, data(activation_offsets_[first]));
  } else if (!options.forward_only) {  // backward reads the first layer's input from the arena
    std::copy(input.begin(), input.begin() + size_t(batch) * architecture_.input.size(),
              data(activation_offsets_[0]));
    network_input = data(activation_offsets_[0]);
  }
  for (int i = first; i < static_cast<int>(layers.size()); ++i) {
    const LayerSpec& layer = layers[i];
    const T* in = i == 0 ? network_input : data(activation_offsets_[i]);
    T* out = data(activation_offsets_[i + 1]);
    const int in_size = batch * layer.input.size();
    if (relu_runs_with_conv(i)) continue;  // the convolution before it wrote its output
    LayerCall<T> call{k, layer, batch};
    if (i + 1 < static_cast<int>(layers.size()) && relu_runs_with_conv(i + 1)) {
      call.relu_output = data(activation_offsets_[i + 2]);
    }
    if (layer.has_parameters()) {
      std::span<const T> in_span(in, in_size);
      if (options.observe_layer_input && i != first_weighted_layer_) options.observe_layer_input(i, in_span);
      if (quantizes_input_of(i)) {
        if constexpr (std::is_same_v<T, float>) {
          T* quantized = data(quantized_input_offsets_[i]);
          std::copy(in, in + in_size, quantized);
          fake_quantize_activations(std::span<float>(quantized, in_size),
                                    *options.activation_quantization->input_grids[i]);
          in = quantized;
        }
      }
      call.weight = forward_parameters_.data() + parameter_tensors_[first_parameter_of_layer_[i]].offset;
      call.bias = forward_parameters_.data() + parameter_tensors_[first_parameter_of_layer_[i] + 1].offset;
      call.input_columns = data(input_columns_offsets_[i]);
      call.columns = data(scratch_offset_);
    }
    layer_ops<T>(layer.kind).forward(call, {in, out});
  }
  return {data(activation_offsets_[layers.size()]), static_cast<size_t>(batch) * classes()};
}

template <typename T>
T Network<T>::loss(std::span<const int32_t> labels) {
  assert(labels.size() >= static_cast<size_t>(current_batch_));
  return softmax_cross_entropy_forward(current_batch_, classes(), data(activation_offsets_.back()),
                                       labels.data(), data(probabilities_offset_));
}

template <typename T>
void Network<T>::backward(std::span<const int32_t> labels, const BackwardOptions<T>& options) {
  assert(!forward_only_ && "backward needs a forward that kept its input (ForwardOptions::forward_only)");
  const KernelTable& k = *kernels_;
  const int batch = current_batch_;
  const auto& layers = architecture_.layers;
  T* grad_out = data(gradient_ping_offset_);
  T* grad_in = data(gradient_pong_offset_);
  if (options.logits_gradient.empty()) {
    softmax_cross_entropy_backward(batch, classes(), data(probabilities_offset_), labels.data(), grad_out);
  } else {
    assert(options.logits_gradient.size() >= size_t(batch) * classes());
    std::copy_n(options.logits_gradient.begin(), size_t(batch) * classes(), grad_out);
  }
  std::span<T> all_gradients = gradients();
  const bool wants_input_gradient = !options.input_gradient.empty();

  for (int i = static_cast<int>(layers.size()) - 1; i >= 0; --i) {
    const LayerSpec& layer = layers[i];
    const T* in = data(activation_offsets_[i]);
    const T* out = data(activation_offsets_[i + 1]);
    const int in_size = batch * layer.input.size();
    const int out_size = batch * layer.output.size();
    const bool needs_input_grad = i > 0 || wants_input_gradient;
    if (relu_runs_with_pool(i, options)) continue;  // the pool after it folded it in; grad_out is its input's
    if (options.at_layer_output) options.at_layer_output(i, std::span<T>(grad_out, out_size));
    LayerCall<T> call{k, layer, batch};
    call.relu_before = i > 0 && relu_runs_with_pool(i - 1, options);
    BackwardTensors<T> tensors{in, out, grad_out, nullptr, nullptr, needs_input_grad ? grad_in : nullptr};
    const bool quantized_input = quantizes_input_of(i);
    if (layer.has_parameters()) {
      const ParameterTensor& w = parameter_tensors_[first_parameter_of_layer_[i]];
      const ParameterTensor& b = parameter_tensors_[first_parameter_of_layer_[i] + 1];
      call.weight = forward_parameters_.data() + w.offset;
      call.input_columns = data(input_columns_offsets_[i]);
      call.columns = data(scratch_offset_);
      if (quantized_input) tensors.input = data(quantized_input_offsets_[i]);
      tensors.weight_gradient = all_gradients.data() + w.offset;
      tensors.bias_gradient = all_gradients.data() + b.offset;
    }
    layer_ops<T>(layer.kind).backward(call, tensors);
    if (quantized_input && needs_input_grad) {
      if constexpr (std::is_same_v<T, float>) {
        activation_straight_through_backward(std::span<const float>(in, in_size),
                                             *forward_activation_quantization_->input_grids[i],
                                             std::span<float>(grad_in, in_size));
      }
    }
    std::swap(grad_out, grad_in);
  }
  if (wants_input_gradient) {
    const size_t input_size = size_t(batch) * architecture_.input.size();
    assert(options.input_gradient.size() >= input_size);
    std::copy_n(grad_out, input_size, options.input_gradient.begin());
  }
}

template class Network<float>;
template class Network<double>;

}  // namespace qplay

// A Network is an Architecture plus one arena that holds everything the model owns:
//
//   arena = [ parameters | gradients | optimizer slots | activations (with each convolution's im2col
//             columns, kept from forward for backward) | activation gradients | scratch ]
//
// described by a table of parameter tensors, so snapshots, quantized views, save/load and the JS
// API's weight arrays are spans into it. Parameter names follow torch.nn.Sequential's
// state_dict ("3.weight" is the weight of layer 3), which makes cross-checks with PyTorch direct.
//
// Spans into the arena stay valid until it grows: a forward with a larger batch than any before,
// or a change of the optimizer slot count. Fetch them again after either.
//
// Forward can run on the network's own parameters or on any other vector of the same layout (a
// quantized view), and can fake-quantize the input of every weighted layer but the first (the
// activations that an integer accelerator would hold in b bits). Backward then differentiates the
// forward that actually ran, with the clipped straight-through estimator at those points.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/engine/kernels/kernel_table.h"
#include "core/engine/nn/architecture.h"
#include "core/engine/quant/quantizer.h"

namespace qplay {

struct ParameterTensor {
  std::string name;  // "0.weight", "0.bias", ... (torch.nn.Sequential convention)
  int layer = 0;     // index into Architecture::layers
  bool is_weight = true;
  int rows = 0;       // output channels (the per-channel quantization axis)
  int columns = 1;    // elements per output channel (1 for a bias)
  size_t offset = 0;  // into parameters(), gradients() and every optimizer slot
  size_t size() const { return static_cast<size_t>(rows) * columns; }
  std::vector<int> shape() const {
    return is_weight ? std::vector<int>{rows, columns} : std::vector<int>{rows};
  }
};

// Fake-quantization of layer inputs during forward (float networks only).
struct ActivationQuantization {
  // grids[i] quantizes the input of layer i (only weighted layers other than the first use it).
  std::vector<std::optional<QuantGrid>> input_grids;
};

template <typename T>
struct ForwardOptions {
  std::span<const T> parameters;  // empty: the network's own; else a view with the same layout
  const ActivationQuantization* activation_quantization = nullptr;
  // Called with the (unquantized) input of every weighted layer but the first, before that input is
  // quantized: range calibration, and QAT updating the layer's grid for the batch at hand.
  std::function<void(int layer, std::span<const T> input)> observe_layer_input;
  // No backward follows (evaluation, inference): the input is read where it lies rather than copied into
  // the arena for backward (4% of W1 inference). backward() and layer_output(-1) then need a new forward.
  bool forward_only = false;
  // Non-empty: the first weighted layer's output for this batch ([batch, its output size]), computed
  // by the caller from the input (deploy/byte_input_layer.h: a dense first layer on byte inputs, in
  // integers, after nothing but flatten); forward starts after that layer and reads no input.
  std::span<const T> first_layer_output;
};

template <typename T>
struct BackwardOptions {
  // Empty: start from the gradient of the mean cross-entropy of the last loss(). Otherwise start from
  // this gradient w.r.t. the logits ([batch, classes]) instead: penalties on the outputs.
  std::span<const T> logits_gradient;
  // Called with the gradient w.r.t. the output of layer i ([batch, output size of i]) before it flows
  // into layer i, last layer first: a penalty on a layer's features adds its gradient here, and
  // gradient-ℓ1 records the activation gradients.
  std::function<void(int layer, std::span<T> output_gradient)> at_layer_output;
  // Non-empty: also the gradient w.r.t. the network input ([batch, input size]; FGSM).
  std::span<T> input_gradient;
};

template <typename T>
class Network {
 public:
  Network(Architecture architecture, std::shared_ptr<const KernelTable> kernels);

  const Architecture& architecture() const { return architecture_; }
  const std::vector<ParameterTensor>& parameter_tensors() const { return parameter_tensors_; }
  const KernelTable& kernels() const { return *kernels_; }
  void set_kernels(std::shared_ptr<const KernelTable> kernels) { kernels_ = std::move(kernels); }
  size_t parameter_count() const { return parameter_count_; }
  // The first layer with parameters (-1: none); its input is the network input, which carries no tangent
  // and is never fake-quantized.
  int first_weighted_layer() const { return first_weighted_layer_; }

  // He-uniform weights for ReLU networks, Glorot-uniform otherwise; zero biases; from the seed alone.
  void initialize(uint64_t seed);

  std::span<T> parameters() { return {arena_.data(), parameter_count_}; }
  std::span<const T> parameters() const { return {arena_.data(), parameter_count_}; }
  std::span<T> gradients() { return {arena_.data() + parameter_count_, parameter_count_}; }
  std::span<const T> gradients() const { return {arena_.data() + parameter_count_, parameter_count_}; }
  std::span<T> tensor(std::span<T> all, const ParameterTensor& t) const {
    return all.subspan(t.offset, t.size());
  }
  std::span<const T> tensor(std::span<const T> all, const ParameterTensor& t) const {
    return all.subspan(t.offset, t.size());
  }

  // Optimizer state lives in the arena too: slot s is parameter_count() values, zero-initialised.
  void set_optimizer_slot_count(int slots);
  std::span<T> optimizer_slot(int slot);

  // input[batch, input.size()] -> logits[batch, num_classes]. Grows the activation arena on demand.
  std::span<const T> forward(std::span<const T> input, int batch, const ForwardOptions<T>& options = {});
  // Mean softmax cross-entropy of the last forward's logits; keeps the probabilities for backward.
  T loss(std::span<const int32_t> labels);
  // Gradients of the mean loss of the last forward + loss into gradients() (overwritten).
  void backward(std::span<const int32_t> labels, const BackwardOptions<T>& options = {});

  std::span<const T> probabilities() const {
    return {data(probabilities_offset_), static_cast<size_t>(current_batch_) * classes()};
  }
  // Output of layer i for the last forward ([batch, layer.output.size()]); i = -1 is the input.
  std::span<const T> layer_output(int layer) const;
  // The most samples one forward may take (kMaxBatchValues of buffers); evaluation chunks stay within it.
  int largest_batch() const;
  size_t arena_bytes() const { return arena_.size() * sizeof(T); }

 private:
  int classes() const { return architecture_.num_classes; }
  T* data(size_t offset) { return arena_.data() + offset; }
  const T* data(size_t offset) const { return arena_.data() + offset; }
  void reserve_batch(int batch);
  void layout_activations();
  bool quantizes_input_of(int layer) const;
  // Layer pairs that run as one step (LayerCall::relu_output, ::relu_before), so a ReLU makes no pass of
  // its own over a CNN's activations: a conv2d's forward runs the ReLU after it, and a max-pool's
  // backward the ReLU before it (not when the caller watches each layer's output gradient).
  bool relu_runs_with_conv(int relu_layer) const;
  bool relu_runs_with_pool(int relu_layer, const BackwardOptions<T>& options) const;

  Architecture architecture_;
  std::shared_ptr<const KernelTable> kernels_;
  std::vector<ParameterTensor> parameter_tensors_;
  std::vector<int> first_parameter_of_layer_;  // index into parameter_tensors_ or -1
  int first_weighted_layer_ = -1;
  size_t parameter_count_ = 0;
  int optimizer_slots_ = 0;
  int batch_capacity_ = 0;
  int current_batch_ = 0;

  // Offsets of per-batch buffers (valid for batch_capacity_ samples).
  std::vector<size_t> activation_offsets_;       // [layers + 1]; 0 is the input copy
  std::vector<size_t> quantized_input_offsets_;  // [layers]; used when the input of layer i is quantized
  std::vector<size_t> input_columns_offsets_;    // [layers]; conv2d layers: im2col of their input
  size_t gradient_ping_offset_ = 0, gradient_pong_offset_ = 0, probabilities_offset_ = 0, scratch_offset_ = 0;

  // What the last forward ran on, so backward differentiates exactly that.
  std::span<const T> forward_parameters_;
  const ActivationQuantization* forward_activation_quantization_ = nullptr;
  bool forward_only_ = false;  // the input was not copied into the arena

  std::vector<T> arena_;
};

extern template class Network<float>;
extern template class Network<double>;

}  // namespace qplay

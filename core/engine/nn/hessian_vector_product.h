// The exact Hessian-vector product of a network's mean softmax cross-entropy, by Pearlmutter's
// R-operator (forward-over-reverse): a tangent on the weights (and, optionally, on the inputs of the
// weighted layers) is pushed forward through every layer's tangent forward (nn/layer_ops.h), then back
// through every layer's tangent backward, giving R{∇_θ L} = H·v. Cost: about one more forward and two
// more backward GEMMs per layer than a plain gradient. ReLU states and max-pool argmaxes are held fixed
// (the product is exact almost everywhere; smooth activations make it exact everywhere).
//
// Users: gradient-ℓ1's penalty gradient (methods/gradient_l1.h, which adds activation tangents) and the
// per-layer Hessian trace behind bit allocation (train/hessian_trace.h). Not for: finite-difference
// approximations (gradient-ℓ1 labels its own) or Hessians of anything but the mean cross-entropy.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "core/engine/nn/network.h"

namespace qplay {

// One R-operator pass at a time over one batch; keeps its buffers between calls (one per network).
template <typename T>
class TangentPass {
 public:
  // After network.forward(batch) and network.loss(labels) on the network's own parameters: runs backward
  // (network.gradients() = ∇L of the batch) and records the gradient at every layer output.
  void backward_recording(Network<T>& network, std::span<const int32_t> labels);
  // ∂L/∂(output of layer) [batch, output size] from the last backward_recording.
  std::span<const T> output_gradient(int layer) const { return output_gradients_[layer]; }

  // R{∇_θ L} [parameter_count()] along weight_tangent (the parameters' layout; the entries of biases
  // are ignored: biases carry no tangent) plus, when add_input_tangent is given, the tangents it adds to
  // the input of every weighted layer but the first (called with the layer and R{x}, initially the
  // tangent the layers before brought). Needs backward_recording of the same batch first. The span is
  // valid until the next call.
  std::span<const T> gradient_tangent(
      Network<T>& network, std::span<const T> weight_tangent, int batch,
      const std::function<void(int layer, std::span<T> input_tangent)>& add_input_tangent = {});

 private:
  void push_tangent_forward(Network<T>& network, std::span<const T> weight_tangent, int batch,
                            const std::function<void(int, std::span<T>)>& add_input_tangent);
  void pull_tangent_backward(Network<T>& network, std::span<const T> weight_tangent, int batch);

  std::vector<std::vector<T>> output_gradients_;  // [layer] dL/d(output of layer), recorded in backward
  std::vector<std::vector<T>> tangent_outputs_;   // [layer + 1] R{output of layer}; [0] is the input (zero)
  std::vector<std::vector<T>> tangent_inputs_;    // [layer] R{input of a weighted layer}, additions included
  std::vector<T> gradient_tangent_;               // R{∇_θ L}
  std::vector<T> tangent_gradient_, tangent_gradient_next_, columns_;
};

extern template class TangentPass<float>;
extern template class TangentPass<double>;

// out = H·v for the mean cross-entropy of features[batch, input size] against labels at the network's
// own parameters, H the Hessian w.r.t. the weights (v's bias entries are ignored; out's bias entries
// get the mixed block ∂²L/∂b∂W·v). v and out are [parameter_count()]. Overwrites network.gradients()
// with ∇L of the batch. pass keeps the buffers (one per network; a fresh one works too).
template <typename T>
void hessian_vector_product(Network<T>& network, std::span<const T> features, std::span<const int32_t> labels,
                            int batch, std::span<const T> v, std::span<T> out, TangentPass<T>& pass);

}  // namespace qplay

// The one place a layer kind is looked up. layer_ops<T>(kind) returns that kind's functions: forward,
// backward, the R-operator's tangent forward and backward, and the int8 forward. It is a switch
// without `default` (layer_ops.cpp), so -Wswitch names a LayerKind that was added but not wired up.
// Network (nn/network.cpp), gradient-ℓ1 (methods/gradient_l1.cpp) and real int8 inference
// (deploy/int8_inference.cpp) reach layers only through it.
//
// The functions live by kind, all of a kind's side by side: layer_dense.h, layer_conv.h,
// layer_max_pool.h and layer_elementwise.h (flatten, relu, tanh, softplus). Each kind's plain
// functions keep their own signatures (tests call them directly); the entries of the table adapt
// them to one signature per concern: a LayerCall (kernels, shapes, parameters, scratch) and a small
// struct of the tensors that concern reads and writes. A kind ignores what it does not use.
//
// Shapes: B is the batch, `in` and `out` the per-sample sizes of LayerSpec::input and ::output
// (NHWC); weights are [O, I] (dense) or [O, k*k*C] (conv2d, patch order ky, kx, c).
#pragma once

#include <cstddef>

#include "core/engine/kernels/kernel_table.h"
#include "core/engine/nn/architecture.h"
#include "core/engine/nn/int8_op.h"

namespace qplay {

// What a layer sees of one batch besides the tensors flowing through it.
template <typename T>
struct LayerCall {
  const KernelTable& kernels;
  const LayerSpec& layer;
  int batch = 0;
  const T* weight = nullptr;  // weighted layers: the parameters the forward runs on
  const T* bias = nullptr;    // [O]
  // conv2d: im2col of its input, [B*Ho*Wo, k*k*C] (layer_scratch_values). Forward writes it and backward
  // reads it for the weight gradient, so backward does not lower the input a second time.
  T* input_columns = nullptr;
  T* columns = nullptr;  // conv2d's scratch of the same size: the input gradient's columns, the tangents'
  // A ReLU next to this layer that runs in this layer's step (Network decides; the ReLU layer's own call
  // is then skipped), so its pass over the activations is not a pass of its own:
  T* relu_output = nullptr;  // conv2d forward: also relu(output) here [B, out], pass by pass, while in cache
  bool relu_before = false;  // max_pool backward: the input is a ReLU's output; hand back ∂L/∂(its input)
};

template <typename T>
struct ForwardTensors {
  const T* input;  // x [B, in]
  T* output;       // y [B, out]
};

// Backward passes OVERWRITE what they write; callers that add regularizer gradients do so afterwards.
template <typename T>
struct BackwardTensors {
  const T* input;            // x [B, in] as the forward read it (its quantized copy, if it was quantized)
  const T* output;           // y [B, out]
  const T* output_gradient;  // ∂L/∂y [B, out]
  T* weight_gradient;        // ∂L/∂W (weighted layers)
  T* bias_gradient;          // ∂L/∂b [O] (weighted layers)
  T* input_gradient;  // ∂L/∂x [B, in]; null: not wanted (a layer without parameters then does nothing)
};

// The R-operator (Pearlmutter 1994): R{v} is the derivative of v along a direction (a tangent) of the
// weights and of the layer inputs, pushed forward through the forward pass and then back through the
// backward pass; R{∂L/∂θ} is the Hessian-vector product. Biases carry no tangent. Activations and
// max-pool are differentiated with their branch (ReLU state, argmax) held fixed.
template <typename T>
struct TangentForwardTensors {
  const T* input;           // x [B, in]
  const T* output;          // y [B, out]
  const T* input_tangent;   // R{x} [B, in]; null for a weighted layer: its input does not move (R{x} = 0)
  const T* weight_tangent;  // R{W} (weighted layers)
  T* output_tangent;        // R{y} [B, out]
};

template <typename T>
struct TangentBackwardTensors {
  const T* input;                    // x [B, in]
  const T* output;                   // y [B, out]
  const T* input_tangent;            // R{x}; null for a weighted layer whose input does not move
  const T* output_tangent;           // R{y}
  const T* weight_tangent;           // R{W} (weighted layers)
  const T* output_gradient;          // δ = ∂L/∂y [B, out]
  const T* output_gradient_tangent;  // R{δ} [B, out]
  T* weight_gradient_tangent;        // R{∂L/∂W} (weighted layers)
  T* bias_gradient_tangent;          // R{∂L/∂b} [O] (weighted layers)
  T* input_gradient_tangent;         // R{∂L/∂x} [B, in]; null: not wanted (as input_gradient)
};

template <typename T>
struct LayerOps {
  void (*forward)(const LayerCall<T>& call, const ForwardTensors<T>& tensors);
  void (*backward)(const LayerCall<T>& call, const BackwardTensors<T>& tensors);
  void (*tangent_forward)(const LayerCall<T>& call, const TangentForwardTensors<T>& tensors);
  void (*tangent_backward)(const LayerCall<T>& call, const TangentBackwardTensors<T>& tensors);
  // The same in the float and the double table. Null where int8 inference has no op of this kind:
  // ReLU is the clamp of the op before it, flatten is free on NHWC rows, and tanh and softplus have no
  // int8 form (build_int8_model refuses them).
  void (*int8_forward)(const Int8Op& op, int batch, const Int8Tensors& tensors);
};

// The functions of a layer kind (the one dispatch; the tables are constants).
template <typename T>
const LayerOps<T>& layer_ops(LayerKind kind);

// The convolution (or pooling window) geometry of a conv2d or max-pool layer over a batch.
ConvGeometry layer_geometry(const LayerSpec& layer, int batch);

// Values a layer needs in LayerCall::columns, and again in ::input_columns, for a batch (conv2d's im2col
// matrix; 0 for others).
size_t layer_scratch_values(const LayerSpec& layer, int batch);

extern template const LayerOps<float>& layer_ops<float>(LayerKind kind);
extern template const LayerOps<double>& layer_ops<double>(LayerKind kind);

}  // namespace qplay

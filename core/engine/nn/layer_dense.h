// The dense (fully connected) layer, all its functions side by side:
//   input[B, I], weight[O, I], bias[O] -> output[B, O] = input·weightᵀ + bias
// forward and backward (templated on float/double: float runs the chosen KernelTable, double the
// reference templates), the R-operator's tangent forward and backward (layer_ops.h says what R{} is),
// and the int8 forward. Forward keeps nothing for backward beyond its input.
#pragma once

#include "core/engine/nn/layer_ops.h"

namespace qplay {

template <typename T>
void dense_forward(const KernelTable& kernels, int batch, int inputs, int outputs, const T* input,
                   const T* weight, const T* bias, T* output);

// output_grad[B, O] -> weight_grad[O, I] = output_gradᵀ·input, bias_grad[O] = Σ_B output_grad,
// input_grad[B, I] = output_grad·weight (skipped when input_grad is null: the first layer). Overwrites.
template <typename T>
void dense_backward(const KernelTable& kernels, int batch, int inputs, int outputs, const T* input,
                    const T* weight, const T* output_grad, T* weight_grad, T* bias_grad, T* input_grad);

// R{output}[B, O] = R{input}·Wᵀ + input·R{W}ᵀ; input_tangent null: R{input} = 0.
template <typename T>
void dense_tangent_forward(const KernelTable& kernels, int batch, int inputs, int outputs, const T* input,
                           const T* weight, const T* input_tangent, const T* weight_tangent,
                           T* output_tangent);

// Backward is ∇W = δᵀx, ∇b = Σδ, ∇x = δW, so R{∇W}[O, I] = R{δ}ᵀx + δᵀR{x}, R{∇b}[O] = ΣR{δ} and
// R{∇x}[B, I] = R{δ}W + δR{W} (skipped when input_grad_tangent is null); input_tangent null: R{x} = 0.
template <typename T>
void dense_tangent_backward(const KernelTable& kernels, int batch, int inputs, int outputs, const T* input,
                            const T* weight, const T* input_tangent, const T* weight_tangent,
                            const T* output_grad, const T* output_grad_tangent, T* weight_grad_tangent,
                            T* bias_grad_tangent, T* input_grad_tangent);

// codes[B, I] -> codes[B, O] (or float logits for the last layer): int32 sums, one requantization.
void int8_dense_forward(const Int8Op& op, int batch, const Int8Tensors& tensors);

template <typename T>
const LayerOps<T>& dense_layer_ops();

}  // namespace qplay

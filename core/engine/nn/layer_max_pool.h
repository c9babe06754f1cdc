// The max-pool layer (no padding), all its functions side by side:
//   input[B, H, W, C] -> output[B, Ho, Wo, C], window k, stride s
// forward and backward (templated on float/double; float through the kernel table), the R-operator's
// tangent forward and backward with the argmax held fixed (layer_ops.h says what R{} is), and the int8
// forward. Backward finds each window's argmax by comparing the input with the forward's output.
#pragma once

#include "core/engine/nn/layer_ops.h"

namespace qplay {

template <typename T>
void max_pool_forward(const KernelTable& kernels, const ConvGeometry& g, const T* input, T* output);

// output_grad[B, Ho, Wo, C] -> input_grad[B, H, W, C] (overwritten): each window's gradient goes to
// the element its maximum (output, the forward's) came from, the first one on ties
// (MaxPoolBackwardFunction in kernel_table.h has the exact rule). relu_before: input is a ReLU's
// output, and input_grad becomes the gradient w.r.t. that ReLU's input (its backward folded in).
template <typename T>
void max_pool_backward(const KernelTable& kernels, const ConvGeometry& g, const T* input, const T* output,
                       const T* output_grad, T* input_grad, bool relu_before);

// R{output}[B, Ho, Wo, C]: each window passes on the tangent of its first maximum (the element
// max_pool_backward hands the gradient to). The tangent backward is max_pool_backward of R{δ}: with
// the argmax fixed the layer is linear.
template <typename T>
void max_pool_tangent_forward(const ConvGeometry& g, const T* input, const T* input_tangent,
                              T* output_tangent);

// Max of codes is the code of the max: the quantizer is monotone, so max-pool runs on the codes.
void int8_max_pool_forward(const Int8Op& op, int batch, const Int8Tensors& tensors);

template <typename T>
const LayerOps<T>& max_pool_layer_ops();

}  // namespace qplay

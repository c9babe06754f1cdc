// The 2-D convolution layer (im2col + GEMM, NHWC), all its functions side by side:
//   input[B, H, W, C], weight[O, k*k*C] (patch order ky, kx, c), bias[O] -> output[B, Ho, Wo, O]
// forward and backward (templated on float/double), the R-operator's tangent forward and backward
// (layer_ops.h says what R{} is), and the int8 forward. Forward leaves im2col(input) [B*Ho*Wo, k*k*C]
// in input_columns and backward reads it there for the weight gradient (the second im2col of every
// step was 7-10% of CNN training); columns is scratch of the same size. Forward and the input gradient
// run a few images at a time when the batch's columns exceed 2 MiB (layer_conv.cpp says why), with the
// same results as one pass; a ReLU after the convolution runs on each pass's output while it is in L2. A
// one-channel 3x3 convolution (a CNN's first layer) runs the table's direct convolution in forward where it
// has one (kernel_table.h), with the same bits and no columns; backward then lowers the input itself.
#pragma once

#include "core/engine/nn/layer_ops.h"

namespace qplay {

// input_columns receives im2col(input), which conv2d_backward reads. relu_output (if not null) also
// receives relu(output) [B, Ho, Wo, O]: the ReLU after the convolution, run on each pass's rows
// right after they are computed (the same values as a ReLU pass over the whole output).
template <typename T>
void conv2d_forward(const KernelTable& kernels, const ConvGeometry& geometry, int outputs, const T* input,
                    const T* weight, const T* bias, T* output, T* input_columns, T* relu_output);

// output_grad[B, Ho, Wo, O] -> weight_grad[O, k*k*C], bias_grad[O], input_grad[B, H, W, C] (if not null).
// Overwrites. input_columns: im2col(input) as conv2d_forward left it, or written here from input when
// forward ran the direct convolution; columns: scratch.
template <typename T>
void conv2d_backward(const KernelTable& kernels, const ConvGeometry& geometry, int outputs, const T* input,
                     T* input_columns, const T* weight, const T* output_grad, T* weight_grad, T* bias_grad,
                     T* input_grad, T* columns);

// R{output} = conv(R{input}, W) + conv(input, R{W}); input_tangent null: R{input} = 0.
template <typename T>
void conv2d_tangent_forward(const KernelTable& kernels, const ConvGeometry& geometry, int outputs,
                            const T* input, const T* weight, const T* input_tangent, const T* weight_tangent,
                            T* output_tangent, T* columns);

// The dense layer's formulas over im2col rows: R{∇W} = R{δ}ᵀcols(x) + δᵀcols(R{x}), R{∇b} = ΣR{δ},
// R{∇x} = col2im(R{δ}W + δR{W}) (skipped when input_grad_tangent is null); input_tangent null: R{x} = 0.
template <typename T>
void conv2d_tangent_backward(const KernelTable& kernels, const ConvGeometry& geometry, int outputs,
                             const T* input, const T* weight, const T* input_tangent, const T* weight_tangent,
                             const T* output_grad, const T* output_grad_tangent, T* weight_grad_tangent,
                             T* bias_grad_tangent, T* input_grad_tangent, T* columns);

// codes[B, H, W, C] -> codes[B, Ho, Wo, O]: int8 im2col (padding reads the zero point, as XNNPACK
// pads), int32 sums, one requantization.
void int8_conv2d_forward(const Int8Op& op, int batch, const Int8Tensors& tensors);

template <typename T>
const LayerOps<T>& conv2d_layer_ops();

}  // namespace qplay

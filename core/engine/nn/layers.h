// Every layer of a network, and the loss it ends in. Each layer kind's functions (forward, backward,
// the R-operator's tangent forward and backward, the int8 forward) live side by side in its own file,
// templated on the scalar type (float for training, double for gradient checks):
//   layer_dense.h        dense (fully connected)
//   layer_conv.h         conv2d (im2col + GEMM)
//   layer_max_pool.h     max-pool
//   layer_elementwise.h  flatten, relu, tanh, softplus
// and layer_ops.h is the one dispatch over LayerKind that the network, gradient-ℓ1 and int8 inference
// call. This header gathers them and adds the softmax cross-entropy. Shapes are in the comments;
// activation tensors are NHWC, B is the batch.
//
// What forward keeps for backward: its input and output buffers, and each convolution's im2col
// columns. Activation backward passes need only their forward OUTPUT, max-pool finds its argmax by
// comparing its input with its output. Backward passes OVERWRITE parameter gradients and input
// gradients; callers that add regularizer gradients do so afterwards.
#pragma once

#include <algorithm>
#include <cstdint>

#include "core/engine/base/deterministic_math.h"
#include "core/engine/nn/layer_conv.h"
#include "core/engine/nn/layer_dense.h"
#include "core/engine/nn/layer_elementwise.h"
#include "core/engine/nn/layer_max_pool.h"
#include "core/engine/nn/layer_ops.h"

namespace qplay {

// ---- softmax cross-entropy -------------------------------------------------------------------
// logits[B, K], labels[B] -> probabilities[B, K]; returns the mean loss over the batch.
template <typename T>
T softmax_cross_entropy_forward(int batch, int classes, const T* logits, const int32_t* labels,
                                T* probabilities) {
  T total = 0;
  for (int b = 0; b < batch; ++b) {
    const T* z = logits + static_cast<size_t>(b) * classes;
    T* p = probabilities + static_cast<size_t>(b) * classes;
    T max_logit = *std::max_element(z, z + classes);
    T sum = 0;
    for (int k = 0; k < classes; ++k) sum += (p[k] = portable_exp(z[k] - max_logit));
    for (int k = 0; k < classes; ++k) p[k] /= sum;
    total += portable_log(sum) + max_logit - z[labels[b]];
  }
  return total / batch;
}

// logits_grad[B, K] = (probabilities - onehot(labels)) / B: the gradient of the MEAN loss.
template <typename T>
void softmax_cross_entropy_backward(int batch, int classes, const T* probabilities, const int32_t* labels,
                                    T* logits_grad) {
  const T inverse_batch = T(1) / batch;
  for (int b = 0; b < batch; ++b) {
    const T* p = probabilities + static_cast<size_t>(b) * classes;
    T* g = logits_grad + static_cast<size_t>(b) * classes;
    for (int k = 0; k < classes; ++k) g[k] = (p[k] - (k == labels[b] ? T(1) : T(0))) * inverse_batch;
  }
}

// The R-operator of the backward above: ∇_z L = (p - onehot)/B, so along a logits tangent R{z}[B, K]
// R{∇_z L} = (p ⊙ R{z} - p·(pᵀR{z}))/B per row; the labels drop out.
template <typename T>
void softmax_cross_entropy_tangent_backward(int batch, int classes, const T* probabilities,
                                            const T* logits_tangent, T* logits_grad_tangent) {
  for (int b = 0; b < batch; ++b) {
    const T* p = probabilities + static_cast<size_t>(b) * classes;
    const T* rz = logits_tangent + static_cast<size_t>(b) * classes;
    T dot = 0;
    for (int k = 0; k < classes; ++k) dot += p[k] * rz[k];
    T* out = logits_grad_tangent + static_cast<size_t>(b) * classes;
    for (int k = 0; k < classes; ++k) out[k] = p[k] * (rz[k] - dot) / T(batch);
  }
}

}  // namespace qplay

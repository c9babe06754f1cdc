// Every layer as a forward/backward pair of free functions over flat row-major buffers, templated
// on the scalar type (float for training, double for gradient checks). Shapes are in the comments;
// activation tensors are NHWC, B is the batch.
//
// What forward keeps for backward: nothing beyond its input and output buffers. Activation
// backward passes need only their forward OUTPUT (relu: y > 0, tanh: 1 - y², softplus: 1 - e^-y),
// max-pool recomputes its argmax from the input, conv recomputes im2col.
// Backward passes OVERWRITE parameter gradients and input gradients; callers that add
// regularizer gradients do so afterwards.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/engine/base/deterministic_math.h"
#include "core/engine/nn/linear_algebra.h"

namespace qplay {

// ---- dense -----------------------------------------------------------------------------------
// input[B, I], weight[O, I], bias[O] -> output[B, O] = input·weightᵀ + bias
template <typename T>
void dense_forward(const KernelTable& kernels, int batch, int inputs, int outputs, const T* input,
                   const T* weight, const T* bias, T* output) {
  linear_algebra::gemm(kernels, Transpose::no, Transpose::yes, batch, outputs, inputs, input, inputs, weight,
                       inputs, output, outputs, false);
  linear_algebra::add_bias(kernels, batch, outputs, bias, output);
}

// output_grad[B, O] -> weight_grad[O, I] = output_gradᵀ·input, bias_grad[O] = Σ_B output_grad,
// input_grad[B, I] = output_grad·weight (skipped when input_grad is null: the first layer).
template <typename T>
void dense_backward(const KernelTable& kernels, int batch, int inputs, int outputs, const T* input,
                    const T* weight, const T* output_grad, T* weight_grad, T* bias_grad, T* input_grad) {
  linear_algebra::gemm(kernels, Transpose::yes, Transpose::no, outputs, inputs, batch, output_grad, outputs,
                       input, inputs, weight_grad, inputs, false);
  linear_algebra::sum_rows(kernels, batch, outputs, output_grad, bias_grad, false);
  if (input_grad) {
    linear_algebra::gemm(kernels, Transpose::no, Transpose::no, batch, inputs, outputs, output_grad, outputs,
                         weight, inputs, input_grad, inputs, false);
  }
}

// ---- conv2d (im2col + GEMM) ------------------------------------------------------------------
// input[B, H, W, C], weight[O, k*k*C] (patch order ky, kx, c), bias[O] -> output[B, Ho, Wo, O].
// columns is scratch of [B*Ho*Wo, k*k*C].
template <typename T>
void conv2d_forward(const KernelTable& kernels, const ConvGeometry& geometry, int outputs, const T* input,
                    const T* weight, const T* bias, T* output, T* columns) {
  const int patches = geometry.patch_count(), patch_size = geometry.patch_size();
  linear_algebra::im2col(kernels, geometry, input, columns);
  linear_algebra::gemm(kernels, Transpose::no, Transpose::yes, patches, outputs, patch_size, columns, patch_size,
                       weight, patch_size, output, outputs, false);
  linear_algebra::add_bias(kernels, patches, outputs, bias, output);
}

// output_grad[B, Ho, Wo, O] -> weight_grad[O, k*k*C], bias_grad[O], input_grad[B, H, W, C] (if not null).
template <typename T>
void conv2d_backward(const KernelTable& kernels, const ConvGeometry& geometry, int outputs, const T* input,
                     const T* weight, const T* output_grad, T* weight_grad, T* bias_grad, T* input_grad,
                     T* columns) {
  const int patches = geometry.patch_count(), patch_size = geometry.patch_size();
  linear_algebra::im2col(kernels, geometry, input, columns);
  linear_algebra::gemm(kernels, Transpose::yes, Transpose::no, outputs, patch_size, patches, output_grad, outputs,
                       columns, patch_size, weight_grad, patch_size, false);
  linear_algebra::sum_rows(kernels, patches, outputs, output_grad, bias_grad, false);
  if (input_grad) {
    linear_algebra::gemm(kernels, Transpose::no, Transpose::no, patches, patch_size, outputs, output_grad,
                         outputs, weight, patch_size, columns, patch_size, false);
    const size_t input_size =
        static_cast<size_t>(geometry.batch) * geometry.in_height * geometry.in_width * geometry.in_channels;
    std::fill(input_grad, input_grad + input_size, T(0));
    linear_algebra::col2im(kernels, geometry, columns, input_grad);
  }
}

// ---- max-pool (no padding) -------------------------------------------------------------------
// input[B, H, W, C] -> output[B, Ho, Wo, C], window k, stride s.
template <typename T>
void max_pool_forward(const ConvGeometry& g, const T* input, T* output) {
  const int out_h = g.out_height(), out_w = g.out_width(), C = g.in_channels;
  for (int b = 0; b < g.batch; ++b)
    for (int oy = 0; oy < out_h; ++oy)
      for (int ox = 0; ox < out_w; ++ox) {
        T* out = output + ((static_cast<size_t>(b) * out_h + oy) * out_w + ox) * C;
        for (int c = 0; c < C; ++c) out[c] = -INFINITY;
        for (int ky = 0; ky < g.kernel; ++ky)
          for (int kx = 0; kx < g.kernel; ++kx) {
            const T* in = input + ((static_cast<size_t>(b) * g.in_height + oy * g.stride + ky) * g.in_width +
                                   ox * g.stride + kx) * C;
            for (int c = 0; c < C; ++c) out[c] = std::max(out[c], in[c]);
          }
      }
}

// output_grad[B, Ho, Wo, C] -> input_grad[B, H, W, C]: each window's gradient goes to its first
// maximum (the same tie rule the forward max implies), recomputed from the input.
// Branch-free and channel-innermost, so it vectorizes: one pass takes the window's maximum, a second
// hands the gradient to the first element equal to it, as arithmetic on 0/1 flags (GCC keeps a
// select or an && as a branch per element, and which element is bigger is a coin flip: that
// version took 16-29% of CNN training in a profile). The flags multiply the gradient, so an
// infinite gradient spreads NaN over its window; by then the loss is not finite anyway.
template <typename T>
void max_pool_backward(const ConvGeometry& g, const T* input, const T* output_grad, T* input_grad) {
  const int out_h = g.out_height(), out_w = g.out_width(), C = g.in_channels;
  std::fill(input_grad, input_grad + static_cast<size_t>(g.batch) * g.in_height * g.in_width * C, T(0));
  std::vector<T> maximum_storage(C), taken_storage(C);
  T* __restrict maximum = maximum_storage.data();
  T* __restrict taken = taken_storage.data();  // 1 once a channel's gradient has been handed out
  const size_t row_stride = static_cast<size_t>(g.in_width) * C;
  for (int b = 0; b < g.batch; ++b)
    for (int oy = 0; oy < out_h; ++oy)
      for (int ox = 0; ox < out_w; ++ox) {
        const size_t origin = ((static_cast<size_t>(b) * g.in_height + oy * g.stride) * g.in_width + ox * g.stride) * C;
        const T* __restrict grad = output_grad + ((static_cast<size_t>(b) * out_h + oy) * out_w + ox) * C;
        for (int c = 0; c < C; ++c) maximum[c] = input[origin + c];
        for (int ky = 0; ky < g.kernel; ++ky)
          for (int kx = ky == 0 ? 1 : 0; kx < g.kernel; ++kx) {
            const T* __restrict in = input + origin + ky * row_stride + static_cast<size_t>(kx) * C;
            for (int c = 0; c < C; ++c) maximum[c] = in[c] > maximum[c] ? in[c] : maximum[c];
          }
        // The first element wins ties and, when it is NaN (then the maximum stays NaN), everything.
        {
          const T* __restrict in = input + origin;
          T* __restrict out = input_grad + origin;
          for (int c = 0; c < C; ++c) {
            taken[c] = static_cast<T>(!(in[c] < maximum[c]));
            out[c] += taken[c] * grad[c];
          }
        }
        for (int ky = 0; ky < g.kernel; ++ky)
          for (int kx = ky == 0 ? 1 : 0; kx < g.kernel; ++kx) {
            const size_t offset = origin + ky * row_stride + static_cast<size_t>(kx) * C;
            const T* __restrict in = input + offset;
            T* __restrict out = input_grad + offset;
            for (int c = 0; c < C; ++c) {
              const T hit = static_cast<T>(in[c] == maximum[c]) * (T(1) - taken[c]);  // 0 or 1
              out[c] += hit * grad[c];
              taken[c] += hit;
            }
          }
      }
}

// ---- activations (elementwise over n values; in place allowed) -------------------------------
template <typename T>
void relu_forward(const KernelTable& kernels, int n, const T* x, T* y) {
  linear_algebra::relu_forward(kernels, n, x, y);
}
template <typename T>
void relu_backward(const KernelTable& kernels, int n, const T* y, const T* dy, T* dx) {
  linear_algebra::relu_backward(kernels, n, y, dy, dx);
}

template <typename T>
void tanh_forward(int n, const T* x, T* y) {
  for (int i = 0; i < n; ++i) y[i] = portable_tanh(x[i]);
}
template <typename T>
void tanh_backward(int n, const T* y, const T* dy, T* dx) {
  for (int i = 0; i < n; ++i) dx[i] = dy[i] * (T(1) - y[i] * y[i]);
}

// softplus(x) = log(1 + e^x), written to neither overflow for large x nor lose precision for small.
template <typename T>
void softplus_forward(int n, const T* x, T* y) {
  for (int i = 0; i < n; ++i)
    y[i] = x[i] > T(0) ? x[i] + portable_log1p(portable_exp(-x[i])) : portable_log1p(portable_exp(x[i]));
}
// softplus'(x) = sigmoid(x) = 1 - e^{-y}: computable from the output alone.
template <typename T>
void softplus_backward(int n, const T* y, const T* dy, T* dx) {
  for (int i = 0; i < n; ++i) dx[i] = dy[i] * -portable_expm1(-y[i]);
}

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

}  // namespace qplay

// The layers that map each value on its own (over n = B·size values; in place allowed), all their
// functions side by side: flatten (the identity on NHWC rows), relu, tanh and softplus.
//
// Their backward passes need only the forward OUTPUT (relu: y > 0, tanh: 1 - y², softplus:
// 1 - e^-y), so forward keeps nothing else. Their tangent forward (layer_ops.h says what R{} is) is
// the derivative times R{x}, which is exactly what backward computes from the output; their tangent
// backward adds the second derivative's term (none for relu and flatten). None has an int8 op of its
// own: ReLU is the clamp of the op before it, flatten is free, tanh and softplus have no int8 form.
#pragma once

#include "core/engine/nn/layer_ops.h"

namespace qplay {

template <typename T>
void relu_forward(const KernelTable& kernels, int n, const T* x, T* y);
template <typename T>
void relu_backward(const KernelTable& kernels, int n, const T* y, const T* dy, T* dx);

template <typename T>
void tanh_forward(int n, const T* x, T* y);
template <typename T>
void tanh_backward(int n, const T* y, const T* dy, T* dx);
// δ_in = (1 - y²)δ  =>  R{δ_in} = (1 - y²)R{δ} - 2y·R{y}·δ
template <typename T>
void tanh_tangent_backward(int n, const T* y, const T* y_tangent, const T* dy, const T* dy_tangent,
                           T* dx_tangent);

// softplus(x) = log(1 + e^x), written to neither overflow for large x nor lose precision for small.
template <typename T>
void softplus_forward(int n, const T* x, T* y);
// softplus'(x) = sigmoid(x) = 1 - e^{-y}: computable from the output alone.
template <typename T>
void softplus_backward(int n, const T* y, const T* dy, T* dx);
// δ_in = s·δ with s = σ(x) = 1 - e^{-y}  =>  R{δ_in} = s·R{δ} + s(1 - s)·R{x}·δ
template <typename T>
void softplus_tangent_backward(int n, const T* y, const T* x_tangent, const T* dy, const T* dy_tangent,
                               T* dx_tangent);

template <typename T>
const LayerOps<T>& flatten_layer_ops();
template <typename T>
const LayerOps<T>& relu_layer_ops();
template <typename T>
const LayerOps<T>& tanh_layer_ops();
template <typename T>
const LayerOps<T>& softplus_layer_ops();

}  // namespace qplay

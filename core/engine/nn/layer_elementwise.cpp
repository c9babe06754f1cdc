#include "core/engine/nn/layer_elementwise.h"

#include <algorithm>

#include "core/engine/base/deterministic_math.h"
#include "core/engine/nn/linear_algebra.h"

namespace qplay {

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
template <typename T>
void tanh_tangent_backward(int n, const T* y, const T* y_tangent, const T* dy, const T* dy_tangent,
                           T* dx_tangent) {
  for (int i = 0; i < n; ++i)
    dx_tangent[i] = (T(1) - y[i] * y[i]) * dy_tangent[i] - T(2) * y[i] * y_tangent[i] * dy[i];
}

template <typename T>
void softplus_forward(int n, const T* x, T* y) {
  for (int i = 0; i < n; ++i)
    y[i] = x[i] > T(0) ? x[i] + portable_log1p(portable_exp(-x[i])) : portable_log1p(portable_exp(x[i]));
}
template <typename T>
void softplus_backward(int n, const T* y, const T* dy, T* dx) {
  for (int i = 0; i < n; ++i) dx[i] = dy[i] * -portable_expm1(-y[i]);
}
template <typename T>
void softplus_tangent_backward(int n, const T* y, const T* x_tangent, const T* dy, const T* dy_tangent,
                               T* dx_tangent) {
  for (int i = 0; i < n; ++i) {
    const T s = -portable_expm1(-y[i]);
    dx_tangent[i] = s * dy_tangent[i] + s * (T(1) - s) * x_tangent[i] * dy[i];
  }
}

namespace {

// The values a layer maps over: its output has as many as its input.
template <typename T>
int values(const LayerCall<T>& call) {
  return call.batch * call.layer.output.size();
}

template <typename T>
struct Flatten {
  static void forward(const LayerCall<T>& call, const ForwardTensors<T>& t) {
    std::copy_n(t.input, values(call), t.output);
  }
  static void backward(const LayerCall<T>& call, const BackwardTensors<T>& t) {
    if (t.input_gradient) std::copy_n(t.output_gradient, values(call), t.input_gradient);
  }
  static void tangent_forward(const LayerCall<T>& call, const TangentForwardTensors<T>& t) {
    std::copy_n(t.input_tangent, values(call), t.output_tangent);
  }
  static void tangent_backward(const LayerCall<T>& call, const TangentBackwardTensors<T>& t) {
    if (t.input_gradient_tangent)
      std::copy_n(t.output_gradient_tangent, values(call), t.input_gradient_tangent);
  }
};

template <typename T>
struct Relu {
  static void forward(const LayerCall<T>& call, const ForwardTensors<T>& t) {
    relu_forward(call.kernels, values(call), t.input, t.output);
  }
  static void backward(const LayerCall<T>& call, const BackwardTensors<T>& t) {
    if (t.input_gradient)
      relu_backward(call.kernels, values(call), t.output, t.output_gradient, t.input_gradient);
  }
  static void tangent_forward(const LayerCall<T>& call, const TangentForwardTensors<T>& t) {
    relu_backward(call.kernels, values(call), t.output, t.input_tangent, t.output_tangent);
  }
  // relu'' = 0: R{δ_in} = relu'(x)·R{δ}
  static void tangent_backward(const LayerCall<T>& call, const TangentBackwardTensors<T>& t) {
    if (t.input_gradient_tangent) {
      relu_backward(call.kernels, values(call), t.output, t.output_gradient_tangent,
                    t.input_gradient_tangent);
    }
  }
};

template <typename T>
struct Tanh {
  static void forward(const LayerCall<T>& call, const ForwardTensors<T>& t) {
    tanh_forward(values(call), t.input, t.output);
  }
  static void backward(const LayerCall<T>& call, const BackwardTensors<T>& t) {
    if (t.input_gradient) tanh_backward(values(call), t.output, t.output_gradient, t.input_gradient);
  }
  static void tangent_forward(const LayerCall<T>& call, const TangentForwardTensors<T>& t) {
    tanh_backward(values(call), t.output, t.input_tangent, t.output_tangent);
  }
  static void tangent_backward(const LayerCall<T>& call, const TangentBackwardTensors<T>& t) {
    if (t.input_gradient_tangent) {
      tanh_tangent_backward(values(call), t.output, t.output_tangent, t.output_gradient,
                            t.output_gradient_tangent, t.input_gradient_tangent);
    }
  }
};

template <typename T>
struct Softplus {
  static void forward(const LayerCall<T>& call, const ForwardTensors<T>& t) {
    softplus_forward(values(call), t.input, t.output);
  }
  static void backward(const LayerCall<T>& call, const BackwardTensors<T>& t) {
    if (t.input_gradient) softplus_backward(values(call), t.output, t.output_gradient, t.input_gradient);
  }
  static void tangent_forward(const LayerCall<T>& call, const TangentForwardTensors<T>& t) {
    softplus_backward(values(call), t.output, t.input_tangent, t.output_tangent);
  }
  static void tangent_backward(const LayerCall<T>& call, const TangentBackwardTensors<T>& t) {
    if (t.input_gradient_tangent) {
      softplus_tangent_backward(values(call), t.output, t.input_tangent, t.output_gradient,
                                t.output_gradient_tangent, t.input_gradient_tangent);
    }
  }
};

// A table entry from a struct of the four functions; no int8 op (see the header).
template <typename Layer, typename T>
constexpr LayerOps<T> elementwise_ops{Layer::forward, Layer::backward, Layer::tangent_forward,
                                      Layer::tangent_backward, nullptr};

}  // namespace

template <typename T>
const LayerOps<T>& flatten_layer_ops() {
  return elementwise_ops<Flatten<T>, T>;
}
template <typename T>
const LayerOps<T>& relu_layer_ops() {
  return elementwise_ops<Relu<T>, T>;
}
template <typename T>
const LayerOps<T>& tanh_layer_ops() {
  return elementwise_ops<Tanh<T>, T>;
}
template <typename T>
const LayerOps<T>& softplus_layer_ops() {
  return elementwise_ops<Softplus<T>, T>;
}

#define QPLAY_INSTANTIATE_ELEMENTWISE(T)                                                       \
  template void relu_forward<T>(const KernelTable&, int, const T*, T*);                        \
  template void relu_backward<T>(const KernelTable&, int, const T*, const T*, T*);             \
  template void tanh_forward<T>(int, const T*, T*);                                            \
  template void tanh_backward<T>(int, const T*, const T*, T*);                                 \
  template void tanh_tangent_backward<T>(int, const T*, const T*, const T*, const T*, T*);     \
  template void softplus_forward<T>(int, const T*, T*);                                        \
  template void softplus_backward<T>(int, const T*, const T*, T*);                             \
  template void softplus_tangent_backward<T>(int, const T*, const T*, const T*, const T*, T*); \
  template const LayerOps<T>& flatten_layer_ops<T>();                                          \
  template const LayerOps<T>& relu_layer_ops<T>();                                             \
  template const LayerOps<T>& tanh_layer_ops<T>();                                             \
  template const LayerOps<T>& softplus_layer_ops<T>();
QPLAY_INSTANTIATE_ELEMENTWISE(float)
QPLAY_INSTANTIATE_ELEMENTWISE(double)
#undef QPLAY_INSTANTIATE_ELEMENTWISE

}  // namespace qplay

#include "core/engine/nn/layer_dense.h"

#include "core/engine/nn/linear_algebra.h"

namespace qplay {

template <typename T>
void dense_forward(const KernelTable& kernels, int batch, int inputs, int outputs, const T* input,
                   const T* weight, const T* bias, T* output) {
  linear_algebra::gemm(kernels, Transpose::no, Transpose::yes, batch, outputs, inputs, input, inputs, weight,
                       inputs, output, outputs, false);
  linear_algebra::add_bias(kernels, batch, outputs, bias, output);
}

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

template <typename T>
void dense_tangent_forward(const KernelTable& kernels, int batch, int inputs, int outputs, const T* input,
                           const T* weight, const T* input_tangent, const T* weight_tangent,
                           T* output_tangent) {
  linear_algebra::gemm(kernels, Transpose::no, Transpose::yes, batch, outputs, inputs, input, inputs,
                       weight_tangent, inputs, output_tangent, outputs, false);
  if (input_tangent) {
    linear_algebra::gemm(kernels, Transpose::no, Transpose::yes, batch, outputs, inputs, input_tangent,
                         inputs, weight, inputs, output_tangent, outputs, true);
  }
}

template <typename T>
void dense_tangent_backward(const KernelTable& kernels, int batch, int inputs, int outputs, const T* input,
                            const T* weight, const T* input_tangent, const T* weight_tangent,
                            const T* output_grad, const T* output_grad_tangent, T* weight_grad_tangent,
                            T* bias_grad_tangent, T* input_grad_tangent) {
  linear_algebra::gemm(kernels, Transpose::yes, Transpose::no, outputs, inputs, batch, output_grad_tangent,
                       outputs, input, inputs, weight_grad_tangent, inputs, false);
  if (input_tangent) {
    linear_algebra::gemm(kernels, Transpose::yes, Transpose::no, outputs, inputs, batch, output_grad, outputs,
                         input_tangent, inputs, weight_grad_tangent, inputs, true);
  }
  linear_algebra::sum_rows(kernels, batch, outputs, output_grad_tangent, bias_grad_tangent, false);
  if (input_grad_tangent) {
    linear_algebra::gemm(kernels, Transpose::no, Transpose::no, batch, inputs, outputs, output_grad_tangent,
                         outputs, weight, inputs, input_grad_tangent, inputs, false);
    linear_algebra::gemm(kernels, Transpose::no, Transpose::no, batch, inputs, outputs, output_grad, outputs,
                         weight_tangent, inputs, input_grad_tangent, inputs, true);
  }
}

void int8_dense_forward(const Int8Op& op, int batch, const Int8Tensors& tensors) {
  int8_weighted_output(op, static_cast<size_t>(batch), tensors.input, tensors);
}

namespace {

template <typename T>
void forward(const LayerCall<T>& call, const ForwardTensors<T>& t) {
  dense_forward(call.kernels, call.batch, call.layer.input.size(), call.layer.outputs, t.input, call.weight,
                call.bias, t.output);
}

template <typename T>
void backward(const LayerCall<T>& call, const BackwardTensors<T>& t) {
  dense_backward(call.kernels, call.batch, call.layer.input.size(), call.layer.outputs, t.input, call.weight,
                 t.output_gradient, t.weight_gradient, t.bias_gradient, t.input_gradient);
}

template <typename T>
void tangent_forward(const LayerCall<T>& call, const TangentForwardTensors<T>& t) {
  dense_tangent_forward(call.kernels, call.batch, call.layer.input.size(), call.layer.outputs, t.input,
                        call.weight, t.input_tangent, t.weight_tangent, t.output_tangent);
}

template <typename T>
void tangent_backward(const LayerCall<T>& call, const TangentBackwardTensors<T>& t) {
  dense_tangent_backward(call.kernels, call.batch, call.layer.input.size(), call.layer.outputs, t.input,
                         call.weight, t.input_tangent, t.weight_tangent, t.output_gradient,
                         t.output_gradient_tangent, t.weight_gradient_tangent, t.bias_gradient_tangent,
                         t.input_gradient_tangent);
}

}  // namespace

template <typename T>
const LayerOps<T>& dense_layer_ops() {
  static constexpr LayerOps<T> ops{forward<T>, backward<T>, tangent_forward<T>, tangent_backward<T>,
                                   int8_dense_forward};
  return ops;
}

#define QPLAY_INSTANTIATE_DENSE(T)                                                                         \
  template void dense_forward<T>(const KernelTable&, int, int, int, const T*, const T*, const T*, T*);     \
  template void dense_backward<T>(const KernelTable&, int, int, int, const T*, const T*, const T*, T*, T*, \
                                  T*);                                                                     \
  template void dense_tangent_forward<T>(const KernelTable&, int, int, int, const T*, const T*, const T*,  \
                                         const T*, T*);                                                    \
  template void dense_tangent_backward<T>(const KernelTable&, int, int, int, const T*, const T*, const T*, \
                                          const T*, const T*, const T*, T*, T*, T*);                       \
  template const LayerOps<T>& dense_layer_ops<T>();
QPLAY_INSTANTIATE_DENSE(float)
QPLAY_INSTANTIATE_DENSE(double)
#undef QPLAY_INSTANTIATE_DENSE

}  // namespace qplay

#include "core/engine/nn/layer_max_pool.h"

#include <algorithm>
#include <limits>

#include "core/engine/nn/linear_algebra.h"

namespace qplay {

template <typename T>
void max_pool_forward(const KernelTable& kernels, const ConvGeometry& g, const T* input, T* output) {
  linear_algebra::max_pool_forward(kernels, g, input, output);
}

template <typename T>
void max_pool_backward(const KernelTable& kernels, const ConvGeometry& g, const T* input, const T* output,
                       const T* output_grad, T* input_grad, bool relu_before) {
  linear_algebra::max_pool_backward(kernels, g, input, output, output_grad, input_grad, relu_before);
}

template <typename T>
void max_pool_tangent_forward(const ConvGeometry& g, const T* input, const T* input_tangent,
                              T* output_tangent) {
  const int out_h = g.out_height(), out_w = g.out_width(), C = g.in_channels;
  for (int b = 0; b < g.batch; ++b)
    for (int oy = 0; oy < out_h; ++oy)
      for (int ox = 0; ox < out_w; ++ox)
        for (int c = 0; c < C; ++c) {
          size_t best = 0;
          bool first = true;
          for (int ky = 0; ky < g.kernel; ++ky)
            for (int kx = 0; kx < g.kernel; ++kx) {
              const size_t at = ((static_cast<size_t>(b) * g.in_height + oy * g.stride + ky) * g.in_width +
                                 ox * g.stride + kx) *
                                    C +
                                c;
              if (first || input[at] > input[best]) best = at;
              first = false;
            }
          output_tangent[((static_cast<size_t>(b) * out_h + oy) * out_w + ox) * C + c] = input_tangent[best];
        }
}

void int8_max_pool_forward(const Int8Op& op, int batch, const Int8Tensors& tensors) {
  const int height = op.input.height, width = op.input.width, channels = op.input.channels;
  int8_t* out = tensors.output;
  for (int b = 0; b < batch; ++b)
    for (int oy = 0; oy < op.output.height; ++oy)
      for (int ox = 0; ox < op.output.width; ++ox, out += channels) {
        std::fill(out, out + channels, std::numeric_limits<int8_t>::min());
        for (int ky = 0; ky < op.kernel; ++ky)
          for (int kx = 0; kx < op.kernel; ++kx) {
            const size_t pixel =
                (static_cast<size_t>(b) * height + oy * op.stride + ky) * width + ox * op.stride + kx;
            const int8_t* in = tensors.input + pixel * channels;
            for (int c = 0; c < channels; ++c) out[c] = std::max(out[c], in[c]);
          }
      }
}

namespace {

template <typename T>
void forward(const LayerCall<T>& call, const ForwardTensors<T>& t) {
  max_pool_forward(call.kernels, layer_geometry(call.layer, call.batch), t.input, t.output);
}

template <typename T>
void backward(const LayerCall<T>& call, const BackwardTensors<T>& t) {
  if (t.input_gradient)
    max_pool_backward(call.kernels, layer_geometry(call.layer, call.batch), t.input, t.output,
                      t.output_gradient, t.input_gradient, call.relu_before);
}

template <typename T>
void tangent_forward(const LayerCall<T>& call, const TangentForwardTensors<T>& t) {
  max_pool_tangent_forward(layer_geometry(call.layer, call.batch), t.input, t.input_tangent,
                           t.output_tangent);
}

template <typename T>
void tangent_backward(const LayerCall<T>& call, const TangentBackwardTensors<T>& t) {
  if (t.input_gradient_tangent) {
    max_pool_backward(call.kernels, layer_geometry(call.layer, call.batch), t.input, t.output,
                      t.output_gradient_tangent, t.input_gradient_tangent, /*relu_before=*/false);
  }
}

}  // namespace

template <typename T>
const LayerOps<T>& max_pool_layer_ops() {
  static constexpr LayerOps<T> ops{forward<T>, backward<T>, tangent_forward<T>, tangent_backward<T>,
                                   int8_max_pool_forward};
  return ops;
}

#define QPLAY_INSTANTIATE_MAX_POOL(T)                                                                       \
  template void max_pool_forward<T>(const KernelTable&, const ConvGeometry&, const T*, T*);                 \
  template void max_pool_backward<T>(const KernelTable&, const ConvGeometry&, const T*, const T*, const T*, \
                                     T*, bool);                                                             \
  template void max_pool_tangent_forward<T>(const ConvGeometry&, const T*, const T*, T*);                   \
  template const LayerOps<T>& max_pool_layer_ops<T>();
QPLAY_INSTANTIATE_MAX_POOL(float)
QPLAY_INSTANTIATE_MAX_POOL(double)
#undef QPLAY_INSTANTIATE_MAX_POOL

}  // namespace qplay

#include "core/engine/nn/layer_max_pool.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace qplay {

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
                                   ox * g.stride + kx) *
                                      C;
            for (int c = 0; c < C; ++c) out[c] = std::max(out[c], in[c]);
          }
      }
}

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
        const size_t origin =
            ((static_cast<size_t>(b) * g.in_height + oy * g.stride) * g.in_width + ox * g.stride) * C;
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
  max_pool_forward(layer_geometry(call.layer, call.batch), t.input, t.output);
}

template <typename T>
void backward(const LayerCall<T>& call, const BackwardTensors<T>& t) {
  if (t.input_gradient)
    max_pool_backward(layer_geometry(call.layer, call.batch), t.input, t.output_gradient, t.input_gradient);
}

template <typename T>
void tangent_forward(const LayerCall<T>& call, const TangentForwardTensors<T>& t) {
  max_pool_tangent_forward(layer_geometry(call.layer, call.batch), t.input, t.input_tangent,
                           t.output_tangent);
}

template <typename T>
void tangent_backward(const LayerCall<T>& call, const TangentBackwardTensors<T>& t) {
  if (t.input_gradient_tangent) {
    max_pool_backward(layer_geometry(call.layer, call.batch), t.input, t.output_gradient_tangent,
                      t.input_gradient_tangent);
  }
}

}  // namespace

template <typename T>
const LayerOps<T>& max_pool_layer_ops() {
  static constexpr LayerOps<T> ops{forward<T>, backward<T>, tangent_forward<T>, tangent_backward<T>,
                                   int8_max_pool_forward};
  return ops;
}

#define QPLAY_INSTANTIATE_MAX_POOL(T)                                                     \
  template void max_pool_forward<T>(const ConvGeometry&, const T*, T*);                   \
  template void max_pool_backward<T>(const ConvGeometry&, const T*, const T*, T*);        \
  template void max_pool_tangent_forward<T>(const ConvGeometry&, const T*, const T*, T*); \
  template const LayerOps<T>& max_pool_layer_ops<T>();
QPLAY_INSTANTIATE_MAX_POOL(float)
QPLAY_INSTANTIATE_MAX_POOL(double)
#undef QPLAY_INSTANTIATE_MAX_POOL

}  // namespace qplay

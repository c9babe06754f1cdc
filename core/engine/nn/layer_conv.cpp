#include "core/engine/nn/layer_conv.h"

#include <algorithm>
#include <type_traits>

#include "core/engine/nn/linear_algebra.h"

namespace qplay {

namespace {

// Columns per pass, in values. A pass lowers some images and multiplies their columns while these are
// still in L2: done for the whole batch at once, W2's conv2 wrote its 4.4 MB of columns to memory and
// read them back, and its GEMMs ran at a third of their in-cache speed (about 90 against 260 GFLOP/s
// with the avx512 tile, perf and a GEMM timed alone). 2 MiB: half of it per core at 2 threads; and a
// pass must stay above the size at which the tables split im2col and col2im over their pool (2^18).
constexpr size_t kColumnsPerPass = size_t{1} << 19;

// Images per pass of `geometry`: the batch in as few passes of at most kColumnsPerPass as can be (one
// image at least), the passes as even as can be.
int images_per_pass(const ConvGeometry& geometry) {
  const size_t per_image =
      static_cast<size_t>(geometry.out_height()) * geometry.out_width() * geometry.patch_size();
  const size_t batch = static_cast<size_t>(geometry.batch);
  const size_t passes =
      std::clamp<size_t>((batch * per_image + kColumnsPerPass - 1) / kColumnsPerPass, 1, batch);
  return static_cast<int>((batch + passes - 1) / passes);
}

// Calls pass(first_image, pass_geometry) over the batch in passes of images_per_pass images.
template <typename Pass>
void for_each_pass(const ConvGeometry& geometry, Pass pass) {
  const int step = images_per_pass(geometry);
  for (int first = 0; first < geometry.batch; first += step) {
    ConvGeometry part = geometry;
    part.batch = std::min(step, geometry.batch - first);
    pass(static_cast<size_t>(first), part);
  }
}

// Whether conv2d_forward runs the table's direct convolution (kernel_table.h) rather than lowering.
template <typename T>
bool runs_direct(const KernelTable& kernels, const ConvGeometry& g) {
  return std::is_same_v<T, float> && kernels.conv3x3_one_channel != nullptr && g.in_channels == 1 &&
         g.kernel == 3 && g.stride == 1 && g.padding == 1;
}

size_t image_values(const ConvGeometry& g) {
  return static_cast<size_t>(g.in_height) * g.in_width * g.in_channels;
}
size_t patches_per_image(const ConvGeometry& g) {
  return static_cast<size_t>(g.out_height()) * g.out_width();
}

}  // namespace

template <typename T>
void conv2d_forward(const KernelTable& kernels, const ConvGeometry& geometry, int outputs, const T* input,
                    const T* weight, const T* bias, T* output, T* input_columns, T* relu_output) {
  if constexpr (std::is_same_v<T, float>) {
    if (runs_direct<T>(kernels, geometry)) {
      return kernels.conv3x3_one_channel(kernels, geometry, outputs, input, weight, bias, output,
                                         relu_output);
    }
  }
  const int patch_size = geometry.patch_size();
  const size_t patches = patches_per_image(geometry);
  for_each_pass(geometry, [&](size_t first, const ConvGeometry& part) {
    T* columns = input_columns + first * patches * patch_size;
    T* rows = output + first * patches * outputs;
    linear_algebra::im2col(kernels, part, input + first * image_values(geometry), columns);
    linear_algebra::gemm(kernels, Transpose::no, Transpose::yes, part.patch_count(), outputs, patch_size,
                         columns, patch_size, weight, patch_size, rows, outputs, false);
    linear_algebra::add_bias(kernels, part.patch_count(), outputs, bias, rows);
    if (relu_output) {
      linear_algebra::relu_forward(kernels, part.patch_count() * outputs, rows,
                                   relu_output + first * patches * outputs);
    }
  });
}

template <typename T>
void conv2d_backward(const KernelTable& kernels, const ConvGeometry& geometry, int outputs, const T* input,
                     T* input_columns, const T* weight, const T* output_grad, T* weight_grad, T* bias_grad,
                     T* input_grad, T* columns) {
  const int patches = geometry.patch_count(), patch_size = geometry.patch_size();
  if (runs_direct<T>(kernels, geometry)) linear_algebra::im2col(kernels, geometry, input, input_columns);
  linear_algebra::gemm(kernels, Transpose::yes, Transpose::no, outputs, patch_size, patches, output_grad,
                       outputs, input_columns, patch_size, weight_grad, patch_size, false);
  linear_algebra::sum_rows(kernels, patches, outputs, output_grad, bias_grad, false);
  if (input_grad) {
    std::fill_n(input_grad, geometry.batch * image_values(geometry), T(0));
    // Pass by pass, so the column gradients go back into images from L2 (see kColumnsPerPass).
    for_each_pass(geometry, [&](size_t first, const ConvGeometry& part) {
      linear_algebra::gemm(kernels, Transpose::no, Transpose::no, part.patch_count(), patch_size, outputs,
                           output_grad + first * patches_per_image(geometry) * outputs, outputs, weight,
                           patch_size, columns, patch_size, false);
      linear_algebra::col2im(kernels, part, columns, input_grad + first * image_values(geometry));
    });
  }
}

template <typename T>
void conv2d_tangent_forward(const KernelTable& kernels, const ConvGeometry& geometry, int outputs,
                            const T* input, const T* weight, const T* input_tangent, const T* weight_tangent,
                            T* output_tangent, T* columns) {
  const int patches = geometry.patch_count(), patch_size = geometry.patch_size();
  linear_algebra::im2col(kernels, geometry, input, columns);
  linear_algebra::gemm(kernels, Transpose::no, Transpose::yes, patches, outputs, patch_size, columns,
                       patch_size, weight_tangent, patch_size, output_tangent, outputs, false);
  if (input_tangent) {
    linear_algebra::im2col(kernels, geometry, input_tangent, columns);
    linear_algebra::gemm(kernels, Transpose::no, Transpose::yes, patches, outputs, patch_size, columns,
                         patch_size, weight, patch_size, output_tangent, outputs, true);
  }
}

template <typename T>
void conv2d_tangent_backward(const KernelTable& kernels, const ConvGeometry& geometry, int outputs,
                             const T* input, const T* weight, const T* input_tangent, const T* weight_tangent,
                             const T* output_grad, const T* output_grad_tangent, T* weight_grad_tangent,
                             T* bias_grad_tangent, T* input_grad_tangent, T* columns) {
  const int patches = geometry.patch_count(), patch_size = geometry.patch_size();
  linear_algebra::im2col(kernels, geometry, input, columns);
  linear_algebra::gemm(kernels, Transpose::yes, Transpose::no, outputs, patch_size, patches,
                       output_grad_tangent, outputs, columns, patch_size, weight_grad_tangent, patch_size,
                       false);
  if (input_tangent) {
    linear_algebra::im2col(kernels, geometry, input_tangent, columns);
    linear_algebra::gemm(kernels, Transpose::yes, Transpose::no, outputs, patch_size, patches, output_grad,
                         outputs, columns, patch_size, weight_grad_tangent, patch_size, true);
  }
  linear_algebra::sum_rows(kernels, patches, outputs, output_grad_tangent, bias_grad_tangent, false);
  if (input_grad_tangent) {
    linear_algebra::gemm(kernels, Transpose::no, Transpose::no, patches, patch_size, outputs,
                         output_grad_tangent, outputs, weight, patch_size, columns, patch_size, false);
    linear_algebra::gemm(kernels, Transpose::no, Transpose::no, patches, patch_size, outputs, output_grad,
                         outputs, weight_tangent, patch_size, columns, patch_size, true);
    const size_t input_size =
        static_cast<size_t>(geometry.batch) * geometry.in_height * geometry.in_width * geometry.in_channels;
    std::fill_n(input_grad_tangent, input_size, T(0));
    linear_algebra::col2im(kernels, geometry, columns, input_grad_tangent);
  }
}

namespace {

// image[batch, H, W, C] -> patches[batch·Ho·Wo, k·k·C] in (ky, kx, c) order, like the float im2col;
// outside the image reads the zero point, the code of 0.0 (XNNPACK pads the same way).
void int8_im2col(const Int8Op& op, int batch, const int8_t* image, int8_t* patches) {
  const int height = op.input.height, width = op.input.width;
  const size_t channels = static_cast<size_t>(op.input.channels);
  const int8_t padding_code = static_cast<int8_t>(op.input_grid.zero_point);
  int8_t* out = patches;
  for (int b = 0; b < batch; ++b)
    for (int oy = 0; oy < op.output.height; ++oy)
      for (int ox = 0; ox < op.output.width; ++ox)
        for (int ky = 0; ky < op.kernel; ++ky)
          for (int kx = 0; kx < op.kernel; ++kx, out += channels) {
            const int y = oy * op.stride + ky - op.padding, x = ox * op.stride + kx - op.padding;
            if (y < 0 || y >= height || x < 0 || x >= width) {
              std::fill(out, out + channels, padding_code);
            } else {
              std::copy_n(image + ((static_cast<size_t>(b) * height + y) * width + x) * channels, channels,
                          out);
            }
          }
}

}  // namespace

void int8_conv2d_forward(const Int8Op& op, int batch, const Int8Tensors& tensors) {
  int8_im2col(op, batch, tensors.input, tensors.patches);
  const size_t rows = static_cast<size_t>(batch) * op.output.height * op.output.width;
  int8_weighted_output(op, rows, tensors.patches, tensors);
}

namespace {

template <typename T>
void forward(const LayerCall<T>& call, const ForwardTensors<T>& t) {
  conv2d_forward(call.kernels, layer_geometry(call.layer, call.batch), call.layer.outputs, t.input,
                 call.weight, call.bias, t.output, call.input_columns, call.relu_output);
}

template <typename T>
void backward(const LayerCall<T>& call, const BackwardTensors<T>& t) {
  conv2d_backward(call.kernels, layer_geometry(call.layer, call.batch), call.layer.outputs, t.input,
                  call.input_columns, call.weight, t.output_gradient, t.weight_gradient, t.bias_gradient,
                  t.input_gradient, call.columns);
}

template <typename T>
void tangent_forward(const LayerCall<T>& call, const TangentForwardTensors<T>& t) {
  conv2d_tangent_forward(call.kernels, layer_geometry(call.layer, call.batch), call.layer.outputs, t.input,
                         call.weight, t.input_tangent, t.weight_tangent, t.output_tangent, call.columns);
}

template <typename T>
void tangent_backward(const LayerCall<T>& call, const TangentBackwardTensors<T>& t) {
  conv2d_tangent_backward(call.kernels, layer_geometry(call.layer, call.batch), call.layer.outputs, t.input,
                          call.weight, t.input_tangent, t.weight_tangent, t.output_gradient,
                          t.output_gradient_tangent, t.weight_gradient_tangent, t.bias_gradient_tangent,
                          t.input_gradient_tangent, call.columns);
}

}  // namespace

template <typename T>
const LayerOps<T>& conv2d_layer_ops() {
  static constexpr LayerOps<T> ops{forward<T>, backward<T>, tangent_forward<T>, tangent_backward<T>,
                                   int8_conv2d_forward};
  return ops;
}

#define QPLAY_INSTANTIATE_CONV2D(T)                                                                          \
  template void conv2d_forward<T>(const KernelTable&, const ConvGeometry&, int, const T*, const T*,          \
                                  const T*, T*, T*, T*);                                                     \
  template void conv2d_backward<T>(const KernelTable&, const ConvGeometry&, int, const T*, T*, const T*,     \
                                   const T*, T*, T*, T*, T*);                                                \
  template void conv2d_tangent_forward<T>(const KernelTable&, const ConvGeometry&, int, const T*, const T*,  \
                                          const T*, const T*, T*, T*);                                       \
  template void conv2d_tangent_backward<T>(const KernelTable&, const ConvGeometry&, int, const T*, const T*, \
                                           const T*, const T*, const T*, const T*, T*, T*, T*, T*);          \
  template const LayerOps<T>& conv2d_layer_ops<T>();
QPLAY_INSTANTIATE_CONV2D(float)
QPLAY_INSTANTIATE_CONV2D(double)
#undef QPLAY_INSTANTIATE_CONV2D

}  // namespace qplay

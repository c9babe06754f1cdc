// Specification of the convolution layer's passes (core/engine/nn/layer_conv.cpp): a batch whose
// columns exceed one pass is lowered and multiplied a few images at a time, and its forward output,
// kept columns, the ReLU of its output (run pass by pass) and its input gradient equal, bit for bit on
// every table, those of one im2col, GEMM, bias, ReLU and col2im over the whole batch (every row of a
// GEMM, and every image of col2im, is computed alone).
// The weight and bias gradients are not split into passes.
#include <gtest/gtest.h>

#include <vector>

#include "core/engine/base/rng.h"
#include "core/engine/nn/layers.h"
#include "core/engine/nn/linear_algebra.h"
#include "tests/engine/kernel_tables_under_test.h"

namespace qplay {
namespace {

void fill_uniform(Rng& rng, std::vector<float>& values) {
  for (float& value : values) value = static_cast<float>(rng.uniform(-1.0, 1.0));
}

TEST(Conv2dPasses, EqualOnePassOverTheWholeBatch) {
  // 40x40x16 with padding 1: 1600 x 144 columns per image, so 5 images take 3 passes of 2, 2 and 1.
  const ConvGeometry geometry{
      .batch = 5, .in_height = 40, .in_width = 40, .in_channels = 16, .kernel = 3, .stride = 1, .padding = 1};
  const int outputs = 7, patches = geometry.patch_count(), patch_size = geometry.patch_size();
  const size_t input_size = static_cast<size_t>(geometry.batch) * 40 * 40 * 16;
  const size_t columns_size = static_cast<size_t>(patches) * patch_size;
  Rng rng(23);
  std::vector<float> input(input_size), weight(static_cast<size_t>(outputs) * patch_size), bias(outputs);
  std::vector<float> output_grad(static_cast<size_t>(patches) * outputs);
  for (std::vector<float>* values : {&input, &weight, &bias, &output_grad}) fill_uniform(rng, *values);

  for (const auto& table : tables_under_test()) {
    SCOPED_TRACE(describe(*table));
    const KernelTable& kernels = *table;
    std::vector<float> expected_columns(columns_size), expected_output(output_grad.size());
    std::vector<float> expected_input_grad(input_size, 0.0f), scratch(columns_size);
    linear_algebra::im2col(kernels, geometry, input.data(), expected_columns.data());
    linear_algebra::gemm(kernels, Transpose::no, Transpose::yes, patches, outputs, patch_size,
                         expected_columns.data(), patch_size, weight.data(), patch_size,
                         expected_output.data(), outputs, false);
    linear_algebra::add_bias(kernels, patches, outputs, bias.data(), expected_output.data());
    linear_algebra::gemm(kernels, Transpose::no, Transpose::no, patches, patch_size, outputs,
                         output_grad.data(), outputs, weight.data(), patch_size, scratch.data(), patch_size,
                         false);
    linear_algebra::col2im(kernels, geometry, scratch.data(), expected_input_grad.data());

    std::vector<float> expected_relu(expected_output.size());
    linear_algebra::relu_forward(kernels, static_cast<int>(expected_output.size()), expected_output.data(),
                                 expected_relu.data());

    std::vector<float> columns(columns_size), output(output_grad.size()), input_grad(input_size, 0.5f);
    std::vector<float> relu_output(output_grad.size()), weight_grad(weight.size()), bias_grad(outputs);
    conv2d_forward(kernels, geometry, outputs, input.data(), weight.data(), bias.data(), output.data(),
                   columns.data(), relu_output.data());
    conv2d_backward(kernels, geometry, outputs, input.data(), columns.data(), weight.data(),
                    output_grad.data(), weight_grad.data(), bias_grad.data(), input_grad.data(),
                    scratch.data());
    EXPECT_EQ(columns, expected_columns);
    EXPECT_EQ(output, expected_output);
    EXPECT_EQ(relu_output, expected_relu);
    EXPECT_EQ(input_grad, expected_input_grad);
  }
}

}  // namespace
}  // namespace qplay

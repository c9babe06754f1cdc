// Specification of the kernel tables' direct one-channel 3x3 convolution (conv3x3_one_channel in
// kernel_table.h): every table that has one gives, bit for bit, what its own im2col, GEMM, add_bias
// and relu_forward give, over image sizes with and without a tail of the 4-pixel blocks, output
// counts with and without a tail of a vector, batches that do and do not reach the thread pool, and
// inputs with signed zeros and NaN (the bits where a skipped padding tap or another order would show).
#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "core/engine/base/rng.h"
#include "core/engine/nn/layers.h"
#include "core/engine/nn/linear_algebra.h"
#include "tests/engine/kernel_tables_under_test.h"

namespace qplay {
namespace {

std::vector<float> values_with_zeros(size_t count, uint64_t seed, bool with_nan) {
  Rng rng(seed);
  std::vector<float> values(count);
  for (float& value : values) {
    const double u = rng.uniform(0.0, 1.0);
    value = u < 0.1 ? -0.0f : u < 0.2 ? 0.0f : static_cast<float>(rng.uniform(-2.0, 2.0));
  }
  if (with_nan && count > 3) values[count / 3] = std::numeric_limits<float>::quiet_NaN();
  return values;
}

TEST(KernelTableConv3x3OneChannel, EqualsItsTablesLoweringBitForBit) {
  int tables_with_one = 0;
  for (const auto& table : tables_under_test()) {
    const KernelTable& kernels = *table;
    if (kernels.conv3x3_one_channel == nullptr) continue;
    ++tables_with_one;
    for (int size : {1, 2, 5, 7, 28})
      for (int outputs : {1, 3, 8, 16, 21})
        for (int batch : {1, 3, 64}) {
          if (batch == 64 && size < 28) continue;
          const ConvGeometry g{.batch = batch,
                               .in_height = size,
                               .in_width = size + 1,
                               .in_channels = 1,
                               .kernel = 3,
                               .stride = 1,
                               .padding = 1};
          SCOPED_TRACE(describe(kernels) + " size " + std::to_string(size) + " outputs " +
                       std::to_string(outputs) + " batch " + std::to_string(batch));
          const size_t pixels = static_cast<size_t>(g.patch_count());
          const std::vector<float> image = values_with_zeros(pixels, 3 + size, /*with_nan=*/size == 7);
          const std::vector<float> weight = values_with_zeros(static_cast<size_t>(outputs) * 9, 5, false);
          const std::vector<float> bias = values_with_zeros(outputs, 7, false);

          std::vector<float> columns(pixels * 9), expected(pixels * outputs), expected_relu(pixels * outputs);
          linear_algebra::im2col(kernels, g, image.data(), columns.data());
          linear_algebra::gemm(kernels, Transpose::no, Transpose::yes, g.patch_count(), outputs, 9,
                               columns.data(), 9, weight.data(), 9, expected.data(), outputs, false);
          linear_algebra::add_bias(kernels, g.patch_count(), outputs, bias.data(), expected.data());
          linear_algebra::relu_forward(kernels, static_cast<int>(expected.size()), expected.data(),
                                       expected_relu.data());

          std::vector<float> output(expected.size(), 7.0f), relu_output(expected.size(), 7.0f);
          kernels.conv3x3_one_channel(kernels, g, outputs, image.data(), weight.data(), bias.data(),
                                      output.data(), relu_output.data());
          EXPECT_TRUE(same_bits(output, expected));
          EXPECT_TRUE(same_bits(relu_output, expected_relu));
          std::vector<float> alone(expected.size(), 7.0f);
          kernels.conv3x3_one_channel(kernels, g, outputs, image.data(), weight.data(), bias.data(),
                                      alone.data(), nullptr);
          EXPECT_TRUE(same_bits(alone, expected));
        }
  }
#if defined(QPLAY_HAVE_AVX2_TABLE) || defined(__wasm_simd128__)
  EXPECT_GT(tables_with_one, 0);
#endif
}

// The layer: a forward on the direct path leaves no columns, and backward lowers the input itself, so
// its gradients equal those of the reference table (which lowers in forward) within float rounding.
TEST(KernelTableConv3x3OneChannel, BackwardAfterTheDirectForwardLowersTheInput) {
  const ConvGeometry g{
      .batch = 2, .in_height = 6, .in_width = 5, .in_channels = 1, .kernel = 3, .stride = 1, .padding = 1};
  const int outputs = 8, patches = g.patch_count();
  const std::vector<float> image = values_with_zeros(static_cast<size_t>(patches), 11, false);
  const std::vector<float> weight = values_with_zeros(static_cast<size_t>(outputs) * 9, 12, false);
  const std::vector<float> bias = values_with_zeros(outputs, 13, false);
  const std::vector<float> output_grad = values_with_zeros(static_cast<size_t>(patches) * outputs, 14, false);
  std::vector<float> expected_weight_grad(weight.size()), expected_bias_grad(outputs);
  for (const auto& table : tables_under_test()) {
    SCOPED_TRACE(describe(*table));
    std::vector<float> output(output_grad.size()), columns(static_cast<size_t>(patches) * 9, 7.0f),
        scratch(columns.size()), weight_grad(weight.size()), bias_grad(outputs);
    conv2d_forward<float>(*table, g, outputs, image.data(), weight.data(), bias.data(), output.data(),
                          columns.data(), nullptr);
    conv2d_backward<float>(*table, g, outputs, image.data(), columns.data(), weight.data(),
                           output_grad.data(), weight_grad.data(), bias_grad.data(), nullptr, scratch.data());
    if (table->name == "reference") {
      expected_weight_grad = weight_grad, expected_bias_grad = bias_grad;
      continue;
    }
    for (size_t i = 0; i < weight_grad.size(); ++i)
      EXPECT_NEAR(weight_grad[i], expected_weight_grad[i], 1e-5);
    for (int o = 0; o < outputs; ++o) EXPECT_NEAR(bias_grad[o], expected_bias_grad[o], 1e-5);
  }
}

}  // namespace
}  // namespace qplay

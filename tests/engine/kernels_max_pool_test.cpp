// Specification of the kernel tables' max-pool (kernel_table.h): the reference against windows worked
// out by hand, then every table against the reference, bit for bit, over a sweep of window sizes,
// strides, odd image sizes, channel counts with and without a SIMD tail, and inputs full of ties, NaN
// and signed zeros (the cases where "the first maximum" is easy to get wrong).
#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "core/engine/base/rng.h"
#include "core/engine/kernels/kernel_table.h"
#include "core/engine/kernels/reference_kernels.h"
#include "tests/engine/kernel_tables_under_test.h"

namespace qplay {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInfinity = std::numeric_limits<float>::infinity();

size_t input_size(const ConvGeometry& g) {
  return size_t(g.batch) * g.in_height * g.in_width * g.in_channels;
}
size_t output_size(const ConvGeometry& g) {
  return size_t(g.batch) * g.out_height() * g.out_width() * g.in_channels;
}

TEST(ReferenceMaxPool, TwoByTwoWindowsOfOneChannelAreWorkedOut) {
  // 4x4 image, windows of 2 with stride 2: maxima 6, 8, 14, 16; the gradient goes where they are.
  const ConvGeometry g{.batch = 1, .in_height = 4, .in_width = 4, .in_channels = 1, .kernel = 2, .stride = 2};
  const std::vector<float> image = {1, 6, 3, 8, 5, 2, 7, 4, 9, 14, 11, 16, 13, 10, 15, 12};
  std::vector<float> pooled(4), grad(16, -1.0f);
  reference_max_pool_forward<float>(g, image.data(), pooled.data());
  EXPECT_EQ(pooled, (std::vector<float>{6, 8, 14, 16}));
  const std::vector<float> pooled_grad = {10, 20, 30, 40};
  reference_max_pool_backward<float>(g, image.data(), pooled.data(), pooled_grad.data(), grad.data(),
                                     /*relu_before=*/false);
  EXPECT_EQ(grad, (std::vector<float>{0, 10, 0, 20, 0, 0, 0, 0, 0, 30, 0, 40, 0, 0, 0, 0}));
}

TEST(ReferenceMaxPool, TiesGoToTheFirstElementAndNaNIsSkippedUnlessFirst) {
  const ConvGeometry g{.batch = 1, .in_height = 2, .in_width = 2, .in_channels = 3, .kernel = 2, .stride = 2};
  // Channel 0: a tie of 5s at elements 1 and 3. Channel 1: NaN at element 2. Channel 2: NaN first.
  const std::vector<float> image = {1, 1, kNaN, 5, 2, 1, 3, kNaN, 2, 5, 0, 3};
  std::vector<float> pooled(3), grad(12);
  reference_max_pool_forward<float>(g, image.data(), pooled.data());
  EXPECT_EQ(pooled[0], 5.0f);
  EXPECT_EQ(pooled[1], 2.0f);
  EXPECT_EQ(pooled[2], 3.0f);
  const std::vector<float> pooled_grad = {1, 2, 3};
  reference_max_pool_backward<float>(g, image.data(), pooled.data(), pooled_grad.data(), grad.data(),
                                     /*relu_before=*/false);
  EXPECT_EQ(grad, (std::vector<float>{0, 0, 3, 1, 2, 0, 0, 0, 0, 0, 0, 0}));
}

// Values drawn from a few levels, so windows often tie, with NaN, infinities and signed zeros mixed in.
std::vector<float> awkward_values(size_t count, uint64_t seed) {
  Rng rng(seed);
  const float levels[] = {-1.0f, 0.0f, -0.0f, 0.5f, 2.0f, kNaN, -kInfinity, kInfinity};
  std::vector<float> values(count);
  for (float& value : values) {
    const double u = rng.uniform(0.0, 1.0);
    value = u < 0.5 ? static_cast<float>(rng.uniform(-3.0, 3.0)) : levels[static_cast<int>(u * 16) % 8];
  }
  return values;
}

std::vector<ConvGeometry> pooling_geometries() {
  std::vector<ConvGeometry> geometries;
  for (int kernel : {1, 2, 3})
    for (int stride : {1, 2, 3})
      for (int channels : {1, 3, 4, 8, 12, 16, 32})
        for (int height : {1, 7})
          if (kernel <= height)
            geometries.push_back(ConvGeometry{.batch = 3,
                                              .in_height = height + kernel - 1,
                                              .in_width = 9,
                                              .in_channels = channels,
                                              .kernel = kernel,
                                              .stride = stride,
                                              .padding = 0});
  // W2's two pooling layers at a batch large enough for a pooled table to use its threads.
  geometries.push_back(ConvGeometry{
      .batch = 64, .in_height = 28, .in_width = 28, .in_channels = 16, .kernel = 2, .stride = 2});
  geometries.push_back(ConvGeometry{
      .batch = 64, .in_height = 14, .in_width = 14, .in_channels = 32, .kernel = 2, .stride = 2});
  return geometries;
}

TEST(KernelTableMaxPool, EveryTableMatchesTheReferenceBitForBit) {
  const std::vector<ConvGeometry> geometries = pooling_geometries();
  for (const auto& table : tables_under_test()) {
    for (size_t i = 0; i < geometries.size(); ++i) {
      const ConvGeometry& g = geometries[i];
      SCOPED_TRACE(describe(*table) + " " + describe(g) + " " + std::to_string(g.in_height) + "x" +
                   std::to_string(g.in_width));
      const std::vector<float> image = awkward_values(input_size(g), 10 + i);
      const std::vector<float> pooled_grad = awkward_values(output_size(g), 1000 + i);
      std::vector<float> expected_pooled(output_size(g), 7.0f), actual_pooled(output_size(g), 7.0f);
      reference_max_pool_forward<float>(g, image.data(), expected_pooled.data());
      table->max_pool_forward(*table, g, image.data(), actual_pooled.data());
      EXPECT_TRUE(same_bits(actual_pooled, expected_pooled));

      // Garbage in the gradient buffer first: backward overwrites it. With and without the ReLU's fold.
      for (bool relu_before : {false, true}) {
        SCOPED_TRACE(relu_before ? "relu before" : "alone");
        std::vector<float> expected_grad(input_size(g), 7.0f), actual_grad(input_size(g), 7.0f);
        reference_max_pool_backward<float>(g, image.data(), expected_pooled.data(), pooled_grad.data(),
                                           expected_grad.data(), relu_before);
        table->max_pool_backward(*table, g, image.data(), expected_pooled.data(), pooled_grad.data(),
                                 actual_grad.data(), relu_before);
        EXPECT_TRUE(same_bits(actual_grad, expected_grad));
      }
    }
  }
}

TEST(ReferenceMaxPool, ReluBeforeIsThePoolsBackwardThenTheRelusBitForBit) {
  // The fold's definition: the same bits as max-pool backward followed by ReLU backward on its input.
  for (const ConvGeometry& g : pooling_geometries()) {
    SCOPED_TRACE(describe(g));
    const std::vector<float> image = awkward_values(input_size(g), 77);
    const std::vector<float> pooled_grad = awkward_values(output_size(g), 78);
    std::vector<float> pooled(output_size(g)), expected(input_size(g)), folded(input_size(g), 7.0f);
    reference_max_pool_forward<float>(g, image.data(), pooled.data());
    reference_max_pool_backward<float>(g, image.data(), pooled.data(), pooled_grad.data(), expected.data(),
                                       /*relu_before=*/false);
    reference_relu_backward<float>(static_cast<int>(expected.size()), image.data(), expected.data(),
                                   expected.data());
    reference_max_pool_backward<float>(g, image.data(), pooled.data(), pooled_grad.data(), folded.data(),
                                       /*relu_before=*/true);
    EXPECT_TRUE(same_bits(folded, expected));
  }
}

TEST(KernelTableMaxPool, BackwardHandsEachWindowsGradientToExactlyOneElement) {
  // Finite inputs and gradients: every window's gradient appears once, whole, in its window.
  const ConvGeometry g{
      .batch = 2, .in_height = 6, .in_width = 8, .in_channels = 16, .kernel = 2, .stride = 2};
  Rng rng(3);
  std::vector<float> image(input_size(g)), pooled(output_size(g)), pooled_grad(output_size(g));
  for (float& value : image) value = std::round(static_cast<float>(rng.uniform(-2.0, 2.0)));  // many ties
  for (float& value : pooled_grad) value = static_cast<float>(rng.uniform(1.0, 2.0));
  for (const auto& table : tables_under_test()) {
    SCOPED_TRACE(describe(*table));
    std::vector<float> grad(input_size(g));
    table->max_pool_forward(*table, g, image.data(), pooled.data());
    table->max_pool_backward(*table, g, image.data(), pooled.data(), pooled_grad.data(), grad.data(),
                             /*relu_before=*/false);
    size_t nonzero = 0;
    double total = 0, expected_total = 0;
    for (float value : grad) nonzero += value != 0.0f, total += value;
    for (float value : pooled_grad) expected_total += value;
    EXPECT_EQ(nonzero, output_size(g));
    EXPECT_NEAR(total, expected_total, 1e-3);
  }
}

}  // namespace
}  // namespace qplay

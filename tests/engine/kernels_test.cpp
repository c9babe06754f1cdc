// Specification of the kernel tables (core/engine/kernels). The reference kernels are checked
// against products, patches and sums written out by hand; every table this build offers is then
// checked against the double-precision reference over a sweep of shapes, strides and transposes
// (in the style of XNNPACK's GemmTester), and im2col against col2im through the adjoint identity.
#include <gtest/gtest.h>

#include <array>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#ifdef QPLAY_HAVE_XNNPACK
#include <sys/mman.h>
#include <unistd.h>
#endif

#include "core/engine/base/rng.h"
#ifdef QPLAY_HAVE_AVX2_TABLE
#include "core/engine/kernels/avx2_kernels.h"
#include "core/engine/kernels/avx512_kernels.h"
#endif
#include "core/engine/kernels/kernel_table.h"
#include "core/engine/kernels/reference_kernels.h"
#include "core/engine/nn/linear_algebra.h"
#include "tests/engine/gemm_tester.h"
#include "tests/engine/kernel_tables_under_test.h"

namespace qplay {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

void fill_uniform(Rng& rng, std::vector<float>& values) {
  for (float& value : values) value = static_cast<float>(rng.uniform(-1.0, 1.0));
}

// ---------------------------------------------------------------------------------------------
// The reference, by hand.

// A = [1 2 3; 4 5 6], B = [7 8; 9 10; 11 12], A·B = [58 64; 139 154].
constexpr float kHandA[] = {1, 2, 3, 4, 5, 6};               // [2, 3]
constexpr float kHandATransposed[] = {1, 4, 2, 5, 3, 6};     // [3, 2]
constexpr float kHandB[] = {7, 8, 9, 10, 11, 12};            // [3, 2]
constexpr float kHandBTransposed[] = {7, 9, 11, 8, 10, 12};  // [2, 3]
const std::vector<float> kHandProduct = {58, 64, 139, 154};

TEST(ReferenceGemm, TwoByThreeTimesThreeByTwoIsHandComputed) {
  std::vector<float> c(4, kNaN);
  reference_gemm<float>(Transpose::no, Transpose::no, 2, 2, 3, kHandA, 3, kHandB, 2, c.data(), 2, false);
  EXPECT_EQ(c, kHandProduct);
}

TEST(ReferenceGemm, EveryTransposeCombinationGivesTheSameHandProduct) {
  for (bool transpose_a : {false, true}) {
    for (bool transpose_b : {false, true}) {
      std::vector<float> c(4, kNaN);
      reference_gemm<float>(transpose_a ? Transpose::yes : Transpose::no,
                            transpose_b ? Transpose::yes : Transpose::no, 2, 2, 3,
                            transpose_a ? kHandATransposed : kHandA, transpose_a ? 2 : 3,
                            transpose_b ? kHandBTransposed : kHandB, transpose_b ? 3 : 2, c.data(), 2, false);
      EXPECT_EQ(c, kHandProduct) << "transpose_a=" << transpose_a << " transpose_b=" << transpose_b;
    }
  }
}

TEST(ReferenceGemm, AccumulateAddsTheProductToC) {
  std::vector<float> c = {1, -1, 0.5f, 100};
  reference_gemm<float>(Transpose::no, Transpose::no, 2, 2, 3, kHandA, 3, kHandB, 2, c.data(), 2, true);
  EXPECT_EQ(c, (std::vector<float>{59, 63, 139.5f, 254}));
}

TEST(ReferenceGemm, LeadingDimensionsSkipPadding) {
  // A [2, 3] stored with lda 4, B [3, 2] with ldb 3, C [2, 2] with ldc 5; padding must stay untouched.
  const float a[] = {1, 2, 3, kNaN, 4, 5, 6, kNaN};
  const float b[] = {7, 8, kNaN, 9, 10, kNaN, 11, 12, kNaN};
  std::vector<float> c(10, -1.0f);
  reference_gemm<float>(Transpose::no, Transpose::no, 2, 2, 3, a, 4, b, 3, c.data(), 5, false);
  EXPECT_EQ(c, (std::vector<float>{58, 64, -1, -1, -1, 139, 154, -1, -1, -1}));
}

TEST(ReferenceGemm, EmptySumIsZeroAndLeavesAccumulatedCAlone) {
  std::vector<float> c(4, kNaN);
  reference_gemm<float>(Transpose::no, Transpose::no, 2, 2, 0, kHandA, 1, kHandB, 2, c.data(), 2, false);
  EXPECT_EQ(c, (std::vector<float>{0, 0, 0, 0}));
  std::vector<float> accumulated = {1, 2, 3, 4};
  reference_gemm<float>(Transpose::no, Transpose::no, 2, 2, 0, kHandA, 1, kHandB, 2, accumulated.data(), 2,
                        true);
  EXPECT_EQ(accumulated, (std::vector<float>{1, 2, 3, 4}));
}

TEST(ReferenceIm2col, ThreeByThreeImageWithPaddingOneIsWrittenOut) {
  const ConvGeometry geometry{
      .batch = 1, .in_height = 3, .in_width = 3, .in_channels = 1, .kernel = 3, .stride = 1, .padding = 1};
  const float image[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  ASSERT_EQ(geometry.patch_count(), 9);
  ASSERT_EQ(geometry.patch_size(), 9);
  std::vector<float> columns(81, kNaN);
  reference_im2col<float>(geometry, image, columns.data());
  // One row per output pixel (row-major), each the 3x3 window around it; padding reads 0.
  const std::vector<float> expected = {
      0, 0, 0, 0, 1, 2, 0, 4, 5,  // (0,0)
      0, 0, 0, 1, 2, 3, 4, 5, 6,  // (0,1)
      0, 0, 0, 2, 3, 0, 5, 6, 0,  // (0,2)
      0, 1, 2, 0, 4, 5, 0, 7, 8,  // (1,0)
      1, 2, 3, 4, 5, 6, 7, 8, 9,  // (1,1)
      2, 3, 0, 5, 6, 0, 8, 9, 0,  // (1,2)
      0, 4, 5, 0, 7, 8, 0, 0, 0,  // (2,0)
      4, 5, 6, 7, 8, 9, 0, 0, 0,  // (2,1)
      5, 6, 0, 8, 9, 0, 0, 0, 0,  // (2,2)
  };
  EXPECT_EQ(columns, expected);
}

TEST(ReferenceIm2col, PatchElementOrderIsRowThenColumnThenChannel) {
  // A 2x2 kernel over a 2x2 image gives one patch: the NHWC image itself, ordered (ky, kx, c).
  const ConvGeometry geometry{
      .batch = 1, .in_height = 2, .in_width = 2, .in_channels = 2, .kernel = 2, .stride = 1, .padding = 0};
  const float image[] = {10, 11, 20, 21, 30, 31, 40, 41};  // pixel (y,x) channel c = 10*(2y+x+1) + c
  std::vector<float> columns(8, kNaN);
  reference_im2col<float>(geometry, image, columns.data());
  EXPECT_EQ(columns, (std::vector<float>{10, 11, 20, 21, 30, 31, 40, 41}));
}

TEST(ReferenceIm2col, StrideTwoSkipsEveryOtherWindow) {
  // A 3x5 image holding 0..14, kernel 3, stride 2, no padding: windows start at columns 0 and 2.
  const ConvGeometry geometry{
      .batch = 1, .in_height = 3, .in_width = 5, .in_channels = 1, .kernel = 3, .stride = 2, .padding = 0};
  std::vector<float> image(15);
  for (int i = 0; i < 15; ++i) image[i] = static_cast<float>(i);
  ASSERT_EQ(geometry.patch_count(), 2);
  std::vector<float> columns(18, kNaN);
  reference_im2col<float>(geometry, image.data(), columns.data());
  EXPECT_EQ(columns, (std::vector<float>{0, 1, 2, 5, 6, 7, 10, 11, 12, 2, 3, 4, 7, 8, 9, 12, 13, 14}));
}

TEST(ReferenceCol2im, AllOnesColumnsCountTheWindowsCoveringEachPixel) {
  const ConvGeometry geometry{
      .batch = 1, .in_height = 3, .in_width = 3, .in_channels = 1, .kernel = 3, .stride = 1, .padding = 1};
  std::vector<float> columns(81, 1.0f);
  std::vector<float> image(9, 0.0f);
  reference_col2im<float>(geometry, columns.data(), image.data());
  EXPECT_EQ(image, (std::vector<float>{4, 6, 4, 6, 9, 6, 4, 6, 4}));
}

TEST(ReferenceCol2im, AccumulatesIntoTheImage) {
  const ConvGeometry geometry{
      .batch = 1, .in_height = 3, .in_width = 3, .in_channels = 1, .kernel = 3, .stride = 1, .padding = 1};
  std::vector<float> columns(81, 1.0f);
  std::vector<float> image(9, 0.5f);
  reference_col2im<float>(geometry, columns.data(), image.data());
  EXPECT_EQ(image, (std::vector<float>{4.5f, 6.5f, 4.5f, 6.5f, 9.5f, 6.5f, 4.5f, 6.5f, 4.5f}));
}

TEST(ReferenceElementwise, AddBiasBroadcastsOverRows) {
  std::vector<float> rows = {1, 2, 3, 4, 5, 6};
  const float bias[] = {10, 20, 30};
  reference_add_bias<float>(2, 3, bias, rows.data());
  EXPECT_EQ(rows, (std::vector<float>{11, 22, 33, 14, 25, 36}));
}

TEST(ReferenceElementwise, SumRowsGivesColumnSumsOrAddsThem) {
  const float rows[] = {1, 2, 3, 4, 5, 6};
  std::vector<float> sums(3, kNaN);
  reference_sum_rows<float>(2, 3, rows, sums.data(), false);
  EXPECT_EQ(sums, (std::vector<float>{5, 7, 9}));
  reference_sum_rows<float>(2, 3, rows, sums.data(), true);
  EXPECT_EQ(sums, (std::vector<float>{10, 14, 18}));
}

TEST(ReferenceElementwise, ReluClampsNegativesAndKeepsNaN) {
  std::vector<float> values = {-2, -0.0f, 0, 0.5f, 3, kNaN};
  reference_relu_forward<float>(6, values.data(), values.data());  // in place
  EXPECT_EQ(values[0], 0.0f);
  EXPECT_EQ(values[1], 0.0f);
  EXPECT_EQ(values[3], 0.5f);
  EXPECT_EQ(values[4], 3.0f);
  EXPECT_TRUE(std::isnan(values[5])) << "a diverging run must stay visible as NaN";
}

TEST(ReferenceElementwise, ReluBackwardPassesGradientWhereOutputIsPositive) {
  const float y[] = {0, 0.5f, 0, 2};
  std::vector<float> gradient = {1, 2, 3, 4};
  reference_relu_backward<float>(4, y, gradient.data(), gradient.data());  // in place
  EXPECT_EQ(gradient, (std::vector<float>{0, 2, 0, 4}));
}

// ---------------------------------------------------------------------------------------------
// Every table against the double-precision reference.

TEST(KernelTableGemm, HandProductOnEveryTable) {
  for (const auto& table : tables_under_test()) {
    std::vector<float> c(4, kNaN);
    table->gemm(*table, Transpose::no, Transpose::no, 2, 2, 3, kHandA, 3, kHandB, 2, c.data(), 2, false);
    EXPECT_EQ(c, kHandProduct) << describe(*table);
  }
}

TEST(KernelTableGemm, AllShapesFromOneToThirtyThreeInEveryTransposeCombination) {
  const int sizes[] = {1, 2, 3, 7, 8, 15, 16, 17, 31, 33};
  for (const auto& table : tables_under_test()) {
    SCOPED_TRACE(describe(*table));
    for (int m : sizes) {
      for (int n : sizes) {
        for (int k : sizes) {
          for (bool transpose_a : {false, true}) {
            for (bool transpose_b : {false, true}) {
              GemmTester().m(m).n(n).k(k).transpose_a(transpose_a).transpose_b(transpose_b).test(*table);
            }
          }
        }
      }
    }
  }
}

TEST(KernelTableGemm, LargeAndTailSizesOneDimensionAtATime) {
  const int sizes[] = {1, 2, 3, 7, 8, 15, 16, 17, 31, 33, 64, 100, 257};
  for (const auto& table : tables_under_test()) {
    SCOPED_TRACE(describe(*table));
    for (int size : sizes) {
      for (bool transpose_a : {false, true}) {
        for (bool transpose_b : {false, true}) {
          for (bool accumulate : {false, true}) {
            auto tester = [&] {
              return GemmTester().transpose_a(transpose_a).transpose_b(transpose_b).accumulate(accumulate);
            };
            tester().m(size).n(33).k(64).test(*table);
            tester().m(100).n(size).k(33).test(*table);
            tester().m(64).n(17).k(size).test(*table);
          }
        }
      }
    }
  }
}

TEST(KernelTableGemm, AccumulateAddsToExistingC) {
  for (const auto& table : tables_under_test()) {
    SCOPED_TRACE(describe(*table));
    for (int m : {1, 7, 33, 100}) {
      for (bool ta : {false, true}) {
        for (bool tb : {false, true}) {
          GemmTester().m(m).n(17).k(31).transpose_a(ta).transpose_b(tb).accumulate(true).test(*table);
        }
      }
    }
  }
}

TEST(KernelTableGemm, LeadingDimensionsLargerThanRowsAreHonoured) {
  for (const auto& table : tables_under_test()) {
    SCOPED_TRACE(describe(*table));
    for (int m : {3, 33, 100}) {
      for (bool transpose_a : {false, true}) {
        for (bool transpose_b : {false, true}) {
          for (bool accumulate : {false, true}) {
            GemmTester tester;
            tester.m(m).n(17).k(29).transpose_a(transpose_a).transpose_b(transpose_b).accumulate(accumulate);
            tester.lda(tester.a_cols() + 3).ldb(tester.b_cols() + 5).ldc(17 + 7).test(*table);
          }
        }
      }
    }
  }
}

TEST(KernelTableGemm, EngineLayerShapesMatch) {
  // A 784-256-256-10 MLP at batch 128: forward Y = X·Wᵀ (no, yes), input gradient dX = dY·W (no, no),
  // weight gradient dW = dYᵀ·X (yes, no), which accumulates over micro-batches.
  struct Layer {
    int inputs, outputs;
  };
  for (const auto& table : tables_under_test()) {
    SCOPED_TRACE(describe(*table));
    for (Layer layer : {Layer{784, 256}, Layer{256, 256}, Layer{256, 10}}) {
      GemmTester().m(128).n(layer.outputs).k(layer.inputs).transpose_b(true).test(*table);
      GemmTester().m(128).n(layer.inputs).k(layer.outputs).test(*table);
      GemmTester().m(layer.outputs).n(layer.inputs).k(128).transpose_a(true).accumulate(true).test(*table);
    }
  }
}

TEST(KernelTableGemm, ChangedWeightsAtTheSameAddressAreSeen) {
  // Training updates weights in place, so a table that caches packed weights must notice.
  const int m = 64, n = 48, k = 40;
  Rng rng(7);
  std::vector<float> x(static_cast<size_t>(m) * k), w(static_cast<size_t>(n) * k);
  fill_uniform(rng, x);
  fill_uniform(rng, w);
  for (const auto& table : tables_under_test()) {
    for (int step = 0; step < 3; ++step) {
      w[static_cast<size_t>(step) * 7] += 0.5f;  // one weight changes between calls
      std::vector<float> expected(static_cast<size_t>(m) * n), actual(expected.size());
      reference_gemm<float>(Transpose::no, Transpose::yes, m, n, k, x.data(), k, w.data(), k, expected.data(),
                            n, false);
      table->gemm(*table, Transpose::no, Transpose::yes, m, n, k, x.data(), k, w.data(), k, actual.data(), n,
                  false);
      for (size_t i = 0; i < expected.size(); ++i) {
        ASSERT_NEAR(actual[i], expected[i], 1e-4) << describe(*table) << " step " << step << " element " << i;
      }
    }
  }
}

TEST(KernelTableGemm, ManyWeightMatricesInTurnStayCorrect) {
  // More weight matrices than any operator cache holds, visited twice: evictions and hits both.
  const int m = 40, n = 24, k = 36, matrices = 20;
  Rng rng(11);
  std::vector<std::vector<float>> weights(matrices, std::vector<float>(static_cast<size_t>(n) * k));
  for (auto& w : weights) fill_uniform(rng, w);
  std::vector<float> x(static_cast<size_t>(m) * k);
  fill_uniform(rng, x);
  for (const auto& table : tables_under_test()) {
    for (int pass = 0; pass < 2; ++pass) {
      for (const auto& w : weights) {
        std::vector<float> expected(static_cast<size_t>(m) * n), actual(expected.size());
        reference_gemm<float>(Transpose::no, Transpose::yes, m, n, k, x.data(), k, w.data(), k,
                              expected.data(), n, false);
        table->gemm(*table, Transpose::no, Transpose::yes, m, n, k, x.data(), k, w.data(), k, actual.data(),
                    n, false);
        for (size_t i = 0; i < expected.size(); ++i) {
          ASSERT_NEAR(actual[i], expected[i], 1e-4) << describe(*table) << " pass " << pass;
        }
      }
    }
  }
}

TEST(KernelTableGemm, NaNInAnInputReachesTheOutput) {
  // A diverging run must show NaN in the loss; no backend may turn it into a finite value or -inf.
  const int m = 64, n = 32, k = 48;
  for (const auto& table : tables_under_test()) {
    for (bool accumulate : {false, true}) {
      std::vector<float> a(static_cast<size_t>(m) * k, 0.5f), b(static_cast<size_t>(n) * k, 0.25f);
      std::vector<float> c(static_cast<size_t>(m) * n, 1.0f);
      a[5 * k + 3] = kNaN;  // row 5 of the product is NaN everywhere
      table->gemm(*table, Transpose::no, Transpose::yes, m, n, k, a.data(), k, b.data(), k, c.data(), n,
                  accumulate);
      for (int j = 0; j < n; ++j) {
        EXPECT_TRUE(std::isnan(c[5 * n + j])) << describe(*table) << " column " << j;
      }
      EXPECT_EQ(c[0], 6.0f + (accumulate ? 1.0f : 0.0f)) << describe(*table);
    }
  }
}

#ifdef QPLAY_HAVE_XNNPACK
TEST(KernelTableGemm, InputEndingRightBeforeAnUnmappedPageIsSafe) {
  // XNNPACK may read a few bytes past its input; A here ends where an inaccessible page begins.
  const long page = sysconf(_SC_PAGESIZE);
  void* pages = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(pages, MAP_FAILED);
  ASSERT_EQ(mprotect(static_cast<char*>(pages) + page, page, PROT_NONE), 0);
  const int m = 64, n = 16, k = 15;  // k * 4 bytes is not a multiple of 16: a vector tail read would overrun
  float* a = reinterpret_cast<float*>(static_cast<char*>(pages) + page) - m * k;
  Rng rng(13);
  for (int i = 0; i < m * k; ++i) a[i] = static_cast<float>(rng.uniform(-1.0, 1.0));
  std::vector<float> b(static_cast<size_t>(n) * k);
  fill_uniform(rng, b);
  for (const auto& table : tables_under_test()) {
    for (bool transpose_b : {false, true}) {
      std::vector<float> expected(static_cast<size_t>(m) * n), actual(expected.size());
      const Transpose tb = transpose_b ? Transpose::yes : Transpose::no;
      const int ldb = transpose_b ? k : n;
      reference_gemm<float>(Transpose::no, tb, m, n, k, a, k, b.data(), ldb, expected.data(), n, false);
      table->gemm(*table, Transpose::no, tb, m, n, k, a, k, b.data(), ldb, actual.data(), n, false);
      for (size_t i = 0; i < expected.size(); ++i) {
        ASSERT_NEAR(actual[i], expected[i], 1e-5) << describe(*table);
      }
    }
  }
  munmap(pages, 2 * page);
}

class KernelTableGemmThreads : public ::testing::TestWithParam<std::array<int, 3>> {};

TEST_P(KernelTableGemmThreads, ThreadCountDoesNotChangeTheBits) {
  // Native runs with the same kernels must be bit-reproducible, whatever --threads says.
  const auto [m, n, k] = GetParam();
  Rng rng(17);
  std::vector<float> a(static_cast<size_t>(m) * k), b(static_cast<size_t>(n) * k);
  fill_uniform(rng, a);
  fill_uniform(rng, b);
  for (const std::string name : {"xnnpack", "avx2", "avx512"}) {
    if (!make_kernel_table(name, 1).ok()) continue;
    SCOPED_TRACE(name);
    std::vector<std::vector<float>> results;
    for (int threads : {1, 2, 3}) {
      Result<std::shared_ptr<const KernelTable>> table = make_kernel_table(name, threads);
      ASSERT_TRUE(table.ok()) << table.message();
      // Workers sent to sleep between calls (as the lab does after each slice) wake for the next one.
      EXPECT_EQ((*table)->release_workers != nullptr, threads > 1);
      for (Transpose transpose_b : {Transpose::yes, Transpose::no}) {
        std::vector<float> c(static_cast<size_t>(m) * n);
        (*table)->gemm(**table, Transpose::no, transpose_b, m, n, k, a.data(), k, b.data(),
                       transpose_b == Transpose::yes ? k : n, c.data(), n, false);
        if ((*table)->release_workers) (*table)->release_workers(**table);
        results.push_back(c);
      }
    }
    for (size_t i = 2; i < results.size(); ++i) {
      EXPECT_EQ(std::memcmp(results[i % 2].data(), results[i].data(), results[0].size() * sizeof(float)), 0)
          << i;
    }
  }
}

// A product of many (row block, panel) tasks, and a small C over a long k that is cut by depth.
INSTANTIATE_TEST_SUITE_P(Shapes, KernelTableGemmThreads,
                         ::testing::Values(std::array<int, 3>{128, 96, 600},
                                           std::array<int, 3>{16, 9, 9000}));
#endif

// ---------------------------------------------------------------------------------------------
// Convolution lowering and elementwise kernels on every table.

std::vector<ConvGeometry> adjoint_geometries() {
  std::vector<ConvGeometry> geometries;
  for (int stride : {1, 2}) {
    for (int padding : {0, 1, 2}) {
      for (int kernel : {1, 3, 5}) {
        // 1 and 3 take the small-channel im2col, 5 and 16 the runs (a tail of 7 floats, whole vectors).
        for (int channels : {1, 3, 5, 16}) {
          geometries.push_back(ConvGeometry{.batch = 2,
                                            .in_height = 7,
                                            .in_width = 6,
                                            .in_channels = channels,
                                            .kernel = kernel,
                                            .stride = stride,
                                            .padding = padding});
        }
      }
    }
  }
  return geometries;
}

TEST(ReferenceIm2col, Col2imIsItsAdjoint) {
  // <im2col(x), c> == <x, col2im(c)> for every x and c, in double precision.
  for (const ConvGeometry& geometry : adjoint_geometries()) {
    Rng rng(3);
    const size_t image_size =
        static_cast<size_t>(geometry.batch) * geometry.in_height * geometry.in_width * geometry.in_channels;
    const size_t columns_size = static_cast<size_t>(geometry.patch_count()) * geometry.patch_size();
    std::vector<double> x(image_size), c(columns_size), im2col_x(columns_size), col2im_c(image_size, 0.0);
    for (double& value : x) value = rng.uniform(-1.0, 1.0);
    for (double& value : c) value = rng.uniform(-1.0, 1.0);
    reference_im2col<double>(geometry, x.data(), im2col_x.data());
    reference_col2im<double>(geometry, c.data(), col2im_c.data());
    double left = 0, right = 0, scale = 0;
    for (size_t i = 0; i < columns_size; ++i) {
      left += im2col_x[i] * c[i];
      scale += std::fabs(im2col_x[i] * c[i]);
    }
    for (size_t i = 0; i < image_size; ++i) right += x[i] * col2im_c[i];
    EXPECT_NEAR(left, right, 1e-12 * scale) << describe(geometry);
  }
}

TEST(KernelTableIm2col, EveryTableMatchesTheReferenceExactly) {
  // The small geometries, plus two large enough for a backend to split them across threads (the second
  // is W2's conv2).
  std::vector<ConvGeometry> geometries = adjoint_geometries();
  geometries.push_back(ConvGeometry{.batch = 16,
                                    .in_height = 28,
                                    .in_width = 28,
                                    .in_channels = 4,
                                    .kernel = 3,
                                    .stride = 1,
                                    .padding = 1});
  geometries.push_back(ConvGeometry{.batch = 16,
                                    .in_height = 13,
                                    .in_width = 13,
                                    .in_channels = 16,
                                    .kernel = 3,
                                    .stride = 1,
                                    .padding = 0});
  for (const auto& table : tables_under_test()) {
    for (const ConvGeometry& geometry : geometries) {
      Rng rng(5);
      std::vector<float> image(static_cast<size_t>(geometry.batch) * geometry.in_height * geometry.in_width *
                               geometry.in_channels);
      std::vector<float> columns(static_cast<size_t>(geometry.patch_count()) * geometry.patch_size());
      fill_uniform(rng, image);
      fill_uniform(rng, columns);
      std::vector<float> expected_columns(columns.size(), kNaN), actual_columns(columns.size(), kNaN);
      reference_im2col<float>(geometry, image.data(), expected_columns.data());
      table->im2col(*table, geometry, image.data(), actual_columns.data());
      EXPECT_EQ(actual_columns, expected_columns) << describe(*table) << " " << describe(geometry);

      std::vector<float> expected_image(image.size(), 0.25f), actual_image(image.size(), 0.25f);
      reference_col2im<float>(geometry, columns.data(), expected_image.data());
      table->col2im(*table, geometry, columns.data(), actual_image.data());
      EXPECT_EQ(actual_image, expected_image) << describe(*table) << " " << describe(geometry);
    }
  }
}

// A small shape, and one large enough for a pooled table to split it into chunks with a ragged last one.
class KernelTableElementwise : public ::testing::TestWithParam<std::pair<int, int>> {};

TEST_P(KernelTableElementwise, EveryTableMatchesTheReferenceExactly) {
  const auto [m, n] = GetParam();
  const int count = m * n;
  Rng rng(9);
  std::vector<float> rows(count), bias(n), gradient(count);
  fill_uniform(rng, rows);
  fill_uniform(rng, bias);
  fill_uniform(rng, gradient);
  for (const auto& table : tables_under_test()) {
    SCOPED_TRACE(describe(*table));
    std::vector<float> expected = rows, actual = rows;
    reference_add_bias<float>(m, n, bias.data(), expected.data());
    table->add_bias(*table, m, n, bias.data(), actual.data());
    EXPECT_EQ(actual, expected);

    for (bool accumulate : {false, true}) {
      std::vector<float> expected_sums(n, 0.5f), actual_sums(n, 0.5f);
      reference_sum_rows<float>(m, n, rows.data(), expected_sums.data(), accumulate);
      table->sum_rows(*table, m, n, rows.data(), actual_sums.data(), accumulate);
      EXPECT_EQ(actual_sums, expected_sums);
    }

    std::vector<float> expected_y(count), actual_y(count);
    reference_relu_forward<float>(count, rows.data(), expected_y.data());
    table->relu_forward(*table, count, rows.data(), actual_y.data());
    EXPECT_EQ(actual_y, expected_y);

    std::vector<float> expected_dx(count), actual_dx = gradient;
    reference_relu_backward<float>(count, expected_y.data(), gradient.data(), expected_dx.data());
    table->relu_backward(*table, count, expected_y.data(), actual_dx.data(), actual_dx.data());  // in place
    EXPECT_EQ(actual_dx, expected_dx);
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, KernelTableElementwise,
                         ::testing::Values(std::pair{37, 19}, std::pair{2011, 48}, std::pair{3, 70001}));

// ---------------------------------------------------------------------------------------------
// Choosing a table.

TEST(MakeKernelTable, ReferenceIsSingleThreadedWhateverIsAsked) {
  Result<std::shared_ptr<const KernelTable>> table = make_kernel_table("reference", 4);
  ASSERT_TRUE(table.ok()) << table.message();
  EXPECT_EQ((*table)->name, "reference");
  EXPECT_EQ((*table)->threads, 1);
  EXPECT_EQ(*table, reference_kernel_table());
}

TEST(MakeKernelTable, EveryTableFillsEveryEntry) {
  for (const auto& table : tables_under_test()) {
    EXPECT_NE(table->gemm, nullptr) << describe(*table);
    EXPECT_NE(table->im2col, nullptr) << describe(*table);
    EXPECT_NE(table->col2im, nullptr) << describe(*table);
    EXPECT_NE(table->add_bias, nullptr) << describe(*table);
    EXPECT_NE(table->sum_rows, nullptr) << describe(*table);
    EXPECT_NE(table->relu_forward, nullptr) << describe(*table);
    EXPECT_NE(table->relu_backward, nullptr) << describe(*table);
  }
}

TEST(MakeKernelTable, UnknownNameListsTheValidOnes) {
  Result<std::shared_ptr<const KernelTable>> table = make_kernel_table("foo", 1);
  ASSERT_FALSE(table.ok());
  EXPECT_EQ(table.message(), "unknown kernel table 'foo'; choose one of: " + available_kernel_tables());
}

TEST(MakeKernelTable, ThreadCountOutsideOneToSixtyFourIsAnError) {
  for (int threads : {0, -1, 65}) {
    Result<std::shared_ptr<const KernelTable>> table = make_kernel_table("reference", threads);
    ASSERT_FALSE(table.ok()) << threads;
    EXPECT_NE(table.message().find("between 1 and 64"), std::string::npos) << table.message();
  }
}

#if defined(QPLAY_HAVE_AVX2_TABLE) && defined(QPLAY_HAVE_XNNPACK)
TEST(MakeKernelTable, NativeBuildOffersAvx2Avx512AndXnnpackAndAutoPicksTheWidestTheCpuRuns) {
  EXPECT_EQ(available_kernel_tables(), "reference, avx2, avx512, xnnpack, auto");
  Result<std::shared_ptr<const KernelTable>> xnnpack = make_kernel_table("xnnpack", 2);
  ASSERT_TRUE(xnnpack.ok()) << xnnpack.message();
  EXPECT_EQ((*xnnpack)->name, "xnnpack");
  EXPECT_EQ((*xnnpack)->threads, 2);
  EXPECT_EQ(make_kernel_table("avx512", 1).ok(), cpu_has_avx512f()) << "a CPU without AVX-512F is refused";
  if (!cpu_has_avx2_fma()) {
    EXPECT_FALSE(make_kernel_table("avx2", 1).ok());
    GTEST_SKIP() << "this CPU has no AVX2/FMA3: auto falls back to xnnpack";
  }
  Result<std::shared_ptr<const KernelTable>> automatic = make_kernel_table("auto", 3);
  ASSERT_TRUE(automatic.ok()) << automatic.message();
  EXPECT_EQ((*automatic)->name, cpu_has_avx512f() ? "avx512" : "avx2");
  EXPECT_EQ((*automatic)->threads, 3);
}
#elif !defined(__wasm_simd128__)  // the SIMD128 build's choice is tested in kernels_simd128_test.cpp
TEST(MakeKernelTable, BuildWithoutPooledTablesOffersReferenceAndAutoPicksIt) {
  EXPECT_EQ(available_kernel_tables(), "reference, auto");
  Result<std::shared_ptr<const KernelTable>> automatic = make_kernel_table("auto", 2);
  ASSERT_TRUE(automatic.ok()) << automatic.message();
  EXPECT_EQ((*automatic)->name, "reference");
  EXPECT_FALSE(make_kernel_table("xnnpack", 1).ok());
  EXPECT_FALSE(make_kernel_table("avx2", 1).ok());
  EXPECT_FALSE(make_kernel_table("avx512", 1).ok());
}
#endif

TEST(KernelTableParallelFor, RunsEveryIndexExactlyOnceOnEveryTable) {
  for (const std::shared_ptr<const KernelTable>& table : tables_under_test()) {
    EXPECT_EQ(table->parallel_for != nullptr, table->threads > 1) << describe(*table);
    for (size_t count : {0, 1, 2, 3, 17, 1000}) {
      std::vector<int> runs(count, 0);  // each index is one task's own element: no race
      parallel_for(*table, count, [&](size_t index) { ++runs[index]; });
      EXPECT_EQ(runs, std::vector<int>(count, 1)) << describe(*table) << " count " << count;
    }
  }
}

// The kernels' preconditions are asserted at their one entry (nn/linear_algebra.h), in debug builds.
#if !defined(NDEBUG) && GTEST_HAS_DEATH_TEST
TEST(KernelEntryDeathTest, RefusesALeadingDimensionShorterThanARow) {
  const std::vector<float> a(6, 1.0f), b(6, 1.0f);
  std::vector<float> c(4, 0.0f);
  // A is 2 x 3, so its rows are 3 apart; 2 would read the wrong elements.
  EXPECT_DEATH(linear_algebra::gemm(*reference_kernel_table(), Transpose::no, Transpose::no, 2, 2, 3,
                                    a.data(), 2, b.data(), 2, c.data(), 2, false),
               "lda");
  ConvGeometry broken;  // no image
  EXPECT_DEATH(linear_algebra::im2col(*reference_kernel_table(), broken, a.data(), c.data()), "in_height");
}
#endif

}  // namespace
}  // namespace qplay

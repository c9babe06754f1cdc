// Specification of the "simd128" KernelTable beyond the shared sweep in kernels_test.cpp (which
// checks it against the double-precision reference): it is what "auto" picks in a SIMD128 build,
// and its GEMM gives exactly the reference's float bits (every sum runs over k in increasing order
// in both), over tiles, tails, strides, transposes and shapes larger than the sweep's, while
// writing nothing outside C. WebAssembly builds with SIMD128 only.
#if defined(__wasm_simd128__)

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/engine/base/rng.h"
#include "core/engine/kernels/kernel_table.h"
#include "core/engine/kernels/reference_kernels.h"

namespace qplay {
namespace {

std::shared_ptr<const KernelTable> simd128_table() {
  Result<std::shared_ptr<const KernelTable>> table = make_kernel_table("simd128", 1);
  EXPECT_TRUE(table.ok()) << table.message();
  return table.ok() ? *table : nullptr;
}

// Random entries inside the matrix, `padding` in the stride gap.
std::vector<float> padded_matrix(Rng& rng, int rows, int cols, int stride, float padding) {
  std::vector<float> matrix(static_cast<size_t>(rows) * stride, padding);
  for (int r = 0; r < rows; ++r) {
    float* row = matrix.data() + static_cast<size_t>(r) * stride;
    for (int c = 0; c < cols; ++c) row[c] = static_cast<float>(rng.uniform(-1, 1));
  }
  return matrix;
}

// Runs the table's GEMM and reference_gemm<float> on the same inputs, stride gaps 3 (A), 5 (B)
// and 7 (C) wide when `padded`, and compares every float of C bit for bit, gaps included.
void expect_same_bits_as_reference(const KernelTable& table, int m, int n, int k, bool transpose_a,
                                   bool transpose_b, bool accumulate, bool padded) {
  const int a_rows = transpose_a ? k : m, a_cols = transpose_a ? m : k;
  const int b_rows = transpose_b ? n : k, b_cols = transpose_b ? k : n;
  const int lda = a_cols + (padded ? 3 : 0), ldb = b_cols + (padded ? 5 : 0), ldc = n + (padded ? 7 : 0);
  Rng rng(static_cast<uint64_t>(m) * 7919 + n * 131 + k);
  const std::vector<float> a = padded_matrix(rng, a_rows, a_cols, lda, 1.0e4f);
  const std::vector<float> b = padded_matrix(rng, b_rows, b_cols, ldb, -1.0e4f);
  std::vector<float> expected = padded_matrix(rng, m, n, ldc, -7.25f), actual = expected;
  const Transpose ta = transpose_a ? Transpose::yes : Transpose::no;
  const Transpose tb = transpose_b ? Transpose::yes : Transpose::no;
  reference_gemm<float>(ta, tb, m, n, k, a.data(), lda, b.data(), ldb, expected.data(), ldc, accumulate);
  table.gemm(table, ta, tb, m, n, k, a.data(), lda, b.data(), ldb, actual.data(), ldc, accumulate);
  ASSERT_EQ(std::memcmp(actual.data(), expected.data(), expected.size() * sizeof(float)), 0)
      << "m=" << m << " n=" << n << " k=" << k << (transpose_a ? " A^T" : " A")
      << (transpose_b ? " B^T" : " B") << (accumulate ? " C+=" : " C=") << (padded ? " padded" : "");
}

TEST(Simd128KernelTable, AutoPicksItAndTheBuildListsIt) {
  EXPECT_EQ(available_kernel_tables(), "reference, simd128, auto");
  Result<std::shared_ptr<const KernelTable>> automatic = make_kernel_table("auto", 2);
  ASSERT_TRUE(automatic.ok()) << automatic.message();
  EXPECT_EQ((*automatic)->name, "simd128");
#if defined(__EMSCRIPTEN_PTHREADS__)
  EXPECT_EQ((*automatic)->threads, 2);
  EXPECT_GE(max_kernel_threads(), 2);
#else
  EXPECT_EQ((*automatic)->threads, 1);
  EXPECT_EQ(max_kernel_threads(), 1);
#endif
  EXPECT_FALSE(make_kernel_table("xnnpack", 1).ok());
}

TEST(Simd128Gemm, SameBitsAsTheReferenceAcrossTilesTailsAndStrides) {
  // 4x8 tiles and the 4x4 transposes that pack B^T: sizes on both sides of every multiple of 4 and 8.
  const int sizes[] = {1, 3, 4, 5, 6, 7, 8, 9, 12, 13, 17};
  const auto table = simd128_table();
  ASSERT_NE(table, nullptr);
  for (int m : sizes) {
    for (int n : sizes) {
      for (int k : sizes) {
        for (int variant = 0; variant < 16; ++variant) {
          expect_same_bits_as_reference(*table, m, n, k, variant & 1, variant & 2, variant & 4, variant & 8);
        }
      }
    }
  }
}

TEST(Simd128Gemm, SameBitsAsTheReferenceOnLayerShapes) {
  // The MLP 784-256-256-10 at batch 128 (forward, input and weight gradients) and a 3x3 conv
  // lowering; scratch grows and shrinks between them.
  struct Shape {
    int m, n, k;
    bool transpose_a, transpose_b, accumulate;
  };
  const Shape shapes[] = {{128, 256, 784, false, true, false}, {128, 784, 256, false, false, false},
                          {256, 784, 128, true, false, true},  {128, 10, 256, false, true, false},
                          {10, 256, 128, true, false, true},   {2, 3, 5, false, false, false},
                          {1568, 32, 144, false, true, false}, {32, 144, 1568, true, false, true},
                          {257, 263, 1031, true, true, true}};
  const auto table = simd128_table();
  ASSERT_NE(table, nullptr);
  for (const Shape& s : shapes) {
    expect_same_bits_as_reference(*table, s.m, s.n, s.k, s.transpose_a, s.transpose_b, s.accumulate, false);
  }
}

TEST(Simd128Gemm, EmptyProductsLeaveCAsTheReferenceDoes) {
  const auto table = simd128_table();
  ASSERT_NE(table, nullptr);
  for (int variant = 0; variant < 8; ++variant) {
    expect_same_bits_as_reference(*table, 5, 9, 0, variant & 1, variant & 2, variant & 4, false);
    expect_same_bits_as_reference(*table, 0, 9, 4, variant & 1, variant & 2, variant & 4, false);
    expect_same_bits_as_reference(*table, 5, 0, 4, variant & 1, variant & 2, variant & 4, false);
  }
}

TEST(Simd128Gemm, EveryThreadCountGivesTheReferenceBits) {
  // Products large enough to be split (over 4 MFLOP), along rows (N <= M) and along columns, with
  // tails of tiles and panels and blocks of unequal sizes; the threaded build's pool has 3 workers.
  struct Shape {
    int m, n, k;
    bool transpose_a, transpose_b, accumulate, padded;
  };
  const Shape shapes[] = {
      {128, 256, 784, false, true, false, false}, {256, 784, 128, true, false, true, false},
      {131, 97, 301, false, false, false, true},  {13, 803, 257, true, true, true, true},
      {1568, 32, 144, false, true, false, false}, {9, 1000, 300, false, false, true, true}};
  for (int threads : {2, 3, 4, 8}) {
    Result<std::shared_ptr<const KernelTable>> table = make_kernel_table("simd128", threads);
    ASSERT_TRUE(table.ok()) << table.message();
    EXPECT_EQ((*table)->threads, std::min(threads, max_kernel_threads()));
    EXPECT_EQ((*table)->release_workers != nullptr, (*table)->threads > 1);
    for (const Shape& s : shapes) {
      SCOPED_TRACE("threads " + std::to_string(threads));
      expect_same_bits_as_reference(**table, s.m, s.n, s.k, s.transpose_a, s.transpose_b, s.accumulate,
                                    s.padded);
    }
  }
}

}  // namespace
}  // namespace qplay

#endif  // defined(__wasm_simd128__)

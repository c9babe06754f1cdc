// GemmTester: checks one GEMM of a KernelTable against reference_gemm<double>, in the style of
// XNNPACK's GemmTester (`GemmTester().m(3).n(17).k(29).transpose_b(true).test(table)`), with
// sentinels in the stride padding and a rounding bound that holds for any summation order. Shared by
// the kernel table tests (kernels_test.cpp, kernels_avx512_test.cpp).
#pragma once

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/engine/base/rng.h"
#include "core/engine/kernels/kernel_table.h"
#include "core/engine/kernels/reference_kernels.h"

namespace qplay {

// Checks table.gemm against reference_gemm<double> for one shape. Unset leading dimensions are
// tight. Entries of A, B and C outside the matrices (stride padding) hold large finite sentinels,
// so a kernel that reads them is far off (NaN could be caught by a backend's NaN fallback and so
// hide the bug), and one that writes them is caught.
class GemmTester {
 public:
  // clang-format off
  GemmTester& m(int value) { m_ = value; return *this; }
  GemmTester& n(int value) { n_ = value; return *this; }
  GemmTester& k(int value) { k_ = value; return *this; }
  GemmTester& lda(int value) { lda_ = value; return *this; }
  GemmTester& ldb(int value) { ldb_ = value; return *this; }
  GemmTester& ldc(int value) { ldc_ = value; return *this; }
  GemmTester& transpose_a(bool value) { transpose_a_ = value; return *this; }
  GemmTester& transpose_b(bool value) { transpose_b_ = value; return *this; }
  GemmTester& accumulate(bool value) { accumulate_ = value; return *this; }
  // clang-format on

  int a_rows() const { return transpose_a_ ? k_ : m_; }
  int a_cols() const { return transpose_a_ ? m_ : k_; }
  int b_rows() const { return transpose_b_ ? n_ : k_; }
  int b_cols() const { return transpose_b_ ? k_ : n_; }
  int lda() const { return lda_ != 0 ? lda_ : a_cols(); }
  int ldb() const { return ldb_ != 0 ? ldb_ : b_cols(); }
  int ldc() const { return ldc_ != 0 ? ldc_ : n_; }

  std::string describe() const {
    return "m=" + std::to_string(m_) + " n=" + std::to_string(n_) + " k=" + std::to_string(k_) +
           " lda=" + std::to_string(lda()) + " ldb=" + std::to_string(ldb()) +
           " ldc=" + std::to_string(ldc()) + (transpose_a_ ? " A^T" : " A") + (transpose_b_ ? " B^T" : " B") +
           (accumulate_ ? " C+=" : " C=");
  }

  void test(const KernelTable& table) const {
    ASSERT_GE(lda(), a_cols());
    ASSERT_GE(ldb(), b_cols());
    ASSERT_GE(ldc(), n_);
    Rng rng(static_cast<uint64_t>(m_) * 1000003 + n_ * 1009 + k_);
    std::vector<float> a = padded_matrix(rng, a_rows(), a_cols(), lda(), 1.0e4f);
    std::vector<float> b = padded_matrix(rng, b_rows(), b_cols(), ldb(), -1.0e4f);
    std::vector<float> c = padded_matrix(rng, m_, n_, ldc(), -7.25f);
    if (!accumulate_) {
      // Without accumulate C must not be read: NaN there would show up in the result.
      for (int i = 0; i < m_; ++i)
        std::fill_n(c.begin() + static_cast<size_t>(i) * ldc(), n_, std::numeric_limits<float>::quiet_NaN());
    }
    const std::vector<float> c_before = c;

    // The exact answer, and Σ|a||b| + |c| per element, which bounds the rounding error of any
    // summation order: |error| <= (K + 1) u Σ|a||b| + u |c| with u = FLT_EPSILON / 2.
    const Transpose ta = transpose_a_ ? Transpose::yes : Transpose::no;
    const Transpose tb = transpose_b_ ? Transpose::yes : Transpose::no;
    std::vector<double> expected(c.begin(), c.end()), magnitude(c.size());
    std::vector<double> a_double(a.begin(), a.end()), b_double(b.begin(), b.end());
    reference_gemm<double>(ta, tb, m_, n_, k_, a_double.data(), lda(), b_double.data(), ldb(),
                           expected.data(), ldc(), accumulate_);
    for (double& value : a_double) value = std::fabs(value);
    for (double& value : b_double) value = std::fabs(value);
    reference_gemm<double>(ta, tb, m_, n_, k_, a_double.data(), lda(), b_double.data(), ldb(),
                           magnitude.data(), ldc(), false);

    table.gemm(table, ta, tb, m_, n_, k_, a.data(), lda(), b.data(), ldb(), c.data(), ldc(), accumulate_);

    int failures = 0;
    for (int i = 0; i < m_ && failures < 5; ++i) {
      for (int j = 0; j < ldc() && failures < 5; ++j) {
        const size_t index = static_cast<size_t>(i) * ldc() + j;
        if (j >= n_) {
          if (std::memcmp(&c[index], &c_before[index], sizeof(float)) != 0) {
            ADD_FAILURE() << describe() << ": wrote C[" << i << "," << j << "] outside the matrix";
            ++failures;
          }
          continue;
        }
        const double old_c = accumulate_ ? std::fabs(static_cast<double>(c_before[index])) : 0.0;
        const double tolerance = (k_ + 2) * static_cast<double>(FLT_EPSILON) * (magnitude[index] + old_c);
        if (!(std::fabs(c[index] - expected[index]) <= tolerance)) {
          ADD_FAILURE() << describe() << ": C[" << i << "," << j << "] = " << c[index] << ", expected "
                        << expected[index] << " within " << tolerance;
          ++failures;
        }
      }
    }
  }

 private:
  static std::vector<float> padded_matrix(Rng& rng, int rows, int cols, int stride, float padding) {
    std::vector<float> matrix(static_cast<size_t>(rows) * stride, padding);
    for (int r = 0; r < rows; ++r) {
      for (int c = 0; c < cols; ++c) {
        matrix[static_cast<size_t>(r) * stride + c] = static_cast<float>(rng.uniform(-1.0, 1.0));
      }
    }
    return matrix;
  }

  int m_ = 1, n_ = 1, k_ = 1;
  int lda_ = 0, ldb_ = 0, ldc_ = 0;
  bool transpose_a_ = false, transpose_b_ = false, accumulate_ = false;
};

}  // namespace qplay

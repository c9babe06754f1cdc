// The layers are templates over the scalar type: float runs through the chosen KernelTable
// (reference, XNNPACK, SIMD128); double runs the reference templates, which is how every
// backward pass is checked against finite differences in double precision.
#pragma once

#include "core/engine/kernels/kernel_table.h"
#include "core/engine/kernels/reference_kernels.h"

namespace qplay::linear_algebra {

inline void gemm(const KernelTable& table, Transpose ta, Transpose tb, int M, int N, int K, const float* A,
                 int lda, const float* B, int ldb, float* C, int ldc, bool accumulate) {
  table.gemm(table, ta, tb, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}
inline void gemm(const KernelTable&, Transpose ta, Transpose tb, int M, int N, int K, const double* A, int lda,
                 const double* B, int ldb, double* C, int ldc, bool accumulate) {
  reference_gemm<double>(ta, tb, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

inline void im2col(const KernelTable& table, const ConvGeometry& g, const float* image, float* columns) {
  table.im2col(table, g, image, columns);
}
inline void im2col(const KernelTable&, const ConvGeometry& g, const double* image, double* columns) {
  reference_im2col<double>(g, image, columns);
}

inline void col2im(const KernelTable& table, const ConvGeometry& g, const float* columns, float* image) {
  table.col2im(table, g, columns, image);
}
inline void col2im(const KernelTable&, const ConvGeometry& g, const double* columns, double* image) {
  reference_col2im<double>(g, columns, image);
}

inline void add_bias(const KernelTable& table, int M, int N, const float* bias, float* rows) {
  table.add_bias(table, M, N, bias, rows);
}
inline void add_bias(const KernelTable&, int M, int N, const double* bias, double* rows) {
  reference_add_bias<double>(M, N, bias, rows);
}

inline void sum_rows(const KernelTable& table, int M, int N, const float* rows, float* sums, bool accumulate) {
  table.sum_rows(table, M, N, rows, sums, accumulate);
}
inline void sum_rows(const KernelTable&, int M, int N, const double* rows, double* sums, bool accumulate) {
  reference_sum_rows<double>(M, N, rows, sums, accumulate);
}

inline void relu_forward(const KernelTable& table, int n, const float* x, float* y) {
  table.relu_forward(table, n, x, y);
}
inline void relu_forward(const KernelTable&, int n, const double* x, double* y) {
  reference_relu_forward<double>(n, x, y);
}

inline void relu_backward(const KernelTable& table, int n, const float* y, const float* dy, float* dx) {
  table.relu_backward(table, n, y, dy, dx);
}
inline void relu_backward(const KernelTable&, int n, const double* y, const double* dy, double* dx) {
  reference_relu_backward<double>(n, y, dy, dx);
}

}  // namespace qplay::linear_algebra

// The layers are templates over the scalar type: float runs through the chosen KernelTable
// (reference, XNNPACK, SIMD128); double runs the reference templates, which is how every
// backward pass is checked against finite differences in double precision.
//
// Every call passes here, so the preconditions every kernel assumes (shapes, leading dimensions,
// pointers; XNNPACK asserts its micro-kernels' the same way) are asserted once, at this entry.
#pragma once

#include <algorithm>
#include <cassert>

#include "core/engine/kernels/kernel_table.h"
#include "core/engine/kernels/reference_kernels.h"

namespace qplay::linear_algebra {

// C[M, N] (+)= op(A)[M, K] · op(B)[K, N], row-major with leading dimensions: A is M x K (K x M when
// transposed), B is K x N (N x K when transposed).
inline void check_gemm(Transpose ta, Transpose tb, int M, int N, int K, const void* A, int lda, const void* B,
                       int ldb, const void* C, int ldc) {
  assert(M >= 0 && N >= 0 && K >= 0);
  assert(lda >= std::max(1, ta == Transpose::no ? K : M));
  assert(ldb >= std::max(1, tb == Transpose::no ? N : K));
  assert(ldc >= std::max(1, N));
  assert(M == 0 || N == 0 || C != nullptr);
  assert(M == 0 || N == 0 || K == 0 || (A != nullptr && B != nullptr));
  (void)ta, (void)tb, (void)M, (void)N, (void)K, (void)A, (void)lda, (void)B, (void)ldb, (void)C, (void)ldc;
}

inline void check_geometry(const ConvGeometry& g, const void* from, const void* to) {
  assert(g.batch >= 1 && g.in_height >= 1 && g.in_width >= 1 && g.in_channels >= 1);
  assert(g.kernel >= 1 && g.stride >= 1 && g.padding >= 0 && g.out_height() >= 1 && g.out_width() >= 1);
  assert(from != nullptr && to != nullptr);
  (void)g, (void)from, (void)to;
}

inline void check_rows(int M, int N, const void* a, const void* b) {
  assert(M >= 0 && N >= 0);
  assert(M == 0 || N == 0 || (a != nullptr && b != nullptr));
  (void)M, (void)N, (void)a, (void)b;
}

inline void gemm(const KernelTable& table, Transpose ta, Transpose tb, int M, int N, int K, const float* A,
                 int lda, const float* B, int ldb, float* C, int ldc, bool accumulate) {
  check_gemm(ta, tb, M, N, K, A, lda, B, ldb, C, ldc);
  table.gemm(table, ta, tb, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}
inline void gemm(const KernelTable&, Transpose ta, Transpose tb, int M, int N, int K, const double* A,
                 int lda, const double* B, int ldb, double* C, int ldc, bool accumulate) {
  check_gemm(ta, tb, M, N, K, A, lda, B, ldb, C, ldc);
  reference_gemm<double>(ta, tb, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

inline void im2col(const KernelTable& table, const ConvGeometry& g, const float* image, float* columns) {
  check_geometry(g, image, columns);
  table.im2col(table, g, image, columns);
}
inline void im2col(const KernelTable&, const ConvGeometry& g, const double* image, double* columns) {
  check_geometry(g, image, columns);
  reference_im2col<double>(g, image, columns);
}

inline void col2im(const KernelTable& table, const ConvGeometry& g, const float* columns, float* image) {
  check_geometry(g, columns, image);
  table.col2im(table, g, columns, image);
}
inline void col2im(const KernelTable&, const ConvGeometry& g, const double* columns, double* image) {
  check_geometry(g, columns, image);
  reference_col2im<double>(g, columns, image);
}

inline void add_bias(const KernelTable& table, int M, int N, const float* bias, float* rows) {
  check_rows(M, N, bias, rows);
  table.add_bias(table, M, N, bias, rows);
}
inline void add_bias(const KernelTable&, int M, int N, const double* bias, double* rows) {
  check_rows(M, N, bias, rows);
  reference_add_bias<double>(M, N, bias, rows);
}

inline void sum_rows(const KernelTable& table, int M, int N, const float* rows, float* sums,
                     bool accumulate) {
  check_rows(M, N, rows, sums);
  table.sum_rows(table, M, N, rows, sums, accumulate);
}
inline void sum_rows(const KernelTable&, int M, int N, const double* rows, double* sums, bool accumulate) {
  check_rows(M, N, rows, sums);
  reference_sum_rows<double>(M, N, rows, sums, accumulate);
}

inline void relu_forward(const KernelTable& table, int n, const float* x, float* y) {
  check_rows(1, n, x, y);
  table.relu_forward(table, n, x, y);
}
inline void relu_forward(const KernelTable&, int n, const double* x, double* y) {
  check_rows(1, n, x, y);
  reference_relu_forward<double>(n, x, y);
}

inline void relu_backward(const KernelTable& table, int n, const float* y, const float* dy, float* dx) {
  check_rows(1, n, y, dx);
  assert(n == 0 || dy != nullptr);
  table.relu_backward(table, n, y, dy, dx);
}
inline void relu_backward(const KernelTable&, int n, const double* y, const double* dy, double* dx) {
  check_rows(1, n, y, dx);
  assert(n == 0 || dy != nullptr);
  reference_relu_backward<double>(n, y, dy, dx);
}

inline void max_pool_forward(const KernelTable& table, const ConvGeometry& g, const float* input,
                             float* output) {
  check_geometry(g, input, output);
  table.max_pool_forward(table, g, input, output);
}
inline void max_pool_forward(const KernelTable&, const ConvGeometry& g, const double* input, double* output) {
  check_geometry(g, input, output);
  reference_max_pool_forward<double>(g, input, output);
}

inline void max_pool_backward(const KernelTable& table, const ConvGeometry& g, const float* input,
                              const float* output, const float* output_grad, float* input_grad,
                              bool relu_before) {
  check_geometry(g, input, input_grad);
  assert(output != nullptr && output_grad != nullptr);
  table.max_pool_backward(table, g, input, output, output_grad, input_grad, relu_before);
}
inline void max_pool_backward(const KernelTable&, const ConvGeometry& g, const double* input,
                              const double* output, const double* output_grad, double* input_grad,
                              bool relu_before) {
  check_geometry(g, input, input_grad);
  assert(output != nullptr && output_grad != nullptr);
  reference_max_pool_backward<double>(g, input, output, output_grad, input_grad, relu_before);
}

}  // namespace qplay::linear_algebra

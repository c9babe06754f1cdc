// The "reference" KernelTable: the float instantiations of reference_kernels.h behind the table's
// function-pointer signatures. Single-threaded, no backend state, available in every build
// (native and WebAssembly).
#include "core/engine/kernels/reference_kernels.h"

namespace qplay {
namespace {

void reference_gemm_entry(const KernelTable&, Transpose transpose_a, Transpose transpose_b, int M, int N,
                          int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc,
                          bool accumulate) {
  reference_gemm<float>(transpose_a, transpose_b, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

void reference_im2col_entry(const KernelTable&, const ConvGeometry& geometry, const float* image,
                            float* columns) {
  reference_im2col<float>(geometry, image, columns);
}

void reference_col2im_entry(const KernelTable&, const ConvGeometry& geometry, const float* columns,
                            float* image) {
  reference_col2im<float>(geometry, columns, image);
}

void reference_add_bias_entry(const KernelTable&, int M, int N, const float* bias, float* rows) {
  reference_add_bias<float>(M, N, bias, rows);
}

void reference_sum_rows_entry(const KernelTable&, int M, int N, const float* rows, float* sums,
                              bool accumulate) {
  reference_sum_rows<float>(M, N, rows, sums, accumulate);
}

void reference_relu_forward_entry(const KernelTable&, int n, const float* x, float* y) {
  reference_relu_forward<float>(n, x, y);
}

void reference_relu_backward_entry(const KernelTable&, int n, const float* y, const float* dy, float* dx) {
  reference_relu_backward<float>(n, y, dy, dx);
}

void reference_max_pool_forward_entry(const KernelTable&, const ConvGeometry& geometry, const float* input,
                                      float* output) {
  reference_max_pool_forward<float>(geometry, input, output);
}

void reference_max_pool_backward_entry(const KernelTable&, const ConvGeometry& geometry, const float* input,
                                       const float* output, const float* output_grad, float* input_grad,
                                       bool relu_before) {
  reference_max_pool_backward<float>(geometry, input, output, output_grad, input_grad, relu_before);
}

}  // namespace

std::shared_ptr<const KernelTable> reference_kernel_table() {
  static const std::shared_ptr<const KernelTable> table = [] {
    auto reference = std::make_shared<KernelTable>();
    reference->name = "reference";
    reference->threads = 1;
    reference->gemm = reference_gemm_entry;
    reference->im2col = reference_im2col_entry;
    reference->col2im = reference_col2im_entry;
    reference->add_bias = reference_add_bias_entry;
    reference->sum_rows = reference_sum_rows_entry;
    reference->relu_forward = reference_relu_forward_entry;
    reference->relu_backward = reference_relu_backward_entry;
    reference->max_pool_forward = reference_max_pool_forward_entry;
    reference->max_pool_backward = reference_max_pool_backward_entry;
    return std::shared_ptr<const KernelTable>(std::move(reference));
  }();
  return table;
}

}  // namespace qplay

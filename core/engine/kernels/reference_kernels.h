// The reference kernels: plain C++ loops that define what every kernel table must compute.
// They are templates over the scalar type because the engine runs the same layers in double
// precision for finite-difference gradient checks; the float instantiations make up the
// "reference" KernelTable (reference_kernel_table() in kernel_table.h).
//
// Written to be obviously correct first and reasonably cache-friendly second (the whole training
// tests run on them). Every output element of reference_gemm is summed over k in increasing
// order, so results do not depend on the loop tiling. Not tuned per CPU: that is what the XNNPACK
// and SIMD128 tables are for.
//
// Shapes follow kernel_table.h: row-major, [rows, cols], NHWC images.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <limits>
#include <vector>

#include "core/engine/kernels/kernel_table.h"

namespace qplay {

// destination[cols, rows] = source[rows, cols] transposed. In 16x16 tiles because the plain double
// loop strides through memory by a (often power-of-two) row length and thrashes the cache: measured
// 5x slower for a 256x784 float matrix.
template <typename T>
void transpose_matrix(int rows, int cols, const T* source, int source_stride, T* destination,
                      int destination_stride) {
  constexpr int kTile = 16;
  for (int row_begin = 0; row_begin < rows; row_begin += kTile) {
    const int row_end = std::min(rows, row_begin + kTile);
    for (int col_begin = 0; col_begin < cols; col_begin += kTile) {
      const int col_end = std::min(cols, col_begin + kTile);
      for (int col = col_begin; col < col_end; ++col) {
        T* destination_row = destination + static_cast<size_t>(col) * destination_stride;
        for (int row = row_begin; row < row_end; ++row) {
          destination_row[row] = source[static_cast<size_t>(row) * source_stride + col];
        }
      }
    }
  }
}

// C[M,N] (+)= op(A)[M,K] · op(B)[K,N]; see GemmFunction in kernel_table.h for the argument contract.
// With accumulate, the product is formed first and then added, so C's old value never enters the
// running sum; without accumulate C's old value is never read (it may hold garbage, even NaN).
template <typename T>
void reference_gemm(Transpose transpose_a, Transpose transpose_b, int M, int N, int K, const T* A, int lda,
                    const T* B, int ldb, T* C, int ldc, bool accumulate) {
  assert(M >= 0 && N >= 0 && K >= 0);
  assert(lda >= (transpose_a == Transpose::no ? K : M));
  assert(ldb >= (transpose_b == Transpose::no ? N : K));
  assert(ldc >= N);
  if (M == 0 || N == 0) return;

  // Transposed operands are first copied into dense row-major op(A) [M,K] and op(B) [K,N]: the loop
  // below then reads both contiguously (and vectorizes over j) without reordering any sum, whereas
  // walking a transposed operand in place strides through memory by a row length per element.
  std::vector<T> a_dense, b_dense;
  const T* a_rows = A;
  size_t a_stride = static_cast<size_t>(lda);
  if (transpose_a == Transpose::yes) {
    a_dense.resize(static_cast<size_t>(M) * K);
    transpose_matrix(K, M, A, lda, a_dense.data(), K);
    a_rows = a_dense.data();
    a_stride = static_cast<size_t>(K);
  }
  const T* b_rows = B;
  size_t b_stride = static_cast<size_t>(ldb);
  if (transpose_b == Transpose::yes) {
    b_dense.resize(static_cast<size_t>(K) * N);
    transpose_matrix(N, K, B, ldb, b_dense.data(), N);
    b_rows = b_dense.data();
    b_stride = static_cast<size_t>(N);
  }

  // The product accumulates in C itself, or in scratch when it is to be added to C afterwards.
  std::vector<T> product_storage;
  T* product = C;
  size_t product_stride = static_cast<size_t>(ldc);
  if (accumulate) {
    product_storage.assign(static_cast<size_t>(M) * N, T(0));
    product = product_storage.data();
    product_stride = static_cast<size_t>(N);
  } else {
    for (int i = 0; i < M; ++i) std::fill_n(C + i * product_stride, N, T(0));
  }

  // i-k-j order within blocks of k: every row of the product passes over the block's rows of op(B)
  // while they are still in cache (L2 is 512 KiB per core here), and each sum still runs over k in
  // increasing order. Measured against a plain i-k-j loop: 2.2x on the 32x144x25088 weight
  // gradient of a convolution, 1.2-1.4x on MLP shapes. Four k per pass keep that order (one
  // rounding per term) but load and store the product row a quarter as often; GCC sometimes does
  // this itself and sometimes not (128x256x256: 650 vs 1590 us in two translation units).
  constexpr size_t kBlockBytes = 256 * 1024;
  const int k_block = std::max(4, static_cast<int>(kBlockBytes / sizeof(T) / N) / 4 * 4);
  for (int k_begin = 0; k_begin < K; k_begin += k_block) {
    const int k_end = std::min(K, k_begin + k_block);
    for (int i = 0; i < M; ++i) {
      T* product_row = product + i * product_stride;
      const T* a_row = a_rows + i * a_stride;
      int k = k_begin;
      for (; k + 4 <= k_end; k += 4) {
        const T a0 = a_row[k], a1 = a_row[k + 1], a2 = a_row[k + 2], a3 = a_row[k + 3];
        const T* b0 = b_rows + k * b_stride;
        const T *b1 = b0 + b_stride, *b2 = b1 + b_stride, *b3 = b2 + b_stride;
        for (int j = 0; j < N; ++j) {
          product_row[j] = (((product_row[j] + a0 * b0[j]) + a1 * b1[j]) + a2 * b2[j]) + a3 * b3[j];
        }
      }
      for (; k < k_end; ++k) {
        const T a = a_row[k];
        const T* b_row = b_rows + k * b_stride;
        for (int j = 0; j < N; ++j) product_row[j] += a * b_row[j];
      }
    }
  }
  if (accumulate) {
    for (int i = 0; i < M; ++i) {
      T* c_row = C + static_cast<size_t>(i) * ldc;
      const T* product_row = product + i * product_stride;
      for (int j = 0; j < N; ++j) c_row[j] += product_row[j];
    }
  }
}

// Walks the im2col matrix one kernel row (fixed output pixel and ky) at a time. Within such a row
// the kx that land inside the image read one contiguous run of image memory, so each row is: zero
// padding on the left, copy_run(image_offset, column_offset, count) for the run, padding on the
// right, each padding part as pad_run(column_offset, count). Offsets and counts are in elements.
// Shared by im2col and col2im so the two can never disagree on the index arithmetic.
template <typename CopyRun, typename PadRun>
void for_each_kernel_row(const ConvGeometry& geometry, CopyRun copy_run, PadRun pad_run) {
  const int kernel = geometry.kernel, width = geometry.in_width;
  const size_t channels = static_cast<size_t>(geometry.in_channels);
  const size_t row_length = static_cast<size_t>(kernel) * channels;
  const int out_height = geometry.out_height(), out_width = geometry.out_width();
  size_t column_offset = 0;
  for (int b = 0; b < geometry.batch; ++b) {
    for (int oy = 0; oy < out_height; ++oy) {
      for (int ox = 0; ox < out_width; ++ox) {
        const int x0 = ox * geometry.stride - geometry.padding;
        const int kx_begin = std::min(kernel, std::max(0, -x0));  // first kx inside the image
        const int kx_end = std::max(kx_begin, std::min(kernel, width - x0));
        for (int ky = 0; ky < kernel; ++ky) {
          const int iy = oy * geometry.stride - geometry.padding + ky;
          if (iy < 0 || iy >= geometry.in_height) {
            pad_run(column_offset, row_length);
          } else {
            pad_run(column_offset, kx_begin * channels);
            if (kx_end > kx_begin) {
              const size_t pixel =
                  (static_cast<size_t>(b) * geometry.in_height + iy) * width + (x0 + kx_begin);
              copy_run(pixel * channels, column_offset + kx_begin * channels, (kx_end - kx_begin) * channels);
            }
            pad_run(column_offset + kx_end * channels, (kernel - kx_end) * channels);
          }
          column_offset += row_length;
        }
      }
    }
  }
}

// im2col for images with few channels, one (output row, ky, kx) at a time: a loop over ox that
// copies C values per output pixel, without the per-run bookkeeping of for_each_kernel_row, which for
// a first convolution on grey images (runs of 3 floats) cost 4x the copying: 476 us against 191 us
// for conv2's 8x larger matrix (W2, batch 64, avx2 table, 1 thread). kChannels > 0 fixes the channel
// count at compile time (1: the copy loops become single moves), 0 reads it from the geometry.
template <int kChannels, typename T>
void im2col_by_kernel_offset(const ConvGeometry& g, const T* image, T* columns) {
  assert(kChannels == 0 || kChannels == g.in_channels);
  const int channels = kChannels > 0 ? kChannels : g.in_channels;
  const int out_height = g.out_height(), out_width = g.out_width();
  const size_t patch = static_cast<size_t>(g.patch_size());
  for (int b = 0; b < g.batch; ++b)
    for (int oy = 0; oy < out_height; ++oy) {
      T* row_columns = columns + (static_cast<size_t>(b) * out_height + oy) * out_width * patch;
      for (int ky = 0; ky < g.kernel; ++ky) {
        const int iy = oy * g.stride - g.padding + ky;
        const bool inside = iy >= 0 && iy < g.in_height;
        const T* image_row =
            image + (static_cast<size_t>(b) * g.in_height + (inside ? iy : 0)) * g.in_width * channels;
        for (int kx = 0; kx < g.kernel; ++kx) {
          T* destination = row_columns + static_cast<size_t>(ky * g.kernel + kx) * channels;
          // ox in [ox_begin, ox_end) reads ix = ox*stride - padding + kx inside [0, W).
          const int shift = kx - g.padding;
          int ox_begin = shift >= 0 ? 0 : (-shift + g.stride - 1) / g.stride;
          int ox_end = g.in_width - shift <= 0 ? 0 : (g.in_width - shift + g.stride - 1) / g.stride;
          ox_begin = std::min(ox_begin, out_width);
          ox_end = inside ? std::clamp(ox_end, ox_begin, out_width) : ox_begin;
          for (int ox = 0; ox < ox_begin; ++ox)
            for (int c = 0; c < channels; ++c) destination[ox * patch + c] = T(0);
          for (int ox = ox_begin; ox < ox_end; ++ox) {
            const T* source = image_row + static_cast<size_t>(ox * g.stride + shift) * channels;
            for (int c = 0; c < channels; ++c) destination[ox * patch + c] = source[c];
          }
          for (int ox = ox_end; ox < out_width; ++ox)
            for (int c = 0; c < channels; ++c) destination[ox * patch + c] = T(0);
        }
      }
    }
}

// image[batch, H, W, C] -> columns[batch*Ho*Wo, k*k*C], patch element order (ky, kx, c); padding reads 0.
template <typename T>
void reference_im2col(const ConvGeometry& geometry, const T* image, T* columns) {
  assert(geometry.out_height() > 0 && geometry.out_width() > 0);
  if (geometry.in_channels == 1) return im2col_by_kernel_offset<1>(geometry, image, columns);
  if (geometry.in_channels <= 4) return im2col_by_kernel_offset<0>(geometry, image, columns);
  for_each_kernel_row(
      geometry,
      [&](size_t image_offset, size_t column_offset, size_t count) {
        // Runs are k*C floats, short for small kernels: there a memcpy call per run costs more
        // than the copy (13.9% + 6.7% of CNN training in a profile, with runs of 3).
        const T* source = image + image_offset;
        T* destination = columns + column_offset;
        if (count <= 8) {
          for (size_t i = 0; i < count; ++i) destination[i] = source[i];
        } else {
          std::copy_n(source, count, destination);
        }
      },
      [&](size_t column_offset, size_t count) { std::fill_n(columns + column_offset, count, T(0)); });
}

// The adjoint of im2col: image[batch, H, W, C] += columns scattered back; padding entries are dropped.
// Accumulates, so the caller zeroes the image first when it wants the plain adjoint.
template <typename T>
void reference_col2im(const ConvGeometry& geometry, const T* columns, T* image) {
  assert(geometry.out_height() > 0 && geometry.out_width() > 0);
  for_each_kernel_row(
      geometry,
      [&](size_t image_offset, size_t column_offset, size_t count) {
        for (size_t i = 0; i < count; ++i) image[image_offset + i] += columns[column_offset + i];
      },
      [](size_t, size_t) {});
}

// output[B, Ho, Wo, C] = max over each k x k window of input[B, H, W, C] (MaxPoolForwardFunction).
template <typename T>
void reference_max_pool_forward(const ConvGeometry& g, const T* input, T* output) {
  const int out_h = g.out_height(), out_w = g.out_width(), C = g.in_channels;
  for (int b = 0; b < g.batch; ++b)
    for (int oy = 0; oy < out_h; ++oy)
      for (int ox = 0; ox < out_w; ++ox) {
        T* out = output + ((static_cast<size_t>(b) * out_h + oy) * out_w + ox) * C;
        for (int c = 0; c < C; ++c) out[c] = -std::numeric_limits<T>::infinity();
        for (int ky = 0; ky < g.kernel; ++ky)
          for (int kx = 0; kx < g.kernel; ++kx) {
            const T* in = input + ((static_cast<size_t>(b) * g.in_height + oy * g.stride + ky) * g.in_width +
                                   ox * g.stride + kx) *
                                      C;
            for (int c = 0; c < C; ++c) out[c] = std::max(out[c], in[c]);
          }
      }
}

// input_grad[B, H, W, C] = output_grad[B, Ho, Wo, C] routed to each window's maximum, found by comparing
// with the forward's output[B, Ho, Wo, C] (MaxPoolBackwardFunction). Branch-free arithmetic on 0/1 flags,
// channel innermost: GCC keeps a select or an && as a branch per element, and which element is bigger is
// a coin flip (that version took 16-29% of CNN training in a profile). relu_before: then the ReLU's
// backward, input being its output (the fold MaxPoolBackwardFunction describes).
template <typename T>
void reference_max_pool_backward(const ConvGeometry& g, const T* input, const T* output, const T* output_grad,
                                 T* input_grad, bool relu_before) {
  const int out_h = g.out_height(), out_w = g.out_width(), C = g.in_channels;
  std::fill(input_grad, input_grad + static_cast<size_t>(g.batch) * g.in_height * g.in_width * C, T(0));
  std::vector<T> taken_storage(C);
  T* __restrict taken = taken_storage.data();  // 1 once a channel's gradient has been handed out
  const size_t row_stride = static_cast<size_t>(g.in_width) * C;
  for (int b = 0; b < g.batch; ++b)
    for (int oy = 0; oy < out_h; ++oy)
      for (int ox = 0; ox < out_w; ++ox) {
        const size_t origin =
            ((static_cast<size_t>(b) * g.in_height + oy * g.stride) * g.in_width + ox * g.stride) * C;
        const size_t pooled = ((static_cast<size_t>(b) * out_h + oy) * out_w + ox) * C;
        const T* __restrict maximum = output + pooled;
        const T* __restrict grad = output_grad + pooled;
        // The first element wins ties and, when it is NaN (skipped by the forward max), everything.
        {
          const T* __restrict in = input + origin;
          T* __restrict out = input_grad + origin;
          for (int c = 0; c < C; ++c) {
            taken[c] = static_cast<T>(!(in[c] < maximum[c]));
            out[c] += taken[c] * grad[c];
          }
        }
        for (int ky = 0; ky < g.kernel; ++ky)
          for (int kx = ky == 0 ? 1 : 0; kx < g.kernel; ++kx) {
            const size_t offset = origin + ky * row_stride + static_cast<size_t>(kx) * C;
            const T* __restrict in = input + offset;
            T* __restrict out = input_grad + offset;
            for (int c = 0; c < C; ++c) {
              const T hit = static_cast<T>(in[c] == maximum[c]) * (T(1) - taken[c]);  // 0 or 1
              out[c] += hit * grad[c];
              taken[c] += hit;
            }
          }
      }
  if (relu_before) {
    const size_t values = static_cast<size_t>(g.batch) * g.in_height * g.in_width * C;
    for (size_t i = 0; i < values; ++i) input_grad[i] = input[i] > T(0) ? input_grad[i] : T(0);
  }
}

// rows[M, N] += bias[N] broadcast over rows.
template <typename T>
void reference_add_bias(int M, int N, const T* bias, T* rows) {
  for (int i = 0; i < M; ++i) {
    T* row = rows + static_cast<size_t>(i) * N;
    for (int j = 0; j < N; ++j) row[j] += bias[j];
  }
}

// sums[N] = column sums of rows[M, N] (accumulate == false), or sums[N] += them (accumulate == true).
// Row by row, so the inner loop is contiguous; each sum still runs over i in increasing order.
template <typename T>
void reference_sum_rows(int M, int N, const T* rows, T* sums, bool accumulate) {
  if (!accumulate) std::fill_n(sums, N, T(0));
  for (int i = 0; i < M; ++i) {
    const T* row = rows + static_cast<size_t>(i) * N;
    for (int j = 0; j < N; ++j) sums[j] += row[j];
  }
}

// y[n] = max(x[n], 0); in-place allowed. Written so a NaN input stays NaN: a diverging run should
// show up as NaN in the loss, not be silently clipped to zero by the first ReLU.
template <typename T>
void reference_relu_forward(int n, const T* x, T* y) {
  for (int i = 0; i < n; ++i) y[i] = x[i] < T(0) ? T(0) : x[i];
}

// dx[n] = y[n] > 0 ? dy[n] : 0, from the forward output y; in-place (dx == dy) allowed.
template <typename T>
void reference_relu_backward(int n, const T* y, const T* dy, T* dx) {
  for (int i = 0; i < n; ++i) dx[i] = y[i] > T(0) ? dy[i] : T(0);
}

}  // namespace qplay

// The contract between the x86 tables' GEMM driver (avx2_kernels.cpp: k blocking, packing of a
// transposed B, the split over the thread pool) and its register tile, so that an instruction set
// adds a set of micro-kernels (avx2: 6x16 in ymm registers; avx512: 12x32 in zmm registers,
// avx512_gemm_micro_kernels.cpp), not a second driver. Not for callers of the kernel table.
#pragma once

#include <cstddef>

namespace qplay {

// C[rows, columns] (+)= A[rows, depth] · B[depth, columns] for one tile of C; the tile's rows are
// fixed by the function, its columns (at most the panel width) are an argument. Element (r, k) of A
// is a[r·a_row_stride + k·a_depth_stride], so op(A) is read in place whatever its transpose; row k of
// B starts at b + k·b_depth_stride. Rows of C are ldc apart. accumulate == false writes C without
// reading it (it may hold NaN).
using GemmMicroKernel = void (*)(int depth, const float* a, ptrdiff_t a_row_stride, ptrdiff_t a_depth_stride,
                                 const float* b, ptrdiff_t b_depth_stride, int columns, float* c,
                                 ptrdiff_t ldc, bool accumulate);

struct GemmTile {
  int rows = 0;         // rows of C per micro-kernel call, at most
  int panel_width = 0;  // columns of C per call, at most: op(B) is cut into panels this wide
  // The micro-kernel for a tile of 1..rows rows and 1..panel_width columns. b_in_place: B is op(B)
  // itself, and no float past `columns` in a row of it may be read (it can be the end of the
  // matrix); otherwise B is a packed panel, panel_width floats a row, zero past N.
  GemmMicroKernel (*micro_kernel_for)(int rows, int columns, bool b_in_place) = nullptr;
};

}  // namespace qplay

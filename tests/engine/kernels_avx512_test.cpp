// Specification of the avx512 table's GEMM (core/engine/kernels/avx512_kernels.h): the 12x32 zmm tile
// against the double-precision reference over the edges of its tile (12 rows, 16 and 32 columns),
// of the driver's blocks (96 rows, 256 k) and of every stride, in every transpose combination, with
// and without accumulate, at 1 and 2 threads; and equal bit for bit to the avx2 table, which sums
// every element in the same order. On a CPU without AVX-512F every test says it is skipped.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/engine/base/rng.h"
#include "core/engine/kernels/kernel_table.h"
#include "tests/engine/gemm_tester.h"
#ifdef QPLAY_HAVE_AVX2_TABLE
#include "core/engine/kernels/avx512_kernels.h"
#endif

namespace qplay {
namespace {

#ifdef QPLAY_HAVE_AVX2_TABLE

constexpr const char* kNoAvx512 =
    "this CPU (or its operating system) has no AVX-512F: the avx512 table is refused";

// The avx512 table at 1 and 2 threads (2 runs the pool's tasks; 1 the pool-less path).
std::vector<std::shared_ptr<const KernelTable>> avx512_tables() {
  std::vector<std::shared_ptr<const KernelTable>> tables;
  for (int threads : {1, 2}) {
    Result<std::shared_ptr<const KernelTable>> table = make_kernel_table("avx512", threads);
    EXPECT_TRUE(table.ok()) << table.message();
    if (table.ok()) tables.push_back(*table);
  }
  return tables;
}

std::string describe(const KernelTable& table) {
  return table.name + " " + std::to_string(table.threads) + "t";
}

TEST(Avx512Gemm, IsRefusedExactlyWhereTheCpuLacksAvx512) {
  Result<std::shared_ptr<const KernelTable>> table = make_kernel_table("avx512", 1);
  EXPECT_EQ(table.ok(), cpu_has_avx512f());
  if (!table.ok()) EXPECT_NE(table.message().find("AVX-512F"), std::string::npos) << table.message();
}

TEST(Avx512Gemm, EveryTileEdgeInEveryTransposeCombination) {
  if (!cpu_has_avx512f()) GTEST_SKIP() << kNoAvx512;
  // Rows around the 12-row tile, columns around the one- and two-vector kernels (16, 32) and a
  // second panel, short depths (the k loop's first and only steps).
  for (const auto& table : avx512_tables()) {
    SCOPED_TRACE(describe(*table));
    for (int m : {1, 5, 11, 12, 13, 25}) {
      for (int n : {1, 7, 15, 16, 17, 31, 32, 33, 47, 65}) {
        for (int k : {1, 3, 17}) {
          for (bool transpose_a : {false, true}) {
            for (bool transpose_b : {false, true}) {
              for (bool accumulate : {false, true}) {
                GemmTester()
                    .m(m)
                    .n(n)
                    .k(k)
                    .transpose_a(transpose_a)
                    .transpose_b(transpose_b)
                    .accumulate(accumulate)
                    .test(*table);
              }
            }
          }
        }
      }
    }
  }
}

TEST(Avx512Gemm, RowAndDepthBlockEdgesInEveryTransposeCombination) {
  if (!cpu_has_avx512f()) GTEST_SKIP() << kNoAvx512;
  // 96 rows per pool task and 256 k per pass: one below, at and above each, and two of them.
  for (const auto& table : avx512_tables()) {
    SCOPED_TRACE(describe(*table));
    for (int m : {95, 97, 193}) {
      for (int k : {255, 256, 257, 513}) {
        for (bool transpose_a : {false, true}) {
          for (bool transpose_b : {false, true}) {
            for (bool accumulate : {false, true}) {
              GemmTester()
                  .m(m)
                  .n(m == 97 ? 80 : 33)
                  .k(k)
                  .transpose_a(transpose_a)
                  .transpose_b(transpose_b)
                  .accumulate(accumulate)
                  .test(*table);
            }
          }
        }
      }
    }
  }
}

TEST(Avx512Gemm, DepthSplitEdgesInEveryTransposeCombination) {
  if (!cpu_has_avx512f()) GTEST_SKIP() << kNoAvx512;
  // A small C over a long k is cut into depth slices of 2048 from k = 4096 on: below, at and above
  // the first cut, a ragged last slice, and a C too large to be cut.
  for (const auto& table : avx512_tables()) {
    SCOPED_TRACE(describe(*table));
    for (int k : {4095, 4096, 6145}) {
      for (int m : {1, 13, 100}) {
        for (bool transpose_a : {false, true}) {
          for (bool transpose_b : {false, true}) {
            for (bool accumulate : {false, true}) {
              GemmTester()
                  .m(m)
                  .n(m == 100 ? 170 : 33)
                  .k(k)
                  .transpose_a(transpose_a)
                  .transpose_b(transpose_b)
                  .accumulate(accumulate)
                  .test(*table);
            }
          }
        }
      }
    }
  }
}

TEST(Avx512Gemm, LeadingDimensionsLargerThanRowsAreHonoured) {
  if (!cpu_has_avx512f()) GTEST_SKIP() << kNoAvx512;
  for (const auto& table : avx512_tables()) {
    SCOPED_TRACE(describe(*table));
    for (int m : {1, 13, 100}) {
      for (int n : {9, 16, 40}) {
        for (bool transpose_a : {false, true}) {
          for (bool transpose_b : {false, true}) {
            for (bool accumulate : {false, true}) {
              GemmTester tester;
              tester.m(m).n(n).k(29).transpose_a(transpose_a).transpose_b(transpose_b).accumulate(accumulate);
              tester.lda(tester.a_cols() + 3).ldb(tester.b_cols() + 5).ldc(n + 7).test(*table);
            }
          }
        }
      }
    }
  }
}

TEST(Avx512Gemm, EqualsTheAvx2TableBitForBit) {
  if (!cpu_has_avx512f()) GTEST_SKIP() << kNoAvx512;
  // Both tiles run one FMA chain per element and k block, in the same k blocks, so "auto" may pick
  // either on any machine without changing a result. The W1 and W2 layer shapes, and tails.
  struct Shape {
    int m, n, k;
  };
  const Shape shapes[] = {{128, 256, 784}, {128, 784, 256}, {256, 784, 128}, {128, 10, 256}, {10, 256, 128},
                          {3136, 16, 9},   {16, 9, 3136},   {784, 32, 144},  {97, 33, 257},  {1, 1, 1},
                          {16, 9, 43264},  {32, 144, 7744}};  // W2's weight gradients: depth-split
  Result<std::shared_ptr<const KernelTable>> avx2 = make_kernel_table("avx2", 1);
  ASSERT_TRUE(avx2.ok()) << avx2.message();
  for (const auto& table : avx512_tables()) {
    SCOPED_TRACE(describe(*table));
    for (const Shape& shape : shapes) {
      for (bool transpose_a : {false, true}) {
        for (bool transpose_b : {false, true}) {
          for (bool accumulate : {false, true}) {
            Rng rng(static_cast<uint64_t>(shape.m) * 7919 + shape.n * 31 + shape.k);
            std::vector<float> a(static_cast<size_t>(shape.m) * shape.k),
                b(static_cast<size_t>(shape.k) * shape.n);
            std::vector<float> c(static_cast<size_t>(shape.m) * shape.n);
            for (std::vector<float>* values : {&a, &b, &c})
              for (float& value : *values) value = static_cast<float>(rng.uniform(-1.0, 1.0));
            const Transpose ta = transpose_a ? Transpose::yes : Transpose::no;
            const Transpose tb = transpose_b ? Transpose::yes : Transpose::no;
            const int lda = transpose_a ? shape.m : shape.k, ldb = transpose_b ? shape.k : shape.n;
            std::vector<float> expected = c, actual = c;
            (*avx2)->gemm(**avx2, ta, tb, shape.m, shape.n, shape.k, a.data(), lda, b.data(), ldb,
                          expected.data(), shape.n, accumulate);
            table->gemm(*table, ta, tb, shape.m, shape.n, shape.k, a.data(), lda, b.data(), ldb,
                        actual.data(), shape.n, accumulate);
            EXPECT_EQ(std::memcmp(expected.data(), actual.data(), expected.size() * sizeof(float)), 0)
                << "m=" << shape.m << " n=" << shape.n << " k=" << shape.k << " A^T=" << transpose_a
                << " B^T=" << transpose_b << " accumulate=" << accumulate;
          }
        }
      }
    }
  }
}

#else

TEST(Avx512Gemm, IsNotInThisBuild) {
  EXPECT_FALSE(make_kernel_table("avx512", 1).ok());
  GTEST_SKIP() << "no x86-64 pooled tables in this build (avx2, avx512)";
}

#endif

}  // namespace
}  // namespace qplay

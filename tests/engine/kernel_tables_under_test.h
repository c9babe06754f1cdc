// What the kernel table tests share: every table this build can make, how a failure names a table and a
// convolution geometry, and bitwise comparison.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#ifdef QPLAY_HAVE_AVX2_TABLE
#include "core/engine/kernels/avx2_kernels.h"
#include "core/engine/kernels/avx512_kernels.h"
#endif
#include "core/engine/kernels/kernel_table.h"

namespace qplay {

// Bitwise equality, so -0 differs from +0, except that any NaN equals any NaN: which NaN a sum of two
// NaNs keeps is unspecified, and in WebAssembly it depends on the operand order the compiler chose
// (LLVM treats fadd as commutative), so the reference and a SIMD kernel may differ in a NaN's payload.
inline bool same_bits(std::span<const float> a, std::span<const float> b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) && std::isnan(b[i])) continue;
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0) return false;
  }
  return true;
}

// Every table this build can make, the reference first. The pooled tables with 2 threads exercise
// the thread pool; with 1 thread, the pool-less path.
inline std::vector<std::shared_ptr<const KernelTable>> tables_under_test() {
  std::vector<std::shared_ptr<const KernelTable>> tables = {reference_kernel_table()};
  std::vector<std::string> pooled_tables;
#ifdef QPLAY_HAVE_AVX2_TABLE
  if (cpu_has_avx2_fma()) pooled_tables.push_back("avx2");
  if (cpu_has_avx512f()) pooled_tables.push_back("avx512");
#endif
#ifdef QPLAY_HAVE_XNNPACK
  pooled_tables.push_back("xnnpack");
#endif
  for (const std::string& name : pooled_tables) {
    for (int threads : {2, 1}) {
      Result<std::shared_ptr<const KernelTable>> table = make_kernel_table(name, threads);
      EXPECT_TRUE(table.ok()) << table.message();
      if (table.ok()) tables.push_back(*table);
    }
  }
#ifdef __wasm_simd128__
  for (int threads : {1, 2}) {  // 2 threads: the threaded build's table; elsewhere capped to 1 again
    Result<std::shared_ptr<const KernelTable>> simd128 = make_kernel_table("simd128", threads);
    EXPECT_TRUE(simd128.ok()) << simd128.message();
    if (simd128.ok() && (threads == 1 || (*simd128)->threads > 1)) tables.push_back(*simd128);
  }
#endif
  return tables;
}

inline std::string describe(const KernelTable& table) {
  return table.name + " (" + std::to_string(table.threads) + " threads)";
}

inline std::string describe(const ConvGeometry& g) {
  return "kernel " + std::to_string(g.kernel) + " stride " + std::to_string(g.stride) + " padding " +
         std::to_string(g.padding) + " channels " + std::to_string(g.in_channels);
}

}  // namespace qplay

// Choosing a KernelTable by name: the one place that knows which tables this build has.
#include "core/engine/kernels/kernel_table.h"

#include <string>

#ifdef QPLAY_HAVE_XNNPACK
#include "core/engine/kernels/xnnpack_kernels.h"
#endif
#ifdef QPLAY_HAVE_AVX2_TABLE
#include "core/engine/kernels/avx2_kernels.h"
#include "core/engine/kernels/avx512_kernels.h"
#endif
#ifdef __wasm_simd128__
#include "core/engine/kernels/simd128_threaded_kernels.h"
#endif

namespace qplay {

namespace {
constexpr int kMaxThreads = 64;

using TableResult = Result<std::shared_ptr<const KernelTable>>;

std::string not_in_build(const std::string& name, const std::string& how) {
  return "kernel table '" + name + "' is not in this build (" + how +
         "); choose one of: " + available_kernel_tables();
}

// The fastest table this build and CPU have. Native: the engine's own kernels, with the AVX-512
// GEMM tile where the CPU has it (the same results as avx2, faster: docs/performance.md,
// "AVX-512"), else with the AVX2 one (faster than Debian's XNNPACK build on every workload there),
// else XNNPACK, else the reference; a table that refuses at run time (a CPU without AVX-512 or
// AVX2) falls through to the next.
TableResult make_fastest_table(int threads) {
#ifdef __wasm_simd128__
  return make_simd128_kernel_table_for_threads(threads);
#endif
#ifdef QPLAY_HAVE_AVX2_TABLE
  if (TableResult avx512 = make_avx512_kernel_table(threads); avx512.ok()) return avx512;
  if (TableResult avx2 = make_avx2_kernel_table(threads); avx2.ok()) return avx2;
#endif
#ifdef QPLAY_HAVE_XNNPACK
  if (TableResult xnnpack = make_xnnpack_kernel_table(threads); xnnpack.ok()) return xnnpack;
#endif
  (void)threads;
  return TableResult(reference_kernel_table());
}
}  // namespace

std::string available_kernel_tables() {
  std::string names = "reference";
#ifdef QPLAY_HAVE_AVX2_TABLE
  names += ", avx2, avx512";
#endif
#ifdef QPLAY_HAVE_XNNPACK
  names += ", xnnpack";
#endif
#ifdef __wasm_simd128__
  names += ", simd128";
#endif
  return names + ", auto";
}

int max_kernel_threads() {
#if defined(__wasm_simd128__)
  return simd128_max_threads();
#elif defined(__EMSCRIPTEN__)
  return 1;
#else
  return kMaxThreads;
#endif
}

TableResult make_kernel_table(const std::string& name, int threads) {
  if (threads < 1 || threads > kMaxThreads) {
    return Status::error("kernel threads must be between 1 and " + std::to_string(kMaxThreads) + ", got " +
                         std::to_string(threads));
  }
  if (name == "reference") return reference_kernel_table();
  if (name == "auto") return make_fastest_table(threads);
  if (name == "simd128") {
#ifdef __wasm_simd128__
    return make_simd128_kernel_table_for_threads(threads);
#else
    return Status::error(not_in_build(name, "WebAssembly builds with -msimd128 only"));
#endif
  }
  if (name == "avx2") {
#ifdef QPLAY_HAVE_AVX2_TABLE
    return make_avx2_kernel_table(threads);
#else
    return Status::error(not_in_build(name, "x86-64 native builds with pthreadpool only"));
#endif
  }
  if (name == "avx512") {
#ifdef QPLAY_HAVE_AVX2_TABLE
    return make_avx512_kernel_table(threads);
#else
    return Status::error(not_in_build(name, "x86-64 native builds with pthreadpool only"));
#endif
  }
  if (name == "xnnpack") {
#ifdef QPLAY_HAVE_XNNPACK
    return make_xnnpack_kernel_table(threads);
#else
    return Status::error(not_in_build(name, "configure with -DQPLAY_WITH_XNNPACK=ON"));
#endif
  }
  return Status::error("unknown kernel table '" + name + "'; choose one of: " + available_kernel_tables());
}

}  // namespace qplay

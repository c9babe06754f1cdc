// Choosing a KernelTable by name: the one place that knows which tables this build has.
#include "core/engine/kernels/kernel_table.h"

#include <string>

#ifdef QPLAY_HAVE_XNNPACK
#include "core/engine/kernels/xnnpack_kernels.h"
#endif
#ifdef __wasm_simd128__
#include "core/engine/kernels/simd128_kernels.h"
#endif

namespace qplay {

namespace {
constexpr int kMaxThreads = 64;
}  // namespace

std::string available_kernel_tables() {
#if defined(QPLAY_HAVE_XNNPACK)
  return "reference, xnnpack, auto";
#elif defined(__wasm_simd128__)
  return "reference, simd128, auto";
#else
  return "reference, auto";
#endif
}

Result<std::shared_ptr<const KernelTable>> make_kernel_table(const std::string& name, int threads) {
  if (threads < 1 || threads > kMaxThreads) {
    return Status::error("kernel threads must be between 1 and " + std::to_string(kMaxThreads) + ", got " +
                         std::to_string(threads));
  }
  if (name == "reference") return reference_kernel_table();
#ifdef __wasm_simd128__
  // WebAssembly builds have no XNNPACK; their own SIMD128 kernels are the fast path.
  if (name == "simd128" || name == "auto") return make_simd128_kernel_table();
#endif
#ifdef QPLAY_HAVE_XNNPACK
  if (name == "xnnpack") return make_xnnpack_kernel_table(threads);
  if (name == "auto") {
    // XNNPACK can still refuse at run time (a CPU it has no kernels for); "auto" then means the
    // reference table rather than an error.
    Result<std::shared_ptr<const KernelTable>> xnnpack = make_xnnpack_kernel_table(threads);
    return xnnpack.ok() ? xnnpack : Result<std::shared_ptr<const KernelTable>>(reference_kernel_table());
  }
#else
  if (name == "auto") return reference_kernel_table();
  if (name == "xnnpack") {
    return Status::error(
        "kernel table 'xnnpack' is not in this build (configure with -DQPLAY_WITH_XNNPACK=ON); "
        "choose one of: " +
        available_kernel_tables());
  }
#endif
  return Status::error("unknown kernel table '" + name + "'; choose one of: " + available_kernel_tables());
}

}  // namespace qplay

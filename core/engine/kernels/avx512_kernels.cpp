// The "avx512" KernelTable (see avx512_kernels.h). Compiled for any x86-64, like the rest of the
// engine; only avx512_gemm_micro_kernels.cpp is compiled with -mavx512f.
#include "core/engine/kernels/avx512_kernels.h"

#include <cpuid.h>

#include <cstdint>

#include "core/engine/kernels/avx2_kernels.h"

namespace qplay {
namespace {

// XCR0 bits the OS sets when it saves a state on context switches: SSE, AVX (upper ymm halves),
// and AVX-512's opmask, upper zmm halves and zmm16-31.
constexpr uint64_t kXcr0SseAvx = 0x6;
constexpr uint64_t kXcr0Avx512 = 0xE0;

// XCR0, read with xgetbv (inline: the intrinsic would need the xsave target on this function).
uint64_t extended_control_register_0() {
  uint32_t low = 0, high = 0;
  __asm__ volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
  return (static_cast<uint64_t>(high) << 32) | low;
}

}  // namespace

bool cpu_has_avx512f() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  // CPUID.1:ECX.OSXSAVE says xgetbv may be executed at all.
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || (ecx & bit_OSXSAVE) == 0) return false;
  const uint64_t saved = extended_control_register_0();
  if ((saved & (kXcr0SseAvx | kXcr0Avx512)) != (kXcr0SseAvx | kXcr0Avx512)) return false;
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

Result<std::shared_ptr<const KernelTable>> make_avx512_kernel_table(int threads) {
  if (!cpu_has_avx512f()) {
    return Status::error("avx512: this CPU (or its operating system) lacks AVX-512F; use avx2 or auto");
  }
  return make_avx2_kernel_table_with_gemm_tile("avx512", threads, kAvx512GemmTile);
}

}  // namespace qplay

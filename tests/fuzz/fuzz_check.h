// What the fuzz targets share: FUZZ_CHECK, a property check that stays on in every build type. A
// violated property prints what was expected and traps, so libFuzzer saves the input as a crash-*
// finding; an error message of the engine is never a finding (errors are values).
#pragma once

#include <cstdio>
#include <string>

#define FUZZ_CHECK(condition, ...)                                                            \
  do {                                                                                        \
    if (!(condition)) {                                                                       \
      std::fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #condition); \
      ::qplay::fuzz::print_details(__VA_ARGS__);                                              \
      __builtin_trap();                                                                       \
    }                                                                                         \
  } while (0)

namespace qplay::fuzz {

inline void print_details() {}
inline void print_details(const std::string& details) { std::fprintf(stderr, "  %s\n", details.c_str()); }

}  // namespace qplay::fuzz

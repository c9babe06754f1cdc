// qplay::bit_cast: std::bit_cast for the toolchains that lack it (Emscripten 3.1.6's libc++ has no
// <bit> bit_cast). The same bits, by memcpy, which compilers turn into a register move.
#pragma once

#include <cstring>
#include <type_traits>

namespace qplay {

template <typename To, typename From>
To bit_cast(const From& from) {
  static_assert(sizeof(To) == sizeof(From) && std::is_trivially_copyable_v<To> &&
                std::is_trivially_copyable_v<From>);
  To to;
  std::memcpy(&to, &from, sizeof to);
  return to;
}

}  // namespace qplay

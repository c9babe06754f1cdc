// Table-driven CRC-32, one byte per step: a few hundred MB/s, plenty for files read once per load.
#include "core/engine/io/crc32.h"

#include <array>

namespace qplay {

namespace {

constexpr std::array<uint32_t, 256> make_crc32_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t byte = 0; byte < 256; ++byte) {
    uint32_t remainder = byte;
    for (int bit = 0; bit < 8; ++bit) {
      remainder = (remainder & 1u) ? (remainder >> 1) ^ 0xEDB88320u : remainder >> 1;
    }
    table[byte] = remainder;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kCrc32Table = make_crc32_table();

}  // namespace

uint32_t crc32(std::span<const uint8_t> bytes, uint32_t previous) {
  // The register starts at all ones and is inverted at the end (zlib's convention); undoing the final
  // inversion of `previous` is what lets a checksum continue over more bytes.
  uint32_t crc = ~previous;
  for (const uint8_t byte : bytes) crc = kCrc32Table[(crc ^ byte) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

}  // namespace qplay

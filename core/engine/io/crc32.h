// CRC-32 as in zlib, PNG and gzip (IEEE 802.3, reflected polynomial 0xEDB88320), used to detect corrupt
// model files. For: spotting accidental damage. Not for: security; anyone can forge a matching checksum.
#pragma once

#include <cstdint>
#include <span>

namespace qplay {

// The checksum of `bytes`, continuing from `previous` (the result over the bytes before them), so that
// crc32(b, crc32(a)) == crc32(a followed by b). Same values as zlib's crc32(); "123456789" gives 0xCBF43926.
uint32_t crc32(std::span<const uint8_t> bytes, uint32_t previous = 0);

}  // namespace qplay

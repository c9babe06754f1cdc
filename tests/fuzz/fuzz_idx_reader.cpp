// Fuzzes the IDX reader (core/engine/data/idx_reader.h) with the bytes of a file: parse_idx on them as
// they are (both overloads), and inflate_if_gzip followed by parse_idx, the path read_idx_file takes, so
// bytes that start with the gzip magic 1f 8b reach zlib and the reader's bomb and truncation guards.
// Properties: no crash, leak or out-of-bounds read; an accepted array has 1 to 4 dimensions and exactly
// prod(dims) bytes; the copying and the in-place parse_idx agree (same array or same message); bytes
// without the gzip magic come out of inflate_if_gzip unchanged.
// Memory: inflation is capped at 1 GiB by the reader itself; tests/fuzz/CMakeLists.txt keeps inputs
// at most 64 KiB (-max_len), so a bomb of them inflates to at most ~64 MiB (deflate's ratio is 1032:1)
// and the fuzzer stays fast and far below its -rss_limit_mb.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/engine/data/idx_reader.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using qplay::IdxArray;
using qplay::Result;

void check_array_is_consistent(const IdxArray& array) {
  FUZZ_CHECK(!array.dims.empty() && array.dims.size() <= 4);
  size_t expected = 1;
  for (uint32_t dim : array.dims) expected *= dim;  // cannot overflow: parse_idx refused such headers
  FUZZ_CHECK(array.data.size() == expected, "payload size does not match the dimensions");
}

// Both overloads of parse_idx on `bytes`; they must agree. Returns whether the bytes were accepted.
bool parse_both_ways(const std::vector<uint8_t>& bytes) {
  Result<IdxArray> copied = qplay::parse_idx(std::span<const uint8_t>(bytes), "fuzz");
  Result<IdxArray> in_place = qplay::parse_idx(std::vector<uint8_t>(bytes), "fuzz");
  FUZZ_CHECK(copied.ok() == in_place.ok(), "one overload accepted what the other refused");
  if (!copied.ok()) {
    FUZZ_CHECK(!copied.status().message().empty());
    FUZZ_CHECK(copied.status().message() == in_place.status().message());
    return false;
  }
  check_array_is_consistent(*copied);
  FUZZ_CHECK(copied->dims == in_place->dims && copied->data == in_place->data);
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> bytes(data, data + size);
  parse_both_ways(bytes);

  const bool gzip = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  Result<std::vector<uint8_t>> inflated = qplay::inflate_if_gzip(std::vector<uint8_t>(bytes), "fuzz.gz");
  if (!gzip) FUZZ_CHECK(inflated.ok() && *inflated == bytes, "plain bytes must pass through unchanged");
  if (!inflated.ok()) {
    FUZZ_CHECK(!inflated.status().message().empty());
    return 0;
  }
  if (gzip) parse_both_ways(*inflated);
  return 0;
}

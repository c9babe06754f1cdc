// Fuzzes reading a playground link: bytes as a URL hash -> lab_state_from_hash (core/engine/lab/lab_state.h),
// which is forgiving (each bad part is a warning and keeps its default).
// Properties: no crash or leak; whatever state a hash produced is one the strict readers accept:
// lab_state_to_hash of it reads back without a single warning, to an equal state and the same hash text,
// its experiment passes check_settings, and its JSON file (lab_state_to_json, written as text) reads back
// to an equal state.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/engine/experiment/state_table.h"
#include "core/engine/io/json.h"
#include "core/engine/lab/lab_state.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

std::string join(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n  ";
  return text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qplay;
  const std::string_view hash(reinterpret_cast<const char*>(data), size);
  const ParsedLabState parsed = lab_state_from_hash(hash);
  const Status settings = check_settings(parsed.state.experiment);
  FUZZ_CHECK(settings.ok(), "a hash produced settings check_settings refuses: " + settings.message());

  const std::string written = lab_state_to_hash(parsed.state);
  const ParsedLabState again = lab_state_from_hash(written);
  FUZZ_CHECK(again.warnings.empty(),
             "the written hash '" + written + "' reads with warnings:\n  " + join(again.warnings));
  FUZZ_CHECK(again.state == parsed.state, "the state changed in a round trip through '" + written + "'");
  FUZZ_CHECK(lab_state_to_hash(again.state) == written, "the hash text changed in a round trip");

  // Through the text, as a saved file goes: the writer must not need to change anything it writes.
  Result<Json> json = parse_json(to_json(lab_state_to_json(parsed.state)));
  FUZZ_CHECK(json.ok(), "the writer's JSON does not parse: " + json.status().message());
  Result<LabState> from_json = lab_state_from_json(*json);
  FUZZ_CHECK(from_json.ok(), "its JSON form is refused: " + from_json.status().message());
  FUZZ_CHECK(*from_json == parsed.state, "the state changed in a round trip through JSON");
  return 0;
}

// Fuzzes reading a lab file (the playground's "save", the JS API's import): bytes -> parse_json
// (core/engine/io/json.h) -> lab_state_from_json (core/engine/lab/lab_state.h), which is strict and also
// reads an experiment file as a lab of its one method.
// Properties: no crash or leak; every refusal has a message; an accepted state passes check_settings,
// lab_state_to_json -> lab_state_from_json gives back an equal state and the same JSON text, and its URL
// hash form reads back without warnings to an equal state (but for experiment.method, which a lab
// ignores and a hash does not hold).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/engine/experiment/state_table.h"
#include "core/engine/io/json.h"
#include "core/engine/lab/lab_state.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qplay;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Result<Json> json = parse_json(text);
  if (!json.ok()) return 0;  // the JSON parser is fuzzed by fuzz_experiment_json
  Result<LabState> state = lab_state_from_json(*json);
  if (!state.ok()) {
    FUZZ_CHECK(!state.status().message().empty());
    return 0;
  }
  const Status settings = check_settings(state->experiment);
  FUZZ_CHECK(settings.ok(), "accepted, but check_settings says: " + settings.message());

  const std::string written = to_json(lab_state_to_json(*state));
  Result<Json> reparsed = parse_json(written);
  FUZZ_CHECK(reparsed.ok(), "the writer's JSON does not parse: " + reparsed.status().message());
  Result<LabState> again = lab_state_from_json(*reparsed);
  FUZZ_CHECK(again.ok(), "a written lab state is refused: " + again.status().message());
  FUZZ_CHECK(*again == *state, "the state changed in a round trip:\n" + written);
  FUZZ_CHECK(to_json(lab_state_to_json(*again)) == written, "the JSON text changed in a round trip");

  const ParsedLabState from_hash = lab_state_from_hash(lab_state_to_hash(*state));
  FUZZ_CHECK(from_hash.warnings.empty(), "its URL hash reads with warnings: " +
                                             (from_hash.warnings.empty() ? "" : from_hash.warnings[0]));
  LabState expected = *state;
  expected.experiment.method = from_hash.state.experiment.method;
  FUZZ_CHECK(from_hash.state == expected, "the state changed in a round trip through its URL hash");
  return 0;
}

// Fuzzes reading an experiment file: bytes -> parse_json (core/engine/io/json.h) -> experiment_from_json
// (core/engine/experiment/state_table.h), the path of --experiment and of a model's metadata; then the
// cross-field check validate_experiment, for coverage (it may refuse what the rows accept).
// Properties: no crash or leak; every refusal has a message; an accepted experiment passes check_settings
// (the rows' own rules), and experiment_to_json -> experiment_from_json gives back the same experiment
// and the same JSON text (a saved experiment reads back as it was).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/engine/experiment/experiment.h"
#include "core/engine/experiment/state_table.h"
#include "core/engine/io/json.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace qplay;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Result<Json> json = parse_json(text);
  if (!json.ok()) {
    FUZZ_CHECK(!json.status().message().empty());
    return 0;
  }
  Result<Experiment> experiment = experiment_from_json(*json);
  if (!experiment.ok()) {
    FUZZ_CHECK(!experiment.status().message().empty());
    return 0;
  }
  const Status settings = check_settings(*experiment);
  FUZZ_CHECK(settings.ok(), "accepted, but check_settings says: " + settings.message());
  (void)validate_experiment(*experiment);

  const std::string written = to_json(experiment_to_json(*experiment));
  Result<Json> reparsed = parse_json(written);
  FUZZ_CHECK(reparsed.ok(), "the writer's JSON does not parse: " + reparsed.status().message());
  Result<Experiment> again = experiment_from_json(*reparsed);
  FUZZ_CHECK(again.ok(), "a written experiment is refused: " + again.status().message());
  FUZZ_CHECK(*again == *experiment, "the experiment changed in a round trip:\n" + written);
  FUZZ_CHECK(to_json(experiment_to_json(*again)) == written, "the JSON text changed in a round trip");
  return 0;
}

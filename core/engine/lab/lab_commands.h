// The commands JavaScript sends a Lab, in one place: the embeddable module's C ABI (web/api/lab_api.cpp,
// behind qplay.js) and the browser app's postMessage bridge (web/app/main.cpp, `qplay:<command>`
// messages, docs/embedding.md) only turn their calls into a command name and JSON arguments, and hand
// the reply or the error back their own way. One vocabulary and one error idiom (a Status whose message
// a person reads), so the two front ends cannot drift apart.
//
//   command      arguments                  reply
//   set          {key, value} (strings)     null      one setting (set_lab_state_value's keys)
//   state        {hash}                     {warnings: [text, ...]}  the whole state from a URL hash;
//                                                     bad parts keep their defaults and are listed
//   import_json  {text}                     null      a lab or experiment JSON (lab_state_from_json)
//   play, pause, step, reset                null
//   advance      {budget_ms}                {playing}  trains (while playing) and evaluates
//   allocate     {run, method, budget_bits   {weight_bits, kilobytes, ...}  per-layer weight bits chosen
//                 | budget_kb}                        under the budget (lab_allocation.h) become the lab's
//                                                     layer_weight_bits; method uniform|measured|hessian
//   metrics                                 lab_metrics_json (lab_report.h)
//   state_json                              the lab JSON (lab_state_to_json)
//   state_hash                              the URL hash, a string
//
// An error changes nothing, except where the table says parts apply.
//
// Not for: creating and disposing labs (the front ends own theirs), drawing, files.
#pragma once

#include <span>
#include <string_view>

#include "core/engine/base/status.h"
#include "core/engine/deploy/integer_model.h"
#include "core/engine/io/json.h"
#include "core/engine/lab/lab.h"

namespace qplay {

// How the commands that change settings (set, state, import_json) reach the lab: Lab::apply by default.
// The playground passes its own (core/ui/playground_state.h), which waits for a data set the browser is
// still downloading, keeps the lab when the new state cannot be built, and publishes the new hash.
class LabStateTarget {
 public:
  virtual ~LabStateTarget() = default;
  // The state a change starts from: the lab's, or one still waiting for its data.
  virtual const LabState& state_to_change() const = 0;
  // `what` says where the state came from, for messages ("weight_bits", "the link").
  virtual Status change_state(const LabState& next, std::string_view what) = 0;
};

Result<Json> run_lab_command(Lab& lab, std::string_view command, const Json& arguments);
Result<Json> run_lab_command(Lab& lab, LabStateTarget& target, std::string_view command,
                             const Json& arguments);

// A run's float weights in place (the model file's layout), or an error naming the runs there are.
// Valid until the lab changes.
Result<std::span<const float>> lab_run_weights(const Lab& lab, int run);

// A run at the lab's current setting as integers (deploy/integer_model.h), for the ONNX and integer JSON
// exports: activation grids calibrated as the lab calibrates them. Refused for a run whose method rounds
// its weights on its own learned grid (CPQ), which the setting's grids would not reproduce.
Result<IntegerModel> lab_integer_model(Lab& lab, int run);

}  // namespace qplay

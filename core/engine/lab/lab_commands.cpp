#include "core/engine/lab/lab_commands.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "core/engine/lab/lab_allocation.h"
#include "core/engine/lab/lab_report.h"

namespace qplay {
namespace {

// The lab as its own target: a new state applies at once, or not at all.
class LabItself final : public LabStateTarget {
 public:
  explicit LabItself(Lab& lab) : lab_(lab) {}
  const LabState& state_to_change() const override { return lab_.state(); }
  Status change_state(const LabState& next, std::string_view) override { return lab_.apply(next); }

 private:
  Lab& lab_;
};

// "set: missing 'key'": the command's name first, so a page author sees which call was malformed.
Result<std::string> string_argument(std::string_view command, const Json& arguments, std::string_view key) {
  Result<std::string> value = get_string(arguments, key);
  if (!value) return Status::error(std::string(command) + ": " + value.message());
  return value;
}

// A number, or its text: the browser app's postMessage bridge passes every field as text (run: 1 arrives
// as "1"), which reads as a JSON number here.
Result<double> number_argument(std::string_view command, const Json& arguments, std::string_view key) {
  const Json* value = arguments.find(key);
  if (value && value->is_string()) {
    Result<Json> number = parse_json(value->as_string());
    if (number && number->is_number()) return number->as_number();
    return Status::error(std::string(command) + ": '" + std::string(key) + "' must be a number, got '" +
                         value->as_string() + "'");
  }
  Result<double> number = get_number(arguments, key);
  if (!number) return Status::error(std::string(command) + ": " + number.message());
  return number;
}

// allocate {run, method, budget_bits | budget_kb}: the per-layer weight bits chosen under the budget
// become the lab's layer_weight_bits.
Result<Json> allocate_command(Lab& lab, LabStateTarget& target, const Json& arguments) {
  int run = 0;
  if (arguments.find("run")) {
    Result<double> value = number_argument("allocate", arguments, "run");
    if (!value) return value.status();
    if (value.value() != std::floor(value.value()))
      return Status::error("allocate: 'run' must be a whole number, got " + to_json(Json(value.value())));
    run = static_cast<int>(std::clamp(value.value(), -1.0, double(lab.run_count())));
  }
  AllocationMethod method = AllocationMethod::measured;
  if (arguments.find("method")) {
    Result<std::string> name = string_argument("allocate", arguments, "method");
    if (!name) return name.status();
    std::optional<AllocationMethod> parsed = parse_choice<AllocationMethod>(name.value());
    if (!parsed)
      return Status::error("allocate: method '" + name.value() +
                           "' is not one of uniform, measured, hessian");
    method = *parsed;
  }
  const bool bits = arguments.find("budget_bits") != nullptr,
             kilobytes = arguments.find("budget_kb") != nullptr;
  if (bits == kilobytes) return Status::error("allocate: give exactly one of budget_bits and budget_kb");
  Result<double> value = number_argument("allocate", arguments, bits ? "budget_bits" : "budget_kb");
  if (!value) return value.status();
  const BitBudget budget{bits ? BudgetKind::average_bits : BudgetKind::kilobytes, value.value()};
  Result<LabAllocation> result = allocate_lab_weight_bits(lab, run, method, budget);
  if (!result) return Status::error("allocate: " + result.message());
  LabState next = target.state_to_change();
  next.layer_weight_bits = result->layer_weight_bits;
  if (Status status = target.change_state(next, "layer_weight_bits"); !status) return status;
  return lab_allocation_json(*result);
}

}  // namespace

Result<Json> run_lab_command(Lab& lab, std::string_view command, const Json& arguments) {
  LabItself target(lab);
  return run_lab_command(lab, target, command, arguments);
}

Result<Json> run_lab_command(Lab& lab, LabStateTarget& target, std::string_view command,
                             const Json& arguments) {
  if (command == "set") {
    Result<std::string> key = string_argument(command, arguments, "key");
    if (!key) return key.status();
    Result<std::string> value = string_argument(command, arguments, "value");
    if (!value) return value.status();
    LabState next = target.state_to_change();
    if (Status status = set_lab_state_value(next, key.value(), value.value()); !status) return status;
    if (Status status = target.change_state(next, key.value()); !status) return status;
    return Json();
  }
  if (command == "state") {
    Result<std::string> hash = string_argument(command, arguments, "hash");
    if (!hash) return hash.status();
    ParsedLabState parsed = lab_state_from_hash(hash.value());
    if (Status status = target.change_state(parsed.state, "the link"); !status) return status;
    Json warnings = Json::array();
    for (std::string& warning : parsed.warnings) warnings.push_back(std::move(warning));
    return Json::object({{"warnings", std::move(warnings)}});
  }
  if (command == "import_json") {
    Result<std::string> text = string_argument(command, arguments, "text");
    if (!text) return text.status();
    Result<Json> json = parse_json(text.value());
    if (!json) return json.status();
    Result<LabState> state = lab_state_from_json(json.value());
    if (!state) return state.status();
    if (Status status = target.change_state(state.value(), "the file"); !status) return status;
    return Json();
  }
  if (command == "play") {
    lab.play();
    return Json();
  }
  if (command == "pause") {
    lab.pause();
    return Json();
  }
  if (command == "step") {
    lab.step();
    return Json();
  }
  if (command == "reset") {
    if (Status status = lab.reset(); !status) return status;
    return Json();
  }
  if (command == "advance") {
    Result<double> budget_ms = get_number(arguments, "budget_ms");
    if (!budget_ms) return Status::error("advance: " + budget_ms.message());
    lab.advance(budget_ms.value());
    return Json::object({{"playing", Json(lab.playing())}});
  }
  if (command == "allocate") return allocate_command(lab, target, arguments);
  if (command == "metrics") return lab_metrics_json(lab);
  if (command == "state_json") return lab_state_to_json(lab.state());
  if (command == "state_hash") return Json(lab_state_to_hash(lab.state()));
  return Status::error(
      "unknown command '" + std::string(command) +
      "' (known: set, state, import_json, play, pause, step, reset, advance, allocate, metrics, "
      "state_json, state_hash)");
}

Result<std::span<const float>> lab_run_weights(const Lab& lab, int run) {
  if (run < 0 || run >= lab.run_count())
    return Status::error("no run " + std::to_string(run) + " (the lab has " +
                         std::to_string(lab.run_count()) + ")");
  return lab.network(run).parameters();
}

Result<IntegerModel> lab_integer_model(Lab& lab, int run) {
  if (run < 0 || run >= lab.run_count())
    return Status::error("no run " + std::to_string(run) + " (the lab has " +
                         std::to_string(lab.run_count()) + ")");
  const QuantizationSetting setting = lab.current_setting();
  Network<float>& network = lab.network(run);
  if (const TrainingMethod* method = own_grid_method(lab.run(run))) {
    std::vector<float> view(network.parameter_count());
    if (method->quantize_on_own_grid(network, setting, view)) {
      return Status::error("run " + std::to_string(run) + " (" + lab.run(run).method +
                           ") rounds its weights on the grid it learned, which the export does not write; "
                           "export a run of another method");
    }
  }
  return build_integer_model(network, network.parameters(), setting, lab.dataset().train_x,
                             lab.state().experiment.calibration_samples);
}

}  // namespace qplay

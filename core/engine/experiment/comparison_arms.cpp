#include "core/engine/experiment/comparison_arms.h"

#include <algorithm>

#include "core/engine/experiment/state_table.h"

namespace qplay {

namespace {

// Splits at `separator` outside brackets: "a[x=1,y=2],b" -> "a[x=1,y=2]", "b".
Result<std::vector<std::string_view>> split_outside_brackets(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    const char c = i < text.size() ? text[i] : separator;
    if (c == '[') ++depth;
    if (c == ']' && --depth < 0) return Status::error("a ']' without its '[' in '" + std::string(text) + "'");
    if (c == separator && depth == 0) {
      parts.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  if (depth != 0) return Status::error("a '[' without its ']' in '" + std::string(text) + "'");
  return parts;
}

std::vector<std::string_view> split_all(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == separator) {
      parts.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

Status check_knob(const ComparisonArm& arm, const ComparisonKnob& knob) {
  const SettingRow* row = find_setting(knob.key);
  if (row == nullptr) return Status::error("unknown setting '" + knob.key + "'");
  const bool held_equal = knob.key == "epochs" || knob.key == "seed" || knob.key == "init_model";
  if (held_equal) return Status::error(knob.key + " is held equal across the arms of a comparison");
  if (row->group != "training" && row->group != arm.method) {
    return Status::error(knob.key + " is a " + std::string(row->group) + " setting; an arm of " + arm.method +
                         " may set its own knobs and training settings");
  }
  for (const std::string& value : knob.values) {
    Experiment probe;
    if (Status status = set_setting(probe, knob.key, value); !status) return status;
  }
  return {};
}

Result<ComparisonArm> parse_arm(std::string_view text) {
  ComparisonArm arm;
  arm.label = std::string(text);
  const size_t open = text.find('[');
  arm.method = std::string(text.substr(0, open));
  if (!parse_choice<MethodKind>(arm.method)) {
    std::string known;
    for (std::string_view name : choice_names(MethodKind{}))
      known += (known.empty() ? "" : ", ") + std::string(name);
    return Status::error("unknown method '" + arm.method + "' (use " + known + ")");
  }
  if (open == std::string_view::npos) return arm;
  if (text.back() != ']') return Status::error("'" + std::string(text) + "' must end with ']'");
  const std::string_view inside = text.substr(open + 1, text.size() - open - 2);
  for (std::string_view assignment : split_all(inside, ',')) {
    const size_t equals = assignment.find('=');
    if (equals == std::string_view::npos) {
      return Status::error("'" + std::string(assignment) + "' in '" + arm.label + "' must be key=value");
    }
    ComparisonKnob knob;
    knob.key = std::string(assignment.substr(0, equals));
    for (std::string_view value : split_all(assignment.substr(equals + 1), '|'))
      knob.values.emplace_back(value);
    for (const ComparisonKnob& earlier : arm.knobs) {
      if (earlier.key == knob.key) return Status::error(knob.key + " is set twice in '" + arm.label + "'");
    }
    if (Status status = check_knob(arm, knob); !status) return status.with_context(arm.label);
    arm.knobs.push_back(std::move(knob));
  }
  if (arm.grid_size() > kMaxGridPoints) {
    return Status::error(arm.label + ": a grid of " + std::to_string(arm.grid_size()) + " points; at most " +
                         std::to_string(kMaxGridPoints) + " keep a comparison small");
  }
  return arm;
}

}  // namespace

size_t ComparisonArm::grid_size() const {
  size_t points = 1;
  for (const ComparisonKnob& knob : knobs) points *= knob.values.size();
  return points;
}

Result<std::vector<ComparisonArm>> parse_comparison_arms(std::string_view text) {
  Result<std::vector<std::string_view>> parts = split_outside_brackets(text, ',');
  if (!parts) return parts.status();
  std::vector<ComparisonArm> arms;
  for (std::string_view part : *parts) {
    Result<ComparisonArm> arm = parse_arm(part);
    if (!arm) return arm.status();
    for (const ComparisonArm& earlier : arms) {
      if (earlier.label == arm->label) return Status::error("'" + arm->label + "' is listed twice");
    }
    arms.push_back(std::move(arm).value());
  }
  if (arms.size() > kMaxArms) {
    return Status::error("at most " + std::to_string(kMaxArms) + " arms in one comparison, got " +
                         std::to_string(arms.size()));
  }
  return arms;
}

std::vector<std::pair<std::string, std::string>> arm_knob_values(const ComparisonArm& arm,
                                                                 size_t grid_point) {
  std::vector<std::pair<std::string, std::string>> values(arm.knobs.size());
  for (size_t k = arm.knobs.size(); k-- > 0;) {
    const size_t count = arm.knobs[k].values.size();
    values[k] = {arm.knobs[k].key, arm.knobs[k].values[grid_point % count]};
    grid_point /= count;
  }
  return values;
}

Result<Experiment> arm_experiment(const Experiment& base, const ComparisonArm& arm, size_t grid_point) {
  Experiment e = base;
  if (Status status = set_setting(e, "method", arm.method); !status) return status.with_context(arm.label);
  for (const auto& [key, value] : arm_knob_values(arm, grid_point)) {
    if (Status status = set_setting(e, key, value); !status) return status.with_context(arm.label);
  }
  return e;
}

}  // namespace qplay

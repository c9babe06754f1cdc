// The one declarative state table (after TensorFlow Playground's State.PROPS): every setting of an
// Experiment is a row {key, kind, default, range or choices, help}. Everything that reads or writes
// settings goes through these rows, so a setting exists once:
//   CLI flags       --learning_rate=0.1   (set_setting, with messages that say what is allowed)
//   JSON files      {"format": "qplay-experiment", "version": 1, "settings": {...}}
//   ImGui widgets (core/ui/setting_widgets), the URL hash with key_hide flags, the JS API.
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/engine/base/status.h"
#include "core/engine/experiment/experiment.h"
#include "core/engine/io/json.h"

namespace qplay {

enum class SettingKind { integer, number, choice, text };

struct SettingRow {
  std::string_view key;
  SettingKind kind;
  std::string_view group;  // "data", "model", "training", "method", one per method, "quantization", "compute"
  std::string_view help;
  double min = 0, max = 0;                 // integer and number
  std::vector<std::string_view> choices;   // choice
  std::variant<int Experiment::*, int64_t Experiment::*, double Experiment::*, std::string Experiment::*> field;
  // When the setting means something (the percentile only with percentile ranges, a toy set's noise
  // only for toy sets); null: always. The playground hides the others; files and flags accept them all.
  bool (*applies)(const Experiment&) = nullptr;
  std::string_view applies_when;  // the condition in words: "with optimizer sgd"
  // A rule inside the range (1-bit activations are not supported): why a value is refused, or "".
  std::string_view (*refuses)(double value) = nullptr;
  bool may_be_empty = false;  // text: "" is a value of its own (init_model: start from scratch)
};
bool setting_applies(const SettingRow& row, const Experiment& experiment);

const std::vector<SettingRow>& experiment_settings();
const SettingRow* find_setting(std::string_view key);

// Parses and range-checks text into the setting; on error the experiment is unchanged and the
// message says what is allowed ("learning_rate must be a number from 1e-06 to 10, got 'fast'").
Status set_setting(Experiment& experiment, std::string_view key, std::string_view text);
std::string get_setting(const Experiment& experiment, const SettingRow& row);
// Every setting of the experiment checked by the same rules as set_setting (an Experiment built in code
// or changed field by field gets no other check); the first bad one's message.
Status check_settings(const Experiment& experiment);
// One line per setting: key, allowed values, default and help (for --help).
std::string describe_settings();

Json experiment_to_json(const Experiment& experiment);
// Missing settings keep their defaults; unknown keys and invalid values are errors.
Result<Experiment> experiment_from_json(const Json& json);
Status save_experiment_file(const std::string& path, const Experiment& experiment);
Result<Experiment> load_experiment_file(const std::string& path);
// An experiment file is a few kilobytes; anything past this is not one.
inline constexpr size_t kMaxExperimentFileBytes = size_t{16} << 20;

}  // namespace qplay

// The one declarative state table (after TensorFlow Playground's State.PROPS): every setting of an
// Experiment is a row {key, kind, range or choices with their names, when it applies, group, help}; its
// default is a default Experiment's value. The general rows are here, each method's come from its
// registration. Everything that reads or writes
// settings goes through these rows, so a setting exists once:
//   CLI flags       --learning_rate=0.1   (set_setting, with messages that say what is allowed)
//   JSON files      {"format": "qplay-experiment", "version": 1, "settings": {...}}
//   ImGui widgets (core/ui/setting_widgets), the URL hash with key_hide flags, the JS API.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/engine/base/setting_row.h"
#include "core/engine/base/status.h"
#include "core/engine/experiment/experiment.h"
#include "core/engine/io/json.h"

namespace qplay {

// A row over Experiment; a method's rows are lifted into it from MethodSettings (methods/method_registry.h).
using SettingRow = SettingRowOf<Experiment>;
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

// The table itself for a front end that builds its own controls (the JS API): {"settings": [{key, kind,
// group, help, min, max | choices, default, applies_when}], "methods": [{name, summary, readouts}]}.
Json state_table_json();

Json experiment_to_json(const Experiment& experiment);
// Missing settings keep their defaults; unknown keys and invalid values are errors.
Result<Experiment> experiment_from_json(const Json& json);
Status save_experiment_file(const std::string& path, const Experiment& experiment);
Result<Experiment> load_experiment_file(const std::string& path);
// An experiment file is a few kilobytes; anything past this is not one.
inline constexpr size_t kMaxExperimentFileBytes = size_t{16} << 20;

}  // namespace qplay

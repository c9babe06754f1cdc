// ImGui controls generated from the state table (core/engine/experiment/state_table.h): one widget per
// row — a combo for a choice, a slider or input for a number, a text field for text — labelled with
// the row's key in plain words and its help as a tooltip. The playground never hand-writes a control
// for a setting, so a new row in the table appears in the UI without UI code.
#pragma once

#include <string>
#include <string_view>

#include "core/engine/experiment/state_table.h"

namespace qplay::ui {

// "learning_rate" -> "learning rate"; a method's prefix is dropped inside its group
// ("gradl1_lambda_weights" in group "gradl1" -> "lambda weights").
std::string setting_label(std::string_view key, std::string_view group);

// Draws the control for `row` showing `current` (the setting's text). Returns true when the user
// committed a new value, written to *new_value as text for set_setting (numbers on release or Enter, so
// a drag does not rebuild the lab at every pixel).
bool setting_widget(const SettingRow& row, const std::string& current, std::string* new_value);

}  // namespace qplay::ui

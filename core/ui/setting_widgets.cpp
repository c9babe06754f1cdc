#include "core/ui/setting_widgets.h"

#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/engine/base/number_format.h"

namespace qplay::ui {
namespace {

void help_tooltip(const SettingRow& row) {
  if (ImGui::IsItemHovered() && !row.help.empty()) {
    ImGui::BeginTooltip();
    ImGui::PushTextWrapPos(ImGui::GetFontSize() * 28.0f);
    ImGui::TextUnformatted(row.help.data(), row.help.data() + row.help.size());
    ImGui::PopTextWrapPos();
    ImGui::EndTooltip();
  }
}

}  // namespace

std::string setting_label(std::string_view key, std::string_view group) {
  // Inside a method's section its prefix says nothing new: "gradl1_lambda_weights" -> "lambda weights".
  const size_t underscore = key.find('_');
  if (underscore != std::string_view::npos &&
      (key.substr(0, underscore) == group || key.substr(0, underscore) == "qat"))
    key.remove_prefix(underscore + 1);
  std::string label(key);
  for (char& c : label)
    if (c == '_') c = ' ';
  return label;
}

bool setting_widget(const SettingRow& row, const std::string& current, std::string* new_value) {
  const std::string label = setting_label(row.key, row.group);
  const std::string id = "##" + std::string(row.key);
  ImGui::TextUnformatted(label.c_str());
  help_tooltip(row);
  // Inputs line up in a column; a label longer than the column pushes only its own input right.
  ImGui::SameLine(std::max(ImGui::GetFontSize() * 8.5f, ImGui::GetItemRectMax().x - ImGui::GetWindowPos().x +
                                                            ImGui::GetStyle().ItemSpacing.x));
  ImGui::SetNextItemWidth(-1);
  bool committed = false;
  switch (row.kind) {
    case SettingKind::choice: {
      if (ImGui::BeginCombo(id.c_str(), current.c_str())) {
        for (std::string_view choice : row.choices) {
          const std::string text(choice);
          if (ImGui::Selectable(text.c_str(), text == current) && text != current) {
            *new_value = text;
            committed = true;
          }
        }
        ImGui::EndCombo();
      }
      break;
    }
    case SettingKind::integer: {
      int value = std::atoi(current.c_str());
      const bool small_range = row.max - row.min <= 64;
      if (small_range) {
        ImGui::SliderInt(id.c_str(), &value, static_cast<int>(row.min), static_cast<int>(row.max), "%d",
                         ImGuiSliderFlags_AlwaysClamp);
      } else {
        ImGui::InputInt(id.c_str(), &value, 0, 0);
      }
      if (ImGui::IsItemDeactivatedAfterEdit() ||
          (small_range && ImGui::IsItemEdited() && !ImGui::IsMouseDown(0))) {
        *new_value = std::to_string(value);
        committed = *new_value != current;
      }
      break;
    }
    case SettingKind::number: {
      double value = std::strtod(current.c_str(), nullptr);
      ImGui::InputDouble(id.c_str(), &value, 0, 0, "%.6g");
      if (ImGui::IsItemDeactivatedAfterEdit()) {
        *new_value = format_double("%.6g", value);
        committed = *new_value != current;
      }
      break;
    }
    case SettingKind::text: {
      char buffer[256];
      std::snprintf(buffer, sizeof buffer, "%s", current.c_str());
      ImGui::InputText(id.c_str(), buffer, sizeof buffer);
      if (ImGui::IsItemDeactivatedAfterEdit()) {
        *new_value = buffer;
        committed = *new_value != current;
      }
      break;
    }
  }
  help_tooltip(row);
  return committed;
}

}  // namespace qplay::ui

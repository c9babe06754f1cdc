#include "native/desktop/file_dialog.h"

#include <imgui.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <system_error>

namespace qplay::desktop {

namespace fs = std::filesystem;

void FileDialog::open(Mode mode, const std::string& suggested_name) {
  mode_ = mode;
  open_ = just_opened_ = true;
  std::error_code error;
  if (directory_.empty()) directory_ = fs::current_path(error).string();
  std::snprintf(name_, sizeof name_, "%s", suggested_name.c_str());
  list_directory();
}

void FileDialog::list_directory() {
  entries_.clear();
  error_.clear();
  std::error_code error;
  for (fs::directory_iterator it(directory_, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (!name.empty() && name[0] == '.') continue;
    entries_.emplace_back(name, it->is_directory(error));
  }
  if (error) error_ = directory_ + ": " + error.message();
  std::sort(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second : a.first < b.first;  // folders first
  });
}

void FileDialog::draw(const std::function<void(const std::string& path, Mode mode)>& on_choose) {
  if (!open_) return;
  const char* title = mode_ == Mode::open ? "Open an experiment or model" : "Save as";
  if (just_opened_) {
    ImGui::OpenPopup(title);
    just_opened_ = false;
  }
  const float font = ImGui::GetFontSize();
  ImGui::SetNextWindowSize(ImVec2(font * 36, font * 24), ImGuiCond_Appearing);
  if (!ImGui::BeginPopupModal(title, &open_)) return;
  ImGui::TextDisabled("%s", directory_.c_str());
  if (ImGui::Button("Up")) {
    directory_ = fs::path(directory_).parent_path().string();
    list_directory();
  }
  ImGui::BeginChild("entries", ImVec2(0, -ImGui::GetFrameHeightWithSpacing() * 2), true);
  if (!error_.empty()) ImGui::TextColored(ImVec4(1, 0.5f, 0.4f, 1), "%s", error_.c_str());
  std::string enter;
  for (const auto& [name, is_directory] : entries_) {
    const std::string label = is_directory ? name + "/" : name;
    if (ImGui::Selectable(label.c_str(), !is_directory && name == name_,
                          ImGuiSelectableFlags_AllowDoubleClick)) {
      if (is_directory)
        enter = name;
      else
        std::snprintf(name_, sizeof name_, "%s", name.c_str());
    }
  }
  ImGui::EndChild();
  if (!enter.empty()) {
    directory_ = (fs::path(directory_) / enter).string();
    list_directory();
  }
  ImGui::SetNextItemWidth(-font * 10);
  const bool entered = ImGui::InputText("##name", name_, sizeof name_, ImGuiInputTextFlags_EnterReturnsTrue);
  ImGui::SameLine();
  const bool confirm = ImGui::Button(mode_ == Mode::open ? "Open" : "Save") || entered;
  ImGui::SameLine();
  if (ImGui::Button("Cancel")) open_ = false;
  if (confirm && name_[0] != '\0') {
    const fs::path chosen = fs::path(name_).is_absolute() ? fs::path(name_) : fs::path(directory_) / name_;
    open_ = false;
    on_choose(chosen.string(), mode_);
  }
  if (!open_) ImGui::CloseCurrentPopup();
  ImGui::EndPopup();
}

}  // namespace qplay::desktop

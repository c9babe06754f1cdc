// The desktop app's file dialog, drawn with ImGui (Debian offers no native dialog library we could
// depend on from both X11 and Wayland): a path field, the folder's entries to click, and OK/Cancel.
// The browser never opens it: files go through downloads and uploads there (playground.h, Platform).
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace qplay::ui {

class FileDialog {
 public:
  enum class Mode { open, save_experiment, save_model };

  // Opens the dialog in the current directory, the file name field set to suggested_name.
  void open(Mode mode, const std::string& suggested_name);
  // Draws the dialog if open; calls on_choose(path, mode) once when the user confirms.
  void draw(const std::function<void(const std::string& path, Mode mode)>& on_choose);

 private:
  void list_directory();

  bool open_ = false;
  bool just_opened_ = false;
  Mode mode_ = Mode::open;
  std::string directory_;
  char name_[512] = {};
  std::vector<std::pair<std::string, bool>> entries_;  // name, is a directory
  std::string error_;
};

}  // namespace qplay::ui

// The desktop app's file dialog, drawn with ImGui (Debian offers no native dialog library we could
// depend on from both X11 and Wayland): a path field, the folder's entries to click, and OK/Cancel.
// The desktop's Platform (main.cpp) opens it when the playground saves or opens a file; it only picks a
// path, reading and writing are the platform's. The browser has downloads and uploads instead.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace qplay::desktop {

class FileDialog {
 public:
  enum class Mode { open, save };

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

}  // namespace qplay::desktop

// The QPlay playground: the one ImGui application, drawn by the desktop app (native/desktop, GLFW +
// OpenGL3) and by the browser app (web/app, Emscripten + WebGL2). It owns a Lab (several runs
// training side by side, core/engine/lab) and draws every panel with ImGui; the plots are our own
// (plot.h). It knows ImGui and the engine, never GLFW, OpenGL or Emscripten: the platform layer
// creates the window and the ImGui context, calls frame() once per ImGui frame, and offers the few
// services below.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "core/engine/base/status.h"
#include "core/engine/io/json.h"

namespace qplay::ui {

// What the platform layer does for the playground.
class Platform {
 public:
  virtual ~Platform() = default;
  // True natively: settings that name a file or folder (data_dir, init_model) are shown. False in the
  // browser, which has no file system for them to name.
  virtual bool has_file_system() const = 0;
  // Keeps bytes as a file the user names, suggesting suggested_name: natively a save dialog and an atomic
  // write (the platform says where it went with Playground::show_status), in the browser a download.
  virtual void save_file(const std::string& suggested_name, std::string_view bytes) = 0;
  // Asks the user for a file (natively a dialog, in the browser an upload); when one is chosen the
  // platform calls Playground::open_file with its name and bytes (on a later frame), or
  // Playground::show_status with why it could not be read.
  virtual void request_open_file() = 0;
  // Saves a rectangle of the frame being drawn (display pixels, as ImGui places things) as a PNG file the
  // user names, once the frame is rendered: natively read back from the back buffer and encoded with
  // stb_image_write, in the browser read from the canvas. The default cannot (the menu item then does
  // nothing).
  virtual void save_frame_region_png(const std::string& suggested_name, float x, float y, float width,
                                     float height) {
    (void)suggested_name, (void)x, (void)y, (void)width, (void)height;
  }
  // Browser only: the experiment as a URL hash ("dataset=moons&weight_bits=3"), kept in the address bar.
  virtual void set_shareable_state(const std::string& hash) { (void)hash; }

  // Whether a data set's files are here. The browser fetches Fashion-MNIST's data pack on the first
  // call, writes its files where the data_dir setting points by default, and reports progress until it
  // is ready; natively the files are where data_dir says (or the loader says what is missing).
  struct DataStatus {
    bool ready = true;
    double progress = 1.0;  // 0..1 while downloading
    std::string error;      // non-empty: the download failed (the message says why)
  };
  virtual DataStatus prepare_dataset(std::string_view dataset) {
    (void)dataset;
    return {};
  }
};

class Playground {
 public:
  // initial_state: a URL hash (without '#') to start from; empty: the default comparison. Bad keys or
  // values are reported in the status bar and fall back to defaults.
  Playground(Platform& platform, std::string_view initial_state = {});
  ~Playground();
  Playground(const Playground&) = delete;
  Playground& operator=(const Playground&) = delete;

  // Draws one frame into the current ImGui context (between ImGui::NewFrame and ImGui::Render) over
  // the whole display, and advances training and evaluation within a time budget.
  void frame();
  // Saves the plot with this id ("accuracy_curves", "boundary_quantized", ...) as the next frame draws it,
  // through Platform::save_file (SVG) or save_frame_region_png, as its right-click menu does.
  void save_plot(std::string_view plot, bool as_png);
  // Training and evaluation outside frames, for a platform whose frames come slowly: a browser drawing
  // with software WebGL shows 3-7 frames a second while its main thread mostly waits, and 8 ms of work
  // per frame would train at the frame rate. Works for about budget_ms (no ImGui calls); returns
  // whether there is more to do (runs training, or numbers on screen not yet current).
  bool work_between_frames(double budget_ms);
  // A file the user chose (browser upload, or a path the native dialog read): an experiment JSON or
  // a saved model. A bad file leaves the current state as it is and says why.
  void open_file(const std::string& name, std::string_view bytes);
  // The largest file open_file takes (a saved model; experiment files are smaller), for a platform that
  // reads files itself.
  static size_t max_open_file_bytes();
  // A message from the platform for the status bar: where a file was saved, or why a file could not be
  // read or written.
  void show_status(std::string message, bool is_error);
  // Replaces the state from a URL hash (the browser's hashchange).
  void set_state_from_hash(std::string_view hash);

  // What a page around the playground asks (web/app's postMessage bridge): a command of
  // core/engine/lab/lab_commands.h ("set", "state", "play", "metrics", ...) with the playground's rules
  // for settings (PlaygroundState::run_command); an error says why and, but for the good parts of a
  // "state", nothing changed. The numbers on screen as JSON (core/engine/lab/lab_report.h; empty
  // before the lab exists).
  Result<Json> run_command(std::string_view command, const Json& arguments);
  std::string metrics_json() const;
  // The status bar's message and whether it reports a problem (a skipped part of a link, a bad file).
  std::string status_message(bool* is_error) const;

  // For tests and the platform's status line.
  long frames_drawn() const;
  // Test accuracy of the first run at the current slider setting (-1 before the first read-out).
  double current_accuracy() const;
  // Whether the runs are training now (play pressed, or the first view training itself).
  bool training() const;
  // Where a named control was drawn last frame, in display pixels, so browser and desktop tests can
  // drag it like a person would. Names: the sliders "weight_bits" and "activation_bits", every sidebar
  // field by its setting key ("learning_rate"), "play", "step", "reset", "chip0".. (a run's chip),
  // "menu", "menu_setup" and "close_setup" (small windows), the tabs "neurons_tab", "learned_tab" and
  // "use_learned_bits". False if not drawn last frame.
  bool control_rect(std::string_view name, float* x, float* y, float* width, float* height) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace qplay::ui

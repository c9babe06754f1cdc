// qplay: the desktop playground. A GLFW window with an OpenGL 3 context, Dear ImGui's GLFW and
// OpenGL3 backends, and the Playground (core/ui) drawn every frame with vsync. It is HiDPI aware:
// the font and the style follow the window's content scale, and are rebuilt when it changes.
// Everything else (panels, training, what goes into files) is the playground's; this file is only the glue,
// and the Platform that picks files with the ImGui file dialog (file_dialog.h) and reads and writes them.
//
//   qplay [--state "<hash>"] [--frames N [--screenshot out.png|out.ppm]
//         [--save_plot <plot id> --save_plot_to out.svg|out.png]]
//
// Exit codes: 0 the window was closed (or N frames ran), 1 no window or OpenGL context (no display),
// or the screenshot could not be written, 2 bad flags.
#include <GLFW/glfw3.h>  // includes the system's <GL/gl.h> (OpenGL 1.x: all this file calls)
#include <stb_image.h>
#include <stb_image_write.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/engine/io/file_util.h"
#include "core/engine/io/json.h"
#include "core/engine/lab/lab_state.h"
#include "core/ui/display_scale.h"
#include "core/ui/playground.h"
#include "imgui.h"
#include "imgui_impl_glfw.h"
#include "imgui_impl_opengl3.h"
#include "native/cli/command_line.h"
#include "native/desktop/file_dialog.h"

namespace {

constexpr int kWindowWidth = 1280;  // in screen coordinates at scale 1; GLFW scales it to the monitor
constexpr int kWindowHeight = 720;

// A rectangle of the frame just rendered as PNG bytes (below, with the screenshot).
bool read_back_buffer_png(int left, int bottom, int width, int height, std::string* png);

// Files through the ImGui file dialog: the playground asks during its frame, the dialog is drawn after it
// (draw_file_dialog) until the user picks a path, and the file is then read or written here.
class DesktopPlatform final : public qplay::ui::Platform {
 public:
  bool has_file_system() const override { return true; }
  void save_file(const std::string& suggested_name, std::string_view bytes) override {
    if (!fixed_save_path_.empty()) {
      const qplay::Status written = qplay::write_text_file_atomically(fixed_save_path_, bytes);
      std::printf("qplay: %s\n", written ? ("saved " + fixed_save_path_).c_str() : written.message().c_str());
      return;
    }
    bytes_to_save_.assign(bytes);
    file_dialog_.open(qplay::desktop::FileDialog::Mode::save, suggested_name);
  }
  void request_open_file() override { file_dialog_.open(qplay::desktop::FileDialog::Mode::open, ""); }
  void save_frame_region_png(const std::string& suggested_name, float x, float y, float width,
                             float height) override {
    png_request_ = {suggested_name, x, y, width, height};
  }
  // --save_plot_to: files go to this path without a dialog.
  void save_without_dialog_to(std::string path) { fixed_save_path_ = std::move(path); }

  // After the frame is rendered, before it is swapped: the region save_frame_region_png asked for, read
  // from the back buffer in framebuffer pixels, saved as PNG.
  void save_requested_png(qplay::ui::Playground& playground, float framebuffer_scale,
                          int framebuffer_height) {
    if (png_request_.name.empty()) return;
    const PngRequest request = std::move(png_request_);
    png_request_ = {};
    const int left = static_cast<int>(std::lround(request.x * framebuffer_scale));
    const int width = static_cast<int>(std::lround(request.width * framebuffer_scale));
    const int height = static_cast<int>(std::lround(request.height * framebuffer_scale));
    const int bottom =
        framebuffer_height - static_cast<int>(std::lround(request.y * framebuffer_scale)) - height;
    std::string png;
    if (!read_back_buffer_png(left, bottom, width, height, &png))
      return playground.show_status("could not read the plot's pixels back", true);
    std::printf("qplay: %s is %dx%d pixels\n", request.name.c_str(), width, height);
    save_file(request.name, png);
  }

  // In the ImGui frame, after Playground::frame: the dialog if open, and the file the user chose.
  void draw_file_dialog(qplay::ui::Playground& playground) {
    file_dialog_.draw([&](const std::string& path, qplay::desktop::FileDialog::Mode mode) {
      if (mode == qplay::desktop::FileDialog::Mode::open) {
        const qplay::Result<std::vector<uint8_t>> bytes = qplay::read_file_bytes(
            path, qplay::ui::Playground::max_open_file_bytes(), "a model or experiment file");
        if (!bytes) return playground.show_status(bytes.status().message(), true);
        const std::vector<uint8_t>& data = bytes.value();
        return playground.open_file(
            path, std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
      }
      const qplay::Status written = qplay::write_text_file_atomically(path, bytes_to_save_);
      bytes_to_save_.clear();
      playground.show_status(written ? "saved " + path : written.message(), !written);
    });
  }

 private:
  struct PngRequest {
    std::string name;  // empty: none
    float x = 0, y = 0, width = 0, height = 0;
  };
  qplay::desktop::FileDialog file_dialog_;
  std::string bytes_to_save_;  // what save_file was given, kept while its dialog is open
  std::string fixed_save_path_;
  PngRequest png_request_;
};

// ---- Command line ----------------------------------------------------------------------------------

struct Options {
  std::string state;         // initial URL-hash state, without '#'
  long frames = 0;           // 0: until the window is closed
  std::string screenshot;    // written after the last of `frames` frames
  std::string save_plot;     // a plot's id, saved on the frame before the last
  std::string save_plot_to;  // ... to this .svg or .png file
};

// The desktop's own flags; every experiment setting is a flag too, parsed by the CLI's one parser.
const std::vector<qplay::cli::CommandFlag> kDesktopFlags = {
    {"state",
     "start from a shared state, as in the web app's URL after '#' (e.g. \"dataset=moons&weight_bits=3\")",
     ""},
    {"frames", "draw N frames, then exit (for tests and screenshots); 0: until the window is closed", "0"},
    {"screenshot", "with --frames: save the last frame as PNG or PPM (by extension)", ""},
    {"save_plot",
     "with --frames and --save_plot_to: save this plot (accuracy_curves, training_curves, "
     "boundary_quantized, "
     "...) as the frame before the last draws it, as its right-click menu does",
     ""},
    {"save_plot_to", "where --save_plot writes: an .svg or .png file", ""},
};

void print_usage(std::FILE* out) {
  std::fprintf(
      out,
      "usage: qplay [--state \"<hash>\"] [--<setting>=<value> ...] [--frames N [--screenshot "
      "out.png|out.ppm]]\n\n"
      "The QPlay playground: train small networks and watch what quantization does to them.\n\n"
      "  flags:\n%s"
      "  Every experiment setting is a flag too (--dataset=moons --weight_bits=3), applied after --state;\n"
      "  qplay-cli train --help lists them with their ranges.\n",
      qplay::cli::describe_command_flags(kDesktopFlags).c_str());
}

bool has_extension(std::string_view path, std::string_view extension) {
  if (path.size() <= extension.size()) return false;
  std::string tail(path.substr(path.size() - extension.size()));
  std::transform(tail.begin(), tail.end(), tail.begin(), [](unsigned char c) { return std::tolower(c); });
  return tail == extension;
}

enum class ParseOutcome { run, help, bad };

// Messages go to stderr.
ParseOutcome parse_command_line(int argc, char** argv, Options* options) {
  const auto bad = [](const std::string& message) {
    std::fprintf(stderr, "qplay: %s\n", message.c_str());
    return ParseOutcome::bad;
  };
  qplay::Result<qplay::cli::ParsedCommandLine> parsed =
      qplay::cli::parse_command_line(std::vector<std::string>(argv + 1, argv + argc), kDesktopFlags);
  if (!parsed) return bad(parsed.message());
  if (parsed->help) return ParseOutcome::help;
  qplay::Result<long> frames = qplay::cli::parse_integer_flag(*parsed, "frames", 0, 1000000000);
  if (!frames) return bad(frames.message());
  options->frames = *frames;
  options->screenshot = parsed->flag("screenshot");
  if (!options->screenshot.empty() && !has_extension(options->screenshot, ".png") &&
      !has_extension(options->screenshot, ".ppm")) {
    return bad("--screenshot writes .png or .ppm files, not '" + options->screenshot + "'");
  }
  if (!options->screenshot.empty() && options->frames == 0) {
    return bad("--screenshot needs --frames N (the screenshot is of frame N)");
  }
  options->save_plot = parsed->flag("save_plot");
  options->save_plot_to = parsed->flag("save_plot_to");
  if (options->save_plot.empty() != options->save_plot_to.empty())
    return bad("--save_plot and --save_plot_to go together");
  if (!options->save_plot.empty() && options->frames < 2)
    return bad("--save_plot needs --frames N of at least 2 (the plot is saved on frame N - 1)");
  if (!options->save_plot_to.empty() && !has_extension(options->save_plot_to, ".svg") &&
      !has_extension(options->save_plot_to, ".png")) {
    return bad("--save_plot_to writes .svg or .png files, not '" + options->save_plot_to + "'");
  }
  std::string_view state = parsed->flag("state");
  options->state = std::string(state.starts_with('#') ? state.substr(1) : state);
  if (!parsed->settings.empty()) {
    qplay::ParsedLabState lab = qplay::lab_state_from_hash(options->state);
    if (!lab.warnings.empty()) return bad("--state: " + lab.warnings.front());
    for (const auto& [key, value] : parsed->settings) {
      if (qplay::Status status = qplay::set_lab_state_value(lab.state, key, value); !status) {
        return bad(status.message());
      }
    }
    options->state = qplay::lab_state_to_hash(lab.state);
  }
  return ParseOutcome::run;
}

// ---- Font, screenshot --------------------------------------------------------------------------------

// A file the app ships from assets/: installed next to the binary (<prefix>/share/qplay/<installed_name>),
// else the source tree's copy (build_tree_path, when the app runs from its build tree); "" if neither is
// there.
std::string find_shipped_file(const char* argv0, const char* installed_name, const char* build_tree_path) {
  std::error_code error;
  std::filesystem::path executable = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) executable = std::filesystem::absolute(argv0, error);
  std::vector<std::filesystem::path> candidates;
  if (!error) candidates.push_back(executable.parent_path() / "../share/qplay" / installed_name);
  if (build_tree_path) candidates.emplace_back(build_tree_path);
  for (const auto& candidate : candidates) {
    if (std::filesystem::is_regular_file(candidate, error)) return candidate.string();
  }
  return {};
}

#ifndef QPLAY_SYSTEM_FONT
#define QPLAY_SYSTEM_FONT nullptr
#endif
#ifndef QPLAY_WINDOW_ICON
#define QPLAY_WINDOW_ICON nullptr
#endif

// The playground font; "" means ImGui's built-in one.
std::string find_font(const char* argv0) {
  return find_shipped_file(argv0, "fonts/DejaVuSans.ttf", QPLAY_SYSTEM_FONT);
}

// The window's icon (assets/icons/qplay-64.png). Some platforms have no window icons (Wayland): GLFW would
// report that as an error, which is no error of ours, so its callback is off for the call.
void set_window_icon(GLFWwindow* window, const char* argv0) {
  const std::string path = find_shipped_file(argv0, "icons/qplay-64.png", QPLAY_WINDOW_ICON);
  if (path.empty()) return;
  int width = 0, height = 0, channels = 0;
  unsigned char* pixels = stbi_load(path.c_str(), &width, &height, &channels, 4);
  if (pixels == nullptr) return;
  const GLFWimage image{width, height, pixels};
  const GLFWerrorfun reporting = glfwSetErrorCallback(nullptr);
  glfwSetWindowIcon(window, 1, &image);
  glfwSetErrorCallback(reporting);
  stbi_image_free(pixels);
}

// The rectangle (left, bottom, width, height in framebuffer pixels, OpenGL's origin at the bottom left) of
// the back buffer (the frame just rendered, before it is swapped) as RGB rows, top row first.
bool read_back_buffer(int left, int bottom, int width, int height, std::vector<unsigned char>* rgb) {
  if (width <= 0 || height <= 0) return false;
  std::vector<unsigned char> rgba(static_cast<std::size_t>(width) * height * 4);
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadBuffer(GL_BACK);
  glReadPixels(left, bottom, width, height, GL_RGBA, GL_UNSIGNED_BYTE, rgba.data());
  if (glGetError() != GL_NO_ERROR) return false;
  rgb->resize(static_cast<std::size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y) {
    const unsigned char* source = rgba.data() + static_cast<std::size_t>(height - 1 - y) * width * 4;
    unsigned char* target = rgb->data() + static_cast<std::size_t>(y) * width * 3;
    for (int x = 0; x < width; ++x) std::copy_n(source + 4 * x, 3, target + 3 * x);
  }
  return true;
}

bool read_back_buffer_png(int left, int bottom, int width, int height, std::string* png) {
  std::vector<unsigned char> rgb;
  if (!read_back_buffer(left, bottom, width, height, &rgb)) return false;
  png->clear();
  const auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data),
                                               static_cast<std::size_t>(size));
  };
  return stbi_write_png_to_func(append, png, width, height, 3, rgb.data(), width * 3) != 0;
}

bool write_screenshot(const std::string& path, int width, int height) {
  std::vector<unsigned char> rgb;
  if (!read_back_buffer(0, 0, width, height, &rgb)) return false;
  if (has_extension(path, ".png")) {
    return stbi_write_png(path.c_str(), width, height, 3, rgb.data(), width * 3) != 0;
  }
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return false;
  std::fprintf(file, "P6\n%d %d\n255\n", width, height);
  bool ok = std::fwrite(rgb.data(), 1, rgb.size(), file) == rgb.size();
  return std::fclose(file) == 0 && ok;
}

qplay::ui::DisplayScale display_scale_of(GLFWwindow* window) {
  qplay::ui::DisplayScale scale;
  glfwGetWindowContentScale(window, &scale.content_scale, nullptr);
  int window_width = 0, framebuffer_width = 0;
  glfwGetWindowSize(window, &window_width, nullptr);
  glfwGetFramebufferSize(window, &framebuffer_width, nullptr);
  if (window_width > 0 && framebuffer_width > 0) {
    scale.framebuffer_scale = static_cast<float>(framebuffer_width) / window_width;
  }
  return scale;
}

// Keeps the scaled window inside the monitor's work area (a 1.5x scale on a 1920x1080 screen).
void fit_window_to_monitor(GLFWwindow* window) {
  GLFWmonitor* monitor = glfwGetPrimaryMonitor();
  if (monitor == nullptr) return;
  int area_x = 0, area_y = 0, area_width = 0, area_height = 0;
  glfwGetMonitorWorkarea(monitor, &area_x, &area_y, &area_width, &area_height);
  int width = 0, height = 0;
  glfwGetWindowSize(window, &width, &height);
  if (area_width <= 0 || area_height <= 0 || (width <= area_width && height <= area_height)) return;
  glfwSetWindowSize(window, std::min(width, area_width), std::min(height, area_height));
}

void report_glfw_error(int code, const char* description) {
  std::fprintf(stderr, "qplay: GLFW error 0x%x: %s\n", code, description);
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  switch (parse_command_line(argc, argv, &options)) {
    case ParseOutcome::help:
      print_usage(stdout);
      return 0;
    case ParseOutcome::bad:
      return 2;
    case ParseOutcome::run:
      break;
  }

  glfwSetErrorCallback(report_glfw_error);
  if (!glfwInit()) {
    std::fprintf(stderr,
                 "qplay: cannot open a window: no display (set DISPLAY, or run headless under "
                 "xvfb-run -a qplay ...)\n");
    return 1;
  }
#ifdef __APPLE__
  const char* glsl_version = "#version 150";  // macOS offers only forward-compatible core profiles
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 2);
  glfwWindowHint(GLFW_OPENGL_PROFILE, GLFW_OPENGL_CORE_PROFILE);
  glfwWindowHint(GLFW_OPENGL_FORWARD_COMPAT, GL_TRUE);
#else
  const char* glsl_version = "#version 130";
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 0);
#endif
  glfwWindowHint(GLFW_SCALE_TO_MONITOR, GLFW_TRUE);
  GLFWwindow* window =
      glfwCreateWindow(kWindowWidth, kWindowHeight, "QPlay — quantization playground", nullptr, nullptr);
  if (window == nullptr) {
    std::fprintf(stderr,
                 "qplay: cannot create a window with an OpenGL 3 context (see the GLFW error above)\n");
    glfwTerminate();
    return 1;
  }
  fit_window_to_monitor(window);
  set_window_icon(window, argv[0]);
  glfwMakeContextCurrent(window);
  glfwSwapInterval(1);  // vsync

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGuiIO& io = ImGui::GetIO();
  io.IniFilename = nullptr;  // the playground lays itself out over the whole window every frame
  ImGui::StyleColorsDark();
  ImGui_ImplGlfw_InitForOpenGL(window, true);
  ImGui_ImplOpenGL3_Init(glsl_version);

  const std::string font = find_font(argv[0]);
  qplay::ui::DisplayScale scale = display_scale_of(window);
  if (!qplay::ui::apply_display_scale(font.c_str(), scale)) {
    std::fprintf(
        stderr,
        "qplay: the DejaVu Sans font is missing (Debian: fonts-dejavu-core); using ImGui's built-in font\n");
  }

  int exit_code = 0;
  {
    DesktopPlatform platform;
    if (!options.save_plot_to.empty()) platform.save_without_dialog_to(options.save_plot_to);
    qplay::ui::Playground playground(platform, options.state);
    long frames = 0;
    // With --frames: where the time of a frame goes, printed at the end (docs/performance.md).
    double playground_ms = 0, frame_ms = 0;
    using Clock = std::chrono::steady_clock;
    while (!glfwWindowShouldClose(window)) {
      const Clock::time_point frame_start = Clock::now();
      glfwPollEvents();
      // Moving the window to a monitor of another scale: new font size and style, between frames.
      if (qplay::ui::DisplayScale now = display_scale_of(window); !(now == scale)) {
        scale = now;
        qplay::ui::apply_display_scale(font.c_str(), scale);
        ImGui_ImplOpenGL3_DestroyFontsTexture();
        ImGui_ImplOpenGL3_CreateFontsTexture();
      }

      ImGui_ImplOpenGL3_NewFrame();
      ImGui_ImplGlfw_NewFrame();
      ImGui::NewFrame();
      const Clock::time_point playground_start = Clock::now();
      if (!options.save_plot.empty() && frames + 2 == options.frames)
        playground.save_plot(options.save_plot, has_extension(options.save_plot_to, ".png"));
      playground.frame();
      platform.draw_file_dialog(playground);
      ImGui::Render();
      playground_ms += std::chrono::duration<double, std::milli>(Clock::now() - playground_start).count();

      int width = 0, height = 0;
      glfwGetFramebufferSize(window, &width, &height);
      glViewport(0, 0, width, height);
      glClearColor(0.10f, 0.11f, 0.13f, 1.0f);
      glClear(GL_COLOR_BUFFER_BIT);
      ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
      platform.save_requested_png(playground, ImGui::GetIO().DisplayFramebufferScale.x, height);

      ++frames;
      const bool last_frame = options.frames > 0 && frames >= options.frames;
      if (last_frame && !options.screenshot.empty() && !write_screenshot(options.screenshot, width, height)) {
        std::fprintf(stderr, "qplay: cannot write the screenshot %s\n", options.screenshot.c_str());
        exit_code = 1;
      }
      glfwSwapBuffers(window);
      frame_ms += std::chrono::duration<double, std::milli>(Clock::now() - frame_start).count();
      if (last_frame) {
        const qplay::Result<qplay::Json> metrics = qplay::parse_json(playground.metrics_json());
        const qplay::Json* rate = metrics ? metrics.value().find("samples_per_second") : nullptr;
        std::printf(
            "qplay: %ld frames, %.1f ms per frame, of which the playground (training, evaluation, "
            "layout) %.1f ms; training %.0f samples/s\n",
            frames, frame_ms / frames, playground_ms / frames,
            rate && rate->is_number() ? rate->as_number() : 0.0);
        break;
      }
    }
  }  // the playground goes before the ImGui context it draws into

  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  glfwDestroyWindow(window);
  glfwTerminate();
  return exit_code;
}

// qplay-app: the browser playground. Emscripten's GLFW gives a WebGL 2 (OpenGL ES 3.0) context on
// the page's <canvas id="canvas">; Dear ImGui's GLFW and OpenGL3 backends draw the Playground
// (core/ui) once per animation frame (emscripten_set_main_loop). This file is only glue:
//
//   [SECTION] Page services (EM_JS): canvas size, downloads, uploads, the URL hash, mouse wheel, errors
//   [SECTION] WebPlatform: the Platform the playground sees
//   [SECTION] The app and its frame
//   [SECTION] Called from JavaScript: uploads, hash changes, test hooks
//   [SECTION] main
//
// Coordinates: the canvas's backing store is its CSS box times devicePixelRatio, and GLFW, ImGui's
// display and the mouse all work in those device pixels (Emscripten's GLFW scales mouse events by
// canvas.width / CSS width). The font and style are scaled by devicePixelRatio (display_scale.h).
// Test hooks report control rectangles in CSS pixels, relative to the canvas's top-left corner.
#define GLFW_INCLUDE_ES3  // <GLES3/gl3.h>: WebGL 2
#include <GLFW/glfw3.h>
#include <emscripten.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/engine/io/json.h"
#include "core/engine/lab/lab_state.h"
#include "core/ui/display_scale.h"
#include "core/ui/playground.h"
#include "imgui.h"
#include "imgui_impl_glfw.h"
#include "imgui_impl_opengl3.h"
#include "imgui_internal.h"  // where the text cursor is (ImGuiContext::PlatformImePos)

namespace {

// Packed into the module's .data file by the build (--preload-file); absent: ImGui's built-in font.
constexpr const char* kFontPath = "/fonts/DejaVuSans.ttf";

}  // namespace

// -----------------------------------------------------------------------------------------------
// [SECTION] Page services (EM_JS)
// -----------------------------------------------------------------------------------------------
// (JavaScript: not for clang-format. Inside EM_JS use "" strings: '' is an invalid C++ token.)
// clang-format off

// Sizes the canvas's backing store to its CSS box times devicePixelRatio (through Emscripten's
// Browser, so GLFW's window and framebuffer sizes follow) and returns devicePixelRatio.
EM_JS(double, qplay_web_fit_canvas, (), {
  var canvas = Module['canvas'];
  var ratio = window.devicePixelRatio || 1;
  var box = canvas.getBoundingClientRect();
  var width = Math.max(1, Math.round(box.width * ratio));
  var height = Math.max(1, Math.round(box.height * ratio));
  if (canvas.width !== width || canvas.height !== height) Browser.setCanvasSize(width, height);
  return ratio;
});

// Offers bytes as a download (a Blob behind a temporary link).
EM_JS(void, qplay_web_download, (const char* name, const char* data, int size), {
  var bytes = HEAPU8.slice(data, data + size);  // a copy: the heap may grow or be reused
  var url = URL.createObjectURL(new Blob([bytes], {type: 'application/octet-stream'}));
  var link = document.createElement('a');
  link.href = url;
  link.download = UTF8ToString(name);
  link.style.display = 'none';
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(function() { URL.revokeObjectURL(url); }, 10000);  // once the download has started
});

// Offers RGBA pixels (width x height, top row first) as a PNG download: drawn into a canvas of their size,
// encoded by the browser (toBlob).
EM_JS(void, qplay_web_download_png, (const char* name, const unsigned char* rgba, int width, int height), {
  var canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  var image = new ImageData(new Uint8ClampedArray(HEAPU8.slice(rgba, rgba + width * height * 4)), width, height);
  canvas.getContext('2d').putImageData(image, 0, 0);
  var file_name = UTF8ToString(name);
  canvas.toBlob(function(blob) {
    var url = URL.createObjectURL(blob);
    var link = document.createElement('a');
    link.href = url;
    link.download = file_name;
    link.style.display = 'none';
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function() { URL.revokeObjectURL(url); }, 10000);
  }, 'image/png');
});

// Opens the browser's file chooser (a hidden <input type=file>); the chosen file's name and bytes
// go to qplay_web_file_opened. Browsers allow this shortly after a click, which is when the
// playground asks (its button was pressed on this frame).
EM_JS(void, qplay_web_choose_file, (), {
  var input = document.getElementById('qplay-file-input');
  if (!input) {
    input = document.createElement('input');
    input.type = 'file';
    input.id = 'qplay-file-input';
    input.style.display = 'none';
    input.addEventListener('change', function() {
      var file = input.files && input.files[0];
      input.value = "";  // choosing the same file again fires 'change' again
      if (!file) return;
      file.arrayBuffer().then(function(buffer) {
        var bytes = new Uint8Array(buffer);
        var data = _malloc(Math.max(1, bytes.length));
        HEAPU8.set(bytes, data);
        var nameSize = lengthBytesUTF8(file.name) + 1;
        var name = _malloc(nameSize);
        stringToUTF8(file.name, name, nameSize);
        _qplay_web_file_opened(name, data, bytes.length);  // copies both
        _free(name);
        _free(data);
      }, function(error) {
        console.warn('QPlay: could not read ' + file.name + ': ' + error);
      });
    });
    document.body.appendChild(input);
  }
  input.click();
});

// Puts the shareable state into the address bar without a new history entry (no hashchange).
EM_JS(void, qplay_web_replace_hash, (const char* hash), {
  var text = UTF8ToString(hash);
  var url = location.pathname + location.search + (text ? "#" + text : "");
  history.replaceState(history.state, "", url);
});

// location.hash without '#', as a malloc'ed string the caller frees.
EM_JS(char*, qplay_web_location_hash, (), {
  var hash = location.hash.replace(/^#/, "");
  var size = lengthBytesUTF8(hash) + 1;
  var text = _malloc(size);
  stringToUTF8(hash, text, size);
  return text;
});

// Someone edited the hash, or followed a shared link in the same tab: qplay_web_hash_changed.
EM_JS(void, qplay_web_listen_for_hash_changes, (), {
  window.addEventListener('hashchange', function() {
    var hash = location.hash.replace(/^#/, "");
    var size = lengthBytesUTF8(hash) + 1;
    var text = _malloc(size);
    stringToUTF8(hash, text, size);
    _qplay_web_hash_changed(text);
    _free(text);
  });
});

// Emscripten 3.1.6's GLFW passes the browser's raw wheel deltas to the scroll callback: pixels (100 per
// notch) with the vertical sign flipped, so ImGui would scroll 100 notches the wrong way. This
// listener sees wheel events over the canvas first (capture on window), stops them there, and hands
// qplay_web_mouse_wheel notches with GLFW's signs (positive: up / left), as the desktop gets them.
EM_JS(void, qplay_web_take_over_mouse_wheel, (), {
  window.addEventListener("wheel", function(event) {
    if (event.target !== Module["canvas"]) return;
    event.preventDefault();
    event.stopPropagation();
    // 3 lines, 1/80 page or 100 pixels make a notch
    var notches = event.deltaMode === 1 ? 1 / 3 : event.deltaMode === 2 ? 80 : 1 / 100;
    _qplay_web_mouse_wheel(-event.deltaX * notches, -event.deltaY * notches);
  }, {capture: true, passive: false});
});

// Fashion-MNIST's data pack (web/app/CMakeLists.txt writes it next to the page): fetched once, when a
// person first picks the data set, with its progress counted, then written where the engine reads it
// by default (the data_dir setting), so the same experiment works natively and here.
EM_JS(void, qplay_web_fetch_data_pack, (), {
  if (Module.qplayDataPack) return;
  var pack = Module.qplayDataPack = {state: 0, loaded: 0, total: 0, error: ""};
  var names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
               "t10k-labels-idx1-ubyte"];
  var directory = "/usr/share/datasets/fashion-mnist";
  Promise.all(names.map(function(name) {
    var url = "data/fashion-mnist/" + name;
    return fetch(url).then(function(response) {
      if (!response.ok) throw new Error("the Fashion-MNIST data pack is missing here (" + url + ": HTTP " + response.status + ")");
      pack.total += window.qplayDecodedLength ? window.qplayDecodedLength(response)
                                              : Number(response.headers.get("Content-Length")) || 0;
      var reader = response.body.getReader();
      var chunks = [];
      var size = 0;
      function pump() {
        return reader.read().then(function(step) {
          if (step.done) {
            var bytes = new Uint8Array(size);
            var at = 0;
            chunks.forEach(function(chunk) { bytes.set(chunk, at); at += chunk.length; });
            return [name, bytes];
          }
          chunks.push(step.value);
          size += step.value.length;
          pack.loaded += step.value.length;
          return pump();
        });
      }
      return pump();
    });
  })).then(function(files) {
    FS.mkdirTree(directory);
    files.forEach(function(file) { FS.writeFile(directory + "/" + file[0], file[1]); });
    pack.state = 1;
  }).catch(function(error) {
    pack.state = -1;
    pack.error = String(error && error.message ? error.message : error);
  });
});
// 0 downloading, 1 ready, -1 failed (qplay_web_data_pack_error says why); progress 0..1.
EM_JS(int, qplay_web_data_pack_state, (), { return Module.qplayDataPack ? Module.qplayDataPack.state : 0; });

// The kernel threads index.html chose for this build (qplay-build.js: 2+ only in the threaded build).
EM_JS(int, qplay_web_page_threads, (), { return Module.qplayBuild ? Module.qplayBuild.threads : 1; });
EM_JS(double, qplay_web_data_pack_progress, (), {
  var pack = Module.qplayDataPack;
  return pack && pack.total ? Math.min(1, pack.loaded / pack.total) : 0;
});
EM_JS(char*, qplay_web_data_pack_error, (), {
  var text = Module.qplayDataPack ? Module.qplayDataPack.error : "";
  var size = lengthBytesUTF8(text) + 1;
  var copy = _malloc(size);
  stringToUTF8(text, copy, size);
  return copy;
});

// Embedded in another page (an iframe, or the <qplay-playground> element, which hosts one): that page
// drives the playground with postMessage and hears its state and numbers back. Only messages from the
// parent window are taken, and only from the origin that embedded us or our own; replies go to the
// embedding origin alone. That origin is read directly when it is ours, and from document.referrer
// otherwise (browsers send the origin by default). When it is unknown (a page that sends no referrer)
// nothing is posted: a reply to a guessed origin would only be an error in the console.
// Messages are {type: "qplay:<what>", ...} (docs/embedding.md).
EM_JS(void, qplay_web_listen_for_parent, (), {
  if (window.parent === window) return;
  var parentOrigin = "";
  try {
    parentOrigin = window.parent.location.origin;  // throws when the parent is another origin
  } catch (error) {}
  try {
    if (!parentOrigin && document.referrer) parentOrigin = new URL(document.referrer).origin;
  } catch (error) {}
  var allowed = [location.origin];
  if (parentOrigin && allowed.indexOf(parentOrigin) < 0) allowed.push(parentOrigin);
  if (parentOrigin) {
    Module.qplayParentOrigin = parentOrigin;
  } else {
    console.warn("QPlay: the page around this playground sent no referrer, so its origin is unknown and " +
                 "it cannot drive the playground (its referrer policy must send the origin, e.g. " +
                 "strict-origin-when-cross-origin)");
  }
  window.addEventListener("message", function(event) {
    if (event.source !== window.parent) return;
    if (allowed.indexOf(event.origin) < 0) {
      console.warn("QPlay: ignored a message from " + event.origin + " (only " + allowed.join(", ") + " may drive this playground)");
      return;
    }
    var message = event.data || {};
    if (typeof message.type !== "string" || message.type.indexOf("qplay:") !== 0) return;
    var copy = function(value) {
      var string = value === undefined || value === null ? "" : String(value);
      var size = lengthBytesUTF8(string) + 1;
      var pointer = _malloc(size);
      stringToUTF8(string, pointer, size);
      return pointer;
    };
    // The message's other fields are the command's arguments, as text (value: 3 means "3").
    var args = {};
    Object.keys(message).forEach(function(name) {
      if (name !== "type") args[name] = message[name] === undefined || message[name] === null ? "" : String(message[name]);
    });
    var type = copy(message.type.substring(6));
    var argumentsJson = copy(JSON.stringify(args));
    _qplay_web_parent_message(type, argumentsJson);
    _free(type);
    _free(argumentsJson);
  });
});
// {type: "qplay:<type>", ...payload} to the embedding page (nothing when not embedded).
EM_JS(void, qplay_web_post_to_parent, (const char* type, const char* payload_json), {
  if (window.parent === window || !Module.qplayParentOrigin) return;
  var message = JSON.parse(UTF8ToString(payload_json));
  message.type = "qplay:" + UTF8ToString(type);
  window.parent.postMessage(message, Module.qplayParentOrigin);
});

// Touch keyboards: a canvas cannot bring up a phone's on-screen keyboard, a focused text field can.
// While ImGui edits a field, a transparent <input> lies over it and has the focus; what a touch
// keyboard types arrives there as 'input' events (without keypress), and goes to ImGui as characters.
// A hardware keyboard's keys still reach GLFW (keydown/keypress bubble to the window), so text that
// came with a keypress is not passed twice. Enter, Backspace and arrows reach GLFW as keydowns.
EM_JS(void, qplay_web_text_field, (int active, double x, double y, double width, double height), {
  var field = Module.qplayTextField;
  if (!field) {
    field = Module.qplayTextField = document.createElement("input");
    field.id = "qplay-text-field";
    field.type = "text";
    field.autocomplete = "off";
    field.setAttribute("autocapitalize", "off");
    field.setAttribute("aria-label", "QPlay text input");
    field.style.cssText = "position:fixed;opacity:0;border:0;padding:0;margin:0;font-size:16px;z-index:1;";
    var typedWithKey = false;
    field.addEventListener("keypress", function() { typedWithKey = true; });
    field.addEventListener("input", function(event) {
      var text = event.data || "";
      if (!typedWithKey && text) {
        var bytes = lengthBytesUTF8(text) + 1, copy = _malloc(bytes);
        stringToUTF8(text, copy, bytes);
        Module._qplay_web_text_typed(copy);
        _free(copy);
      }
      typedWithKey = false;
      field.value = "";
    });
    document.body.appendChild(field);
  }
  if (active) {
    var box = Module.canvas.getBoundingClientRect();
    field.style.left = (box.left + x) + "px";
    field.style.top = (box.top + y) + "px";
    field.style.width = Math.max(1, width) + "px";
    field.style.height = Math.max(1, height) + "px";
    field.style.display = "block";
    if (document.activeElement !== field) field.focus({preventScroll: true});
  } else {
    field.style.display = "none";
    if (document.activeElement === field) field.blur();
  }
});

// Work between animation frames: a MessageChannel message runs as soon as the main thread is free
// (setTimeout would wait at least 4 ms once nested), and the browser still draws a frame between two
// messages when one is due.
EM_JS(void, qplay_web_schedule_work_between_frames, (), {
  if (!Module.qplayWorkChannel) {
    Module.qplayWorkChannel = new MessageChannel();
    Module.qplayWorkChannel.port1.onmessage = function() { Module._qplay_web_work_between_frames(); };
  }
  Module.qplayWorkChannel.port2.postMessage(0);
});

// The page (index.html) hides its loading screen on the first frame and shows fatal errors.
EM_JS(void, qplay_web_first_frame_drawn, (), {
  if (Module['qplayReady']) Module['qplayReady']();
});
EM_JS(void, qplay_web_fatal_error, (const char* message), {
  var text = UTF8ToString(message);
  if (Module['qplayShowError']) Module['qplayShowError'](text); else console.error(text);
});

// clang-format on

namespace {

// -----------------------------------------------------------------------------------------------
// [SECTION] WebPlatform
// -----------------------------------------------------------------------------------------------

class WebPlatform final : public qplay::ui::Platform {
 public:
  bool has_file_system() const override { return false; }
  void save_file(const std::string& suggested_name, std::string_view bytes) override {
    qplay_web_download(suggested_name.c_str(), bytes.data(), static_cast<int>(bytes.size()));
  }
  void request_open_file() override { qplay_web_choose_file(); }
  void save_frame_region_png(const std::string& suggested_name, float x, float y, float width,
                             float height) override {
    png_request = {suggested_name, x, y, width, height};
  }
  // After the frame is rendered: the region save_frame_region_png asked for, from the drawing buffer
  // (framebuffer pixels, origin at the bottom left), as a PNG download.
  void save_requested_png(float framebuffer_scale, int framebuffer_height) {
    if (png_request.name.empty()) return;
    const int left = static_cast<int>(std::lround(png_request.x * framebuffer_scale));
    const int width = static_cast<int>(std::lround(png_request.width * framebuffer_scale));
    const int height = static_cast<int>(std::lround(png_request.height * framebuffer_scale));
    const int bottom =
        framebuffer_height - static_cast<int>(std::lround(png_request.y * framebuffer_scale)) - height;
    const std::string name = std::move(png_request.name);
    png_request = {};
    if (width <= 0 || height <= 0) return;
    std::vector<unsigned char> rows(static_cast<std::size_t>(width) * height * 4), flipped(rows.size());
    glPixelStorei(GL_PACK_ALIGNMENT, 1);
    glReadPixels(left, bottom, width, height, GL_RGBA, GL_UNSIGNED_BYTE, rows.data());
    const std::size_t stride = static_cast<std::size_t>(width) * 4;
    for (int row = 0; row < height; ++row)
      std::copy_n(rows.data() + (height - 1 - row) * stride, stride, flipped.data() + row * stride);
    qplay_web_download_png(name.c_str(), flipped.data(), width, height);
  }
  void set_shareable_state(const std::string& hash) override {
    shareable_state = hash;
    qplay_web_replace_hash(hash.c_str());
    post_state();
  }
  // The state to an embedding page. The first one is published while the playground is built, before
  // the page's origin is known, so the first frame posts it again right after "ready".
  void post_state() const {
    const qplay::Json message = qplay::Json::object({{"hash", qplay::Json(shareable_state)}});
    qplay_web_post_to_parent("state", qplay::to_json(message, 0).c_str());
  }
  DataStatus prepare_dataset(std::string_view dataset) override {
    if (dataset != "fashion-mnist") return {};  // toy sets are generated, not downloaded
    qplay_web_fetch_data_pack();
    const int state = qplay_web_data_pack_state();
    DataStatus status{state == 1, qplay_web_data_pack_progress(), {}};
    if (state < 0) {
      char* error = qplay_web_data_pack_error();
      status.error = error;
      free(error);
    }
    return status;
  }

  std::string shareable_state;  // the last hash published
  struct PngRequest {
    std::string name;  // empty: none
    float x = 0, y = 0, width = 0, height = 0;
  } png_request;
};

// -----------------------------------------------------------------------------------------------
// [SECTION] The app and its frame
// -----------------------------------------------------------------------------------------------

struct OpenedFile {
  std::string name;
  std::string bytes;
};

struct App {
  GLFWwindow* window = nullptr;
  WebPlatform platform;
  std::unique_ptr<qplay::ui::Playground> playground;
  qplay::ui::DisplayScale scale;  // content_scale = devicePixelRatio; framebuffer_scale stays 1
  double device_pixel_ratio = 1;
  bool first_frame_reported = false;
  bool work_scheduled = false;  // a slice of training between frames is queued
  bool editing_text = false;    // ImGui wants text: the page's text field has the focus
  // Frame pacing (frame_can_wait): input since the last frame drawn, and how fast frames are drawn.
  bool input_since_frame = false;
  std::vector<int> keys_pressed;  // GLFW keys pressed since the last frame (see frame())
  double cursor_x = -1, cursor_y = -1;
  double last_drawn_at = 0, drawn_interval_ms = 16;
  bool drew_last_tick = false;
  // What a drawn frame costs the main thread: from the frame's start to the first slice of work after
  // it, which runs once the browser's own task for the frame is done (in software WebGL, its commit
  // reads the canvas back and waits for the rasterizer). Smoothed; measured while training.
  double frame_cost_ms = 0;
  bool frame_cost_pending = false;  // a frame was drawn and the next slice has not measured it yet

  // Events from JavaScript arrive between frames; the playground gets them at the start of the next
  // frame, inside an ImGui frame.
  std::vector<OpenedFile> opened_files;
  std::vector<std::string> hash_changes;
  struct ParentMessage {
    std::string command;  // "set" of qplay:set
    qplay::Json arguments;
  };
  std::vector<ParentMessage> parent_messages;
  std::string posted_metrics;  // the last metrics JSON sent to an embedding page
  double posted_metrics_at = 0;

  // In-frame readback for tests: the WebGL canvas is not preserved between frames
  // (preserveDrawingBuffer: false), so pixels are read right after drawing, when asked.
  bool readback_requested = false;
  bool readback_ready = false;
  int readback_width = 0;
  int readback_height = 0;
  std::vector<unsigned char> readback_pixels;  // RGBA, bottom row first (OpenGL order)
};

App* app = nullptr;  // lives as long as the page

qplay::Json error_payload(const std::string& message) {
  return qplay::Json::object({{"message", qplay::Json(message)}});
}

void post_metrics(App& a, std::string metrics) {
  a.posted_metrics = std::move(metrics);
  a.posted_metrics_at = emscripten_get_now();
  qplay_web_post_to_parent("metrics", ("{\"metrics\": " + a.posted_metrics + "}").c_str());
}

// A qplay:<command> message is a command of core/engine/lab/lab_commands.h; a refused one answers
// qplay:error (and a console warning), qplay:metrics answers with the numbers, changed or not.
void handle_parent_message(App& a, const App::ParentMessage& message) {
  qplay::Result<qplay::Json> reply = a.playground->run_command(message.command, message.arguments);
  if (!reply) {
    qplay_web_post_to_parent("error", qplay::to_json(error_payload(reply.message()), 0).c_str());
    std::fprintf(stderr, "QPlay: %s\n", reply.message().c_str());  // shows as a console warning
    return;
  }
  if (message.command == "metrics" && !reply.value().is_null())
    post_metrics(a, qplay::to_json(reply.value(), 0));
}

// At most four times a second, and only when they changed: the numbers for the embedding page.
void post_metrics_if_changed(App& a) {
  const double now = emscripten_get_now();
  if (now - a.posted_metrics_at < 250) return;
  std::string metrics = a.playground->metrics_json();
  if (metrics.empty() || metrics == a.posted_metrics) return;
  post_metrics(a, std::move(metrics));
}

// A browser drawing WebGL in software (frames slower than kSlowFrameMs apart) spends about a CPU core
// rasterizing every frame it draws, which training on the same two cores needs: while runs train, such
// a page draws kTrainingFramesPerSecond frames a second, and at once on any input. Where a frame costs
// the main thread more than kFrameShareWhileTraining of that interval (a slow rasterizer blocks the
// commit: 90-150 ms a frame on a 2-core guest), frames come further apart, so training keeps the rest;
// never fewer than kFewestTrainingFramesPerSecond, so progress still shows.
constexpr double kSlowFrameMs = 30;
constexpr double kTrainingFramesPerSecond = 10;
constexpr double kFewestTrainingFramesPerSecond = 4;
constexpr double kFrameShareWhileTraining = 0.5;

double training_frame_interval_ms(const App& a) {
  return std::clamp(a.frame_cost_ms / kFrameShareWhileTraining, 1000 / kTrainingFramesPerSecond,
                    1000 / kFewestTrainingFramesPerSecond);
}

bool frame_can_wait(App& a) {
  const double now = emscripten_get_now();
  double x = 0, y = 0;
  glfwGetCursorPos(a.window, &x, &y);
  const bool input = std::exchange(a.input_since_frame, false) || x != a.cursor_x || y != a.cursor_y ||
                     !a.hash_changes.empty() || !a.opened_files.empty() || !a.parent_messages.empty();
  a.cursor_x = x, a.cursor_y = y;
  if (!input && a.playground->training() && a.drawn_interval_ms > kSlowFrameMs &&
      now - a.last_drawn_at < training_frame_interval_ms(a)) {
    a.drew_last_tick = false;
    return true;
  }
  // Only frames drawn on consecutive animation frames say how fast this browser draws.
  if (a.drew_last_tick) a.drawn_interval_ms = 0.8 * a.drawn_interval_ms + 0.2 * (now - a.last_drawn_at);
  a.last_drawn_at = now;
  a.drew_last_tick = true;
  return false;
}

// What a link asked for but could not have (an unknown data set, a value out of range): a console
// warning, embedded or not, and an "error" message to an embedding page.
void report_link_problem(App& a) {
  bool is_error = false;
  const std::string status = a.playground->status_message(&is_error);
  if (!is_error) return;
  std::fprintf(stderr, "QPlay: %s\n", status.c_str());
  qplay_web_post_to_parent("error", qplay::to_json(error_payload(status), 0).c_str());
}

void frame() {
  App& a = *app;
  glfwPollEvents();
  if (frame_can_wait(a)) return;
  a.device_pixel_ratio = qplay_web_fit_canvas();
  if (qplay::ui::DisplayScale now{static_cast<float>(a.device_pixel_ratio), 1.0f}; !(now == a.scale)) {
    a.scale = now;  // browser zoom, or the window moved to a screen of another density
    qplay::ui::apply_display_scale(kFontPath, a.scale);
    ImGui_ImplOpenGL3_DestroyFontsTexture();
    ImGui_ImplOpenGL3_CreateFontsTexture();
  }

  ImGui_ImplOpenGL3_NewFrame();
  ImGui_ImplGlfw_NewFrame();
  // ImGui 1.86 reads keys as states: a key pressed and released between two frames (a quick tap, a
  // slow software-GL frame) would never be seen, so a press holds until a frame has seen it.
  for (int key : a.keys_pressed) ImGui::GetIO().KeysDown[key] = true;
  ImGui::NewFrame();
  for (int key : std::exchange(a.keys_pressed, {}))
    ImGui::GetIO().KeysDown[key] = glfwGetKey(a.window, key) == GLFW_PRESS;
  for (std::string& hash : std::exchange(a.hash_changes, {})) {
    a.playground->set_state_from_hash(hash);
    report_link_problem(a);
  }
  for (OpenedFile& file : std::exchange(a.opened_files, {})) a.playground->open_file(file.name, file.bytes);
  for (App::ParentMessage& message : std::exchange(a.parent_messages, {})) handle_parent_message(a, message);
  a.playground->frame();
  if (const bool editing = ImGui::GetIO().WantTextInput; editing != a.editing_text) {
    a.editing_text = editing;
    // At the text cursor ImGui reports for input methods, one line high (the page scrolls it into view).
    const ImVec2 caret = ImGui::GetCurrentContext()->PlatformImePos;
    const double ratio = a.device_pixel_ratio, line = ImGui::GetFontSize() / ratio;
    const bool known = caret.x < FLT_MAX;
    qplay_web_text_field(editing, known ? caret.x / ratio : 0, known ? caret.y / ratio : 0, 4 * line, line);
  }
  if (!a.work_scheduled && a.playground->training()) {
    a.work_scheduled = true;
    qplay_web_schedule_work_between_frames();
  }
  // The queued slice runs after this frame's task. The first frames compile shaders and fill the font
  // atlas (1.2 s in software GL): not what a frame costs.
  a.frame_cost_pending = a.work_scheduled && a.playground->frames_drawn() > 2;
  post_metrics_if_changed(a);
  ImGui::Render();

  int width = 0, height = 0;
  glfwGetFramebufferSize(a.window, &width, &height);
  glViewport(0, 0, width, height);
  glClearColor(0.10f, 0.11f, 0.13f, 1.0f);
  glClear(GL_COLOR_BUFFER_BIT);
  ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
  a.platform.save_requested_png(ImGui::GetIO().DisplayFramebufferScale.x, height);

  if (a.readback_requested) {
    a.readback_pixels.resize(static_cast<std::size_t>(width) * height * 4);
    glPixelStorei(GL_PACK_ALIGNMENT, 1);
    glReadPixels(0, 0, width, height, GL_RGBA, GL_UNSIGNED_BYTE, a.readback_pixels.data());
    a.readback_width = width;
    a.readback_height = height;
    a.readback_requested = false;
    a.readback_ready = true;
  }
  glfwSwapBuffers(a.window);  // nothing to do in a browser; kept for symmetry with the desktop app

  if (!a.first_frame_reported) {
    a.first_frame_reported = true;
    qplay_web_first_frame_drawn();
    qplay_web_post_to_parent("ready", "{}");
    a.platform.post_state();
    report_link_problem(a);
  }
}

}  // namespace

// -----------------------------------------------------------------------------------------------
// [SECTION] Called from JavaScript
// -----------------------------------------------------------------------------------------------

extern "C" {

// From the page services above. Slices of 6 ms, as short as a frame's own share: a browser with a
// fast GPU keeps its frame rate, one drawing in software trains in the time it waits for frames.
EMSCRIPTEN_KEEPALIVE void qplay_web_work_between_frames() {
  constexpr double kSliceMs = 6;
  if (app == nullptr) return;
  if (std::exchange(app->frame_cost_pending, false)) {
    const double cost = emscripten_get_now() - app->last_drawn_at;
    app->frame_cost_ms = app->frame_cost_ms == 0 ? cost : 0.7 * app->frame_cost_ms + 0.3 * cost;
  }
  app->work_scheduled = app->playground->work_between_frames(kSliceMs);
  if (app->work_scheduled) qplay_web_schedule_work_between_frames();
}

// What a touch keyboard typed into the page's text field (qplay_web_text_field).
EMSCRIPTEN_KEEPALIVE void qplay_web_text_typed(const char* text) {
  if (app == nullptr) return;
  app->input_since_frame = true;
  ImGui::GetIO().AddInputCharactersUTF8(text);
}

EMSCRIPTEN_KEEPALIVE void qplay_web_file_opened(const char* name, const unsigned char* data, int size) {
  if (app == nullptr) return;
  app->opened_files.push_back({name, std::string(reinterpret_cast<const char*>(data), size)});
}
EMSCRIPTEN_KEEPALIVE void qplay_web_parent_message(const char* command, const char* arguments_json) {
  if (app == nullptr) return;
  // The listener wrote the JSON; should it not parse, the command says which argument it misses.
  qplay::Result<qplay::Json> arguments = qplay::parse_json(arguments_json);
  app->parent_messages.push_back({command, arguments ? std::move(arguments).value() : qplay::Json::object()});
}
EMSCRIPTEN_KEEPALIVE void qplay_web_hash_changed(const char* hash) {
  if (app != nullptr) app->hash_changes.emplace_back(hash);
}
// Between frames, like ImGui's GLFW backend adds scroll offsets.
EMSCRIPTEN_KEEPALIVE void qplay_web_mouse_wheel(double horizontal, double vertical) {
  if (app == nullptr) return;
  app->input_since_frame = true;
  ImGuiIO& io = ImGui::GetIO();
  io.MouseWheelH += static_cast<float>(horizontal);
  io.MouseWheel += static_cast<float>(vertical);
}

// Test hooks (tests/web/playground_test.mjs), read with Module._name(...) once frames are drawn.

// Frames the playground has drawn (0 before the first).
EMSCRIPTEN_KEEPALIVE int qplay_app_frames_drawn() {
  return app != nullptr && app->playground ? static_cast<int>(app->playground->frames_drawn()) : 0;
}
// Playground::current_accuracy (-1 before the first read-out).
EMSCRIPTEN_KEEPALIVE double qplay_app_current_accuracy() {
  return app != nullptr && app->playground ? app->playground->current_accuracy() : -1.0;
}
// The numbers on screen as JSON (core/engine/lab/lab_report.h), valid until the next call.
EMSCRIPTEN_KEEPALIVE const char* qplay_app_metrics() {
  static std::string metrics;
  metrics = app != nullptr && app->playground ? app->playground->metrics_json() : std::string();
  return metrics.c_str();
}
EMSCRIPTEN_KEEPALIVE int qplay_app_training() {
  return app != nullptr && app->playground && app->playground->training() ? 1 : 0;
}
// Where the named control ("weight_bits", "play") was drawn last frame: a pointer to 4 floats
// {x, y, width, height} in CSS pixels relative to the canvas's top-left corner (valid until the next
// call), or 0 if it was not drawn.
EMSCRIPTEN_KEEPALIVE const float* qplay_app_control_rect(const char* name) {
  static float rect[4];
  if (app == nullptr || !app->playground) return nullptr;
  if (!app->playground->control_rect(name, &rect[0], &rect[1], &rect[2], &rect[3])) return nullptr;
  for (float& value : rect) value = static_cast<float>(value / app->device_pixel_ratio);
  return rect;
}
// Asks for the next frame's pixels; until they are read, qplay_app_readback_pixels returns 0.
EMSCRIPTEN_KEEPALIVE void qplay_app_request_readback() {
  if (app == nullptr) return;
  app->readback_requested = true;
  app->readback_ready = false;
}
// RGBA bytes, width * height * 4, bottom row first; 0 until a requested readback is done.
EMSCRIPTEN_KEEPALIVE const unsigned char* qplay_app_readback_pixels() {
  return app != nullptr && app->readback_ready ? app->readback_pixels.data() : nullptr;
}
EMSCRIPTEN_KEEPALIVE int qplay_app_readback_width() { return app != nullptr ? app->readback_width : 0; }
EMSCRIPTEN_KEEPALIVE int qplay_app_readback_height() { return app != nullptr ? app->readback_height : 0; }

}  // extern "C"

// -----------------------------------------------------------------------------------------------
// [SECTION] main
// -----------------------------------------------------------------------------------------------

namespace {

void report_glfw_error(int code, const char* description) {
  std::fprintf(stderr, "qplay: GLFW error 0x%x: %s\n", code, description);
}

}  // namespace

int main() {
  glfwSetErrorCallback(report_glfw_error);
  if (!glfwInit()) {
    qplay_web_fatal_error("QPlay could not start its window system (GLFW).");
    return 1;
  }
  glfwWindowHint(GLFW_CLIENT_API, GLFW_OPENGL_ES_API);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);  // WebGL 2
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 0);
  glfwWindowHint(GLFW_ALPHA_BITS, 0);  // an opaque canvas; ImGui needs no depth or stencil buffer
  glfwWindowHint(GLFW_DEPTH_BITS, 0);
  glfwWindowHint(GLFW_STENCIL_BITS, 0);
  GLFWwindow* window = glfwCreateWindow(1280, 720, "QPlay", nullptr, nullptr);  // resized every frame
  if (window == nullptr) {
    qplay_web_fatal_error(
        "This browser could not create a WebGL 2 context. Turn on hardware acceleration, or try "
        "another browser.");
    return 1;
  }
  glfwMakeContextCurrent(window);

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGui::GetIO().IniFilename = nullptr;  // the playground lays itself out every frame
  ImGui::StyleColorsDark();
  // Before ImGui's backend, which calls these first-installed callbacks from its own.
  glfwSetMouseButtonCallback(window, [](GLFWwindow*, int, int, int) {
    if (app) app->input_since_frame = true;
  });
  glfwSetKeyCallback(window, [](GLFWwindow*, int key, int, int action, int) {
    if (!app) return;
    app->input_since_frame = true;
    if (action == GLFW_PRESS && key >= 0 && key < static_cast<int>(std::size(ImGui::GetIO().KeysDown)))
      app->keys_pressed.push_back(key);
  });
  glfwSetCharCallback(window, [](GLFWwindow*, unsigned int) {
    if (app) app->input_since_frame = true;
  });
  ImGui_ImplGlfw_InitForOpenGL(window, true);
  ImGui_ImplOpenGL3_Init("#version 300 es");

  app = new App;  // never freed: the page owns the app until it closes
  app->window = window;
  app->device_pixel_ratio = qplay_web_fit_canvas();
  app->scale = {static_cast<float>(app->device_pixel_ratio), 1.0f};
  if (!qplay::ui::apply_display_scale(kFontPath, app->scale)) {
    std::fprintf(stderr, "qplay: %s is missing; using ImGui's built-in font\n", kFontPath);
  }
  // Before the first lab: labs that do not set their threads use the page's choice (capped to the build).
  qplay::set_default_lab_threads(qplay_web_page_threads());
  char* hash = qplay_web_location_hash();
  app->playground = std::make_unique<qplay::ui::Playground>(app->platform, hash);
  std::free(hash);
  qplay_web_listen_for_hash_changes();
  qplay_web_listen_for_parent();
  qplay_web_take_over_mouse_wheel();

  emscripten_set_main_loop(frame, 0, true);  // never returns: the browser calls frame() per animation frame
  return 0;
}

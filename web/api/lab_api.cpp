// The C ABI of the embeddable module (qplay-core.wasm): what web/api/qplay.js calls to drive Labs from
// JavaScript. Every function takes a lab handle (an int from qplay_lab_create); strings cross as UTF-8
// pointers and come back as JSON, which qplay.js turns into plain objects and Float32Arrays. Errors
// never abort: a function that fails returns 0 (or null) and qplay_last_error() says why. What each call
// does is a command of core/engine/lab/lab_commands.h (the app's postMessage bridge runs the same ones);
// this file only marshals.
//
// Not for: drawing (the playground app is web/app), or anything a page could do without the engine.
#include <emscripten.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/engine/deploy/onnx_export.h"
#include "core/engine/experiment/state_table.h"
#include "core/engine/io/json.h"
#include "core/engine/lab/lab.h"
#include "core/engine/lab/lab_commands.h"
#include "core/engine/lab/lab_state.h"

namespace {

std::map<int, std::unique_ptr<qplay::Lab>> open_labs;
int next_handle = 1;
std::string last_error;
std::string last_warnings;  // of the last qplay_lab_create: the parts of its hash that were skipped
std::string returned_text;  // the string the last text-returning call handed out

qplay::Lab* find_lab(int handle) {
  auto it = open_labs.find(handle);
  if (it == open_labs.end()) {
    last_error = "no lab " + std::to_string(handle) + " (disposed, or never created)";
    return nullptr;
  }
  return it->second.get();
}

const char* hand_out(std::string text) {
  returned_text = std::move(text);
  return returned_text.c_str();
}

// One command of core/engine/lab/lab_commands.h on a lab; null (and last_error) when it fails.
std::optional<qplay::Json> run(int handle, std::string_view command, const qplay::Json& arguments = {}) {
  qplay::Lab* lab = find_lab(handle);
  if (!lab) return std::nullopt;
  qplay::Result<qplay::Json> reply = qplay::run_lab_command(*lab, command, arguments);
  if (!reply) {
    last_error = reply.message();
    return std::nullopt;
  }
  return std::move(reply).value();
}

// A run of a lab at its current setting as integers; null (and last_error) when it cannot be exported.
std::optional<qplay::IntegerModel> integer_model(int handle, int run) {
  qplay::Lab* lab = find_lab(handle);
  if (!lab) return std::nullopt;
  qplay::Result<qplay::IntegerModel> model = qplay::lab_integer_model(*lab, run);
  if (!model) {
    last_error = model.message();
    return std::nullopt;
  }
  return std::move(model).value();
}

}  // namespace

extern "C" {

EMSCRIPTEN_KEEPALIVE const char* qplay_last_error() { return last_error.c_str(); }
// The kernel threads of every lab created from now on that does not set its own (qplay.js: the
// threaded build's choice from navigator.hardwareConcurrency), capped to what this build can run;
// returns the count it set.
EMSCRIPTEN_KEEPALIVE int qplay_set_default_threads(int threads) {
  qplay::set_default_lab_threads(threads);
  return qplay::default_lab_state().experiment.threads;
}
EMSCRIPTEN_KEEPALIVE const char* qplay_last_warnings() { return last_warnings.c_str(); }
// The state table and the registered methods (state_table_json), for pages that build their own controls.
EMSCRIPTEN_KEEPALIVE const char* qplay_state_table_json() {
  return hand_out(qplay::to_json(qplay::state_table_json()));
}

// A new lab from a URL-hash text ("dataset=moons&methods=baseline,gradl1"); bad parts of the hash are
// skipped and listed, one per line, by qplay_last_warnings. Returns the handle, or 0 if even that cannot
// be built.
EMSCRIPTEN_KEEPALIVE int qplay_lab_create(const char* hash) {
  qplay::ParsedLabState parsed = qplay::lab_state_from_hash(hash ? hash : "");
  qplay::Result<std::unique_ptr<qplay::Lab>> lab = qplay::Lab::create(parsed.state);
  if (!lab) {
    last_error = lab.message();
    return 0;
  }
  last_warnings.clear();
  for (const std::string& w : parsed.warnings) last_warnings += (last_warnings.empty() ? "" : "\n") + w;
  open_labs[next_handle] = std::move(lab).value();
  return next_handle++;
}

EMSCRIPTEN_KEEPALIVE void qplay_lab_dispose(int handle) { open_labs.erase(handle); }

// One setting (state-table key, "methods", "layer_weight_bits", "<name>_hide"): 1, or 0 and an error.
EMSCRIPTEN_KEEPALIVE int qplay_lab_set(int handle, const char* key, const char* value) {
  return run(handle, "set", qplay::Json::object({{"key", qplay::Json(key)}, {"value", qplay::Json(value)}}))
             ? 1
             : 0;
}

// A lab or experiment JSON (what qplay_lab_state_json gives): 1, or 0 and an error (nothing changes).
EMSCRIPTEN_KEEPALIVE int qplay_lab_import_json(int handle, const char* text) {
  return run(handle, "import_json", qplay::Json::object({{"text", qplay::Json(text)}})) ? 1 : 0;
}

EMSCRIPTEN_KEEPALIVE const char* qplay_lab_state_json(int handle) {
  std::optional<qplay::Json> json = run(handle, "state_json");
  return json ? hand_out(qplay::to_json(*json)) : nullptr;
}

EMSCRIPTEN_KEEPALIVE const char* qplay_lab_state_hash(int handle) {
  std::optional<qplay::Json> hash = run(handle, "state_hash");
  return hash ? hand_out(hash->as_string()) : nullptr;
}

EMSCRIPTEN_KEEPALIVE void qplay_lab_play(int handle) { (void)run(handle, "play"); }
EMSCRIPTEN_KEEPALIVE void qplay_lab_pause(int handle) { (void)run(handle, "pause"); }
EMSCRIPTEN_KEEPALIVE void qplay_lab_step(int handle) { (void)run(handle, "step"); }
EMSCRIPTEN_KEEPALIVE int qplay_lab_reset(int handle) { return run(handle, "reset") ? 1 : 0; }
// Trains (while playing) and evaluates for about budget_ms; returns 1 while it is playing.
EMSCRIPTEN_KEEPALIVE int qplay_lab_advance(int handle, double budget_ms) {
  std::optional<qplay::Json> reply =
      run(handle, "advance", qplay::Json::object({{"budget_ms", qplay::Json(budget_ms)}}));
  return reply && reply->find("playing")->as_bool() ? 1 : 0;
}

// Per-layer weight bits under a budget (arguments: the "allocate" command's JSON): the lab's
// layer_weight_bits become them; the reply as JSON, or null and an error (nothing changes).
EMSCRIPTEN_KEEPALIVE const char* qplay_lab_allocate(int handle, const char* arguments) {
  qplay::Result<qplay::Json> parsed = qplay::parse_json(arguments);
  if (!parsed) {
    last_error = "allocate: " + parsed.message();
    return nullptr;
  }
  std::optional<qplay::Json> reply = run(handle, "allocate", parsed.value());
  return reply ? hand_out(qplay::to_json(*reply, 0)) : nullptr;
}

// Everything a page shows, as JSON (core/engine/lab/lab_report.h).
EMSCRIPTEN_KEEPALIVE const char* qplay_lab_metrics_json(int handle) {
  std::optional<qplay::Json> metrics = run(handle, "metrics");
  return metrics ? hand_out(qplay::to_json(*metrics, 0)) : nullptr;
}

// A run's float weights, in place: a pointer into the module's memory (qplay.js wraps it in a
// Float32Array view) and its length through *count. Valid until the lab changes.
EMSCRIPTEN_KEEPALIVE const float* qplay_lab_weights(int handle, int run, int* count) {
  *count = 0;
  qplay::Lab* lab = find_lab(handle);
  if (!lab) return nullptr;
  qplay::Result<std::span<const float>> weights = qplay::lab_run_weights(*lab, run);
  if (!weights) {
    last_error = weights.message();
    return nullptr;
  }
  *count = static_cast<int>(weights.value().size());
  return weights.value().data();
}

// A run at the lab's current setting as an ONNX QDQ model (docs/formats.md): a pointer to its bytes and
// their count through *count. Valid until the next call that hands out text or bytes.
EMSCRIPTEN_KEEPALIVE const char* qplay_lab_export_onnx(int handle, int run, int* count) {
  *count = 0;
  std::optional<qplay::IntegerModel> model = integer_model(handle, run);
  if (!model) return nullptr;
  qplay::Result<std::string> bytes = qplay::onnx_model_bytes(*model);
  if (!bytes) {
    last_error = bytes.message();
    return nullptr;
  }
  *count = static_cast<int>(bytes->size());
  return hand_out(std::move(bytes).value());
}

// The same model as the qplay-integer-model JSON text (docs/formats.md).
EMSCRIPTEN_KEEPALIVE const char* qplay_lab_export_integer_model(int handle, int run) {
  std::optional<qplay::IntegerModel> model = integer_model(handle, run);
  return model ? hand_out(qplay::to_json(qplay::integer_model_to_json(*model), 0)) : nullptr;
}

}  // extern "C"

// The C ABI of the embeddable module (qplay-core.wasm): what web/api/qplay.js calls to drive Labs from
// JavaScript. Every function takes a lab handle (an int from qplay_lab_create); strings cross as UTF-8
// pointers and come back as JSON, which qplay.js turns into plain objects and Float32Arrays. Errors
// never abort: a function that fails returns 0 (or null) and qplay_last_error() says why.
//
// Not for: drawing (the playground app is web/app), or anything a page could do without the engine.
#include <emscripten.h>

#include <map>
#include <memory>
#include <string>

#include "core/engine/io/json.h"
#include "core/engine/lab/lab.h"
#include "core/engine/lab/lab_report.h"

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

bool fail(const qplay::Status& status) {
  if (status) return false;
  last_error = status.message();
  return true;
}

}  // namespace

extern "C" {

EMSCRIPTEN_KEEPALIVE const char* qplay_last_error() { return last_error.c_str(); }
EMSCRIPTEN_KEEPALIVE const char* qplay_last_warnings() { return last_warnings.c_str(); }

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
  qplay::Lab* lab = find_lab(handle);
  return lab && !fail(lab->set(key, value)) ? 1 : 0;
}

// A lab or experiment JSON (what qplay_lab_state_json gives): 1, or 0 and an error (nothing changes).
EMSCRIPTEN_KEEPALIVE int qplay_lab_import_json(int handle, const char* text) {
  qplay::Lab* lab = find_lab(handle);
  if (!lab) return 0;
  qplay::Result<qplay::Json> json = qplay::parse_json(text);
  if (!json) return fail(json.status()), 0;
  qplay::Result<qplay::LabState> state = qplay::lab_state_from_json(json.value());
  if (!state) return fail(state.status()), 0;
  return fail(lab->apply(state.value())) ? 0 : 1;
}

EMSCRIPTEN_KEEPALIVE const char* qplay_lab_state_json(int handle) {
  qplay::Lab* lab = find_lab(handle);
  return lab ? hand_out(qplay::to_json(qplay::lab_state_to_json(lab->state()))) : nullptr;
}

EMSCRIPTEN_KEEPALIVE const char* qplay_lab_state_hash(int handle) {
  qplay::Lab* lab = find_lab(handle);
  return lab ? hand_out(qplay::lab_state_to_hash(lab->state())) : nullptr;
}

EMSCRIPTEN_KEEPALIVE void qplay_lab_play(int handle) {
  if (qplay::Lab* lab = find_lab(handle)) lab->play();
}
EMSCRIPTEN_KEEPALIVE void qplay_lab_pause(int handle) {
  if (qplay::Lab* lab = find_lab(handle)) lab->pause();
}
EMSCRIPTEN_KEEPALIVE void qplay_lab_step(int handle) {
  if (qplay::Lab* lab = find_lab(handle)) lab->step();
}
EMSCRIPTEN_KEEPALIVE int qplay_lab_reset(int handle) {
  qplay::Lab* lab = find_lab(handle);
  return lab && !fail(lab->reset()) ? 1 : 0;
}
// Trains (while playing) and evaluates for about budget_ms; returns 1 while it is playing.
EMSCRIPTEN_KEEPALIVE int qplay_lab_advance(int handle, double budget_ms) {
  qplay::Lab* lab = find_lab(handle);
  if (!lab) return 0;
  lab->advance(budget_ms);
  return lab->playing() ? 1 : 0;
}

// Everything a page shows, as JSON (core/engine/lab/lab_report.h).
EMSCRIPTEN_KEEPALIVE const char* qplay_lab_metrics_json(int handle) {
  qplay::Lab* lab = find_lab(handle);
  return lab ? hand_out(qplay::to_json(qplay::lab_metrics_json(*lab), 0)) : nullptr;
}

// A run's float weights, in place: a pointer into the module's memory (qplay.js wraps it in a
// Float32Array view) and its length through *count. Valid until the lab changes.
EMSCRIPTEN_KEEPALIVE const float* qplay_lab_weights(int handle, int run, int* count) {
  qplay::Lab* lab = find_lab(handle);
  if (!lab || run < 0 || run >= lab->run_count()) {
    if (lab) last_error = "no run " + std::to_string(run);
    *count = 0;
    return nullptr;
  }
  std::span<const float> parameters = lab->network(run).parameters();
  *count = static_cast<int>(parameters.size());
  return parameters.data();
}

}  // extern "C"

// What a Lab is set to, as one value that can be shared: the experiment (data, model, training, every
// method's knobs, the quantization setting of the slider), the methods compared side by side, optional
// per-layer weight and activation bits, and which controls a teacher hid. It round-trips through a URL hash
// ("dataset=moons&methods=baseline,gradl1&weight_bits=3&setup_hide=1") and through JSON, so the
// browser's address bar, the experiment file, the desktop app and the JS API share one format.
//
// Reading a hash is forgiving on purpose (a link is typed or pasted by people): every bad key or value
// becomes a warning and keeps its default. Reading JSON is strict (a file is saved by QPlay): an error
// names the problem and nothing is applied.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/engine/base/status.h"
#include "core/engine/experiment/experiment.h"
#include "core/engine/io/json.h"

namespace qplay {

struct LabState {
  Experiment experiment;  // experiment.method is ignored: `methods` says which runs exist
  std::vector<std::string> methods = {"baseline", "gradl1", "symreg"};
  // Weight bits per weighted layer (dense/conv, in order); -1 = the global weight_bits. Empty = global.
  std::vector<int> layer_weight_bits;
  // Activation bits of each weighted layer's input, in the same order; -1 = the global activation_bits,
  // 0 = float. The first entry is ignored: that layer's input is the data.
  std::vector<int> layer_activation_bits;
  // Controls or panels a teacher hid with `<name>_hide=1` ("setup", "weight_bits", ...).
  std::set<std::string> hidden;

  friend bool operator==(const LabState&, const LabState&) = default;
};

// The panels that can be hidden as a whole, besides single settings.
const std::vector<std::string_view>& lab_panel_names();

// The state the playground opens with: a 2-D comparison that trains in a second or two, on one kernel
// thread unless the platform set another default.
LabState default_lab_state();

// The kernel threads of default_lab_state() from now on (clamped to 1..max_kernel_threads(); 1 until
// called). The
// threaded WebAssembly page sets it once at start from navigator.hardwareConcurrency, capped. Being
// the default, it stays out of the URL hash, so a shared link carries no thread count of the machine
// that made it.
void set_default_lab_threads(int threads);

// Every method a Lab can run, in the order the state table lists them.
const std::vector<std::string_view>& lab_method_names();
// One plain-language sentence on what a method does and why it should help (docs/methods.md has more).
std::string_view method_summary(std::string_view method);
// Parses "baseline,gradl1": known names, no repeats, 1 to 6 of them.
Result<std::vector<std::string>> parse_method_list(std::string_view text);
std::string format_method_list(const std::vector<std::string>& methods);
// Parses the value of "layer_weight_bits" or "layer_activation_bits" (the key says which), "4,-,8": one
// entry per weighted layer, '-' = global, 0 or "float" = float, else bits (1..8 for weights, 2..8 for
// activations); empty text = global for all.
Result<std::vector<int>> parse_layer_bits(std::string_view key, std::string_view text);
std::string format_layer_bits(const std::vector<int>& bits);

// Sets one key of the state: an experiment setting, "methods", "layer_weight_bits",
// "layer_activation_bits" or "<name>_hide".
// On error the state is unchanged.
Status set_lab_state_value(LabState& state, std::string_view key, std::string_view value);

// The hash holds the seed and whatever differs from the defaults, in state-table order, values
// percent-encoded.
std::string lab_state_to_hash(const LabState& state);
struct ParsedLabState {
  LabState state;
  std::vector<std::string> warnings;  // one per ignored key or value, for the status bar or console
};
ParsedLabState lab_state_from_hash(std::string_view hash);  // a leading '#' is skipped

// {"format": "qplay-lab", "version": 1, "settings": {...}, "methods": [...], ...}. An experiment file
// ("format": "qplay-experiment") loads too, as a lab of its one method.
Json lab_state_to_json(const LabState& state);
Result<LabState> lab_state_from_json(const Json& json);

}  // namespace qplay

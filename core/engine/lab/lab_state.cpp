#include "core/engine/lab/lab_state.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>

#include "core/engine/experiment/state_table.h"
#include "core/engine/kernels/kernel_table.h"

namespace qplay {
namespace {

constexpr size_t kMaxMethods = 6;

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// '+' stays '+' (numbers like 1e+3); a malformed escape is kept as typed.
std::string percent_decode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int high = hex_value(text[i + 1]), low = hex_value(text[i + 2]);
      if (high >= 0 && low >= 0) {
        out += static_cast<char>(high * 16 + low);
        i += 2;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '_' || c == '.' || c == ',' || c == ':' || c == '/' || c == '+';
    if (plain) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

bool is_layer_bits_key(std::string_view key) {
  return key == "layer_weight_bits" || key == "layer_activation_bits";
}

// The lowest bit-width other than float a layer_*_bits entry may hold: a 1-bit activation grid after
// ReLU would hold only zero (as the activation_bits row says).
int fewest_layer_bits(std::string_view key) { return key == "layer_activation_bits" ? 2 : 1; }

bool is_hideable(std::string_view name) {
  const auto& panels = lab_panel_names();
  return find_setting(name) || name == "methods" || is_layer_bits_key(name) ||
         std::find(panels.begin(), panels.end(), name) != panels.end();
}

int default_lab_threads = 1;  // set_default_lab_threads
}  // namespace

const std::vector<std::string_view>& lab_panel_names() {
  static const std::vector<std::string_view> names = {"setup",    "run",      "slider",  "curves",
                                                      "training", "boundary", "weights", "sensitivity",
                                                      "neurons",  "learned",  "images",  "files"};
  return names;
}

LabState default_lab_state() {
  LabState state;
  state.experiment.dataset = DatasetChoice::spiral;
  state.experiment.architecture = "mlp:32,32";
  state.experiment.epochs = 30;
  // The first view tells a story without a click: at 2-bit weights with one scale per layer the
  // baseline loses about 23 points of accuracy on the spiral and SymReg+SatNL keeps 85% (docs/results.md).
  state.experiment.weight_bits = 2;
  state.experiment.granularity = Granularity::per_tensor;
  // One kernel thread natively: the lab's runs are small and take turns, so a second one gains little
  // (three Fashion-MNIST mlp:128 runs on 2 cores: 8% more training samples/s at the same frame time;
  // docs/performance.md) and leaves a core to drawing. The threads setting raises it, and the threaded
  // WebAssembly page sets its own default (set_default_lab_threads).
  state.experiment.threads = default_lab_threads;
  return state;
}

void set_default_lab_threads(int threads) {
  default_lab_threads = std::clamp(threads, 1, max_kernel_threads());
}

const std::vector<std::string_view>& lab_method_names() { return find_setting("method")->choices; }

std::string_view method_summary(std::string_view method) {
  const std::optional<MethodKind> kind = parse_choice<MethodKind>(method);
  return kind ? registration_of(*kind).summary : std::string_view();
}

Result<std::vector<std::string>> parse_method_list(std::string_view text) {
  std::vector<std::string> methods;
  for (std::string_view name : split(text, ',')) {
    const auto& known = lab_method_names();
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string allowed;
      for (std::string_view k : known) allowed += (allowed.empty() ? "" : ", ") + std::string(k);
      return Status::error("unknown method '" + std::string(name) + "' (use " + allowed + ")");
    }
    if (std::find(methods.begin(), methods.end(), name) != methods.end())
      return Status::error("method '" + std::string(name) + "' is listed twice");
    methods.emplace_back(name);
  }
  if (methods.size() > kMaxMethods)
    return Status::error("at most " + std::to_string(kMaxMethods) + " methods run side by side, got " +
                         std::to_string(methods.size()));
  return methods;
}

std::string format_method_list(const std::vector<std::string>& methods) {
  std::string text;
  for (const std::string& m : methods) text += (text.empty() ? "" : ",") + m;
  return text;
}

Result<std::vector<int>> parse_layer_bits(std::string_view key, std::string_view text) {
  std::vector<int> bits;
  if (text.empty()) return bits;
  const int fewest = fewest_layer_bits(key);
  for (std::string_view part : split(text, ',')) {
    if (part == "-" || part == "float") {
      bits.push_back(part == "-" ? -1 : 0);
      continue;
    }
    int value = 0;
    const auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (error != std::errc() || end != part.data() + part.size() || (value != 0 && value < fewest) ||
        value > 8)
      return Status::error(std::string(key) + ": '" + std::string(part) + "' is not 0 (float), " +
                           std::to_string(fewest) +
                           "..8, 'float' or '-' (global; one entry per weighted layer, e.g. 8,4,-)");
    bits.push_back(value);
  }
  return bits;
}

std::string format_layer_bits(const std::vector<int>& bits) {
  std::string text;
  for (size_t i = 0; i < bits.size(); ++i)
    text += (i ? "," : "") + (bits[i] < 0 ? std::string("-") : std::to_string(bits[i]));
  return text;
}

Status set_lab_state_value(LabState& state, std::string_view key, std::string_view value) {
  if (key == "methods") {
    Result<std::vector<std::string>> methods = parse_method_list(value);
    if (!methods) return methods.status();
    if (methods.value().empty()) return Status::error("methods: choose at least one");
    state.methods = std::move(methods).value();
    return {};
  }
  if (is_layer_bits_key(key)) {
    Result<std::vector<int>> bits = parse_layer_bits(key, value);
    if (!bits) return bits.status();
    (key == "layer_weight_bits" ? state.layer_weight_bits : state.layer_activation_bits) =
        std::move(bits).value();
    return {};
  }
  constexpr std::string_view kHide = "_hide";
  if (key.size() > kHide.size() && key.substr(key.size() - kHide.size()) == kHide) {
    const std::string name(key.substr(0, key.size() - kHide.size()));
    if (!is_hideable(name))
      return Status::error("'" + std::string(key) + "' hides nothing: no control or panel '" + name + "'");
    if (value == "1" || value == "true")
      state.hidden.insert(name);
    else if (value == "0" || value == "false")
      state.hidden.erase(name);
    else
      return Status::error("'" + std::string(key) + "' must be 1 or 0, got '" + std::string(value) + "'");
    return {};
  }
  if (key == "method")
    return Status::error("a lab compares several methods: use 'methods', e.g. methods=baseline,gradl1");
  return set_setting(state.experiment, key, value);
}

std::string lab_state_to_hash(const LabState& state) {
  const LabState defaults = default_lab_state();
  std::vector<std::string> parts;
  auto add = [&](std::string_view key, const std::string& value) {
    parts.push_back(std::string(key) + "=" + percent_encode(value));
  };
  if (state.methods != defaults.methods) add("methods", format_method_list(state.methods));
  for (const SettingRow& row : experiment_settings()) {
    if (row.key == "method") continue;
    const std::string value = get_setting(state.experiment, row);
    // The seed always: a shared link must reproduce the data and initial weights even if the default
    // seed ever changes.
    if (value != get_setting(defaults.experiment, row) || row.key == "seed") add(row.key, value);
  }
  if (!state.layer_weight_bits.empty()) add("layer_weight_bits", format_layer_bits(state.layer_weight_bits));
  if (!state.layer_activation_bits.empty())
    add("layer_activation_bits", format_layer_bits(state.layer_activation_bits));
  for (const std::string& name : state.hidden) add(name + "_hide", "1");
  std::string hash;
  for (const std::string& part : parts) hash += (hash.empty() ? "" : "&") + part;
  return hash;
}

ParsedLabState lab_state_from_hash(std::string_view hash) {
  ParsedLabState parsed{default_lab_state(), {}};
  if (!hash.empty() && hash.front() == '#') hash.remove_prefix(1);
  if (hash.empty()) return parsed;
  for (std::string_view part : split(hash, '&')) {
    if (part.empty()) continue;
    const size_t equals = part.find('=');
    const std::string key = percent_decode(part.substr(0, equals));
    if (equals == std::string_view::npos) {
      parsed.warnings.push_back("ignored '" + key + "': expected key=value");
      continue;
    }
    const std::string value = percent_decode(part.substr(equals + 1));
    // A link's text is percent-encoded UTF-8; other bytes would not survive the state's JSON file.
    if (!is_valid_utf8(key) || !is_valid_utf8(value)) {
      parsed.warnings.push_back("ignored " + percent_encode(key) + "=" + percent_encode(value) +
                                ": not UTF-8 text");
      continue;
    }
    if (Status status = set_lab_state_value(parsed.state, key, value); !status)
      parsed.warnings.push_back("ignored " + key + "=" + value + ": " + status.message());
  }
  return parsed;
}

Json lab_state_to_json(const LabState& state) {
  Json json = experiment_to_json(state.experiment);
  json["format"] = "qplay-lab";
  Json methods = Json::array();
  for (const std::string& m : state.methods) methods.push_back(m);
  json["methods"] = std::move(methods);
  for (const auto& [key, bits] : {std::pair{"layer_weight_bits", &state.layer_weight_bits},
                                  std::pair{"layer_activation_bits", &state.layer_activation_bits}}) {
    Json layer_bits = Json::array();
    for (int b : *bits) layer_bits.push_back(b);
    json[key] = std::move(layer_bits);
  }
  Json hidden = Json::array();
  for (const std::string& name : state.hidden) hidden.push_back(name);
  json["hidden"] = std::move(hidden);
  return json;
}

Result<LabState> lab_state_from_json(const Json& json) {
  if (!json.is_object()) return Status::error("a lab file must hold a JSON object");
  const Json* format = json.find("format");
  const bool experiment_file = format && format->is_string() && format->as_string() == "qplay-experiment";
  if (!experiment_file && !(format && format->is_string() && format->as_string() == "qplay-lab"))
    return Status::error(
        "not a QPlay lab or experiment file (\"format\" must be \"qplay-lab\" or \"qplay-experiment\")");
  // An experiment file goes to the experiment reader as it is; of a lab file, its experiment part (the
  // lab's own keys are checked here).
  Json as_experiment = json;
  if (!experiment_file) {
    as_experiment = Json::object();
    as_experiment["format"] = "qplay-experiment";
    for (const auto& [key, value] : json.as_object()) {
      if (key == "version" || key == "settings") {
        as_experiment[key] = value;
      } else if (key != "format" && key != "methods" && !is_layer_bits_key(key) && key != "hidden") {
        return Status::error("unknown key '" + key +
                             "' (a lab file holds format, version, settings, methods, layer_weight_bits, "
                             "layer_activation_bits, hidden)");
      }
    }
  }
  Result<Experiment> experiment = experiment_from_json(as_experiment);
  if (!experiment) return experiment.status();
  LabState state = default_lab_state();
  state.experiment = std::move(experiment).value();
  if (experiment_file) {
    state.methods = {std::string(choice_name(state.experiment.method))};
    return state;
  }
  const Json* methods = json.find("methods");
  if (!methods || !methods->is_array() || methods->as_array().empty())
    return Status::error("\"methods\" must be a non-empty array of method names");
  std::string list;
  for (const Json& m : methods->as_array()) {
    if (!m.is_string()) return Status::error("\"methods\" must hold strings");
    list += (list.empty() ? "" : ",") + m.as_string();
  }
  Result<std::vector<std::string>> parsed = parse_method_list(list);
  if (!parsed) return parsed.status();
  state.methods = std::move(parsed).value();
  for (const auto& [key, bits] : {std::pair{"layer_weight_bits", &state.layer_weight_bits},
                                  std::pair{"layer_activation_bits", &state.layer_activation_bits}}) {
    bits->clear();
    const Json* entries = json.find(key);
    if (!entries) continue;
    const std::string quoted = "\"" + std::string(key) + "\"";
    if (!entries->is_array()) return Status::error(quoted + " must be an array");
    const int fewest = fewest_layer_bits(key);
    for (const Json& b : entries->as_array()) {
      const double v = b.is_number() ? b.as_number() : NAN;
      if (v != std::floor(v) || v < -1 || v > 8 || (v > 0 && v < fewest))
        return Status::error(quoted + " entries must be -1 (global), 0 (float) or " + std::to_string(fewest) +
                             "..8");
      bits->push_back(static_cast<int>(v));
    }
  }
  if (const Json* hidden = json.find("hidden")) {
    if (!hidden->is_array()) return Status::error("\"hidden\" must be an array of control names");
    for (const Json& h : hidden->as_array()) {
      if (!h.is_string() || !is_hideable(h.as_string()))
        return Status::error("\"hidden\" names an unknown control");
      state.hidden.insert(h.as_string());
    }
  }
  return state;
}

}  // namespace qplay

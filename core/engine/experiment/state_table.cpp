// The state table of state_table.h. Contents:
//   [SECTION] The rows
//   [SECTION] Parsing and describing values
//   [SECTION] Setting, getting and checking
//   [SECTION] Experiment files
#include "core/engine/experiment/state_table.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>

#include "core/engine/data/toy_datasets.h"
#include "core/engine/io/file_util.h"

namespace qplay {
namespace {

constexpr size_t kMaxTextSetting = 4096;  // an architecture spec or a data folder

using E = Experiment;

// [SECTION] The rows

// The general rows, each with when it applies; the method rows follow "method", from each registration.
std::vector<SettingRow> build_rows() {
  namespace rows = setting_rows;
  const auto toy = [](const E& e) { return e.dataset != DatasetChoice::fashion_mnist; };
  const auto images = [](const E& e) { return e.dataset == DatasetChoice::fashion_mnist; };
  constexpr std::string_view toy_words = "with a toy data set (not fashion-mnist)";
  constexpr std::string_view images_words = "with dataset fashion-mnist";
  std::vector<SettingRow> table{
      rows::choice<E>("dataset", "data", "data set", &E::dataset),
      rows::integer<E>("samples", "data", "points in a toy data set (train + test)", 20, 1000000, &E::samples)
          .when(toy, toy_words),
      rows::number<E>("noise", "data", "noise of a toy data set", 0, 2, &E::noise).when(toy, toy_words),
      rows::number<E>("test_fraction", "data", "share of a toy data set held out for testing", 0.05, 0.95,
                      &E::test_fraction)
          .when(toy, toy_words),
      rows::integer<E>("classes", "data", "spiral arms / blobs (moons, circles, xor have 2)", 2, 10,
                       &E::classes)
          .when(
              [](const E& e) {
                const std::optional<ToyDatasetKind> kind = toy_dataset_kind(e.dataset);
                return kind && uses_num_classes(*kind);
              },
              "with dataset spiral or blobs (moons, circles and xor have 2 classes)"),
      rows::integer<E>("train_limit", "data", "fashion-mnist: use the first N training images", 100, 60000,
                       &E::train_limit)
          .when(images, images_words),
      rows::integer<E>("test_limit", "data", "fashion-mnist: use the first N test images", 100, 10000,
                       &E::test_limit)
          .when(images, images_words),
      rows::text<E>("data_dir", "data", "directory with the Fashion-MNIST IDX files", &E::data_dir)
          .when(images, images_words),
      rows::text<E>("architecture", "model",
                    "mlp:W1,W2[:relu|tanh|softplus], cnn:C1,C2[:activation] or linear", &E::architecture),
      rows::choice<E>("optimizer", "training", "optimizer", &E::optimizer),
      rows::number<E>("learning_rate", "training", "learning rate", 1e-6, 10, &E::learning_rate),
      rows::number<E>("momentum", "training", "SGD momentum", 0, 0.999, &E::momentum)
          .when([](const E& e) { return e.optimizer == OptimizerKind::sgd; }, "with optimizer sgd"),
      rows::number<E>("weight_decay", "training", "L2 weight decay", 0, 1, &E::weight_decay),
      rows::choice<E>("schedule", "training", "learning-rate schedule", &E::schedule),
      rows::integer<E>("step_epochs", "training", "step schedule: epochs between decays", 1, 1000,
                       &E::step_epochs)
          .when([](const E& e) { return e.schedule == ScheduleKind::step; }, "with schedule step"),
      rows::number<E>("gamma", "training", "step schedule: decay factor", 0.001, 1, &E::gamma)
          .when([](const E& e) { return e.schedule == ScheduleKind::step && e.step_epochs < e.epochs; },
                "with schedule step and step_epochs below epochs (the first decay)"),
      rows::integer<E>("epochs", "training", "training epochs", 1, 1000, &E::epochs),
      rows::integer<E>("batch_size", "training", "mini-batch size", 1, 4096, &E::batch_size),
      rows::integer<E>("seed", "training", "seed of data, initial weights and batch order", 0, 4294967295.0,
                       &E::seed),
      rows::text<E>("init_model", "training",
                    "a model file to start from instead of random weights (fine-tuning); empty: from scratch",
                    &E::init_model)
          .allowing_empty(),
      rows::choice<E>(
          "method", "method",
          "training method: the plain baseline or one of the five papers' methods (their settings "
          "follow, each group named after its method)",
          &E::method),
  };
  for (const MethodRegistration& method : registered_methods())
    for (const SettingRowOf<MethodSettings>& row : method.rows) table.push_back(row.lifted(&E::methods));
  // Activations are quantized to 0 (float) or 2..8 bits: a 1-bit grid after ReLU would hold only zero.
  const auto no_one_bit_activations = [](double bits) -> std::string_view {
    return bits == 1 ? "1-bit activations are not supported (0 = float, or 2 to 8)" : "";
  };
  const std::vector<SettingRow> quantization{
      rows::integer<E>("weight_bits", "quantization", "evaluate with weights in this many bits (0 = float)",
                       0, 8, &E::weight_bits),
      rows::integer<E>("activation_bits", "quantization",
                       "evaluate with activations in this many bits (0 = float)", 0, 8, &E::activation_bits)
          .refusing(no_one_bit_activations),
      rows::choice<E>("granularity", "quantization", "one weight scale per tensor or per output channel",
                      &E::granularity),
      rows::choice<E>("symmetry", "quantization", "weight grid symmetric around 0 or affine", &E::symmetry),
      rows::choice<E>("range_method", "quantization", "how a grid's range is chosen", &E::range_method),
      rows::number<E>("percentile", "quantization",
                      "percentile range method: share of values inside the range", 50.001, 100,
                      &E::percentile)
          .when([](const E& e) { return e.range_method == RangeMethod::percentile; },
                "with range_method percentile"),
      rows::integer<E>("calibration_samples", "quantization",
                       "training samples used to calibrate activation ranges", 1, 60000,
                       &E::calibration_samples)
          .when([](const E& e) { return e.activation_bits > 0; },
                "with quantized activations (activation_bits 2 to 8)"),
      rows::choice<E>("kernels", "compute", "kernel table", &E::kernels),
      rows::integer<E>("threads", "compute", "worker threads of the kernels", 1, 64, &E::threads),
  };
  table.insert(table.end(), quantization.begin(), quantization.end());
  return table;
}

// [SECTION] Parsing and describing values

// Numbers use JSON's grammar (no "inf", "nan", hex or leading '+'), parsed the same in every build; like
// integers, without spaces around them.
std::optional<double> parse_number(std::string_view text) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  if (text.empty() || space(text.front()) || space(text.back())) return std::nullopt;
  Result<Json> json = parse_json(text);
  if (!json || !json->is_number()) return std::nullopt;
  return json->as_number();
}

std::string allowed_values(const SettingRow& row) {
  switch (row.kind) {
    case SettingKind::integer:
      return "an integer from " + format_json_number(row.min) + " to " + format_json_number(row.max);
    case SettingKind::number:
      return "a number from " + format_json_number(row.min) + " to " + format_json_number(row.max);
    case SettingKind::choice: {
      std::string text = "one of ";
      for (size_t i = 0; i < row.choices.size(); ++i) text += (i ? ", " : "") + std::string(row.choices[i]);
      return text;
    }
    case SettingKind::text:
      return "text";
  }
  return "";
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = above;
    }
  }
  return row[b.size()];
}

Status unknown_setting(std::string_view key) {
  const SettingRow* closest = nullptr;
  size_t best = 4;
  for (const SettingRow& row : experiment_settings()) {
    size_t d = edit_distance(key, row.key);
    bool prefix = row.key.starts_with(key) || key.starts_with(row.key);
    if (d < best || (prefix && !closest)) best = d, closest = &row;
  }
  std::string message = "unknown setting '" + std::string(key) + "'";
  if (closest) message += "; did you mean '" + std::string(closest->key) + "'?";
  return Status::error(message);
}

}  // namespace

// [SECTION] Setting, getting and checking

const std::vector<SettingRow>& experiment_settings() {
  static const std::vector<SettingRow> rows = build_rows();
  return rows;
}

bool setting_applies(const SettingRow& row, const Experiment& experiment) {
  return row.applies == nullptr || row.applies(experiment);
}

const SettingRow* find_setting(std::string_view key) {
  for (const SettingRow& row : experiment_settings()) {
    if (row.key == key) return &row;
  }
  return nullptr;
}

Status set_setting(Experiment& experiment, std::string_view key, std::string_view text) {
  const SettingRow* row = find_setting(key);
  if (!row) return unknown_setting(key);
  auto invalid = [&] {
    return Status::error(std::string(key) + " must be " + allowed_values(*row) + ", got '" +
                         std::string(text) + "'");
  };
  auto refused = [&](double value) -> Status {
    const std::string_view why = row->refuses ? row->refuses(value) : std::string_view();
    if (why.empty()) return {};
    return Status::error(std::string(key) + ": " + std::string(why) + ", got '" + std::string(text) + "'");
  };
  switch (row->kind) {
    case SettingKind::integer: {
      int64_t value = 0;
      auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (error != std::errc() || end != text.data() + text.size() || value < row->min || value > row->max) {
        return invalid();
      }
      if (Status status = refused(static_cast<double>(value)); !status) return status;
      row->set(experiment, value);
      return {};
    }
    case SettingKind::number: {
      std::optional<double> value = parse_number(text);
      if (!value || !std::isfinite(*value) || *value < row->min || *value > row->max) return invalid();
      if (Status status = refused(*value); !status) return status;
      row->set(experiment, *value);
      return {};
    }
    case SettingKind::choice: {
      const auto chosen = std::find(row->choices.begin(), row->choices.end(), text);
      if (chosen == row->choices.end()) return invalid();
      row->set(experiment, static_cast<int64_t>(chosen - row->choices.begin()));
      return {};
    }
    case SettingKind::text:
      if (text.empty() && !row->may_be_empty) return Status::error(std::string(key) + " must not be empty");
      if (text.size() > kMaxTextSetting)
        return Status::error(std::string(key) + " must be at most " + std::to_string(kMaxTextSetting) +
                             " characters, got " + std::to_string(text.size()));
      // A file writes text as UTF-8 (other bytes become U+FFFD), so only UTF-8 survives a save and a load.
      if (!is_valid_utf8(text)) return Status::error(std::string(key) + " must be UTF-8 text");
      row->set(experiment, std::string(text));
      return {};
  }
  return invalid();
}

Status check_settings(const Experiment& experiment) {
  Experiment scratch = experiment;
  for (const SettingRow& row : experiment_settings())
    if (Status status = set_setting(scratch, row.key, get_setting(experiment, row)); !status) return status;
  return {};
}

std::string get_setting(const Experiment& experiment, const SettingRow& row) {
  const SettingValue value = row.get(experiment);
  switch (row.kind) {
    case SettingKind::integer:
      return std::to_string(std::get<int64_t>(value));
    case SettingKind::number:
      return format_json_number(std::get<double>(value));
    case SettingKind::choice:
      return std::string(row.choices.at(static_cast<size_t>(std::get<int64_t>(value))));
    case SettingKind::text:
      return std::get<std::string>(value);
  }
  return {};
}

std::string describe_settings() {
  const Experiment defaults;
  std::string out;
  std::string_view group;
  for (const SettingRow& row : experiment_settings()) {
    if (row.group != group) {
      group = row.group;
      out += "\n  " + std::string(group) + ":\n";
    }
    out += "    --" + std::string(row.key) + "=<" + allowed_values(row) + ">  (default " +
           get_setting(defaults, row) + ")\n        " + std::string(row.help) + "\n";
  }
  return out;
}

Json state_table_json() {
  static const char* const kind_names[] = {"integer", "number", "choice", "text"};
  const Experiment defaults;
  Json settings = Json::array();
  for (const SettingRow& row : experiment_settings()) {
    Json item = Json::object();
    item["key"] = row.key;
    item["kind"] = kind_names[static_cast<int>(row.kind)];
    item["group"] = row.group;
    item["help"] = row.help;
    if (row.kind == SettingKind::integer || row.kind == SettingKind::number) {
      item["min"] = row.min;
      item["max"] = row.max;
    }
    if (row.kind == SettingKind::choice) {
      Json choices = Json::array();
      for (std::string_view choice : row.choices) choices.push_back(choice);
      item["choices"] = std::move(choices);
    }
    item["default"] = get_setting(defaults, row);
    if (!row.applies_when.empty()) item["applies_when"] = row.applies_when;
    settings.push_back(std::move(item));
  }
  Json methods = Json::array();
  for (const MethodRegistration& method : registered_methods()) {
    Json item = Json::object();
    item["name"] = choice_name(method.kind);
    item["summary"] = method.summary;
    Json readouts = Json::array();
    for (std::string_view name : method.readouts) readouts.push_back(name);
    item["readouts"] = std::move(readouts);
    methods.push_back(std::move(item));
  }
  Json table = Json::object();
  table["settings"] = std::move(settings);
  table["methods"] = std::move(methods);
  return table;
}

// [SECTION] Experiment files

Json experiment_to_json(const Experiment& experiment) {
  Json json = Json::object();
  json["format"] = "qplay-experiment";
  json["version"] = 1;
  Json settings = Json::object();
  for (const SettingRow& row : experiment_settings()) {
    const SettingValue value = row.get(experiment);
    if (row.kind == SettingKind::integer)
      settings[row.key] = Json(std::get<int64_t>(value));
    else if (row.kind == SettingKind::number)
      settings[row.key] = Json(std::get<double>(value));
    else
      settings[row.key] = Json(get_setting(experiment, row));
  }
  json["settings"] = std::move(settings);
  return json;
}

Result<Experiment> experiment_from_json(const Json& json) {
  if (!json.is_object()) return Status::error("an experiment file must hold a JSON object");
  const Json* format = json.find("format");
  if (!format || !format->is_string() || format->as_string() != "qplay-experiment") {
    return Status::error("not a QPlay experiment (\"format\" must be \"qplay-experiment\")");
  }
  const Json* version = json.find("version");
  if (!version || !version->is_number() || version->as_number() != 1) {
    return Status::error("unsupported experiment version (this QPlay reads version 1)");
  }
  const Json* settings = json.find("settings");
  if (!settings || !settings->is_object()) return Status::error("\"settings\" must be an object");
  // Strict, as files are: nothing unknown at the top, numbers as JSON numbers, choices and text as strings.
  for (const auto& [key, value] : json.as_object()) {
    if (key != "format" && key != "version" && key != "settings")
      return Status::error("unknown key '" + key +
                           "' (an experiment file holds format, version and settings)");
  }
  Experiment experiment;
  for (const auto& [key, value] : settings->as_object()) {
    const SettingRow* row = find_setting(key);
    if (!row) return unknown_setting(key);
    const bool numeric = row->kind == SettingKind::integer || row->kind == SettingKind::number;
    if (numeric != value.is_number() || (!numeric && !value.is_string())) {
      return Status::error("setting '" + key + "' must be " + (numeric ? "a number" : "a string") +
                           " in a file, got " + to_json(value, 0));
    }
    std::string text;
    if (value.is_string())
      text = value.as_string();
    else if (row->kind == SettingKind::integer && value.as_number() == std::floor(value.as_number()) &&
             std::fabs(value.as_number()) < 9e15)
      text = std::to_string(static_cast<long long>(value.as_number()));
    else
      text = format_json_number(value.as_number());
    if (Status status = set_setting(experiment, key, text); !status) return status;
  }
  return experiment;
}

Status save_experiment_file(const std::string& path, const Experiment& experiment) {
  return write_text_file_atomically(path, to_json(experiment_to_json(experiment)) + "\n");
}

Result<Experiment> load_experiment_file(const std::string& path) {
  Result<std::string> text = read_text_file(path, kMaxExperimentFileBytes, "an experiment file");
  if (!text) return text.status();
  Result<Json> json = parse_json(*text);
  if (!json) return json.status().with_context(path);
  Result<Experiment> experiment = experiment_from_json(*json);
  if (!experiment) return experiment.status().with_context(path);
  if (Status status = validate_experiment(*experiment); !status) return status.with_context(path);
  return experiment;
}

}  // namespace qplay

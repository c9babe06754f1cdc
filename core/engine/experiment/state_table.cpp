// The state table of state_table.h. Contents:
//   [SECTION] The rows
//   [SECTION] Parsing and describing values
//   [SECTION] When a row applies
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

std::vector<SettingRow> build_rows() {
  using K = SettingKind;
  return {
      {"dataset",
       K::choice,
       "data",
       "data set",
       0,
       0,
       {"spiral", "moons", "circles", "xor", "blobs", "fashion-mnist"},
       &E::dataset},
      {"samples",
       K::integer,
       "data",
       "points in a toy data set (train + test)",
       20,
       1000000,
       {},
       &E::samples},
      {"noise", K::number, "data", "noise of a toy data set", 0, 2, {}, &E::noise},
      {"test_fraction",
       K::number,
       "data",
       "share of a toy data set held out for testing",
       0.05,
       0.95,
       {},
       &E::test_fraction},
      {"classes",
       K::integer,
       "data",
       "spiral arms / blobs (moons, circles, xor have 2)",
       2,
       10,
       {},
       &E::classes},
      {"train_limit",
       K::integer,
       "data",
       "fashion-mnist: use the first N training images",
       100,
       60000,
       {},
       &E::train_limit},
      {"test_limit",
       K::integer,
       "data",
       "fashion-mnist: use the first N test images",
       100,
       10000,
       {},
       &E::test_limit},
      {"data_dir", K::text, "data", "directory with the Fashion-MNIST IDX files", 0, 0, {}, &E::data_dir},
      {"architecture",
       K::text,
       "model",
       "mlp:W1,W2[:relu|tanh|softplus], cnn:C1,C2[:activation] or linear",
       0,
       0,
       {},
       &E::architecture},
      {"optimizer", K::choice, "training", "optimizer", 0, 0, {"sgd", "adam"}, &E::optimizer},
      {"learning_rate", K::number, "training", "learning rate", 1e-6, 10, {}, &E::learning_rate},
      {"momentum", K::number, "training", "SGD momentum", 0, 0.999, {}, &E::momentum},
      {"weight_decay", K::number, "training", "L2 weight decay", 0, 1, {}, &E::weight_decay},
      {"schedule",
       K::choice,
       "training",
       "learning-rate schedule",
       0,
       0,
       {"constant", "step", "cosine"},
       &E::schedule},
      {"step_epochs",
       K::integer,
       "training",
       "step schedule: epochs between decays",
       1,
       1000,
       {},
       &E::step_epochs},
      {"gamma", K::number, "training", "step schedule: decay factor", 0.001, 1, {}, &E::gamma},
      {"epochs", K::integer, "training", "training epochs", 1, 1000, {}, &E::epochs},
      {"batch_size", K::integer, "training", "mini-batch size", 1, 4096, {}, &E::batch_size},
      {"seed",
       K::integer,
       "training",
       "seed of data, initial weights and batch order",
       0,
       4294967295.0,
       {},
       &E::seed},
      {"init_model",
       K::text,
       "training",
       "a model file to start from instead of random weights (fine-tuning); empty: from scratch",
       0,
       0,
       {},
       &E::init_model},
      {"method",
       K::choice,
       "method",
       "training method: plain, QAT as a regularizer (qreg), gradient-l1 regularization (gradl1), symmetry "
       "regularization + saturating weights (symreg), cluster-promoting quantization + DropBits (cpq), "
       "robustness-aware 2-bit shift-add quantization (raq)",
       0,
       0,
       {"baseline", "qreg", "gradl1", "symreg", "cpq", "raq"},
       &E::method},
      {"qat_weight_bits",
       K::integer,
       "qreg",
       "qreg: train with weights fake-quantized to this many bits",
       1,
       8,
       {},
       &E::qat_weight_bits},
      {"qat_activation_bits",
       K::integer,
       "qreg",
       "qreg: train with activations fake-quantized to this many bits (0 = float)",
       0,
       8,
       {},
       &E::qat_activation_bits},
      {"qat_mode",
       K::choice,
       "qreg",
       "qreg: round to the grid, or add uniform noise of the same step (the ablation)",
       0,
       0,
       {"quantize", "noise"},
       &E::qat_mode},
      {"gradl1_lambda_weights",
       K::number,
       "gradl1",
       "gradl1: weight of the mean |gradient of the loss| over the weights (the paper's summed l1 norm divided by "
       "the number of weights, so one value suits small and large networks)",
       0,
       10000,
       {},
       &E::gradl1_lambda_weights},
      {"gradl1_lambda_activations",
       K::number,
       "gradl1",
       "gradl1: weight of the l1 norm of the loss gradient w.r.t. the quantized activations",
       0,
       100,
       {},
       &E::gradl1_lambda_activations},
      {"gradl1_warmup",
       K::number,
       "gradl1",
       "gradl1: share of the run trained plainly before the penalty switches on",
       0,
       0.99,
       {},
       &E::gradl1_warmup},
      {"gradl1_mode",
       K::choice,
       "gradl1",
       "gradl1: exact Hessian-vector product, or a finite difference of two gradients (an approximation)",
       0,
       0,
       {"exact", "finite-difference"},
       &E::gradl1_mode},
      {"symreg_lambda", K::number, "symreg", "symreg: weight of the weight-symmetry penalty", 0, 10, {}, &E::symreg_lambda},
      {"symreg_pairing",
       K::choice,
       "symreg",
       "symreg: pair sorted weights one to one (i-th smallest with i-th largest) or two to two (looser)",
       0,
       0,
       {"one-to-one", "two-to-two"},
       &E::symreg_pairing},
      {"satnl",
       K::choice,
       "symreg",
       "symreg: saturating weights w = c*tanh(v/c), the optimizer training v",
       0,
       0,
       {"on", "off"},
       &E::satnl},
      {"satnl_scale",
       K::number,
       "symreg",
       "symreg: c of the saturating weights, in standard deviations of the layer's initial weights",
       0.1,
       100,
       {},
       &E::satnl_scale},
      {"sam",
       K::choice,
       "symreg",
       "symreg: sharpness-aware step (two passes per step): none, SAM or adaptive ASAM",
       0,
       0,
       {"none", "sam", "asam"},
       &E::sam},
      {"sam_rho", K::number, "symreg", "symreg: SAM/ASAM radius (0 = SAM 0.05, ASAM 0.5)", 0, 10, {}, &E::sam_rho},
      {"cpq_bits", K::integer, "cpq", "cpq: weight bit-width trained for (the largest, with learned bits)", 2, 8, {}, &E::cpq_bits},
      {"cpq_dropbits",
       K::choice,
       "cpq",
       "cpq: DropBits, training each step on a randomly reduced bit-width (never below 2 bits)",
       0,
       0,
       {"on", "off"},
       &E::cpq_dropbits},
      {"cpq_drop_rate", K::number, "cpq", "cpq: probability of dropping each bit level above 2", 0, 0.95, {}, &E::cpq_drop_rate},
      {"cpq_dropbits_masks",
       K::choice,
       "cpq",
       "cpq: one DropBits mask per layer, or per output channel (each channel at its own bit-width)",
       0,
       0,
       {"per-layer", "per-channel"},
       &E::cpq_dropbits_masks},
      {"cpq_learn_bits",
       K::choice,
       "cpq",
       "cpq: learn each layer's bit-width (hard-concrete gates on the bit levels; needs DropBits)",
       0,
       0,
       {"on", "off"},
       &E::cpq_learn_bits},
      {"cpq_bits_lambda",
       K::number,
       "cpq",
       "cpq: price of one bit per weight, in nats of loss (learned bit-widths)",
       0,
       100,
       {},
       &E::cpq_bits_lambda},
      {"cpq_learning_rate",
       K::number,
       "cpq",
       "cpq: Adam learning rate of the steps, noise scales and bit gates",
       1e-6,
       1,
       {},
       &E::cpq_learning_rate},
      {"raq_levels",
       K::choice,
       "raq",
       "raq: 2-bit shift-add levels, {±1.5a, ±0.5a} (residual binary) or {±a, ±a/2} (power of two)",
       0,
       0,
       {"residual-binary", "power-of-two"},
       &E::raq_levels},
      {"raq_power_of_two_scale",
       K::choice,
       "raq",
       "raq: round each channel's scale a to a power of two (pure shifts)",
       0,
       0,
       {"on", "off"},
       &E::raq_power_of_two_scale},
      {"raq_structural_lambda",
       K::number,
       "raq",
       "raq: weight of the structural loss (batch feature relations of the 2-bit network vs the float one)",
       0,
       1000,
       {},
       &E::raq_structural_lambda},
      {"raq_perturbation_lambda",
       K::number,
       "raq",
       "raq: weight of the perturbation loss (logit change under input noise) and the spectral term",
       0,
       1000,
       {},
       &E::raq_perturbation_lambda},
      {"raq_perturbation_epsilon",
       K::number,
       "raq",
       "raq: half-width of the uniform input noise of the perturbation loss",
       0,
       1,
       {},
       &E::raq_perturbation_epsilon},
      {"raq_spectral_lambda",
       K::number,
       "raq",
       "raq: weight of the squared spectral norms (power iteration) inside the perturbation term",
       0,
       10,
       {},
       &E::raq_spectral_lambda},
      {"weight_bits",
       K::integer,
       "quantization",
       "evaluate with weights in this many bits (0 = float)",
       0,
       8,
       {},
       &E::weight_bits},
      {"activation_bits",
       K::integer,
       "quantization",
       "evaluate with activations in this many bits (0 = float)",
       0,
       8,
       {},
       &E::activation_bits},
      {"granularity",
       K::choice,
       "quantization",
       "one weight scale per tensor or per output channel",
       0,
       0,
       {"per-channel", "per-tensor"},
       &E::granularity},
      {"symmetry",
       K::choice,
       "quantization",
       "weight grid symmetric around 0 or affine",
       0,
       0,
       {"symmetric", "asymmetric"},
       &E::symmetry},
      {"range_method",
       K::choice,
       "quantization",
       "how a grid's range is chosen",
       0,
       0,
       {"min-max", "percentile", "mse"},
       &E::range_method},
      {"percentile",
       K::number,
       "quantization",
       "percentile range method: share of values inside the range",
       50.001,
       100,
       {},
       &E::percentile},
      {"calibration_samples",
       K::integer,
       "quantization",
       "training samples used to calibrate activation ranges",
       1,
       60000,
       {},
       &E::calibration_samples},
      {"kernels",
       K::choice,
       "compute",
       "kernel table",
       0,
       0,
       {"auto", "reference", "avx2", "xnnpack", "simd128"},
       &E::kernels},
      {"threads", K::integer, "compute", "worker threads of the kernels", 1, 64, {}, &E::threads},
  };
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

// [SECTION] When a row applies

// The conditions of SettingRow::applies, by key.
void attach_conditions(std::vector<SettingRow>& rows) {
  using Condition = bool (*)(const Experiment&);
  const Condition toy = [](const E& e) { return e.dataset != "fashion-mnist"; };
  const Condition images = [](const E& e) { return e.dataset == "fashion-mnist"; };
  struct KeyCondition {
    std::string_view key;
    Condition applies;
    std::string_view when;
  };
  const KeyCondition conditions[] = {
      {"samples", toy, "with a toy data set (not fashion-mnist)"},
      {"noise", toy, "with a toy data set (not fashion-mnist)"},
      {"test_fraction", toy, "with a toy data set (not fashion-mnist)"},
      {"classes",
       [](const E& e) {
         const std::optional<ToyDatasetKind> kind = parse_toy_dataset_kind(e.dataset);
         return kind && uses_num_classes(*kind);
       },
       "with dataset spiral or blobs (moons, circles and xor have 2 classes)"},
      {"train_limit", images, "with dataset fashion-mnist"},
      {"test_limit", images, "with dataset fashion-mnist"},
      {"data_dir", images, "with dataset fashion-mnist"},
      {"momentum", [](const E& e) { return e.optimizer == "sgd"; }, "with optimizer sgd"},
      {"step_epochs", [](const E& e) { return e.schedule == "step"; }, "with schedule step"},
      {"gamma", [](const E& e) { return e.schedule == "step" && e.step_epochs < e.epochs; },
       "with schedule step and step_epochs below epochs (the first decay)"},
      {"satnl_scale", [](const E& e) { return e.satnl == "on"; }, "with satnl on"},
      {"sam_rho", [](const E& e) { return e.sam != "none"; }, "with sam set to sam or asam"},
      // DropBits never goes below 2 bits (cpq_dropbits.h), so at cpq_bits 2 it has nothing to drop.
      {"cpq_dropbits", [](const E& e) { return e.cpq_bits > 2; }, "with cpq_bits above 2"},
      {"cpq_drop_rate", [](const E& e) { return e.cpq_dropbits == "on" && e.cpq_bits > 2; },
       "with cpq_dropbits on and cpq_bits above 2"},
      {"cpq_dropbits_masks",
       [](const E& e) { return e.cpq_dropbits == "on" && e.cpq_learn_bits == "off" && e.cpq_bits > 2; },
       "with cpq_dropbits on, cpq_learn_bits off and cpq_bits above 2"},
      {"cpq_learn_bits", [](const E& e) { return e.cpq_bits > 2; }, "with cpq_bits above 2"},
      {"cpq_bits_lambda", [](const E& e) { return e.cpq_learn_bits == "on" && e.cpq_bits > 2; },
       "with cpq_learn_bits on and cpq_bits above 2"},
      {"percentile", [](const E& e) { return e.range_method == "percentile"; }, "with range_method percentile"},
      {"calibration_samples", [](const E& e) { return e.activation_bits > 0; },
       "with quantized activations (activation_bits 2 to 8)"},
  };
  for (const KeyCondition& condition : conditions) {
    auto row = std::find_if(rows.begin(), rows.end(), [&](const SettingRow& r) { return r.key == condition.key; });
    if (row != rows.end()) {
      row->applies = condition.applies;
      row->applies_when = condition.when;
    }
  }
  // An empty init_model means "from scratch".
  for (SettingRow& row : rows)
    if (row.key == "init_model") row.may_be_empty = true;
  // Activations are quantized to 0 (float) or 2..8 bits: a 1-bit grid after ReLU would hold only zero.
  for (std::string_view key : {"activation_bits", "qat_activation_bits"}) {
    auto row = std::find_if(rows.begin(), rows.end(), [&](const SettingRow& r) { return r.key == key; });
    if (row != rows.end())
      row->refuses = [](double bits) -> std::string_view {
        return bits == 1 ? "1-bit activations are not supported (0 = float, or 2 to 8)" : "";
      };
  }
}

// [SECTION] Setting, getting and checking

const std::vector<SettingRow>& experiment_settings() {
  static const std::vector<SettingRow> rows = [] {
    std::vector<SettingRow> built = build_rows();
    attach_conditions(built);
    return built;
  }();
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
      if (auto field = std::get_if<int Experiment::*>(&row->field))
        experiment.*(*field) = static_cast<int>(value);
      else
        experiment.*std::get<int64_t Experiment::*>(row->field) = value;
      return {};
    }
    case SettingKind::number: {
      std::optional<double> value = parse_number(text);
      if (!value || !std::isfinite(*value) || *value < row->min || *value > row->max) return invalid();
      if (Status status = refused(*value); !status) return status;
      experiment.*std::get<double Experiment::*>(row->field) = *value;
      return {};
    }
    case SettingKind::choice:
      if (std::find(row->choices.begin(), row->choices.end(), text) == row->choices.end()) return invalid();
      experiment.*std::get<std::string Experiment::*>(row->field) = std::string(text);
      return {};
    case SettingKind::text:
      if (text.empty() && !row->may_be_empty) return Status::error(std::string(key) + " must not be empty");
      if (text.size() > kMaxTextSetting)
        return Status::error(std::string(key) + " must be at most " + std::to_string(kMaxTextSetting) +
                             " characters, got " + std::to_string(text.size()));
      // A file writes text as UTF-8 (other bytes become U+FFFD), so only UTF-8 survives a save and a load.
      if (!is_valid_utf8(text)) return Status::error(std::string(key) + " must be UTF-8 text");
      experiment.*std::get<std::string Experiment::*>(row->field) = std::string(text);
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
  return std::visit(
      [&](auto field) -> std::string {
        const auto& value = experiment.*field;
        if constexpr (std::is_same_v<std::decay_t<decltype(value)>, std::string>)
          return value;
        else if constexpr (std::is_same_v<std::decay_t<decltype(value)>, double>)
          return format_json_number(value);
        else
          return std::to_string(value);
      },
      row.field);
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
    out += "    --" + std::string(row.key) + "=<" + allowed_values(row) + ">  (default " + get_setting(defaults, row) +
           ")\n        " + std::string(row.help) + "\n";
  }
  return out;
}

// [SECTION] Experiment files

Json experiment_to_json(const Experiment& experiment) {
  Json json = Json::object();
  json["format"] = "qplay-experiment";
  json["version"] = 1;
  Json settings = Json::object();
  for (const SettingRow& row : experiment_settings()) {
    std::visit([&](auto field) { settings[row.key] = Json(experiment.*field); }, row.field);
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
      return Status::error("unknown key '" + key + "' (an experiment file holds format, version and settings)");
  }
  Experiment experiment;
  for (const auto& [key, value] : settings->as_object()) {
    const SettingRow* row = find_setting(key);
    if (!row) return unknown_setting(key);
    const bool numeric = row->kind == SettingKind::integer || row->kind == SettingKind::number;
    if (numeric != value.is_number() || (!numeric && !value.is_string())) {
      return Status::error("setting '" + key + "' must be " + (numeric ? "a number" : "a string") + " in a file, got " +
                           to_json(value, 0));
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

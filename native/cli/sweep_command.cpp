// qplay-cli sweep and qplay-cli eval: a saved model at one or many quantization settings.
#include <algorithm>
#include <cstdio>

#include "core/engine/deploy/int8_inference.h"
#include "core/engine/io/json.h"
#include "core/engine/report/text_table.h"
#include "native/cli/cli_common.h"
#include "native/cli/commands.h"
#include "native/cli/progress_bar.h"
#include "native/cli/sweep_report.h"

namespace qplay::cli {

const std::vector<CommandFlag> kSweepFlags = {
    {"model", "the model file to sweep", "", true},
    {"sweep_weight_bits", "weight bit-widths: a list (2,4,8) or a range (2-8)", "2-8"},
    {"sweep_activation_bits", "activation bit-widths, 'float' for unquantized", "4,6,8,float"},
    {"csv", "write the table as CSV to this path", ""},
    {"json", "write the table as JSON to this path", ""},
    {"svg", "write an SVG plot of accuracy against weight bits to this path", ""},
    {"card",
     "write the accuracy-vs-bits card (the plot, the settings, float accuracy, accuracy, flip rate and size "
     "at the model's weight_bits and activation_bits) as SVG to this path",
     ""},
    {"experiment", "an experiment JSON file whose settings override the model's", ""},
};

const std::vector<CommandFlag> kEvalFlags = {
    {"model", "the model file to evaluate", "", true},
    {"experiment", "an experiment JSON file whose settings override the model's", ""},
    {"int8",
     "1: also run real int8 inference (8-bit weights and activations) and compare it with fake "
     "quantization; ReLU networks only",
     "0"},
    {"layer_weight_bits",
     "one weight bit-width per weighted layer (8,4,8; 0 or float: float, -: --weight_bits), replacing "
     "--weight_bits layer by layer",
     ""},
    {"predictions", "write the quantized model's test predictions here as JSON (format qplay-predictions)",
     ""},
};

namespace {

bool activations_quantized(const Experiment& experiment) { return experiment.activation_bits > 0; }

// A saved model's test data (the seed draws a toy set) and how it is quantized; the bit-widths come from the
// command's own lists.
const SettingScope kSweepScope = {
    {"data", "quantization", "compute"},
    {"seed"},
    {{"weight_bits", "sweep takes its weight bit-widths from --sweep_weight_bits"},
     {"activation_bits", "sweep takes its activation bit-widths from --sweep_activation_bits"}},
    {},
    {{"train_limit", activations_quantized,
      "sweep reads training images only to calibrate quantized activations, and every activation width here "
      "is float"}}};
const SettingScope kEvalScope = {{"data", "quantization", "compute"},
                                 {"seed"},
                                 {},
                                 {},
                                 {{"train_limit", activations_quantized,
                                   "eval reads training images only to calibrate quantized activations, and "
                                   "activation_bits is 0 (float)"}}};

// Real int8 inference beside 8-bit fake quantization with the same grids: two table rows, or an error.
Status add_int8_rows(LoadedModel& model, TextTable& table) {
  const Experiment& e = model.experiment;
  const Dataset& data = *model.dataset;
  Network<float>& network = *model.network;
  QuantizationSetting setting = make_quantization_setting(e, 8, 8);
  setting.weights.symmetry = Symmetry::symmetric;  // int8 weights are symmetric
  setting.weights.range_method = RangeMethod::min_max;
  setting.activations.range_method = RangeMethod::min_max;
  std::vector<int32_t> fake_predictions;
  Evaluation fake = evaluate_quantized(network, data, setting, e.calibration_samples, &fake_predictions,
                                       QuantizedPath::fake_quantization);

  Int8ModelOptions options = calibrate_int8_model_options(network, network.parameters(), data.train_x,
                                                          e.calibration_samples, setting.weights.granularity);
  // The engine's own int8 GEMM (its fastest variant on this CPU), or its reference loops.
  if (e.kernels == KernelChoice::reference) options.gemm_variant = Int8GemmVariant::reference;
  Result<Int8Model> int8 = build_int8_model(network, network.parameters(), options);
  if (!int8) return int8.status();
  const Int8Backend backend = Int8Backend::engine;
  Result<std::vector<int32_t>> predictions =
      int8_predict(*int8, data.test_x, data.test_size(), backend, e.threads);
  if (!predictions) return predictions.status();
  size_t correct = 0, agree = 0;
  for (size_t i = 0; i < predictions->size(); ++i) {
    correct += (*predictions)[i] == data.test_y[i];
    agree += (*predictions)[i] == fake_predictions[i];
  }
  const double n = static_cast<double>(predictions->size());
  table.rows.push_back({"8-bit fake quantization, min-max, " + std::string(choice_name(e.granularity)),
                        format_percent(fake.accuracy, 2), format_fixed(fake.loss, 4), ""});
  table.rows.push_back({std::string("real int8 inference (") + int8_backend_name(backend) + ", " +
                            int8_gemm_variant_name(options.gemm_variant) + ")",
                        format_percent(correct / n, 2), "",
                        "agrees with fake quantization on " + format_percent(agree / n, 2)});
  return {};
}

// The "qplay-predictions" file: the class each test sample was given at the evaluated setting.
Json predictions_json(const std::vector<int32_t>& predictions, const std::vector<int32_t>& labels,
                      const Evaluation& evaluation) {
  Json json = Json::object();
  json["format"] = "qplay-predictions";
  json["version"] = 1;
  json["accuracy"] = evaluation.accuracy;
  Json predicted = Json::array(), truth = Json::array();
  for (int32_t p : predictions) predicted.push_back(p);
  for (int32_t label : labels) truth.push_back(label);
  json["predictions"] = std::move(predicted);
  json["labels"] = std::move(truth);
  return json;
}

}  // namespace

int sweep_command(const std::vector<std::string>& arguments) {
  int exit_code = kExitSuccess;
  std::optional<ParsedCommandLine> parsed =
      parse_command("sweep",
                    "Evaluates a saved model on its test split at every (weight bits, activation bits) pair. "
                    "Granularity, symmetry and range method come from the settings below.",
                    kSweepFlags, arguments, exit_code);
  if (!parsed) return exit_code;
  Result<std::vector<int>> weight_bits =
      parse_bit_list(parsed->flag("sweep_weight_bits"), 1, "sweep_weight_bits");
  if (!weight_bits) return report_bad_input("sweep", weight_bits.status());
  Result<std::vector<int>> activation_bits =
      parse_bit_list(parsed->flag("sweep_activation_bits"), 2, "sweep_activation_bits");
  if (!activation_bits) return report_bad_input("sweep", activation_bits.status());
  Result<LoadedModel> model = load_model_for_command(*parsed);
  if (!model) return report_bad_input("sweep", model.status());
  Experiment context = model->experiment;  // calibration matters when any activation width is quantized
  context.activation_bits = *std::max_element(activation_bits->begin(), activation_bits->end());
  if (Status status = check_settings_are_read("sweep", *parsed, context, kSweepScope); !status)
    return report_bad_input("sweep", status);

  SweepOptions options;
  options.weight_bits = *weight_bits;
  options.activation_bits = *activation_bits;
  options.base = make_quantization_setting(model->experiment, 0, 0);
  options.calibration_samples = model->experiment.calibration_samples;
  ProgressBar bar("sweep", true);
  std::vector<SweepPoint> points =
      sweep_bit_widths(*model->network, *model->dataset, options, [&](int done, int total) {
        bar.update(double(done) / total, std::to_string(done) + "/" + std::to_string(total));
      });
  bar.finish("");
  std::printf(
      "%s: %s, %s %s weights, %s ranges, test accuracy:\n\n%s\n", parsed->flag("model").c_str(),
      model->experiment.architecture.c_str(), std::string(choice_name(model->experiment.granularity)).c_str(),
      std::string(choice_name(model->experiment.symmetry)).c_str(),
      std::string(choice_name(model->experiment.range_method)).c_str(), sweep_text_table(points).c_str());
  SweepOutputPaths paths{parsed->flag("csv"), parsed->flag("json"), parsed->flag("svg")};
  if (Status status = write_sweep_outputs(
          points, model->experiment, paths,
          "Accuracy vs bit-width: " + model->dataset->name + ", " + model->experiment.architecture);
      !status) {
    return report_bad_input("sweep", status);
  }
  if (!parsed->flag("card").empty()) {
    if (Status status = write_sweep_card(*model, points, parsed->flag("card")); !status)
      return report_bad_input("sweep", status);
  }
  return kExitSuccess;
}

int eval_command(const std::vector<std::string>& arguments) {
  int exit_code = kExitSuccess;
  std::optional<ParsedCommandLine> parsed =
      parse_command("eval",
                    "Evaluates a saved model on its test split, in float and at --weight_bits / "
                    "--activation_bits with the chosen granularity and range method.",
                    kEvalFlags, arguments, exit_code);
  if (!parsed) return exit_code;
  Result<LoadedModel> model = load_model_for_command(*parsed);
  if (!model) return report_bad_input("eval", model.status());
  const Experiment& e = model->experiment;
  if (Status status = check_settings_are_read("eval", *parsed, e, kEvalScope); !status)
    return report_bad_input("eval", status);
  Evaluation float_result = evaluate(*model->network, model->dataset->test_x, model->dataset->test_y);
  QuantizationSetting setting = make_quantization_setting(e, e.weight_bits, e.activation_bits);
  Result<std::vector<int>> layer_bits =
      parse_layer_weight_bits(parsed->flag("layer_weight_bits"), model->network->architecture());
  if (!layer_bits) return report_bad_input("eval", layer_bits.status());
  setting.weight_bits_per_layer = std::move(layer_bits).value();
  std::vector<int32_t> predictions;
  Evaluation quantized =
      evaluate_quantized(*model->network, *model->dataset, setting, e.calibration_samples, &predictions);
  TextTable table;
  table.header = {"setting", "accuracy", "loss", ""};
  table.rows.push_back(
      {"float", format_percent(float_result.accuracy, 2), format_fixed(float_result.loss, 4), ""});
  std::string described = describe_quantization(e, e.weight_bits, e.activation_bits);
  if (!parsed->flag("layer_weight_bits").empty())
    described += ", weight bits per layer " + parsed->flag("layer_weight_bits");
  table.rows.push_back(
      {described, format_percent(quantized.accuracy, 2), format_fixed(quantized.loss, 4), ""});
  if (parsed->flag("int8") == "1") {
    if (Status status = add_int8_rows(*model, table); !status) return report_bad_input("eval", status);
  } else if (parsed->flag("int8") != "0") {
    return report_bad_input("eval", Status::error("--int8 must be 0 or 1"));
  }
  std::printf("%s on %s (%zu test samples)\n\n%s", parsed->flag("model").c_str(),
              model->dataset->name.c_str(), float_result.samples, render_text_table(table).c_str());
  if (parsed->flag("predictions").empty()) return kExitSuccess;
  return write_command_output(
      "eval", parsed->flag("predictions"),
      to_json(predictions_json(predictions, model->dataset->test_y, quantized)) + "\n");
}

}  // namespace qplay::cli

// qplay-cli export: a saved model as its float weights (qplay-weights JSON), or at one quantization
// setting as an ONNX QDQ graph or a qplay-integer-model JSON (docs/formats.md).
#include "core/engine/deploy/integer_model.h"
#include "core/engine/deploy/onnx_export.h"
#include "core/engine/io/json.h"
#include "core/engine/io/model_file.h"
#include "native/cli/cli_common.h"
#include "native/cli/commands.h"

namespace qplay::cli {

const std::vector<CommandFlag> kExportFlags = {
    {"model", "the model file", "", true},
    {"format",
     "weights-json (the float weights as they are), onnx (a QDQ graph at --weight_bits / --activation_bits) "
     "or integer-json (codes, scales and zero points at that setting)",
     "weights-json"},
    {"layer_weight_bits",
     "onnx and integer-json: one weight bit-width per weighted layer (8,4,8; 0 or float: float, -: "
     "--weight_bits), replacing --weight_bits layer by layer",
     ""},
    {"out", "write the file here instead of stdout", ""},
};

namespace {

bool activations_quantized(const Experiment& experiment) { return experiment.activation_bits > 0; }

// The quantized formats read what eval reads: the data (calibration images, the seed's toy set) and the
// setting.
const SettingScope kQuantizedExportScope = {{"data", "quantization", "compute"},
                                            {"seed"},
                                            {{"test_limit", "export evaluates nothing on the test split"}},
                                            {},
                                            {{"train_limit", activations_quantized,
                                              "export reads training images only to calibrate quantized "
                                              "activations, and activation_bits is 0 (float)"}}};

int export_weights_json(const ParsedCommandLine& parsed) {
  // Experiment settings would change nothing here: refused rather than silently ignored.
  if (!parsed.settings.empty()) {
    return report_bad_input("export", Status::error("export writes the model's weights as they are; --" +
                                                    parsed.settings.front().first +
                                                    " is an experiment setting, which --format=weights-json "
                                                    "does not take"));
  }
  if (!parsed.flag("layer_weight_bits").empty()) {
    return report_bad_input("export",
                            Status::error("--layer_weight_bits needs --format=onnx or integer-json"));
  }
  Result<ModelFile> file = load_model_file(parsed.flag("model"));
  if (!file) return report_bad_input("export", file.status());  // its messages start with the path
  return write_command_output("export", parsed.flag("out"), to_json(model_file_to_json(*file), 1) + "\n");
}

}  // namespace

int export_command(const std::vector<std::string>& arguments) {
  int exit_code = kExitSuccess;
  std::optional<ParsedCommandLine> parsed = parse_command(
      "export",
      "Writes a model's float weights as JSON (format qplay-weights), or the model at --weight_bits / "
      "--activation_bits (granularity, symmetry and range method from the settings below) as an ONNX QDQ "
      "graph or a qplay-integer-model JSON; see docs/formats.md.",
      kExportFlags, arguments, exit_code);
  if (!parsed) return exit_code;
  const std::string& format = parsed->flag("format");
  if (format == "weights-json") return export_weights_json(*parsed);
  if (format != "onnx" && format != "integer-json") {
    return report_bad_input(
        "export", Status::error("--format must be weights-json, onnx or integer-json, got '" + format + "'"));
  }
  Result<LoadedModel> model = load_model_for_command(*parsed);
  if (!model) return report_bad_input("export", model.status());
  const Experiment& e = model->experiment;
  if (Status status = check_settings_are_read("export", *parsed, e, kQuantizedExportScope); !status)
    return report_bad_input("export", status);
  QuantizationSetting setting = make_quantization_setting(e, e.weight_bits, e.activation_bits);
  Result<std::vector<int>> layer_bits =
      parse_layer_weight_bits(parsed->flag("layer_weight_bits"), model->network->architecture());
  if (!layer_bits) return report_bad_input("export", layer_bits.status());
  setting.weight_bits_per_layer = std::move(layer_bits).value();
  Network<float>& network = *model->network;
  Result<IntegerModel> integer_model = build_integer_model(network, network.parameters(), setting,
                                                           model->dataset->train_x, e.calibration_samples);
  if (!integer_model) return report_bad_input("export", integer_model.status());
  if (format == "integer-json") {
    return write_command_output("export", parsed->flag("out"),
                                to_json(integer_model_to_json(*integer_model), 1) + "\n");
  }
  Result<std::string> onnx = onnx_model_bytes(*integer_model);
  if (!onnx) return report_bad_input("export", onnx.status());
  return write_command_output("export", parsed->flag("out"), *onnx);
}

}  // namespace qplay::cli

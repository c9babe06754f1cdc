// qplay-cli train and qplay-cli demo.
#include <cstdio>
#include <filesystem>

#include "core/engine/experiment/state_table.h"
#include "native/cli/cli_common.h"
#include "native/cli/commands.h"
#include "native/cli/sweep_report.h"

namespace qplay::cli {

const std::vector<CommandFlag> kTrainFlags = {
    {"experiment", "an experiment JSON file to start from (flags override it)", ""},
    {"out", "where to save the trained model", "qplay-model.qmodel"},
    {"save_experiment", "also write the experiment as JSON to this path", ""},
    {"quiet", "1: no per-epoch lines or progress bar", "0"},
};

const std::vector<CommandFlag> kDemoFlags = {
    {"out_dir", "directory for the model, CSV, JSON and SVG plot", "runs/demo"},
    {"quiet", "1: no per-epoch lines or progress bar", "0"},
};

namespace {

// train reads every group: the quantization settings are the model's evaluation setting, which train reports
// at the end and saves for eval.
SettingScope train_scope(const Experiment& experiment) {
  return {{"data", "model", "training", "method", "quantization", "compute"},
          {},
          {},
          {std::string(choice_name(experiment.method))}};
}
// demo sweeps the weight and activation widths itself.
SettingScope demo_scope(const Experiment& experiment) {
  SettingScope scope = train_scope(experiment);
  scope.replaced = {{"weight_bits", "demo quantizes the weights to every width from 8 down to 2"},
                    {"activation_bits", "demo evaluates activations in float, at 8 and at 4 bits"}};
  return scope;
}

Status create_parent_directory(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) return {};
  std::error_code error;
  std::filesystem::create_directories(parent, error);
  if (error) return Status::error("cannot create directory " + parent.string() + ": " + error.message());
  return {};
}

}  // namespace

int train_command(const std::vector<std::string>& arguments) {
  int exit_code = kExitSuccess;
  std::optional<ParsedCommandLine> parsed =
      parse_command("train", "Trains a network and saves it (with its experiment) as a model file.",
                    kTrainFlags, arguments, exit_code);
  if (!parsed) return exit_code;
  if (parsed->flag("quiet") != "0" && parsed->flag("quiet") != "1") {
    return report_bad_input("train", Status::error("--quiet must be 0 or 1"));
  }
  Result<Experiment> experiment = experiment_from_command_line(*parsed);
  if (!experiment) return report_bad_input("train", experiment.status());
  if (Status status = check_settings_are_read("train", *parsed, *experiment, train_scope(*experiment));
      !status)
    return report_bad_input("train", status);
  Result<Run> run = start_run(*experiment);
  if (!run) return report_bad_input("train", run.status());
  const bool quiet = parsed->flag("quiet") == "1";
  std::printf("%s\n", describe_run(*run).c_str());

  if (Status status = train_with_progress(*run, quiet); !status) {
    std::fprintf(stderr, "qplay-cli train: %s\n", status.message().c_str());
    return kExitFailure;
  }
  // The model as eval will first show it: float, and at the experiment's quantization setting.
  const Experiment& e = run->experiment;
  const Evaluation float_result = evaluate(*run->network, run->dataset->test_x, run->dataset->test_y);
  const Evaluation quantized = evaluate_quantized(
      *run->network, *run->dataset, make_quantization_setting(e, e.weight_bits, e.activation_bits),
      e.calibration_samples);
  std::printf("test accuracy %.2f%% in float, %.2f%% at %s\n", 100 * float_result.accuracy,
              100 * quantized.accuracy, describe_quantization(e, e.weight_bits, e.activation_bits).c_str());
  // What the method learned or measured (CPQ's learned bit-widths, SymReg's weight asymmetry, ...).
  for (const MethodReadout& readout : run->trainer->method().readouts(*run->network)) {
    std::printf("%s: %s%s %.4f\n", std::string(choice_name(e.method)).c_str(), readout.name.c_str(),
                readout.layer < 0 ? "" : (" of layer " + std::to_string(readout.layer)).c_str(),
                readout.value);
  }
  const std::string& out = parsed->flag("out");
  if (Status status = create_parent_directory(out); !status) return report_bad_input("train", status);
  mention_leftovers("train", out);
  if (Status status = save_model(out, *run->network, run->experiment); !status) {
    return report_bad_input("train", status);
  }
  std::printf("saved model to %s\n", out.c_str());
  if (parsed->has("save_experiment")) {
    if (Status status = save_experiment_file(parsed->flag("save_experiment"), run->experiment); !status) {
      return report_bad_input("train", status);
    }
    std::printf("saved experiment to %s\n", parsed->flag("save_experiment").c_str());
  }
  return kExitSuccess;
}

int demo_command(const std::vector<std::string>& arguments) {
  int exit_code = kExitSuccess;
  std::optional<ParsedCommandLine> parsed = parse_command(
      "demo",
      "Trains the default experiment (3-arm spiral, mlp:32,32), quantizes it post-training to every "
      "weight bit-width from 8 down to 2, and prints and plots accuracy against bit-width.",
      kDemoFlags, arguments, exit_code);
  if (!parsed) return exit_code;
  Result<Experiment> experiment = experiment_from_command_line(*parsed);
  if (!experiment) return report_bad_input("demo", experiment.status());
  Experiment context = *experiment;
  context.activation_bits = 8;  // its sweep quantizes activations to 8 and 4 bits
  if (Status status = check_settings_are_read("demo", *parsed, context, demo_scope(*experiment)); !status)
    return report_bad_input("demo", status);
  if (parsed->flag("quiet") != "0" && parsed->flag("quiet") != "1")
    return report_bad_input("demo", Status::error("--quiet must be 0 or 1"));
  Result<Run> run = start_run(*experiment);
  if (!run) return report_bad_input("demo", run.status());
  const bool quiet = parsed->flag("quiet") == "1";
  std::printf("QPlay demo: train a small network, then slide the bit-width down.\n%s\n\n",
              describe_run(*run).c_str());
  if (Status status = train_with_progress(*run, quiet); !status) {
    std::fprintf(stderr, "qplay-cli demo: %s\n", status.message().c_str());
    return kExitFailure;
  }

  SweepOptions options;
  options.base = make_quantization_setting(run->experiment, 0, 0);
  options.calibration_samples = run->experiment.calibration_samples;
  options.activation_bits = {0, 8, 4};
  std::vector<SweepPoint> points = sweep_bit_widths(*run->network, *run->dataset, options);
  std::printf("\nPost-training quantization (%s, %s, %s ranges), test accuracy:\n\n%s\n",
              std::string(choice_name(run->experiment.granularity)).c_str(),
              std::string(choice_name(run->experiment.symmetry)).c_str(),
              std::string(choice_name(run->experiment.range_method)).c_str(),
              sweep_text_table(points).c_str());

  const std::string out_dir = parsed->flag("out_dir");
  std::filesystem::path dir(out_dir);
  if (Status status = create_parent_directory((dir / "model.qmodel").string()); !status) {
    return report_bad_input("demo", status);
  }
  mention_leftovers("demo", (dir / "model.qmodel").string());
  if (Status status = save_model((dir / "model.qmodel").string(), *run->network, run->experiment); !status) {
    return report_bad_input("demo", status);
  }
  std::printf("wrote %s\n", (dir / "model.qmodel").string().c_str());
  SweepOutputPaths paths{(dir / "sweep.csv").string(), (dir / "sweep.json").string(),
                         (dir / "sweep.svg").string()};
  if (Status status = write_sweep_outputs(
          points, run->experiment, paths,
          "Accuracy vs bit-width: " + run->dataset->name + ", " + run->experiment.architecture);
      !status) {
    return report_bad_input("demo", status);
  }
  return kExitSuccess;
}

}  // namespace qplay::cli

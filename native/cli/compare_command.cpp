// qplay-cli compare: the baseline and the robustness methods trained on the same data from the same
// seeds, each model quantized post-training to every bit-width per tensor and per channel; a table
// of mean ± std over the seeds, and CSV (one row per model and setting), JSON and an SVG plot.
#include <algorithm>
#include <cstdio>

#include "core/engine/experiment/comparison.h"
#include "core/engine/experiment/state_table.h"
#include "core/engine/io/file_util.h"
#include "core/engine/io/json.h"
#include "native/cli/cli_common.h"
#include "native/cli/commands.h"
#include "native/cli/compare_report.h"
#include "native/cli/progress_bar.h"

namespace qplay::cli {

const std::vector<CommandFlag> kCompareFlags = {
    {"methods",
     "the arms to train, comma-separated; the first is the reference the others are read against. An arm is "
     "a "
     "method with optional knobs, values separated by | forming a grid chosen on validation: "
     "gradl1[gradl1_lambda_weights=1e-4|1e-3],symreg[satnl=off]",
     "baseline,gradl1,qreg"},
    {"seeds", "how many seeds (1..N), or a comma-separated list of seeds", "3"},
    {"compare_weight_bits",
     "weight bit-widths to quantize to after training: a list (2,4,8) or a range (2-8)", "8,6,4,3,2"},
    {"compare_activation_bits",
     "activation bit-widths, each combined with every weight bit-width: 'float', a list "
     "(float,8,4) or a range (2-8)",
     "float"},
    {"compare_ranges",
     "range methods the quantized models are evaluated with, comma-separated: min-max, "
     "percentile, mse",
     "min-max"},
    {"validation_fraction",
     "share of the training set held out as validation, on which knob grids are chosen "
     "(0: none)",
     "0"},
    {"select_on",
     "what a knob grid is chosen by on validation: quantized-accuracy (mean over the evaluation "
     "points), trained-accuracy or trained-loss (the model as trained)",
     "quantized-accuracy"},
    {"fine_tune_epochs",
     "0: every arm trains from scratch; N: per seed a baseline trains --epochs (the "
     "checkpoint), then every arm trains N epochs from it",
     "0"},
    {"fgsm_epsilons", "FGSM attack sizes, comma-separated, or 'none'", "0.02,0.05,0.1"},
    {"fgsm_samples", "test samples attacked per model", "2000"},
    {"csv", "write every model's numbers as CSV to this path", ""},
    {"json", "write the settings, every model's numbers and the summary as JSON to this path", ""},
    {"svg", "write an SVG plot of mean accuracy against weight bits to this path", ""},
};

// The methods of the arms, each experiment setting, and compare's own lists of what to evaluate.
SettingScope compare_scope(const std::vector<std::string>& methods) {
  return {
      {"data", "model", "training", "quantization", "compute"},
      {},
      {{"method", "compare trains the methods of --methods"},
       {"seed", "compare trains from the seeds of --seeds"},
       {"weight_bits", "compare quantizes the weights to the widths of --compare_weight_bits"},
       {"activation_bits", "compare quantizes the activations to the widths of --compare_activation_bits"},
       {"range_method", "compare evaluates with the range methods of --compare_ranges"},
       {"granularity", "compare reports both per-tensor and per-channel weights"}},
      methods};
}

namespace {

Result<ComparisonSettings> comparison_settings(const ParsedCommandLine& parsed,
                                               const Experiment& experiment) {
  ComparisonSettings settings;
  settings.base = experiment;
  Result<std::vector<ComparisonArm>> arms = parse_comparison_arms(parsed.flag("methods"));
  if (!arms) return arms.status().with_context("--methods");
  settings.arms = std::move(arms).value();
  Result<std::vector<int64_t>> seeds = parse_seeds(parsed.flag("seeds"));
  if (!seeds) return seeds.status();
  settings.seeds = std::move(seeds).value();
  Result<std::vector<int>> weight_bits =
      parse_bit_list(parsed.flag("compare_weight_bits"), 1, "compare_weight_bits");
  if (!weight_bits) return weight_bits.status();
  settings.weight_bits = std::move(weight_bits).value();
  Result<std::vector<int>> activation_bits =
      parse_bit_list(parsed.flag("compare_activation_bits"), 2, "compare_activation_bits");
  if (!activation_bits) return activation_bits.status();
  settings.activation_bits = std::move(activation_bits).value();
  settings.range_methods.clear();
  for (const std::string& range_method : split_list(parsed.flag("compare_ranges"))) {
    Experiment probe;
    if (Status status = set_setting(probe, "range_method", range_method); !status)
      return status.with_context("--compare_ranges");
    settings.range_methods.push_back(range_method);
  }
  Result<std::vector<double>> epsilons = parse_epsilons(parsed.flag("fgsm_epsilons"));
  if (!epsilons) return epsilons.status();
  settings.fgsm_epsilons = std::move(epsilons).value();
  Result<long> fgsm_samples = parse_integer_flag(parsed, "fgsm_samples", 1, 1000000);
  if (!fgsm_samples) return fgsm_samples.status();
  settings.fgsm_samples = static_cast<int>(*fgsm_samples);
  Result<long> fine_tune = parse_integer_flag(parsed, "fine_tune_epochs", 0, 1000);
  if (!fine_tune) return fine_tune.status();
  settings.fine_tune_epochs = static_cast<int>(*fine_tune);
  Result<double> validation = parse_number_flag(parsed, "validation_fraction", 0, 0.9);
  if (!validation) return validation.status();
  settings.validation_fraction = *validation;
  const std::string select_on = parsed.flag("select_on");
  if (select_on == "quantized-accuracy")
    settings.select_on = SelectionMetric::quantized_accuracy;
  else if (select_on == "trained-accuracy")
    settings.select_on = SelectionMetric::trained_accuracy;
  else if (select_on == "trained-loss")
    settings.select_on = SelectionMetric::trained_loss;
  else
    return Status::error("--select_on must be quantized-accuracy, trained-accuracy or trained-loss, got '" +
                         select_on + "'");
  bool has_grid = false;
  for (const ComparisonArm& arm : settings.arms) has_grid |= arm.grid_size() > 1;
  if (select_on != "quantized-accuracy" && !has_grid) {
    return Status::error(
        "--select_on would change nothing: it chooses a knob grid (gradl1[gradl1_lambda_weights=1e-4|1e-3]), "
        "and no arm of --methods has one");
  }
  return settings;
}

}  // namespace

int compare_command(const std::vector<std::string>& arguments) {
  int exit_code = kExitSuccess;
  std::optional<ParsedCommandLine> parsed = parse_command(
      "compare",
      "Trains each arm (a method with its knobs) on the same data from the same seeds and compares how much "
      "test "
      "accuracy each keeps when its weights and activations are quantized after training, with paired "
      "differences and verdicts against the first arm. Every experiment setting below applies to all arms.",
      kCompareFlags, arguments, exit_code);
  if (!parsed) return exit_code;
  Result<Experiment> experiment = experiment_from_command_line(*parsed);
  if (!experiment) return report_bad_input("compare", experiment.status());
  Result<ComparisonSettings> settings = comparison_settings(*parsed, *experiment);
  if (!settings) return report_bad_input("compare", settings.status());
  // The experiment as the arms see it: quantized activations when any are, percentile ranges when listed.
  Experiment context = *experiment;
  context.activation_bits =
      *std::max_element(settings->activation_bits.begin(), settings->activation_bits.end());
  for (const std::string& range_method : settings->range_methods)
    if (range_method == "percentile") context.range_method = RangeMethod::percentile;
  std::vector<std::string> methods;
  for (const ComparisonArm& arm : settings->arms)
    if (std::find(methods.begin(), methods.end(), arm.method) == methods.end()) methods.push_back(arm.method);
  if (Status status = check_settings_are_read("compare", *parsed, context, compare_scope(methods)); !status)
    return report_bad_input("compare", status);

  std::printf("comparing %zu arms x %zu seeds: %s, %s, %d epochs\n", settings->arms.size(),
              settings->seeds.size(), std::string(choice_name(settings->base.dataset)).c_str(),
              settings->base.architecture.c_str(), settings->base.epochs);
  ProgressBar bar("compare", true);
  Result<ComparisonResult> result = run_comparison(
      *settings, [&](double fraction, const std::string& what) { bar.update(fraction, what); });
  bar.finish("");
  if (!result) {
    std::fprintf(stderr, "qplay-cli compare: %s\n", result.message().c_str());
    return result.message().find("training stopped") != std::string::npos ? kExitFailure : kExitBadInput;
  }
  std::printf("%s", comparison_text(*result).c_str());
  if (Status status = write_report_files(
          "compare", {{parsed->flag("csv"), parsed->flag("csv").empty() ? "" : comparison_csv(*result)},
                      {parsed->flag("json"), parsed->flag("json").empty() ? "" : comparison_json(*result)},
                      {parsed->flag("svg"), parsed->flag("svg").empty() ? "" : comparison_svg(*result)}});
      !status) {
    return report_bad_input("compare", status);
  }
  return kExitSuccess;
}

}  // namespace qplay::cli

// qplay-cli compare: the baseline and the robustness methods trained on the same data from the same
// seeds, each model quantized post-training to every bit-width per tensor and per channel; a table
// of mean ± std over the seeds, and CSV (one row per model and setting), JSON and an SVG plot.
#include <cstdio>

#include "core/engine/experiment/comparison.h"
#include "core/engine/experiment/state_table.h"
#include "core/engine/io/file_util.h"
#include "core/engine/io/json.h"
#include "core/engine/lab/lab_state.h"
#include "core/engine/report/svg_plot.h"
#include "core/engine/report/text_table.h"
#include "native/cli/cli_common.h"
#include "native/cli/commands.h"
#include "native/cli/progress_bar.h"

namespace qplay::cli {

const std::vector<CommandFlag> kCompareFlags = {
    {"methods", "the methods to train, comma-separated; the first is the reference the others are read against",
     "baseline,gradl1,qreg"},
    {"seeds", "how many seeds (1..N), or a comma-separated list of seeds", "3"},
    {"compare_weight_bits", "weight bit-widths to quantize to after training: a list (2,4,8) or a range (2-8)",
     "8,6,4,3,2"},
    {"fgsm_epsilons", "FGSM attack sizes, comma-separated, or 'none'", "0.02,0.05,0.1"},
    {"fgsm_samples", "test samples attacked per model", "2000"},
    {"csv", "write every model's numbers as CSV to this path", ""},
    {"json", "write the settings, every model's numbers and the summary as JSON to this path", ""},
    {"svg", "write an SVG plot of mean accuracy against weight bits to this path", ""},
};

namespace {

std::string percent_cell(const std::vector<double>& values) {
  const MeanAndSpread s = mean_and_spread(values);
  return format_fixed(100 * s.mean, 1) + " ± " + format_fixed(100 * s.std, 1);
}

// One table per granularity: a row per method, float then each bit-width.
TextTable accuracy_table(const ComparisonResult& result, bool per_channel) {
  TextTable table;
  table.header = {"method", "float"};
  for (int bits : result.settings.weight_bits) table.header.push_back(std::to_string(bits) + "-bit");
  for (const std::string& method : result.settings.methods) {
    const bool latent = values_of(result, method, [](auto& r) { return r.float_weights_are_latent; }).front() != 0;
    std::vector<std::string> row = {method, percent_cell(values_of(result, method, [](auto& r) {
                                      return r.float_accuracy;
                                    })) + (latent ? " (latent)" : "")};
    for (size_t i = 0; i < result.settings.weight_bits.size(); ++i) {
      row.push_back(percent_cell(values_of(result, method, [&](const ComparisonRun& r) {
        return per_channel ? r.per_channel_accuracy[i] : r.per_tensor_accuracy[i];
      })));
    }
    table.rows.push_back(std::move(row));
  }
  return table;
}

// Share of test predictions that change from float to quantized weights, per method and bit-width: of all
// test samples, and of the narrowly decided quarter.
TextTable flip_table(const ComparisonResult& result, bool per_channel, bool low_margin) {
  TextTable table;
  table.header = {"method"};
  for (int bits : result.settings.weight_bits) table.header.push_back(std::to_string(bits) + "-bit");
  for (const std::string& method : result.settings.methods) {
    std::vector<std::string> row = {method};
    for (size_t i = 0; i < result.settings.weight_bits.size(); ++i) {
      row.push_back(percent_cell(values_of(result, method, [&](const ComparisonRun& r) {
        if (low_margin) return per_channel ? r.per_channel_low_margin_flip_rate[i] : r.per_tensor_low_margin_flip_rate[i];
        return per_channel ? r.per_channel_flip_rate[i] : r.per_tensor_flip_rate[i];
      })));
    }
    table.rows.push_back(std::move(row));
  }
  return table;
}

// Each method against the first, paired by seed: the accuracy difference in percentage points with its 95%
// interval and the verdict, per bit-width (one rule for every claim: statistics.h).
TextTable paired_table(const ComparisonResult& result, bool per_channel) {
  TextTable table;
  table.header = {"method"};
  for (int bits : result.settings.weight_bits) table.header.push_back(std::to_string(bits) + "-bit");
  const std::string& reference = result.settings.methods.front();
  for (size_t m = 1; m < result.settings.methods.size(); ++m) {
    std::vector<std::string> row = {result.settings.methods[m]};
    for (size_t i = 0; i < result.settings.weight_bits.size(); ++i) {
      const PairedDifference d =
          paired_difference_of(result, result.settings.methods[m], reference, [&](const ComparisonRun& r) {
            return per_channel ? r.per_channel_accuracy[i] : r.per_tensor_accuracy[i];
          });
      row.push_back(format_fixed(100 * d.mean, 1) + " [" + format_fixed(100 * d.low, 1) + ", " +
                    format_fixed(100 * d.high, 1) + "] " + std::string(paired_verdict(d)));
    }
    table.rows.push_back(std::move(row));
  }
  return table;
}

// FGSM accuracy per method and ε, on the float weights or on the model as trained.
TextTable fgsm_table(const ComparisonResult& result, bool as_trained) {
  TextTable table;
  table.header = {"method"};
  for (double epsilon : result.settings.fgsm_epsilons) table.header.push_back("eps " + format_json_number(epsilon));
  for (const std::string& method : result.settings.methods) {
    std::vector<std::string> row = {method};
    for (size_t i = 0; i < result.settings.fgsm_epsilons.size(); ++i) {
      row.push_back(percent_cell(values_of(result, method, [&](const ComparisonRun& r) {
        return as_trained ? r.fgsm_trained_accuracy[i] : r.fgsm_float_accuracy[i];
      })));
    }
    table.rows.push_back(std::move(row));
  }
  return table;
}

TextTable generalization_table(const ComparisonResult& result) {
  TextTable table;
  table.header = {"method", "train acc", "test acc", "gap (acc)", "train loss", "test loss", "gap (loss)", "seconds"};
  auto cell = [](const std::vector<double>& v, int decimals) {
    const MeanAndSpread s = mean_and_spread(v);
    return format_fixed(s.mean, decimals) + " ± " + format_fixed(s.std, decimals);
  };
  for (const std::string& m : result.settings.methods) {
    table.rows.push_back({m, percent_cell(values_of(result, m, [](auto& r) { return r.train_accuracy; })),
                          percent_cell(values_of(result, m, [](auto& r) { return r.test_accuracy; })),
                          percent_cell(values_of(result, m, [](auto& r) { return r.train_accuracy - r.test_accuracy; })),
                          cell(values_of(result, m, [](auto& r) { return r.train_loss; }), 3),
                          cell(values_of(result, m, [](auto& r) { return r.test_loss; }), 3),
                          cell(values_of(result, m, [](auto& r) { return r.test_loss - r.train_loss; }), 3),
                          cell(values_of(result, m, [](auto& r) { return r.training_seconds; }), 2)});
  }
  return table;
}

std::string comparison_csv(const ComparisonResult& result) {
  TextTable table;
  table.header = {"method", "seed", "evaluation", "setting", "test_accuracy"};
  for (const ComparisonRun& r : result.runs) {
    auto add = [&](const std::string& evaluation, const std::string& setting, double accuracy) {
      table.rows.push_back({r.method, std::to_string(r.seed), evaluation, setting, format_fixed(accuracy, 6)});
    };
    add("float", "", r.float_accuracy);
    for (size_t i = 0; i < result.settings.weight_bits.size(); ++i) {
      const std::string bits = std::to_string(result.settings.weight_bits[i]) + "-bit";
      add("ptq-per-tensor", bits, r.per_tensor_accuracy[i]);
      add("ptq-per-channel", bits, r.per_channel_accuracy[i]);
      add("flips-per-tensor", bits, r.per_tensor_flip_rate[i]);
      add("flips-per-channel", bits, r.per_channel_flip_rate[i]);
      add("low-margin-flips-per-tensor", bits, r.per_tensor_low_margin_flip_rate[i]);
      add("low-margin-flips-per-channel", bits, r.per_channel_low_margin_flip_rate[i]);
    }
    for (size_t i = 0; i < result.settings.fgsm_epsilons.size(); ++i) {
      const std::string epsilon = "eps=" + format_json_number(result.settings.fgsm_epsilons[i]);
      add("fgsm-float", epsilon, r.fgsm_float_accuracy[i]);
      add("fgsm-as-trained", epsilon, r.fgsm_trained_accuracy[i]);
    }
  }
  return render_csv(table);
}

std::string comparison_json(const ComparisonResult& result) {
  Json json = Json::object();
  json["format"] = "qplay-comparison";
  json["version"] = 1;
  json["experiment"] = experiment_to_json(result.settings.base);
  json["dataset"] = result.dataset;
  Json bits = Json::array();
  for (int b : result.settings.weight_bits) bits.push_back(b);
  json["weight_bits"] = std::move(bits);
  Json epsilons = Json::array();
  for (double e : result.settings.fgsm_epsilons) epsilons.push_back(e);
  json["fgsm_epsilons"] = std::move(epsilons);
  Json runs = Json::array();
  auto numbers = [](const std::vector<double>& values) {
    Json array = Json::array();
    for (double v : values) array.push_back(v);
    return array;
  };
  for (const ComparisonRun& r : result.runs) {
    Json run = Json::object();
    run["method"] = r.method;
    run["seed"] = static_cast<double>(r.seed);
    run["float_accuracy"] = r.float_accuracy;
    run["float_loss"] = r.float_loss;
    run["float_weights_are_latent"] = r.float_weights_are_latent;
    run["per_tensor_accuracy"] = numbers(r.per_tensor_accuracy);
    run["per_channel_accuracy"] = numbers(r.per_channel_accuracy);
    run["per_tensor_flip_rate"] = numbers(r.per_tensor_flip_rate);
    run["per_channel_flip_rate"] = numbers(r.per_channel_flip_rate);
    run["per_tensor_low_margin_flip_rate"] = numbers(r.per_tensor_low_margin_flip_rate);
    run["per_channel_low_margin_flip_rate"] = numbers(r.per_channel_low_margin_flip_rate);
    run["train_loss"] = r.train_loss;
    run["train_accuracy"] = r.train_accuracy;
    run["test_loss"] = r.test_loss;
    run["test_accuracy"] = r.test_accuracy;
    run["training_seconds"] = r.training_seconds;
    run["fgsm_float_accuracy"] = numbers(r.fgsm_float_accuracy);
    run["fgsm_trained_accuracy"] = numbers(r.fgsm_trained_accuracy);
    run["readouts"] = method_readouts_json(r.readouts);
    runs.push_back(std::move(run));
  }
  json["runs"] = std::move(runs);
  // Each method against the first, paired by seed, per granularity and bit-width.
  Json differences = Json::array();
  for (size_t m = 1; m < result.settings.methods.size(); ++m) {
    for (bool per_channel : {false, true}) {
      for (size_t i = 0; i < result.settings.weight_bits.size(); ++i) {
        const PairedDifference d = paired_difference_of(
            result, result.settings.methods[m], result.settings.methods.front(), [&](const ComparisonRun& r) {
              return per_channel ? r.per_channel_accuracy[i] : r.per_tensor_accuracy[i];
            });
        Json entry = Json::object();
        entry["method"] = result.settings.methods[m];
        entry["reference"] = result.settings.methods.front();
        entry["granularity"] = per_channel ? "per-channel" : "per-tensor";
        entry["weight_bits"] = result.settings.weight_bits[i];
        entry["accuracy_difference"] = d.mean;
        entry["low"] = d.low;
        entry["high"] = d.high;
        entry["pairs"] = d.pairs;
        entry["verdict"] = std::string(paired_verdict(d));
        differences.push_back(std::move(entry));
      }
    }
  }
  json["paired_differences"] = std::move(differences);
  return to_json(json) + "\n";
}

// Mean accuracy against weight bits: a solid line per method per tensor, dashed per channel.
std::string comparison_svg(const ComparisonResult& result) {
  LinePlot plot;
  plot.title = "Accuracy after post-training quantization: " + result.dataset + ", " + result.settings.base.architecture;
  plot.x_label = "weight bits (activations float)";
  plot.y_label = "test accuracy (%), mean over " + std::to_string(result.settings.seeds.size()) + " seeds";
  std::vector<int> bits = result.settings.weight_bits;
  std::sort(bits.begin(), bits.end());
  for (int b : bits) plot.x_ticks.push_back(b);
  for (bool per_channel : {false, true}) {
    for (const std::string& method : result.settings.methods) {
      PlotSeries series;
      series.label = method + (per_channel ? ", per channel" : ", per tensor");
      series.dashed = per_channel;
      for (int b : bits) {
        const size_t i = std::find(result.settings.weight_bits.begin(), result.settings.weight_bits.end(), b) -
                         result.settings.weight_bits.begin();
        series.x.push_back(b);
        series.y.push_back(100 * mean_and_spread(values_of(result, method, [&](const ComparisonRun& r) {
                                   return per_channel ? r.per_channel_accuracy[i] : r.per_tensor_accuracy[i];
                                 })).mean);
      }
      plot.series.push_back(std::move(series));
    }
  }
  plot.reference_y = 100 * mean_and_spread(values_of(result, result.settings.methods.front(),
                                                     [](auto& r) { return r.float_accuracy; })).mean;
  plot.reference_label = result.settings.methods.front() + " in float";
  plot.y_min = 0;
  plot.y_max = 100;
  return render_svg(plot);
}

}  // namespace

// Each method of --methods from each seed of --seeds, weights quantized to --compare_weight_bits per tensor and
// per channel, activations in float.
SettingScope compare_scope(const std::vector<std::string>& methods) {
  return {{"data", "model", "training", "quantization", "compute"},
          {},
          {{"method", "compare trains the methods of --methods"},
           {"seed", "compare trains from the seeds of --seeds"},
           {"weight_bits", "compare quantizes the weights to the widths of --compare_weight_bits"},
           {"activation_bits", "compare quantizes weights only; activations stay in float"},
           {"granularity", "compare reports both per-tensor and per-channel weights"}},
          methods};
}

int compare_command(const std::vector<std::string>& arguments) {
  int exit_code = kExitSuccess;
  std::optional<ParsedCommandLine> parsed = parse_command(
      "compare",
      "Trains each method on the same data from the same seeds and compares how much test accuracy each keeps "
      "when its weights are quantized after training, per tensor and per channel. Every experiment setting "
      "below applies to all methods (data, architecture, epochs, and each method's knobs).",
      kCompareFlags, arguments, exit_code);
  if (!parsed) return exit_code;
  Result<Experiment> experiment = experiment_from_command_line(*parsed);
  if (!experiment) return report_bad_input("compare", experiment.status());
  Result<std::vector<std::string>> methods = parse_method_list(parsed->flag("methods"));
  if (!methods) return report_bad_input("compare", methods.status().with_context("--methods"));
  Experiment context = *experiment;
  context.activation_bits = 0;
  if (Status status = check_settings_are_read("compare", *parsed, context, compare_scope(*methods)); !status)
    return report_bad_input("compare", status);
  Result<std::vector<int64_t>> seeds = parse_seeds(parsed->flag("seeds"));
  if (!seeds) return report_bad_input("compare", seeds.status());
  Result<std::vector<int>> bits = parse_bit_list(parsed->flag("compare_weight_bits"), 1, "compare_weight_bits");
  if (!bits) return report_bad_input("compare", bits.status());
  Result<std::vector<double>> epsilons = parse_epsilons(parsed->flag("fgsm_epsilons"));
  if (!epsilons) return report_bad_input("compare", epsilons.status());
  char* end = nullptr;
  const long fgsm_samples = std::strtol(parsed->flag("fgsm_samples").c_str(), &end, 10);
  if (*end != '\0' || fgsm_samples < 1 || fgsm_samples > 1000000) {
    return report_bad_input("compare", Status::error("--fgsm_samples must be from 1 to 1000000"));
  }

  ComparisonSettings settings;
  settings.base = *experiment;
  settings.methods = *methods;
  settings.seeds = *seeds;
  settings.weight_bits = *bits;
  settings.fgsm_epsilons = *epsilons;
  settings.fgsm_samples = static_cast<int>(fgsm_samples);
  std::printf("comparing %zu methods x %zu seeds: %s, %s, %d epochs\n", settings.methods.size(),
              settings.seeds.size(), settings.base.dataset.c_str(), settings.base.architecture.c_str(),
              settings.base.epochs);
  ProgressBar bar("compare", true);
  Result<ComparisonResult> result =
      run_comparison(settings, [&](double fraction, const std::string& what) { bar.update(fraction, what); });
  bar.finish("");
  if (!result) {
    std::fprintf(stderr, "qplay-cli compare: %s\n", result.message().c_str());
    return result.message().find("training stopped") != std::string::npos ? kExitFailure : kExitBadInput;
  }
  std::printf("\n%s, %s: test accuracy (%%, mean ± std over %zu seeds), weights quantized per tensor\n\n%s",
              result->dataset.c_str(), settings.base.architecture.c_str(), settings.seeds.size(),
              render_text_table(accuracy_table(*result, false)).c_str());
  std::printf("\nper channel\n\n%s", render_text_table(accuracy_table(*result, true)).c_str());
  for (const ComparisonRun& run : result->runs) {
    if (!run.float_weights_are_latent) continue;
    std::printf("\n(latent): the float weights of a method that deploys quantized ones (qreg, cpq, raq) are latent "
                "masters it never ships; the model as trained is in the generalization table\n");
    break;
  }
  std::printf("\nprediction flips (%% of test samples whose class changes from float), per tensor\n\n%s",
              render_text_table(flip_table(*result, false, false)).c_str());
  std::printf("\nper channel\n\n%s", render_text_table(flip_table(*result, true, false)).c_str());
  std::printf("\namong the quarter of test samples the float model decides most narrowly, per tensor\n\n%s",
              render_text_table(flip_table(*result, false, true)).c_str());
  std::printf("\nper channel\n\n%s", render_text_table(flip_table(*result, true, true)).c_str());
  if (result->settings.methods.size() > 1) {
    std::printf("\naccuracy minus %s's, paired by seed (percentage points, mean [95%% interval] verdict), per tensor\n\n%s",
                result->settings.methods.front().c_str(), render_text_table(paired_table(*result, false)).c_str());
    std::printf("\nper channel\n\n%s", render_text_table(paired_table(*result, true)).c_str());
  }
  if (!settings.fgsm_epsilons.empty()) {
    std::printf("\nFGSM accuracy (%%, first %d test samples), the model as trained (raq: 2-bit, qreg: its QAT grid)\n\n%s",
                settings.fgsm_samples, render_text_table(fgsm_table(*result, true)).c_str());
    std::printf("\nFGSM accuracy (%%), float weights\n\n%s", render_text_table(fgsm_table(*result, false)).c_str());
  }
  std::printf("\ngeneralization (last epoch, the model as trained)\n\n%s",
              render_text_table(generalization_table(*result)).c_str());
  struct Output {
    std::string path, text;
  };
  for (const Output& output :
       {Output{parsed->flag("csv"), parsed->flag("csv").empty() ? "" : comparison_csv(*result)},
        Output{parsed->flag("json"), parsed->flag("json").empty() ? "" : comparison_json(*result)},
        Output{parsed->flag("svg"), parsed->flag("svg").empty() ? "" : comparison_svg(*result)}}) {
    if (output.path.empty()) continue;
    mention_leftovers("compare", output.path);
    if (Status status = write_text_file_atomically(output.path, output.text); !status) {
      return report_bad_input("compare", status);
    }
    std::printf("wrote %s\n", output.path.c_str());
  }
  return kExitSuccess;
}

}  // namespace qplay::cli

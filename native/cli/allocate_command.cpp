// qplay-cli allocate: per-layer weight bits for a saved model under a budget (average bits per weight or
// KB), by uniform bits, measured sensitivity and the Hessian-trace criterion (train/bit_allocation.h),
// each evaluated on the test split; with --pareto a sweep of budgets and each method's Pareto front.
#include <algorithm>
#include <charconv>
#include <cstdio>

#include "core/engine/train/sweep.h"
#include "native/cli/allocate_report.h"
#include "native/cli/cli_common.h"
#include "native/cli/commands.h"
#include "native/cli/progress_bar.h"

namespace qplay::cli {

const std::vector<CommandFlag> kAllocateFlags = {
    {"model", "the model file to allocate bits for", "", true},
    {"budget_bits",
     "the budget in average bits per weight, 2 or more (default 4 when --budget_kb is not given)", ""},
    {"budget_kb", "the budget as the model's size in KB (1024 bytes; deploy/model_size.h's count)", ""},
    {"allocation", "the methods, a list of measured, hessian, uniform", "measured,hessian,uniform"},
    {"pareto",
     "1: allocate at average-bit budgets 2, 2.5, ..., 8 and mark each method's accuracy-vs-size front", "0"},
    {"allocation_samples",
     "training samples (drawn with --seed) on which measured sensitivity and the Hessian traces are computed",
     "1000"},
    {"hutchinson_samples", "Rademacher vectors for the Hutchinson Hessian-trace estimate", "32"},
    {"out", "write the allocations to this path: .json or .csv", ""},
    {"svg", "write an SVG plot of test accuracy against model size to this path", ""},
    {"experiment", "an experiment JSON file whose settings override the model's", ""},
};

namespace {

// A saved model's data (the seed draws a toy set and the calibration rows) and how it is quantized; the
// weight bits are what the command chooses.
const SettingScope kAllocateScope = {
    {"data", "quantization", "compute"},
    {"seed"},
    {{"weight_bits", "allocate chooses the per-layer weight bits under --budget_bits or --budget_kb"}},
    {},
    {}};

Result<std::vector<AllocationMethod>> parse_methods(const std::string& text) {
  std::vector<AllocationMethod> methods;
  for (const std::string& name : split_list(text)) {
    std::optional<AllocationMethod> method = parse_choice<AllocationMethod>(name);
    if (!method) {
      return Status::error("--allocation: unknown method '" + name +
                           "', use a list of measured, hessian, uniform");
    }
    if (std::find(methods.begin(), methods.end(), *method) == methods.end()) methods.push_back(*method);
  }
  return methods;
}

// The budgets to allocate at: --pareto's sweep, or the one budget the flags give.
Result<std::vector<BitBudget>> parse_budgets(const ParsedCommandLine& parsed, bool pareto) {
  const bool bits_given = parsed.has("budget_bits"), kb_given = parsed.has("budget_kb");
  if (bits_given && kb_given) return Status::error("give --budget_bits or --budget_kb, not both");
  if (pareto) {
    if (bits_given || kb_given)
      return Status::error("--pareto sweeps its own budgets; drop --budget_bits/--budget_kb");
    std::vector<BitBudget> budgets;
    for (double bits : default_pareto_budgets()) budgets.push_back({BudgetKind::average_bits, bits});
    return budgets;
  }
  if (!kb_given && !bits_given) return std::vector<BitBudget>{{BudgetKind::average_bits, 4}};
  const std::string name = kb_given ? "budget_kb" : "budget_bits";
  const std::string& text = parsed.flag(name);
  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size())
    return Status::error("--" + name + " must be a number, got '" + text + "'");
  // NaN, negative and too small budgets are the allocator's to refuse: it names the smallest model.
  return std::vector<BitBudget>{{kb_given ? BudgetKind::kilobytes : BudgetKind::average_bits, value}};
}

std::string output_extension(const std::string& path) {
  const size_t dot = path.rfind('.');
  return dot == std::string::npos ? "" : path.substr(dot);
}

}  // namespace

int allocate_command(const std::vector<std::string>& arguments) {
  int exit_code = kExitSuccess;
  std::optional<ParsedCommandLine> parsed = parse_command(
      "allocate",
      "Chooses per-layer weight bits (2..8) for a saved model under a budget, by measured "
      "sensitivity, by the Hessian-trace criterion (HAWQ-v2) and uniformly, and evaluates each on "
      "the test split. Granularity, symmetry, range method and activation bits come from the "
      "settings below.",
      kAllocateFlags, arguments, exit_code);
  if (!parsed) return exit_code;
  auto bad = [](const Status& status) { return report_bad_input("allocate", status); };
  Result<std::vector<AllocationMethod>> methods = parse_methods(parsed->flag("allocation"));
  if (!methods) return bad(methods.status());
  const std::string& pareto_flag = parsed->flag("pareto");
  if (pareto_flag != "0" && pareto_flag != "1") return bad(Status::error("--pareto must be 0 or 1"));
  const bool pareto = pareto_flag == "1";
  Result<std::vector<BitBudget>> budgets = parse_budgets(*parsed, pareto);
  if (!budgets) return bad(budgets.status());
  Result<long> allocation_samples = parse_integer_flag(*parsed, "allocation_samples", 1, 1'000'000);
  if (!allocation_samples) return bad(allocation_samples.status());
  Result<long> hutchinson_samples = parse_integer_flag(*parsed, "hutchinson_samples", 1, 100'000);
  if (!hutchinson_samples) return bad(hutchinson_samples.status());
  const std::string& out = parsed->flag("out");
  const std::string out_extension = output_extension(out);
  if (!out.empty() && out_extension != ".json" && out_extension != ".csv")
    return bad(Status::error("--out must end in .json or .csv, got '" + out + "'"));

  Result<LoadedModel> model = load_model_for_command(*parsed);
  if (!model) return bad(model.status());
  const Experiment& e = model->experiment;
  if (Status status = check_settings_are_read("allocate", *parsed, e, kAllocateScope); !status)
    return bad(status);
  Network<float>& network = *model->network;
  const Dataset& dataset = *model->dataset;

  AllocationOptions options;
  options.base = make_quantization_setting(e, 0, e.activation_bits);
  options.calibration_samples = static_cast<int>(*allocation_samples);
  options.hutchinson_samples = static_cast<int>(*hutchinson_samples);
  options.seed = static_cast<uint64_t>(e.seed);
  options.activation_calibration_samples = e.calibration_samples;
  Result<BitAllocator> allocator = BitAllocator::create(network, dataset, options);
  if (!allocator) return bad(allocator.status());
  for (const BitBudget& budget : *budgets)
    if (Status status = allocator->check_budget(budget); !status) return bad(status);

  ProgressBar bar("allocate", true);
  Result<std::vector<AllocationPoint>> points = allocation_pareto_fronts(
      *allocator, network, dataset, *methods, *budgets, e.calibration_samples, [&](int done, int total) {
        bar.update(double(done) / total, std::to_string(done) + "/" + std::to_string(total));
      });
  bar.finish("");
  if (!points) return bad(points.status());

  AllocationReport report;
  report.points = std::move(points).value();
  report.layers = allocator->weighted_layers();
  report.layer_weights = allocator->layer_weights();
  if (const LayerHessianTraces* traces = allocator->hessian_traces()) report.hessian_traces = traces->traces;
  report.float_test = evaluate(network, dataset.test_x, dataset.test_y);
  report.allocation_samples = options.calibration_samples;
  report.hutchinson_samples = options.hutchinson_samples;
  report.pareto = pareto;
  std::printf("%s: %s on %s, %s %s weights, %s activations; calibration on %d training samples\n\n%s",
              parsed->flag("model").c_str(), e.architecture.c_str(), dataset.name.c_str(),
              std::string(choice_name(e.granularity)).c_str(), std::string(choice_name(e.symmetry)).c_str(),
              e.activation_bits == 0 ? "float" : (std::to_string(e.activation_bits) + "-bit").c_str(),
              std::min<int>(options.calibration_samples, static_cast<int>(dataset.train_size())),
              allocation_text(report).c_str());
  const std::string title = "Accuracy vs size: " + dataset.name + ", " + e.architecture;
  std::string out_text;
  if (out_extension == ".json") out_text = allocation_json(report, e);
  if (out_extension == ".csv") out_text = allocation_csv(report);
  if (Status status = write_report_files(
          "allocate",
          {{out, out_text},
           {parsed->flag("svg"), parsed->flag("svg").empty() ? "" : allocation_svg(report, title)}});
      !status) {
    return bad(status);
  }
  return kExitSuccess;
}

}  // namespace qplay::cli

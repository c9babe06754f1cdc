#include "native/cli/allocate_report.h"

#include <algorithm>

#include "core/engine/base/number_format.h"
#include "core/engine/experiment/state_table.h"
#include "core/engine/io/json.h"
#include "core/engine/report/svg_plot.h"
#include "core/engine/report/text_table.h"

namespace qplay::cli {
namespace {

std::string budget_kind_name(BudgetKind kind) {
  return kind == BudgetKind::average_bits ? "average_bits" : "kb";
}

std::string budget_label(const BitBudget& budget) {
  return format_json_number(budget.value) + (budget.kind == BudgetKind::average_bits ? " bits" : " KB");
}

std::vector<int> weighted_bits(const AllocationReport& report, const BitAllocation& allocation) {
  std::vector<int> bits;
  for (int layer : report.layers) bits.push_back(allocation.setting.weight_bits_per_layer[layer]);
  return bits;
}

std::string layer_header(const AllocationReport& report, size_t l) {
  return "layer " + std::to_string(report.layers[l]) + " (" + std::to_string(report.layer_weights[l]) + ")";
}

}  // namespace

std::string allocation_text(const AllocationReport& report) {
  TextTable table;
  table.header = {"method", "budget"};
  for (size_t l = 0; l < report.layers.size(); ++l) table.header.push_back(layer_header(report, l));
  for (const char* column : {"avg bits", "size KB", "test acc", "test loss", "cost", "evals", "HVPs", "ms"})
    table.header.push_back(column);
  if (report.pareto) table.header.push_back("front");
  for (const AllocationPoint& point : report.points) {
    const BitAllocation& a = point.allocation;
    std::vector<std::string> row = {std::string(choice_name(a.method)), budget_label(a.budget)};
    for (int bits : weighted_bits(report, a)) row.push_back(std::to_string(bits));
    row.insert(row.end(), {format_fixed(a.size.average_weight_bits, 2), format_fixed(a.size.kilobytes(), 2),
                           format_percent(point.test.accuracy, 2), format_fixed(point.test.loss, 4),
                           format_double("%.3g", a.cost), std::to_string(a.evaluations),
                           std::to_string(a.hessian_vector_products), format_fixed(a.milliseconds, 1)});
    if (report.pareto) row.push_back(point.on_front ? "*" : "");
    table.rows.push_back(std::move(row));
  }
  std::string text = render_text_table(table);
  text += "float model: " + format_percent(report.float_test.accuracy, 2) + " test accuracy, loss " +
          format_fixed(report.float_test.loss, 4) + "\n";
  text += "layer (n): weights in the layer; cost: calibration loss (uniform, measured) or Σ Ω (hessian)";
  text += report.pareto ? "; front: on the method's accuracy-vs-size Pareto front\n" : "\n";
  if (!report.hessian_traces.empty()) {
    text += "Hessian trace per weight (Tr(H_l)/n_l):";
    for (size_t l = 0; l < report.layers.size(); ++l)
      text += " layer " + std::to_string(report.layers[l]) + " " +
              format_double("%.3g", report.hessian_traces[l] / double(report.layer_weights[l]));
    text += "\n";
  }
  return text;
}

std::string allocation_csv(const AllocationReport& report) {
  TextTable table;
  table.header = {"method", "budget_kind", "budget"};
  for (int layer : report.layers) table.header.push_back("bits_layer_" + std::to_string(layer));
  for (const char* column : {"average_bits", "size_bytes", "size_kb", "test_accuracy", "test_loss", "cost",
                             "evaluations", "hessian_vector_products", "milliseconds", "on_front"})
    table.header.push_back(column);
  for (const AllocationPoint& point : report.points) {
    const BitAllocation& a = point.allocation;
    std::vector<std::string> row = {std::string(choice_name(a.method)), budget_kind_name(a.budget.kind),
                                    format_json_number(a.budget.value)};
    for (int bits : weighted_bits(report, a)) row.push_back(std::to_string(bits));
    row.insert(row.end(), {format_fixed(a.size.average_weight_bits, 6), std::to_string(a.size.bytes),
                           format_fixed(a.size.kilobytes(), 6), format_fixed(point.test.accuracy, 6),
                           format_fixed(point.test.loss, 6), format_double("%.9g", a.cost),
                           std::to_string(a.evaluations), std::to_string(a.hessian_vector_products),
                           format_fixed(a.milliseconds, 3), point.on_front ? "1" : "0"});
    table.rows.push_back(std::move(row));
  }
  return render_csv(table);
}

std::string allocation_json(const AllocationReport& report, const Experiment& experiment) {
  Json json = Json::object();
  json["format"] = "qplay-allocation";
  json["version"] = 1;
  json["experiment"] = experiment_to_json(experiment);
  json["allocation_samples"] = report.allocation_samples;
  json["hutchinson_samples"] = report.hutchinson_samples;
  Json layers = Json::array();
  for (size_t l = 0; l < report.layers.size(); ++l) {
    Json layer = Json::object();
    layer["layer"] = report.layers[l];
    layer["weights"] = static_cast<double>(report.layer_weights[l]);
    if (!report.hessian_traces.empty()) layer["hessian_trace"] = report.hessian_traces[l];
    layers.push_back(std::move(layer));
  }
  json["layers"] = std::move(layers);
  Json float_model = Json::object();
  float_model["test_accuracy"] = report.float_test.accuracy;
  float_model["test_loss"] = report.float_test.loss;
  json["float"] = std::move(float_model);
  Json allocations = Json::array();
  for (const AllocationPoint& point : report.points) {
    const BitAllocation& a = point.allocation;
    Json row = Json::object();
    row["method"] = choice_name(a.method);
    row["budget_kind"] = budget_kind_name(a.budget.kind);
    row["budget"] = a.budget.value;
    Json bits = Json::array();
    for (int b : weighted_bits(report, a)) bits.push_back(b);
    row["weight_bits"] = std::move(bits);
    row["average_bits"] = a.size.average_weight_bits;
    row["size_bytes"] = static_cast<double>(a.size.bytes);
    row["size_kb"] = a.size.kilobytes();
    row["test_accuracy"] = point.test.accuracy;
    row["test_loss"] = point.test.loss;
    row["cost"] = a.cost;
    row["evaluations"] = a.evaluations;
    row["hessian_vector_products"] = a.hessian_vector_products;
    row["milliseconds"] = a.milliseconds;
    row["on_front"] = point.on_front;
    allocations.push_back(std::move(row));
  }
  json["allocations"] = std::move(allocations);
  return to_json(json) + "\n";
}

std::string allocation_svg(const AllocationReport& report, const std::string& title) {
  LinePlot plot;
  plot.title = title;
  plot.x_label = "model size (KB)";
  plot.y_label = "test accuracy (%)";
  for (AllocationMethod method :
       {AllocationMethod::uniform, AllocationMethod::measured, AllocationMethod::hessian}) {
    std::vector<const AllocationPoint*> front;
    for (const AllocationPoint& point : report.points)
      if (point.allocation.method == method && (point.on_front || !report.pareto)) front.push_back(&point);
    if (front.empty()) continue;
    std::sort(front.begin(), front.end(), [](const AllocationPoint* a, const AllocationPoint* b) {
      return a->allocation.size.bytes < b->allocation.size.bytes;
    });
    PlotSeries series;
    series.label = std::string(choice_name(method));
    series.dashed = method == AllocationMethod::uniform;
    for (const AllocationPoint* point : front) {
      series.x.push_back(point->allocation.size.kilobytes());
      series.y.push_back(100 * point->test.accuracy);
    }
    plot.series.push_back(std::move(series));
  }
  plot.reference_y = 100 * report.float_test.accuracy;
  plot.reference_label = "float model";
  return render_svg(plot);
}

}  // namespace qplay::cli

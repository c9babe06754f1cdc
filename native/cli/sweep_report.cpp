#include "native/cli/sweep_report.h"

#include "core/engine/deploy/model_size.h"

#include <algorithm>
#include <cstdio>

#include "core/engine/experiment/state_table.h"
#include "core/engine/io/file_util.h"
#include "core/engine/io/json.h"
#include "core/engine/lab/decision_flips.h"
#include "core/engine/lab/lab_card.h"
#include "core/engine/report/accuracy_card.h"
#include "core/engine/report/svg_plot.h"
#include "core/engine/report/text_table.h"
#include "native/cli/cli_common.h"

namespace qplay::cli {
namespace {

std::string bits_label(int bits) { return bits == 0 ? "float" : std::to_string(bits); }

// Distinct bit-widths in first-seen order, skipping the float reference point.
std::vector<int> distinct(const std::vector<SweepPoint>& points, int SweepPoint::*field) {
  std::vector<int> values;
  for (size_t i = 1; i < points.size(); ++i) {
    int v = points[i].*field;
    if (std::find(values.begin(), values.end(), v) == values.end()) values.push_back(v);
  }
  return values;
}

const SweepPoint* find_point(const std::vector<SweepPoint>& points, int weight_bits, int activation_bits) {
  for (size_t i = 1; i < points.size(); ++i) {
    if (points[i].weight_bits == weight_bits && points[i].activation_bits == activation_bits)
      return &points[i];
  }
  return nullptr;
}

}  // namespace

std::string sweep_text_table(const std::vector<SweepPoint>& points) {
  TextTable table;
  table.header = {"weight bits"};
  std::vector<int> activation_bits = distinct(points, &SweepPoint::activation_bits);
  for (int a : activation_bits) table.header.push_back("act " + bits_label(a));
  for (int w : distinct(points, &SweepPoint::weight_bits)) {
    std::vector<std::string> row = {bits_label(w)};
    for (int a : activation_bits) {
      const SweepPoint* p = find_point(points, w, a);
      row.push_back(p ? format_percent(p->test.accuracy, 1) : "");
    }
    table.rows.push_back(row);
  }
  std::string text = render_text_table(table);
  if (!points.empty())
    text += "float model: " + format_percent(points.front().test.accuracy, 1) + " test accuracy\n";
  return text;
}

std::string sweep_csv(const std::vector<SweepPoint>& points) {
  TextTable table;
  table.header = {"weight_bits", "activation_bits", "test_accuracy", "test_loss", "samples"};
  for (const SweepPoint& p : points) {
    table.rows.push_back({bits_label(p.weight_bits), bits_label(p.activation_bits),
                          format_fixed(p.test.accuracy, 6), format_fixed(p.test.loss, 6),
                          std::to_string(p.test.samples)});
  }
  return render_csv(table);
}

std::string sweep_json(const std::vector<SweepPoint>& points, const Experiment& experiment) {
  Json json = Json::object();
  json["format"] = "qplay-sweep";
  json["version"] = 1;
  json["experiment"] = experiment_to_json(experiment);
  Json rows = Json::array();
  for (const SweepPoint& p : points) {
    Json row = Json::object();
    row["weight_bits"] = p.weight_bits == 0 ? Json("float") : Json(p.weight_bits);
    row["activation_bits"] = p.activation_bits == 0 ? Json("float") : Json(p.activation_bits);
    row["test_accuracy"] = p.test.accuracy;
    row["test_loss"] = p.test.loss;
    row["samples"] = static_cast<double>(p.test.samples);
    rows.push_back(std::move(row));
  }
  json["points"] = std::move(rows);
  return to_json(json) + "\n";
}

LinePlot sweep_plot(const std::vector<SweepPoint>& points, const std::string& title) {
  LinePlot plot;
  plot.title = title;
  plot.x_label = "weight bits";
  plot.y_label = "test accuracy (%)";
  std::vector<int> weight_bits = distinct(points, &SweepPoint::weight_bits);
  std::sort(weight_bits.begin(), weight_bits.end());
  for (int w : weight_bits) {
    plot.x_ticks.push_back(w);
    plot.x_tick_labels.push_back(bits_label(w));
  }
  for (int a : distinct(points, &SweepPoint::activation_bits)) {
    PlotSeries series;
    series.label = a == 0 ? "float activations" : std::to_string(a) + "-bit activations";
    for (int w : weight_bits) {
      if (const SweepPoint* p = find_point(points, w, a)) {
        series.x.push_back(w);
        series.y.push_back(100 * p->test.accuracy);
      }
    }
    plot.series.push_back(std::move(series));
  }
  if (!points.empty()) {
    plot.reference_y = 100 * points.front().test.accuracy;
    plot.reference_label = "float model";
  }
  plot.y_min = 0;
  plot.y_max = 100;
  return plot;
}

std::string sweep_svg(const std::vector<SweepPoint>& points, const std::string& title) {
  return render_svg(sweep_plot(points, title));
}

Status write_sweep_card(LoadedModel& model, const std::vector<SweepPoint>& points, const std::string& path) {
  const Experiment& e = model.experiment;
  Network<float>& network = *model.network;
  const QuantizationSetting chosen = make_quantization_setting(e, e.weight_bits, e.activation_bits);
  const QuantizationSetting in_float = make_quantization_setting(e, 0, 0);
  std::vector<int32_t> float_predictions, chosen_predictions;
  const Evaluation float_result =
      evaluate_quantized(network, *model.dataset, in_float, e.calibration_samples, &float_predictions);
  const Evaluation chosen_result =
      evaluate_quantized(network, *model.dataset, chosen, e.calibration_samples, &chosen_predictions);
  // Without the float margins: the sweep does not keep logits, and the card's one flip number is the rate.
  const DecisionFlips flips = count_decision_flips(float_predictions, chosen_predictions, {});
  AccuracyCard card;
  card.title = model.dataset->name + ", " + e.architecture + ", " + std::string(choice_name(e.method));
  card.plot = sweep_plot(points, "Test accuracy vs weight bits");
  const std::string bits = "W" + std::to_string(e.weight_bits) + "A" +
                           (e.activation_bits ? std::to_string(e.activation_bits) : std::string("float"));
  card.settings = experiment_card_rows(e, model.dataset->name, std::to_string(e.weight_bits));
  card.numbers = {
      {"float accuracy", format_percent(float_result.accuracy, 1)},
      {"accuracy at " + bits, format_percent(chosen_result.accuracy, 1)},
      {"flip rate at " + bits, format_percent(flips.rate(), 1)},
      {"model size", format_fixed(model_size(network.architecture(), chosen).kilobytes(), 1) + " KB (float " +
                         format_fixed(model_size(network.architecture(), in_float).kilobytes(), 1) + " KB)"}};
  mention_leftovers("sweep", path);
  if (Status status = write_text_file_atomically(path, render_accuracy_card(card)); !status) return status;
  std::printf("wrote %s\n", path.c_str());
  return {};
}

Status write_sweep_outputs(const std::vector<SweepPoint>& points, const Experiment& experiment,
                           const SweepOutputPaths& paths, const std::string& plot_title) {
  return write_report_files("sweep", {{paths.csv, paths.csv.empty() ? "" : sweep_csv(points)},
                                      {paths.json, paths.json.empty() ? "" : sweep_json(points, experiment)},
                                      {paths.svg, paths.svg.empty() ? "" : sweep_svg(points, plot_title)}});
}

}  // namespace qplay::cli

#include "native/cli/compare_report.h"

#include <algorithm>
#include <cmath>

#include "core/engine/experiment/state_table.h"
#include "core/engine/io/json.h"
#include "core/engine/report/svg_plot.h"
#include "core/engine/report/text_table.h"

namespace qplay::cli {

namespace {

using Value = std::function<double(const ComparisonRun&)>;

std::string percent_cell(const std::vector<double>& values) {
  const MeanAndSpread s = mean_and_spread(values);
  return format_fixed(100 * s.mean, 1) + " ± " + format_fixed(100 * s.std, 1);
}

std::string difference_cell(const PairedDifference& d, double scale, int decimals) {
  return format_fixed(scale * d.mean, decimals) + " [" + format_fixed(scale * d.low, decimals) + ", " +
         format_fixed(scale * d.high, decimals) + "]";
}

std::vector<std::string> arm_labels(const ComparisonResult& result) {
  std::vector<std::string> labels;
  for (const ComparisonArm& arm : result.settings.arms) labels.push_back(arm.label);
  return labels;
}

// The points share activation bits, granularity and range method in groups of weight_bits.size(): one
// table per group, a column per weight bit-width.
struct PointGroup {
  std::string title;
  size_t first = 0;  // index of its first point
};
std::vector<PointGroup> point_groups(const ComparisonResult& result) {
  std::vector<PointGroup> groups;
  const size_t width = result.settings.weight_bits.size();
  for (size_t first = 0; first < result.points.size(); first += width) {
    const EvaluationPoint& p = result.points[first];
    groups.push_back({std::string("activations ") +
                          (p.activation_bits ? std::to_string(p.activation_bits) + "-bit" : "float") +
                          ", weights " + p.granularity + ", " + p.range_method + " ranges",
                      first});
  }
  return groups;
}

std::vector<std::string> bits_header(const ComparisonResult& result, std::vector<std::string> header) {
  for (int bits : result.settings.weight_bits) header.push_back("W" + std::to_string(bits));
  return header;
}

// A row per arm of `arms`, a column per weight bit-width of the group: cell(arm, index into result.points).
TextTable bits_table(const ComparisonResult& result, const PointGroup& group,
                     const std::vector<std::string>& arms,
                     const std::function<std::string(const std::string& arm, size_t point)>& cell) {
  TextTable table;
  table.header = bits_header(result, {"arm"});
  for (const std::string& arm : arms) {
    std::vector<std::string> row = {arm};
    for (size_t i = 0; i < result.settings.weight_bits.size(); ++i) row.push_back(cell(arm, group.first + i));
    table.rows.push_back(std::move(row));
  }
  return table;
}

double mean_of(const ComparisonResult& result, const std::string& arm, const Value& value) {
  return mean_and_spread(values_of(result, arm, value)).mean;
}

// Accuracy, float first ("(latent)" for the float masters of a method that deploys quantized weights).
TextTable accuracy_table(const ComparisonResult& result, const PointGroup& group) {
  TextTable table = bits_table(result, group, arm_labels(result), [&](const std::string& arm, size_t p) {
    return percent_cell(
        values_of(result, arm, [p](const ComparisonRun& r) { return r.quantized[p].accuracy; }));
  });
  table.header.insert(table.header.begin() + 1, "float");
  for (std::vector<std::string>& row : table.rows) {
    const bool latent =
        values_of(result, row[0], [](auto& r) { return r.float_weights_are_latent; }).front() != 0;
    row.insert(row.begin() + 1,
               percent_cell(values_of(result, row[0], [](auto& r) { return r.float_accuracy; })) +
                   (latent ? " (latent)" : ""));
  }
  return table;
}

// Flips of all test samples / of the narrowly decided quarter, in percent.
TextTable flip_table(const ComparisonResult& result, const PointGroup& group) {
  return bits_table(result, group, arm_labels(result), [&](const std::string& arm, size_t p) {
    return format_fixed(100 * mean_of(result, arm, [p](auto& r) { return r.quantized[p].flip_rate; }), 1) +
           " / " +
           format_fixed(
               100 * mean_of(result, arm, [p](auto& r) { return r.quantized[p].low_margin_flip_rate; }), 1);
  });
}

// Each arm but the reference: its paired difference and verdict per point.
TextTable paired_table(const ComparisonResult& result, const std::vector<ComparisonVerdict>& verdicts,
                       const PointGroup& group) {
  std::vector<std::string> arms = arm_labels(result);
  arms.erase(arms.begin());
  return bits_table(result, group, arms, [&](const std::string& arm, size_t p) {
    for (const ComparisonVerdict& v : verdicts) {
      if (v.arm == arm && v.metric == "quantized accuracy" && v.setting == result.points[p].name())
        return difference_cell(v.difference, 100, 1) + " " + v.verdict;
    }
    return std::string();
  });
}

// Gradient-l1's first-order argument at float activations: the measured loss increase, the linear term
// delta.g and the bound sum max|delta| ||g||_1, means over the seeds.
TextTable first_order_table(const ComparisonResult& result, const PointGroup& group) {
  return bits_table(result, group, arm_labels(result), [&](const std::string& arm, size_t p) {
    return format_fixed(mean_of(result, arm, [p](auto& r) { return r.quantized[p].loss - r.float_loss; }),
                        3) +
           " / " +
           format_fixed(mean_of(result, arm, [p](auto& r) { return r.quantized[p].first_order_term; }), 3) +
           " / " +
           format_fixed(mean_of(result, arm, [p](auto& r) { return r.quantized[p].first_order_bound; }), 3);
  });
}

// Pearson correlation of the bound with the measured loss increase over every model and float-activation
// point.
std::optional<double> first_order_correlation(const ComparisonResult& result) {
  std::vector<double> bound, increase;
  for (const ComparisonRun& run : result.runs) {
    for (size_t p = 0; p < result.points.size(); ++p) {
      if (result.points[p].activation_bits != 0) continue;
      bound.push_back(run.quantized[p].first_order_bound);
      increase.push_back(run.quantized[p].loss - run.float_loss);
    }
  }
  if (bound.size() < 3) return std::nullopt;
  const double mb = mean_and_spread(bound).mean, mi = mean_and_spread(increase).mean;
  double sbi = 0, sbb = 0, sii = 0;
  for (size_t i = 0; i < bound.size(); ++i) {
    sbi += (bound[i] - mb) * (increase[i] - mi);
    sbb += (bound[i] - mb) * (bound[i] - mb);
    sii += (increase[i] - mi) * (increase[i] - mi);
  }
  if (sbb == 0 || sii == 0) return std::nullopt;
  return sbi / std::sqrt(sbb * sii);
}

TextTable fgsm_table(const ComparisonResult& result, bool as_trained) {
  TextTable table;
  table.header = {"arm"};
  for (double epsilon : result.settings.fgsm_epsilons)
    table.header.push_back("eps " + format_json_number(epsilon));
  for (const std::string& arm : arm_labels(result)) {
    std::vector<std::string> row = {arm};
    for (size_t i = 0; i < result.settings.fgsm_epsilons.size(); ++i) {
      row.push_back(percent_cell(values_of(result, arm, [&](const ComparisonRun& r) {
        return as_trained ? r.fgsm_trained_accuracy[i] : r.fgsm_float_accuracy[i];
      })));
    }
    table.rows.push_back(std::move(row));
  }
  return table;
}

TextTable generalization_table(const ComparisonResult& result) {
  TextTable table;
  table.header = {"arm", "train acc", "test acc", "test - train", "train loss", "test loss", "seconds"};
  auto cell = [](const std::vector<double>& v, int decimals) {
    const MeanAndSpread s = mean_and_spread(v);
    return format_fixed(s.mean, decimals) + " ± " + format_fixed(s.std, decimals);
  };
  for (const std::string& m : arm_labels(result)) {
    table.rows.push_back(
        {m, percent_cell(values_of(result, m, [](auto& r) { return r.train_accuracy; })),
         percent_cell(values_of(result, m, [](auto& r) { return r.test_accuracy; })),
         percent_cell(values_of(result, m, [](auto& r) { return r.test_accuracy - r.train_accuracy; })),
         cell(values_of(result, m, [](auto& r) { return r.train_loss; }), 3),
         cell(values_of(result, m, [](auto& r) { return r.test_loss; }), 3),
         cell(values_of(result, m, [](auto& r) { return r.training_seconds; }), 2)});
  }
  return table;
}

// Each non-grid verdict (as trained, FGSM, generalization) as a row.
TextTable other_verdicts_table(const std::vector<ComparisonVerdict>& verdicts) {
  TextTable table;
  table.header = {"arm",    "metric", "setting", "minus reference (points, 95%)", "reference's own effect",
                  "verdict"};
  for (const ComparisonVerdict& v : verdicts) {
    if (v.metric == "quantized accuracy") continue;
    table.rows.push_back({v.arm, v.metric, v.setting, difference_cell(v.difference, 100, 1),
                          v.reference_effect ? difference_cell(*v.reference_effect, 100, 1) : "", v.verdict});
  }
  return table;
}

std::string knob_text(const std::vector<std::pair<std::string, std::string>>& knobs) {
  std::string text;
  for (const auto& [key, value] : knobs) text += (text.empty() ? "" : ", ") + key + "=" + value;
  return text.empty() ? "(defaults)" : text;
}

Json difference_json(const PairedDifference& d) {
  Json json = Json::object();
  json["mean"] = d.mean;
  json["low"] = d.low;
  json["high"] = d.high;
  json["pairs"] = d.pairs;
  return json;
}

Json numbers_json(const std::vector<double>& values) {
  Json array = Json::array();
  for (double v : values) array.push_back(v);
  return array;
}

}  // namespace

std::string comparison_text(const ComparisonResult& result) {
  const ComparisonSettings& s = result.settings;
  std::string out = "\n" + result.dataset + ", " + s.base.architecture + ": " +
                    std::to_string(result.training_samples) + " training samples";
  if (result.validation_samples) out += ", " + std::to_string(result.validation_samples) + " validation";
  out += ", " + std::to_string(result.test_samples) + " test; " + std::to_string(s.seeds.size()) + " seeds";
  if (s.fine_tune_epochs) {
    out += "; every arm fine-tuned " + std::to_string(s.fine_tune_epochs) +
           " epochs from each seed's baseline checkpoint (" + std::to_string(s.base.epochs) + " epochs)";
  }
  // The sampling error of one model's accuracy on this test set, at the reference's mean accuracy.
  const double p =
      mean_and_spread(values_of(result, s.arms.front().label, [](auto& r) { return r.float_accuracy; })).mean;
  out += "\none model's test accuracy carries a sampling error of ±" +
         format_fixed(100 * 1.96 * std::sqrt(p * (1 - p) / double(std::max<size_t>(result.test_samples, 1))),
                      2) +
         " points (95%) from the test set's size alone\n";
  for (const ArmSelection& selection : result.selections) {
    out += "\n" + selection.arm + ": chosen on validation (" +
           (s.select_on == SelectionMetric::quantized_accuracy ? "mean quantized accuracy"
            : s.select_on == SelectionMetric::trained_accuracy ? "accuracy as trained"
                                                               : "loss as trained, lowest") +
           ", seed " + std::to_string(s.seeds.front()) + ")\n";
    for (size_t i = 0; i < selection.candidates.size(); ++i) {
      const double score = selection.validation_scores[i];
      out += std::string(i == selection.chosen ? "  * " : "    ") + knob_text(selection.candidates[i]) +
             ": " +
             (s.select_on == SelectionMetric::trained_loss ? format_fixed(-score, 4)
                                                           : format_fixed(100 * score, 2) + "%") +
             "\n";
    }
  }
  const std::vector<ComparisonVerdict> verdicts = comparison_verdicts(result);
  for (const PointGroup& group : point_groups(result)) {
    out += "\ntest accuracy (%, mean ± std over seeds), " + group.title + "\n\n" +
           render_text_table(accuracy_table(result, group));
    out += "\nprediction flips (% of all test samples / of the narrowest quarter), " + group.title + "\n\n" +
           render_text_table(flip_table(result, group));
    if (s.arms.size() > 1) {
      out += "\naccuracy minus " + s.arms.front().label +
             "'s, paired by seed (points, mean [95% interval] verdict), " + group.title + "\n\n" +
             render_text_table(paired_table(result, verdicts, group));
    }
    if (result.points[group.first].activation_bits == 0) {
      out +=
          "\nfirst-order argument: loss increase / delta.grad L / bound sum max|delta| ||grad L||_1 "
          "(means), " +
          group.title + "\n\n" + render_text_table(first_order_table(result, group));
    }
  }
  if (std::optional<double> r = first_order_correlation(result)) {
    out +=
        "\nthe bound's correlation with the measured loss increase over every model and float-activation "
        "point: " +
        format_fixed(*r, 3) + "\n";
  }
  for (const ComparisonRun& run : result.runs) {
    if (!run.float_weights_are_latent) continue;
    out +=
        "\n(latent): the float weights of a method that deploys quantized ones (qreg, cpq, raq) are latent "
        "masters it never ships; the model as trained is in the generalization table\n";
    break;
  }
  if (!s.fgsm_epsilons.empty()) {
    out += "\nFGSM accuracy (%, first " +
           std::to_string(std::min<size_t>(s.fgsm_samples, result.test_samples)) +
           " test samples), the model as trained (raq: 2-bit, qreg: its QAT grid)\n\n" +
           render_text_table(fgsm_table(result, true));
    out += "\nFGSM accuracy (%), float weights\n\n" + render_text_table(fgsm_table(result, false));
  }
  out += "\ngeneralization (last epoch, the model as trained)\n\n" +
         render_text_table(generalization_table(result));
  if (s.arms.size() > 1) {
    out += "\nagainst " + s.arms.front().label + ", paired by seed\n\n" +
           render_text_table(other_verdicts_table(verdicts));
  }
  return out;
}

std::string comparison_csv(const ComparisonResult& result) {
  TextTable table;
  table.header = {"arm", "method", "seed", "evaluation", "setting", "value"};
  for (const ComparisonRun& r : result.runs) {
    auto add = [&](const std::string& evaluation, const std::string& setting, double value) {
      table.rows.push_back(
          {r.arm, r.method, std::to_string(r.seed), evaluation, setting, format_fixed(value, 6)});
    };
    add("float-accuracy", "", r.float_accuracy);
    add("float-loss", "", r.float_loss);
    for (size_t p = 0; p < result.points.size(); ++p) {
      const std::string setting = result.points[p].name();
      const QuantizedScore& q = r.quantized[p];
      add("quantized-accuracy", setting, q.accuracy);
      add("quantized-loss", setting, q.loss);
      add("flip-rate", setting, q.flip_rate);
      add("low-margin-flip-rate", setting, q.low_margin_flip_rate);
      if (result.points[p].activation_bits == 0) {
        add("first-order-term", setting, q.first_order_term);
        add("first-order-bound", setting, q.first_order_bound);
      }
    }
    for (size_t i = 0; i < result.settings.fgsm_epsilons.size(); ++i) {
      const std::string epsilon = "eps=" + format_json_number(result.settings.fgsm_epsilons[i]);
      add("fgsm-float", epsilon, r.fgsm_float_accuracy[i]);
      add("fgsm-as-trained", epsilon, r.fgsm_trained_accuracy[i]);
    }
    add("train-accuracy", "", r.train_accuracy);
    add("test-accuracy-as-trained", "", r.test_accuracy);
    add("train-loss", "", r.train_loss);
    add("test-loss-as-trained", "", r.test_loss);
  }
  return render_csv(table);
}

std::string comparison_json(const ComparisonResult& result) {
  const ComparisonSettings& s = result.settings;
  Json json = Json::object();
  json["format"] = "qplay-comparison";
  json["version"] = 2;
  json["experiment"] = experiment_to_json(s.base);
  json["dataset"] = result.dataset;
  Json arms = Json::array();
  for (const std::string& label : arm_labels(result)) arms.push_back(label);
  json["arms"] = std::move(arms);
  json["seeds"] = numbers_json(std::vector<double>(s.seeds.begin(), s.seeds.end()));
  json["validation_fraction"] = s.validation_fraction;
  json["select_on"] = s.select_on == SelectionMetric::quantized_accuracy ? "quantized-accuracy"
                      : s.select_on == SelectionMetric::trained_accuracy ? "trained-accuracy"
                                                                         : "trained-loss";
  json["fine_tune_epochs"] = s.fine_tune_epochs;
  json["training_samples"] = double(result.training_samples);
  json["validation_samples"] = double(result.validation_samples);
  json["test_samples"] = double(result.test_samples);
  json["fgsm_epsilons"] = numbers_json(s.fgsm_epsilons);
  Json points = Json::array();
  for (const EvaluationPoint& p : result.points) {
    Json point = Json::object();
    point["name"] = p.name();
    point["weight_bits"] = p.weight_bits;
    point["activation_bits"] = p.activation_bits;
    point["granularity"] = p.granularity;
    point["range_method"] = p.range_method;
    points.push_back(std::move(point));
  }
  json["points"] = std::move(points);
  Json selections = Json::array();
  for (const ArmSelection& selection : result.selections) {
    Json entry = Json::object();
    entry["arm"] = selection.arm;
    Json candidates = Json::array();
    for (size_t i = 0; i < selection.candidates.size(); ++i) {
      Json candidate = Json::object();
      for (const auto& [key, value] : selection.candidates[i]) candidate[key] = value;
      Json scored = Json::object();
      scored["knobs"] = std::move(candidate);
      scored["validation_score"] = selection.validation_scores[i];
      scored["chosen"] = i == selection.chosen;
      candidates.push_back(std::move(scored));
    }
    entry["candidates"] = std::move(candidates);
    selections.push_back(std::move(entry));
  }
  json["selections"] = std::move(selections);
  Json runs = Json::array();
  for (const ComparisonRun& r : result.runs) {
    Json run = Json::object();
    run["arm"] = r.arm;
    run["method"] = r.method;
    run["seed"] = static_cast<double>(r.seed);
    Json knobs = Json::object();
    for (const auto& [key, value] : r.knobs) knobs[key] = value;
    run["knobs"] = std::move(knobs);
    run["float_accuracy"] = r.float_accuracy;
    run["float_loss"] = r.float_loss;
    run["float_weights_are_latent"] = r.float_weights_are_latent;
    Json quantized = Json::array();
    for (const QuantizedScore& q : r.quantized) {
      Json score = Json::object();
      score["accuracy"] = q.accuracy;
      score["loss"] = q.loss;
      score["flip_rate"] = q.flip_rate;
      score["low_margin_flip_rate"] = q.low_margin_flip_rate;
      score["first_order_term"] = q.first_order_term;
      score["first_order_bound"] = q.first_order_bound;
      quantized.push_back(std::move(score));
    }
    run["quantized"] = std::move(quantized);
    run["train_loss"] = r.train_loss;
    run["train_accuracy"] = r.train_accuracy;
    run["test_loss"] = r.test_loss;
    run["test_accuracy"] = r.test_accuracy;
    run["train_loss_curve"] = numbers_json(r.train_loss_curve);
    run["test_loss_curve"] = numbers_json(r.test_loss_curve);
    run["training_seconds"] = r.training_seconds;
    run["fgsm_float_accuracy"] = numbers_json(r.fgsm_float_accuracy);
    run["fgsm_trained_accuracy"] = numbers_json(r.fgsm_trained_accuracy);
    run["readouts"] = method_readouts_json(r.readouts);
    runs.push_back(std::move(run));
  }
  json["runs"] = std::move(runs);
  Json verdicts = Json::array();
  for (const ComparisonVerdict& v : comparison_verdicts(result)) {
    Json entry = Json::object();
    entry["arm"] = v.arm;
    entry["reference"] = v.reference;
    entry["metric"] = v.metric;
    entry["setting"] = v.setting;
    entry["difference"] = difference_json(v.difference);
    if (v.reference_effect) entry["reference_effect"] = difference_json(*v.reference_effect);
    entry["verdict"] = v.verdict;
    verdicts.push_back(std::move(entry));
  }
  json["verdicts"] = std::move(verdicts);
  return to_json(json) + "\n";
}

// Mean accuracy against weight bits at float (or the first) activation bits and the first range method: a
// solid line per arm per tensor, dashed per channel.
std::string comparison_svg(const ComparisonResult& result) {
  const ComparisonSettings& s = result.settings;
  LinePlot plot;
  plot.title = "Accuracy after post-training quantization: " + result.dataset + ", " + s.base.architecture;
  const EvaluationPoint& first = result.points.front();
  plot.x_label =
      "weight bits (activations " +
      (first.activation_bits ? std::to_string(first.activation_bits) + "-bit" : std::string("float")) + ", " +
      first.range_method + ")";
  plot.y_label = "test accuracy (%), mean over " + std::to_string(s.seeds.size()) + " seeds";
  std::vector<int> bits = s.weight_bits;
  std::sort(bits.begin(), bits.end());
  for (int b : bits) plot.x_ticks.push_back(b);
  for (const PointGroup& group : point_groups(result)) {
    const EvaluationPoint& p = result.points[group.first];
    if (p.activation_bits != first.activation_bits || p.range_method != first.range_method) continue;
    for (const std::string& arm : arm_labels(result)) {
      PlotSeries series;
      series.label = arm + ", " + p.granularity;
      series.dashed = p.granularity == "per-channel";
      for (int b : bits) {
        const size_t i = std::find(s.weight_bits.begin(), s.weight_bits.end(), b) - s.weight_bits.begin();
        series.x.push_back(b);
        series.y.push_back(100 * mean_and_spread(values_of(result, arm, [&](auto& r) {
                                   return r.quantized[group.first + i].accuracy;
                                 })).mean);
      }
      plot.series.push_back(std::move(series));
    }
  }
  plot.reference_y =
      100 *
      mean_and_spread(values_of(result, s.arms.front().label, [](auto& r) { return r.float_accuracy; })).mean;
  plot.reference_label = s.arms.front().label + " in float";
  plot.y_min = 0;
  plot.y_max = 100;
  return render_svg(plot);
}

}  // namespace qplay::cli

#include "core/engine/lab/lab_card.h"

#include <optional>

#include "core/engine/base/number_format.h"
#include "core/engine/deploy/model_size.h"
#include "core/engine/lab/decision_flips.h"

namespace qplay {
namespace {

std::string percent(double share) { return format_double("%.1f", 100 * share) + "%"; }
std::string kilobytes(double kb) { return format_double("%.1f", kb) + " KB"; }
const char* const kNotYet = "not evaluated yet";

// An accuracy of the lab's cache, when complete.
std::optional<double> complete_accuracy(const Lab& lab, int run, const QuantizationSetting& setting) {
  const EvaluationCache::Entry* entry = lab.evaluation(run, setting);
  if (!entry || !entry->complete) return std::nullopt;
  return entry->result.accuracy;
}

}  // namespace

std::vector<CardRow> experiment_card_rows(const Experiment& experiment, std::string_view dataset_name,
                                          std::string_view weight_bits) {
  return {{"data set", std::string(dataset_name)},
          {"architecture", experiment.architecture},
          {"method", std::string(choice_name(experiment.method))},
          {"granularity", std::string(choice_name(experiment.granularity))},
          {"range method", std::string(choice_name(experiment.range_method))},
          {"weight bits", std::string(weight_bits)},
          {"activation bits",
           experiment.activation_bits ? std::to_string(experiment.activation_bits) : std::string("float")}};
}

AccuracyCard lab_accuracy_card(const Lab& lab, int run) {
  const LabRun& lab_run = lab.run(run);
  const Experiment& experiment = lab.state().experiment;
  AccuracyCard card;
  card.title = lab.dataset().name + ", " + experiment.architecture + ", " + lab_run.method;

  LinePlot& plot = card.plot;
  plot.title = "Test accuracy vs weight bits";
  plot.x_label = "weight bits";
  plot.y_label = "test accuracy (%)";
  plot.y_min = 0;
  plot.y_max = 100;
  PlotSeries curve;
  curve.label = lab_run.method;
  for (int bits : Lab::curve_weight_bits()) {
    if (bits == 0) continue;  // float is the reference line
    plot.x_ticks.push_back(bits);
    plot.x_tick_labels.push_back(std::to_string(bits));
    if (std::optional<double> accuracy = complete_accuracy(lab, run, lab.setting_with_weight_bits(bits))) {
      curve.x.push_back(bits);
      curve.y.push_back(100 * *accuracy);
    }
  }
  plot.series.push_back(std::move(curve));
  const std::optional<double> float_accuracy = complete_accuracy(lab, run, lab.float_setting());
  if (float_accuracy) {
    plot.reference_y = 100 * *float_accuracy;
    plot.reference_label = "float model";
  }

  const QuantizationSetting current = lab.current_setting();
  const std::string weight_bits = lab.state().layer_weight_bits.empty()
                                      ? std::to_string(experiment.weight_bits)
                                      : format_layer_bits(lab.state().layer_weight_bits) + " by layer";
  card.settings = experiment_card_rows(experiment, lab.dataset().name, weight_bits);
  const std::optional<double> accuracy = complete_accuracy(lab, run, current);
  const std::optional<DecisionFlips> flips = decision_flips(lab, run, current);
  card.numbers = {
      {"float accuracy", float_accuracy ? percent(*float_accuracy) : kNotYet},
      {"accuracy at the chosen bits", accuracy ? percent(*accuracy) : kNotYet},
      {"flip rate", flips ? percent(flips->rate()) : kNotYet},
      {"low-margin flip rate", flips ? percent(flips->low_margin_rate()) : kNotYet},
      {"model size",
       kilobytes(model_size(lab.network(run).architecture(), current).kilobytes()) + " (float " +
           kilobytes(model_size(lab.network(run).architecture(), lab.float_setting()).kilobytes()) + ")"},
  };
  return card;
}

}  // namespace qplay

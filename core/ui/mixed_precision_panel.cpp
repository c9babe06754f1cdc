// The layer sensitivity panel of panels.h: accuracy with one layer quantized at a time, per run.
#include <cmath>

#include "core/ui/panels.h"
#include "core/ui/plot.h"

namespace qplay::ui {

void draw_layer_sensitivity(PlaygroundState& state, ImVec2 size) {
  Lab& lab = *state.lab();
  const std::vector<int>& layers = lab.weighted_layers();
  const std::vector<std::string> group_labels = weighted_layer_names(lab);
  std::vector<std::vector<double>> values(lab.run_count());
  std::vector<BarSeries> series;
  bool any_older = false;
  for (int r = 0; r < lab.run_count(); ++r) {
    for (int layer : layers) {
      const EvaluationCache::Entry* entry = lab.evaluation(r, lab.layer_only_setting(layer));
      values[r].push_back(entry && entry->complete ? 100 * entry->result.accuracy : NAN);
      any_older =
          any_older || (entry && entry->complete && lab.freshness(r, *entry) == Lab::Freshness::older);
    }
    series.push_back({lab.run(r).method, run_color(r), values[r]});
  }
  const int bits = lab.state().experiment.weight_bits;
  const std::string title = bits == 0 ? "Per-layer sensitivity: move the slider below float to see it"
                                      : "Test accuracy with only one layer at " + bits_label(bits) +
                                            " (others float)" + (any_older ? ", updating \u2026" : "");
  BarPlotOptions options;
  options.title = title;
  options.size = size;
  options.group_labels = group_labels;
  options.x_label = "quantized layer";
  options.y_axis.label = "accuracy %";
  options.y_axis.max = 100;
  bar_plot("sensitivity", series, options);
}

}  // namespace qplay::ui

#include "core/ui/pareto_front_plot.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/engine/base/number_format.h"
#include "core/engine/deploy/model_size.h"
#include "core/engine/lab/lab_allocation.h"
#include "core/ui/panels.h"
#include "core/ui/plot.h"

namespace qplay::ui {
namespace {

// After the runs' colours, so a method is not taken for a run.
ImU32 method_color(AllocationMethod method, bool older) {
  const ImU32 color = categorical_color(4 + static_cast<int>(method));
  return older ? mix_colors(color, IM_COL32(128, 128, 128, 255), 0.7f) : color;
}

// The size of a model averaging `bits` per weight at the lab's setting: linear between the uniform
// bit-widths around it, as the codes' bytes are (only per-layer byte rounding is left out).
double budget_kilobytes(const Lab& lab, double bits) {
  QuantizationSetting setting = lab.current_setting();
  setting.weight_bits_per_layer.clear();
  const int low = std::clamp(static_cast<int>(std::floor(bits)), kAllocationMinBits, kAllocationMaxBits - 1);
  setting.weights.bits = low;
  const double at_low = model_size(lab.network(0).architecture(), setting).kilobytes();
  setting.weights.bits = low + 1;
  const double at_high = model_size(lab.network(0).architecture(), setting).kilobytes();
  return at_low + (bits - low) * (at_high - at_low);
}

// One line series per method's front and one unnamed series per dominated point, with each series'
// points as indices into the fronts' points (what a click applies).
struct FrontSeries {
  std::vector<std::vector<double>> xs, ys;
  std::vector<std::vector<size_t>> point_of;
  std::vector<ImU32> colors;
  std::vector<std::string> names;
};

FrontSeries front_series(const std::vector<AllocationPoint>& points, bool older) {
  FrontSeries series;
  auto add = [&series](std::string name, ImU32 color) {
    series.names.push_back(std::move(name));
    series.colors.push_back(color);
    series.xs.emplace_back();
    series.ys.emplace_back();
    series.point_of.emplace_back();
  };
  auto push = [&series, &points](size_t i) {
    series.xs.back().push_back(points[i].allocation.size.kilobytes());
    series.ys.back().push_back(100 * points[i].test.accuracy);
    series.point_of.back().push_back(i);
  };
  constexpr auto kMethods = choice_names(AllocationMethod{});
  for (size_t m = 0; m < kMethods.size(); ++m) {
    const auto method = static_cast<AllocationMethod>(m);
    std::vector<size_t> front, dominated;
    for (size_t i = 0; i < points.size(); ++i)
      if (points[i].allocation.method == method) (points[i].on_front ? front : dominated).push_back(i);
    if (front.empty()) continue;
    std::sort(front.begin(), front.end(), [&points](size_t a, size_t b) {
      return points[a].allocation.size.bytes < points[b].allocation.size.bytes;
    });
    add(std::string(kMethods[m]), method_color(method, older));
    for (size_t i : front) push(i);
    for (size_t i : dominated) {
      add("", (method_color(method, older) & 0x00FFFFFF) | IM_COL32(0, 0, 0, 80));
      push(i);
    }
  }
  return series;
}

}  // namespace

std::string weights_label(int epoch, long steps) {
  return "weights at step " + std::to_string(steps) + " (" + std::to_string(epoch) +
         (epoch == 1 ? " epoch" : " epochs") + " done)";
}

void start_pareto_fronts(PlaygroundState& state) {
  Lab& lab = *state.lab();
  const bool was_playing = lab.playing();
  if (Status status = start_lab_pareto_fronts(lab, state.selected_run); !status) {
    state.say(status.message(), true);
    return;
  }
  if (was_playing) lab.pause();
  state.pareto_fronts = {};
  state.show_pareto_fronts = true;
  copy_pareto_fronts(state, *lab.allocation_work());
  state.say("Pareto fronts of " + lab.run(state.selected_run).method + "'s " +
            weights_label(lab.trainer(state.selected_run).completed_epochs(),
                          lab.trainer(state.selected_run).steps_taken()) +
            (was_playing ? ": training paused, the fronts are of these weights" : ""));
}

void copy_pareto_fronts(PlaygroundState& state, const LabAllocationWork& work) {
  PlaygroundState::ParetoFronts& fronts = state.pareto_fronts;
  fronts.run = work.run;
  fronts.weights_version = work.weights_version;
  fronts.epoch = work.epoch;
  fronts.steps = work.steps;
  fronts.progress = work.job->progress();
  fronts.finished = work.job->finished();
  fronts.cancelled = work.cancelled;
  fronts.points = work.job->points();
}

bool pareto_fronts_current(const PlaygroundState& state) {
  const Lab* lab = state.lab();
  const PlaygroundState::ParetoFronts& fronts = state.pareto_fronts;
  return lab && fronts.run >= 0 && fronts.run < lab->run_count() &&
         lab->weights_version(fronts.run) == fronts.weights_version;
}

void draw_pareto_fronts(PlaygroundState& state, ImVec2 size,
                        const std::function<void(std::string)>& remember) {
  const PlaygroundState::ParetoFronts& fronts = state.pareto_fronts;
  Lab& lab = *state.lab();
  if (fronts.run < 0) return;
  const bool older = !pareto_fronts_current(state);
  const std::string run_name = fronts.run < lab.run_count() ? lab.run(fronts.run).method : "an earlier run";
  std::string title = "Pareto fronts: " + run_name + ", " + weights_label(fronts.epoch, fronts.steps);
  if (older)
    title += " (older: the weights changed since)";
  else if (fronts.cancelled)
    title += " (stopped: the weights changed)";
  else if (!fronts.finished)
    title += " " + format_double("%.0f", 100.0 * fronts.progress.done / std::max(1, fronts.progress.total)) +
             "%\u2026";

  const FrontSeries built = front_series(fronts.points, older);
  std::vector<LineSeries> series;
  for (size_t s = 0; s < built.xs.size(); ++s)
    series.push_back({built.names[s], built.colors[s], built.xs[s], built.ys[s], /*markers=*/true});
  // The model now: the selected run at the current setting, once its accuracy is of these weights.
  std::vector<double> now_x, now_y;
  const EvaluationCache::Entry* now = lab.evaluation(state.selected_run, lab.current_setting());
  if (is_current_readout(lab, state.selected_run, now)) {
    now_x.push_back(
        model_size(lab.network(state.selected_run).architecture(), lab.current_setting()).kilobytes());
    now_y.push_back(100 * now->result.accuracy);
    series.push_back({"now", ImGui::GetColorU32(ImGuiCol_Text), now_x, now_y, /*markers=*/true});
  }
  LinePlotOptions options;
  options.title = title;
  options.size = size;
  options.x_axis.label = "model size (KB)";
  options.y_axis.label = "test accuracy %";
  options.marker_x = budget_kilobytes(lab, state.allocation_budget_bits);
  options.marker_label = "budget";
  const LinePlotHover hover = line_plot("pareto_fronts_plot", series, options);
  remember("pareto_fronts_plot");
  if (older) remember("pareto_older");
  if (!hover.clicked || hover.series < 0 || size_t(hover.series) >= built.point_of.size() ||
      hover.point < 0 || size_t(hover.point) >= built.point_of[hover.series].size())
    return;
  const AllocationPoint& point = fronts.points[built.point_of[hover.series][hover.point]];
  std::vector<int> bits;
  for (int layer : lab.weighted_layers()) {
    const std::vector<int>& chosen = point.allocation.setting.weight_bits_per_layer;
    if (static_cast<size_t>(layer) >= chosen.size()) return;  // fronts of another architecture
    bits.push_back(chosen[layer]);
  }
  state.apply_setting("layer_weight_bits", format_layer_bits(bits));
  state.say(std::string(choice_name(point.allocation.method)) + " at " +
            format_double("%.3g", point.allocation.budget.value) + " bits per weight: bits " +
            format_layer_bits(bits) + " by layer, " +
            format_double("%.1f", point.allocation.size.kilobytes()) + " KB, " +
            format_double("%.1f", 100 * point.test.accuracy) + "% on the test split" +
            (older ? " (of older weights)" : ""));
}

}  // namespace qplay::ui

// The layer sensitivity panel of panels.h, which steers mixed precision: per weighted layer and run, the
// test accuracy with only that layer's weights quantized and with only its input quantized, side by
// side; and for the layer chosen on the bars, its own weight and activation bits. Those write
// LabState::layer_weight_bits / layer_activation_bits through PlaygroundState::apply_setting, the path of
// the per-layer slider, so the URL hash and every evaluation follow.
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "core/engine/base/number_format.h"
#include "core/engine/lab/lab_allocation.h"
#include "core/engine/train/bit_allocation.h"
#include "core/ui/panels.h"
#include "core/ui/pareto_front_plot.h"
#include "core/ui/plot.h"

namespace qplay::ui {
namespace {

// The bit-widths a layer's control steps through, coarse to fine, as the bit sliders read: 2..8, float.
constexpr int kBitSteps[] = {2, 3, 4, 5, 6, 7, 8, 0};
constexpr int kStepCount = static_cast<int>(std::size(kBitSteps));
int step_of(int bits) { return bits == 0 ? kStepCount - 1 : std::clamp(bits, 2, 8) - 2; }

// One kind of per-layer bits: the state's list for it and the global bits its "-" entries follow.
struct LayerBits {
  const char* key;   // "layer_weight_bits" or "layer_activation_bits"
  const char* what;  // "weights" or "activations"
  std::vector<int> per_layer;
  int global = 0;
  bool first_is_data = false;  // activations: the first layer's input is the data, never quantized
  bool hidden = false;  // a teacher hid the control (`layer_weight_bits_hide=1`): not offered here either

  bool own(size_t layer) const { return layer < per_layer.size() && per_layer[layer] >= 0; }
  int bits(size_t layer) const { return own(layer) ? per_layer[layer] : global; }
};

LayerBits weight_bits_of(const Lab& lab) {
  return {"layer_weight_bits",
          "weights",
          lab.state().layer_weight_bits,
          lab.state().experiment.weight_bits,
          false,
          lab.state().hidden.count("layer_weight_bits") > 0};
}
LayerBits activation_bits_of(const Lab& lab) {
  return {"layer_activation_bits",
          "activations",
          lab.state().layer_activation_bits,
          lab.state().experiment.activation_bits,
          /*first_is_data=*/true,
          lab.state().hidden.count("layer_activation_bits") > 0};
}

// Layer `layer`'s own bits (-1: back to the global bits); a list left all global becomes empty, as if
// never set per layer.
void set_layer_bits(PlaygroundState& state, LayerBits bits, size_t layer, int value) {
  bits.per_layer.resize(state.lab()->weighted_layers().size(), -1);
  bits.per_layer[layer] = value;
  const bool any_own =
      std::any_of(bits.per_layer.begin(), bits.per_layer.end(), [](int b) { return b >= 0; });
  state.apply_setting(bits.key, any_own ? format_layer_bits(bits.per_layer) : "");
}

// "−  4-bit  +  global" for one layer's bits; `id` keeps the buttons of weights and activations apart.
void layer_bits_stepper(PlaygroundState& state, const LayerBits& bits, size_t layer, const std::string& id,
                        const std::function<void(std::string)>& remember) {
  const int step = step_of(bits.bits(layer));
  ImGui::TextUnformatted(bits.what);
  ImGui::SameLine();
  ImGui::BeginDisabled(step == 0);
  if (ImGui::Button(("-##fewer_" + id).c_str())) set_layer_bits(state, bits, layer, kBitSteps[step - 1]);
  ImGui::EndDisabled();
  remember("fewer_" + id);
  ImGui::SameLine();
  const std::string value = bits_label(bits.bits(layer)) + (bits.own(layer) ? "" : " (global)");
  ImGui::TextUnformatted(value.c_str());
  ImGui::SameLine();
  ImGui::BeginDisabled(step == kStepCount - 1);
  if (ImGui::Button(("+##more_" + id).c_str())) set_layer_bits(state, bits, layer, kBitSteps[step + 1]);
  ImGui::EndDisabled();
  remember("more_" + id);
  if (bits.own(layer)) {
    ImGui::SameLine();
    if (ImGui::Button(("global##global_" + id).c_str())) set_layer_bits(state, bits, layer, -1);
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("Back to the %s slider's bits", bits.what[0] == 'w' ? "weight" : "activation");
  }
}

std::string weights_named(const Lab& lab, const LabAllocationWork& work) {
  return lab.run(work.run).method + "'s " + weights_label(work.epoch, work.steps);
}

// Each frame: a finished allocation's bits become the lab's per-layer bits if they are of the weights
// its run has now (else the status bar says nothing was applied), and a fronts job's points are copied
// as they arrive. A finished or stopped job is taken from the lab.
void follow_allocation_work(PlaygroundState& state) {
  Lab& lab = *state.lab();
  const LabAllocationWork* work = lab.allocation_work();
  if (!work) return;
  if (work->job->computes_fronts()) {
    copy_pareto_fronts(state, *work);
    if (work->job->finished() || work->cancelled) lab.take_allocation_work();
    return;
  }
  if (!work->job->finished() && !work->cancelled) return;
  const std::unique_ptr<LabAllocationWork> done = lab.take_allocation_work();
  if (done->cancelled || lab.weights_version(done->run) != done->weights_version) {
    state.say(
        "Allocation stopped: " + weights_named(lab, *done) + " changed before it finished; no bits applied",
        true);
    return;
  }
  const BitAllocation& allocation = *done->job->allocation();
  state.apply_setting("layer_weight_bits", format_layer_bits(lab_layer_weight_bits(lab, allocation)));
  state.say(weights_named(lab, *done) + ", " + std::string(choice_name(allocation.method)) + ": bits " +
            format_layer_bits(lab.state().layer_weight_bits) + " by layer, " +
            format_double("%.2f", allocation.size.average_weight_bits) + " bits per weight, " +
            format_double("%.1f", allocation.size.kilobytes()) + " KB (" +
            format_double("%.0f", allocation.milliseconds) + " ms of work)");
}

// "Fit a budget: [4.00 bits per weight] [measured] [Pareto fronts]": releasing the slider or picking a
// method starts choosing every layer's weight bits for the selected run's weights (lab/lab_allocation.h,
// in the lab's time slices, "allocating 40%..." meanwhile); the per-layer bits, the bars and the size
// above follow when it is done. "Pareto fronts" computes every method's allocations at budgets 2..8 and
// their test accuracy for the plot beside the bars: on request, not when the tab opens, because it costs
// seconds on Fashion-MNIST and pauses training (an allocation is of one set of weights; a training step
// would cancel it). The status bar says what was chosen, for which weights.
void budget_row(PlaygroundState& state, const std::function<void(std::string)>& remember) {
  const float font = ImGui::GetFontSize();
  ImGui::TextUnformatted("fit a budget");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(font * 10);
  ImGui::SliderFloat("##budget_bits", &state.allocation_budget_bits, 2.0f, 8.0f, "%.2f bits per weight",
                     ImGuiSliderFlags_AlwaysClamp);
  remember("budget_bits");
  bool allocate = ImGui::IsItemDeactivatedAfterEdit();
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip(
        "Release to choose each layer's weight bits (2..8) so the model averages at most this many bits\n"
        "per weight, on the selected run's weights: measured = greedy on the measured loss, hessian =\n"
        "HAWQ's Hessian-trace criterion, uniform = the same bits everywhere. Training pauses meanwhile.");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(font * 7);
  constexpr auto kMethods = choice_names(AllocationMethod{});
  const std::string current(kMethods[state.allocation_method]);
  if (ImGui::BeginCombo("##allocation_method", current.c_str())) {
    for (size_t i = 0; i < kMethods.size(); ++i)
      if (ImGui::Selectable(std::string(kMethods[i]).c_str(), int(i) == state.allocation_method)) {
        allocate = allocate || int(i) != state.allocation_method;
        state.allocation_method = int(i);
      }
    ImGui::EndCombo();
  }
  remember("allocation_method");
  ImGui::SameLine();
  if (ImGui::GetContentRegionAvail().x < 8 * font) ImGui::NewLine();
  const bool fronts = ImGui::Button("Pareto fronts");
  remember("pareto_fronts");
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip(
        "Test accuracy against size of each method's bits at 2, 2.5, ..., 8 bits per weight, for the\n"
        "selected run's weights now (training pauses meanwhile). Click a point to use its bits.");
  Lab& lab = *state.lab();
  if (const LabAllocationWork* work = lab.allocation_work(); work && !work->job->finished()) {
    const JobProgress progress = work->job->progress();
    const float done = float(progress.done) / float(std::max(1, progress.total));
    ImGui::SameLine();
    if (ImGui::GetContentRegionAvail().x < 9 * font) ImGui::NewLine();
    const std::string label = (work->job->computes_fronts() ? "fronts " : "allocating ") +
                              format_double("%.0f", 100.0 * done) + "%\u2026";
    ImGui::ProgressBar(done, ImVec2(8 * font, 0), label.c_str());
    remember("allocation_progress");
  }
  if (state.pareto_fronts.run >= 0) {
    ImGui::SameLine();
    if (ImGui::GetContentRegionAvail().x < 9 * font) ImGui::NewLine();
    if (ImGui::RadioButton("bars", !state.show_pareto_fronts)) state.show_pareto_fronts = false;
    remember("show_bars");
    ImGui::SameLine();
    if (ImGui::RadioButton("fronts", state.show_pareto_fronts)) state.show_pareto_fronts = true;
    remember("show_fronts");
  }
  if (fronts) start_pareto_fronts(state);
  if (!allocate) return;
  const bool was_playing = lab.playing();
  const BitBudget budget{BudgetKind::average_bits, double(state.allocation_budget_bits)};
  if (Status status = start_lab_allocation(lab, state.selected_run,
                                           static_cast<AllocationMethod>(state.allocation_method), budget);
      !status) {
    state.say(status.message(), true);
    return;
  }
  if (was_playing) lab.pause();
  state.say("Allocating on " + weights_named(lab, *lab.allocation_work()) +
            (was_playing ? ": training paused, the bits are for these weights" : ""));
}

// The accuracy of every run at the current setting, in its colour, faded when not of the current weights.
void current_accuracies(const Lab& lab) {
  const QuantizationSetting current = lab.current_setting();
  for (int r = 0; r < lab.run_count(); ++r) {
    const EvaluationCache::Entry* entry = lab.evaluation(r, current);
    const std::string text = lab.run(r).method + " " + accuracy_readout(lab, r, entry);
    ImGui::SameLine();
    if (ImGui::GetContentRegionAvail().x < ImGui::CalcTextSize(text.c_str()).x) ImGui::NewLine();
    const ImU32 color = is_current_readout(lab, r, entry) ? run_color(r) : (run_color(r) & 0x80FFFFFF);
    ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(color), "%s", text.c_str());
  }
}

// One plot's bars: a group per layer, a bar per run.
struct SensitivityBars {
  const char* id;
  std::string title;
  std::vector<std::string> group_labels;
  std::vector<std::vector<double>> values;  // [run][layer] accuracy %, NaN: none yet
};

// A click on a group chooses its layer; a vertical drag that began on it moves that layer's bits of
// this kind (up: more bits).
void draw_bars(PlaygroundState& state, const SensitivityBars& bars, const LayerBits& bits, ImVec2 size,
               const std::optional<double>& reference, const std::string& reference_label,
               const std::function<void(std::string)>& remember) {
  Lab& lab = *state.lab();
  std::vector<BarSeries> series;
  for (int r = 0; r < lab.run_count(); ++r)
    series.push_back({lab.run(r).method, run_color(r), bars.values[r]});
  BarPlotOptions options;
  options.title = bars.title;
  options.size = size;
  options.group_labels = bars.group_labels;
  options.y_axis.label = "accuracy %";
  options.y_axis.max = 100;
  options.legend = LegendPlacement::hidden;  // the runs' colours are named in the line above
  options.reference_y = reference;
  options.reference_label = reference_label;
  const BarPlotHover hover = bar_plot(bars.id, series, options);
  // Without a legend the plot's last item is its canvas: held while a press that began on it lasts,
  // wherever the pointer has moved since.
  const bool pressed = ImGui::IsItemActive();
  remember(bars.id);
  // The drag counts from the bits the layer had when the press began, a step per 1.5 lines of travel.
  ImGuiStorage* storage = ImGui::GetStateStorage();
  const ImGuiID start_key = ImGui::GetID((std::string(bars.id) + "_drag_start").c_str());
  const int layers = static_cast<int>(lab.weighted_layers().size());
  if (hover.clicked && hover.group >= 0 && hover.group < layers) {
    state.mixed_precision_layer = hover.group;
    storage->SetInt(start_key, step_of(bits.bits(hover.group)));
  }
  if (!pressed) storage->SetInt(start_key, -1);
  const int layer = state.mixed_precision_layer, start = storage->GetInt(start_key, -1);
  if (pressed && start >= 0 && layer < layers && !bits.hidden && !(bits.first_is_data && layer == 0) &&
      ImGui::IsMouseDragging(ImGuiMouseButton_Left)) {
    const float travel = -ImGui::GetMouseDragDelta(ImGuiMouseButton_Left).y / (1.5f * ImGui::GetFontSize());
    const int step = std::clamp(start + static_cast<int>(travel), 0, kStepCount - 1);
    if (kBitSteps[step] != bits.bits(layer)) set_layer_bits(state, bits, layer, kBitSteps[step]);
  }
}

// The chosen layer's own bits: its name, the help, and steppers for its weights and its input.
void chosen_layer_bits(PlaygroundState& state, const std::string& weighted_name, const LayerBits& weight_bits,
                       const LayerBits& activation_bits, const std::function<void(std::string)>& remember) {
  const int chosen = state.mixed_precision_layer;
  const std::string layer_name = "L" + std::to_string(chosen) + " (" + weighted_name + ")";
  ImGui::Text("%s", layer_name.c_str());
  ImGui::SameLine();
  ImGui::TextDisabled("(?)");
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip(
        "Click a layer's bars to choose it; drag up or down on them to give it more or fewer bits\n"
        "(weights on the left plot, its input on the right), or use - and +. The bars: accuracy with\n"
        "only that layer quantized at the sliders' bits. The dashed line: the selected run now.");
  if (!weight_bits.hidden) {
    ImGui::SameLine();
    layer_bits_stepper(state, weight_bits, chosen, "weights", remember);
  }
  if (!activation_bits.hidden) {
    ImGui::SameLine(0, 2 * ImGui::GetFontSize());
    if (ImGui::GetContentRegionAvail().x < 14 * ImGui::GetFontSize()) ImGui::NewLine();
    if (chosen == 0)
      ImGui::TextDisabled("input: the data, never quantized");
    else
      layer_bits_stepper(state, activation_bits, chosen, "activations", remember);
  }
}

}  // namespace

void draw_layer_sensitivity(PlaygroundState& state, ImVec2 size,
                            const std::function<void(std::string)>& remember) {
  Lab& lab = *state.lab();
  const std::vector<int>& layers = lab.weighted_layers();
  const std::vector<std::string> names = weighted_layer_names(lab);
  const LayerBits weight_bits = weight_bits_of(lab), activation_bits = activation_bits_of(lab);
  int& chosen = state.mixed_precision_layer;
  chosen = std::clamp(chosen, 0, static_cast<int>(layers.size()) - 1);
  const float start_y = ImGui::GetCursorPosY();
  follow_allocation_work(state);

  ImGui::TextWrapped("Now: %s; %s", applied_setting_label(lab).c_str(), model_size_label(lab).c_str());
  current_accuracies(lab);

  // The fronts take the bars' place, as large as they can be (a third plot beside two would be too small
  // to read in the panel's quarter of a laptop screen), and the chosen layer's steppers go with the bars
  // that choose it: a front's point sets every layer at once. "bars" brings both back.
  const bool fronts_shown = state.show_pareto_fronts && state.pareto_fronts.run >= 0;
  if (!fronts_shown) chosen_layer_bits(state, names[chosen], weight_bits, activation_bits, remember);
  if (!weight_bits.hidden) budget_row(state, remember);
  if (fronts_shown) {
    draw_pareto_fronts(state, ImVec2(size.x, size.y - (ImGui::GetCursorPosY() - start_y)), remember);
    return;
  }

  // Per layer and run: only that layer's weights, and only its input, at the sliders' bits.
  bool any_older = false;
  auto accuracies = [&](auto setting_of_layer, size_t first_layer) {
    std::vector<std::vector<double>> values(lab.run_count(), std::vector<double>(layers.size(), NAN));
    for (int r = 0; r < lab.run_count(); ++r) {
      for (size_t i = first_layer; i < layers.size(); ++i) {
        const EvaluationCache::Entry* entry = lab.evaluation(r, setting_of_layer(layers[i]));
        if (!entry || !entry->complete) continue;
        values[r][i] = 100 * entry->result.accuracy;
        any_older = any_older || lab.freshness(r, *entry) == Lab::Freshness::older;
      }
    }
    return values;
  };
  SensitivityBars weights_only{
      "sensitivity_weights", "", {}, accuracies([&](int l) { return lab.layer_only_setting(l); }, 0)};
  SensitivityBars activations_only{
      "sensitivity_activations",
      "",
      {},
      accuracies([&](int l) { return lab.layer_activation_only_setting(l); }, 1)};
  const ImGuiStyle& style = ImGui::GetStyle();
  const ImVec2 rest(size.x, size.y - (ImGui::GetCursorPosY() - start_y));
  // Side by side unless the panel is taller than wide (a phone): a bar needs height more than width.
  const bool stacked = rest.y > rest.x;
  const ImVec2 each = stacked ? ImVec2(rest.x, (rest.y - style.ItemSpacing.y) / 2)
                              : ImVec2((rest.x - style.ItemSpacing.x) / 2, rest.y);

  // Each bar group names its layer and that layer's bits in the current setting ("● L1 3-bit", the
  // chosen one marked); where groups are narrow only the bits, in the quantization papers' short form
  // ("W3", "A32" for float), the groups being the layers in order.
  const bool narrow = each.x < 7.0f * ImGui::GetFontSize() * static_cast<float>(layers.size());
  auto group_label = [&](size_t i, int bits, char kind) {
    const std::string layer = "L" + std::to_string(i);
    if (kind == 'A' && i == 0) return narrow ? std::string("-") : layer + " data";
    if (narrow) return kind + std::to_string(bits == 0 ? 32 : bits);
    return (static_cast<int>(i) == chosen ? "\u25CF " : "") + layer + " " + bits_label(bits);
  };
  for (size_t i = 0; i < layers.size(); ++i) {
    weights_only.group_labels.push_back(group_label(i, weight_bits.bits(i), 'W'));
    activations_only.group_labels.push_back(group_label(i, activation_bits.bits(i), 'A'));
  }
  const std::string updating = any_older ? " (updating \u2026)" : "";
  const int w = lab.state().experiment.weight_bits, a = lab.state().experiment.activation_bits;
  weights_only.title = w == 0 ? "Weights only: move the weight slider below float to see them"
                              : "Only one layer's weights at " + bits_label(w) + updating;
  activations_only.title = a == 0 ? "Activations only: move the activation slider below float to see them"
                                  : "Only one layer's input at " + bits_label(a) + updating;

  // The selected run's accuracy at the current setting across both plots, once it is of these weights.
  const EvaluationCache::Entry* now = lab.evaluation(state.selected_run, lab.current_setting());
  std::optional<double> reference;
  if (is_current_readout(lab, state.selected_run, now)) reference = 100 * now->result.accuracy;
  const std::string reference_label = lab.run(state.selected_run).method + " now";

  draw_bars(state, weights_only, weight_bits, each, reference, reference_label, remember);
  if (!stacked) ImGui::SameLine();
  draw_bars(state, activations_only, activation_bits, each, reference, reference_label, remember);
}

}  // namespace qplay::ui

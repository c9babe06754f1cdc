// The plot panels of panels.h. Contents:
//   [SECTION] Read-outs shared by the panels
//   [SECTION] Curves
//   [SECTION] Decision boundaries
//   [SECTION] Weights
//   [SECTION] Images and confusion matrix
//   [SECTION] Neurons
//   [SECTION] What the methods learned, and the recipes
#include "core/ui/panels.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>

#include "core/engine/base/number_format.h"
#include "core/engine/deploy/model_size.h"
#include "core/engine/lab/decision_flips.h"
#include "core/engine/lab/lab_card.h"
#include "core/engine/lab/recipes.h"
#include "core/engine/lab/weight_statistics.h"
#include "core/ui/playground.h"
#include "core/ui/plot.h"

namespace qplay::ui {
namespace {

// Curve x positions: float sits one step right of 8 bits, so the curve reads left (coarse) to right (fine).
constexpr double kFloatX = 9;
double curve_x(int bits) { return bits == 0 ? kFloatX : bits; }

std::string percent(double accuracy) { return format_double("%.1f", 100 * accuracy) + "%"; }

void no_lab_message(ImVec2 size, const char* text) {
  ImGui::BeginChild("empty", size, true);
  ImGui::TextDisabled("%s", text);
  ImGui::EndChild();
}

// The class colours of boundary plots: the categorical palette after the run colours' first entries,
// so classes do not look like runs.
ImU32 class_color(int label, float alpha = 1.0f) { return categorical_color(label + 2, alpha); }

// One neuron's map as a square of side pixels at corner, values divided by scale on the diverging colours.
// Equal neighbours in a row merge into one rectangle: 16 shades per sign are plenty for the eye.
void draw_neuron_tile(ImDrawList* draw, ImVec2 corner, float side, std::span<const float> map, int resolution,
                      float scale) {
  const float cell = side / resolution;
  for (int row = 0; row < resolution; ++row) {
    int start = 0;
    ImU32 start_color = 0;
    for (int column = 0; column <= resolution; ++column) {
      const ImU32 color = column < resolution
                              ? diverging_color(std::round(16 * map[row * resolution + column] / scale) / 16)
                              : 0;
      if (column > 0 && (column == resolution || color != start_color)) {
        draw->AddRectFilled(ImVec2(corner.x + start * cell, corner.y + row * cell),
                            ImVec2(corner.x + column * cell, corner.y + (row + 1) * cell), start_color);
        start = column;
      }
      if (column == 0 || color != start_color) start_color = color;
    }
  }
  draw->AddRect(corner, ImVec2(corner.x + side, corner.y + side), ImGui::GetColorU32(ImGuiCol_Border));
}

std::string readout_text(const MethodReadout& readout) {
  const bool whole = readout.value == std::round(readout.value) && std::fabs(readout.value) < 1e6;
  return format_double(whole ? "%.0f" : "%.3g", readout.value);
}

// The flip rate and the low-margin flip rate of a run at the current setting on one line, faded and
// marked while they are of older weights, with what they mean in a tooltip.
void draw_flip_rates(const Lab& lab, int run, const std::optional<DecisionFlips>& flips) {
  if (!flips) {
    ImGui::TextDisabled("flips: comparing with the float model ...");
    return;
  }
  const bool older = flips->weights_version != lab.evaluated_version(run);
  const std::string text = "flipped " + percent(flips->rate()) + ", low-margin " +
                           percent(flips->low_margin_rate()) + (older ? " (older weights, updating)" : "");
  if (older)
    ImGui::TextDisabled("%s", text.c_str());
  else
    ImGui::TextUnformatted(text.c_str());
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip(
        "Accuracy can stay while decisions move: a flip from right to wrong and one from wrong\n"
        "to right cancel in the accuracy. Flipped: test samples whose class at this setting\n"
        "differs from the float model's (%zu of %zu). Low-margin: the same among the quarter\n"
        "the float model decides most narrowly (smallest gap between its top two logits),\n"
        "which rounding flips first (%zu of %zu).",
        flips->flipped.size(), flips->samples, flips->low_margin_flips, flips->low_margin_samples);
}

}  // namespace

// [SECTION] Read-outs shared by the panels

ImU32 run_color(int run) { return categorical_color(run); }

void text_ellipsized(const std::string& text, float max_width, bool disabled) {
  const std::string shown = ellipsize(text, max_width);
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetColorU32(disabled ? ImGuiCol_TextDisabled : ImGuiCol_Text));
  ImGui::TextUnformatted(shown.c_str());
  ImGui::PopStyleColor();
  if (shown.size() != text.size() && ImGui::IsItemHovered()) ImGui::SetTooltip("%s", text.c_str());
}

std::string bits_label(int bits) { return bits == 0 ? "float" : std::to_string(bits) + "-bit"; }

std::string accuracy_readout(const Lab& lab, int run, const EvaluationCache::Entry* entry) {
  if (!entry) return "\u2026";
  switch (lab.freshness(run, *entry)) {
    case Lab::Freshness::current:
      return percent(entry->result.accuracy);
    case Lab::Freshness::partial:
      return "\u2248" + percent(entry->result.accuracy);
    case Lab::Freshness::older:
      return percent(entry->result.accuracy) + "\u2026";
  }
  return "";
}

std::string applied_setting_label(const Lab& lab) {
  const Experiment& experiment = lab.state().experiment;
  // "4-bit weights", or "3/float/2-bit weights by layer" from `first` on (an activation list's first
  // entry is the data's, never quantized).
  auto by_layer = [](const std::vector<int>& per_layer, int global, size_t first, const char* what) {
    if (per_layer.size() <= first) return bits_label(global) + " " + what;
    std::string text;
    for (size_t i = first; i < per_layer.size(); ++i) {
      const int bits = per_layer[i] < 0 ? global : per_layer[i];
      text += (i > first ? "/" : "") + (bits == 0 ? std::string("float") : std::to_string(bits));
    }
    return text + "-bit " + what + " by layer";
  };
  const std::string weights = by_layer(lab.state().layer_weight_bits, experiment.weight_bits, 0, "weights");
  const std::vector<int>& activations = lab.state().layer_activation_bits;
  if (activations.empty() && experiment.activation_bits == 0) return weights;
  return weights + ", " + by_layer(activations, experiment.activation_bits, 1, "activations");
}

std::string model_size_label(const Lab& lab) {
  const Architecture& architecture = lab.network(0).architecture();
  const ModelSize now = model_size(architecture, lab.current_setting());
  const ModelSize in_float = model_size(architecture, lab.setting_with_weight_bits(0));
  auto kilobytes = [](const ModelSize& size) {
    return format_double(size.kilobytes() < 10 ? "%.2f" : "%.1f", size.kilobytes()) + " KB";
  };
  if (now.bytes == in_float.bytes) return "model " + kilobytes(now) + " in float";
  return "model " + kilobytes(now) + ", " + format_double("%.1f", now.average_weight_bits) +
         " bits per weight (float " + kilobytes(in_float) + ")";
}

bool is_current_readout(const Lab& lab, int run, const EvaluationCache::Entry* entry) {
  return entry && lab.freshness(run, *entry) == Lab::Freshness::current;
}

std::vector<std::string> weighted_layer_names(const Lab& lab) {
  std::vector<std::string> names;
  for (int layer : lab.weighted_layers())
    for (const ParameterTensor& t : lab.network(0).parameter_tensors())
      if (t.is_weight && t.layer == layer) names.push_back(t.name);
  return names;
}

// [SECTION] Curves

void draw_accuracy_curves(PlaygroundState& state, ImVec2 size) {
  Lab& lab = *state.lab();
  const std::vector<int>& bits = Lab::curve_weight_bits();
  std::vector<std::vector<double>> xs(lab.run_count()), ys(lab.run_count());
  std::vector<std::vector<uint8_t>> older(lab.run_count());
  std::vector<LineSeries> series;
  bool any_older = false;
  for (int r = 0; r < lab.run_count(); ++r) {
    for (int b : bits) {
      // Only whole-split results make the curve; one still of older weights is drawn hollow, so a
      // curve half re-evaluated never reads as if quantizing raised accuracy.
      const EvaluationCache::Entry* entry = lab.evaluation(r, lab.setting_with_weight_bits(b));
      xs[r].push_back(curve_x(b));
      ys[r].push_back(entry && entry->complete ? 100 * entry->result.accuracy : NAN);
      const bool old = entry && entry->complete && lab.freshness(r, *entry) == Lab::Freshness::older;
      older[r].push_back(old);
      any_older = any_older || old;
    }
  }
  for (int r = 0; r < lab.run_count(); ++r)
    series.push_back(
        {lab.run(r).method, run_color(r), xs[r], ys[r], /*markers=*/true, false, false, older[r]});
  // The selected run's float accuracy across the plot, named in the legend rather than written over
  // the curves.
  const EvaluationCache::Entry* float_entry =
      lab.evaluation(state.selected_run, lab.setting_with_weight_bits(0));
  const std::string reference = lab.run(state.selected_run).method + " in float";
  const double reference_x[] = {1.6, kFloatX + 0.4};
  double reference_y[2] = {NAN, NAN};
  if (float_entry && float_entry->complete &&
      lab.freshness(state.selected_run, *float_entry) != Lab::Freshness::older) {
    reference_y[0] = reference_y[1] = 100 * float_entry->result.accuracy;
    series.push_back(
        {reference, IM_COL32(170, 170, 170, 200), reference_x, reference_y, false, /*dashed=*/true});
  }
  static const double ticks[] = {2, 3, 4, 5, 6, 7, 8, kFloatX};
  static const std::string tick_labels[] = {"2", "3", "4", "5", "6", "7", "8", "float"};
  LinePlotOptions options;
  options.title = any_older ? "Test accuracy vs weight bits (hollow: older weights, updating)"
                            : "Test accuracy vs weight bits";
  options.size = size;
  options.x_axis = {"weight bits", 1.6, kFloatX + 0.4, ticks, tick_labels};
  options.y_axis.label = "accuracy %";
  options.y_axis.max = 100;
  options.legend = LegendPlacement::best;
  const int current = lab.state().experiment.weight_bits;
  options.marker_x = curve_x(current);
  options.marker_label = "slider";
  // The card (plot, settings, numbers) of the selected run, from the plot's right-click menu.
  set_next_plot_menu_items([&state] {
    const Lab& lab = *state.lab();
    if (ImGui::MenuItem("Save card (SVG)"))
      state.platform().save_file(
          "qplay-card-" + lab.dataset().name + "-" + lab.run(state.selected_run).method + ".svg",
          render_accuracy_card(lab_accuracy_card(lab, state.selected_run)));
  });
  LinePlotHover hover = line_plot("accuracy_curves", series, options);
  if (hover.clicked && hover.crosshair_x) {
    const int clicked =
        *hover.crosshair_x >= kFloatX - 0.5 ? 0 : static_cast<int>(std::lround(*hover.crosshair_x));
    if (clicked != current) state.apply_setting("weight_bits", std::to_string(clicked));
  }
}

void draw_training_curves(PlaygroundState& state, ImVec2 size) {
  Lab& lab = *state.lab();
  std::vector<std::vector<double>> epochs(lab.run_count()), train(lab.run_count()), test(lab.run_count());
  bool& show_loss = state.show_loss_curves;
  ImGui::TextUnformatted("Training curves");
  ImGui::SameLine();
  if (ImGui::RadioButton("accuracy", !show_loss)) show_loss = false;
  ImGui::SameLine();
  if (ImGui::RadioButton("loss", show_loss)) show_loss = true;
  std::vector<LineSeries> series;
  std::vector<std::string> names;
  for (int r = 0; r < lab.run_count(); ++r) {
    for (const EpochMetrics& m : lab.trainer(r).history()) {
      epochs[r].push_back(m.epoch);
      train[r].push_back(show_loss ? m.train_loss : 100 * m.train_accuracy);
      test[r].push_back(show_loss ? m.test_loss : 100 * m.test_accuracy);
    }
  }
  // One legend entry per run (its test curve); the dashed train curves stay unnamed so the legend does
  // not cover the plot with six runs.
  for (int r = 0; r < lab.run_count(); ++r) names.push_back(lab.run(r).method + " (test)");
  for (int r = 0; r < lab.run_count(); ++r) {
    series.push_back({names[r], run_color(r), epochs[r], test[r], /*markers=*/false});
    series.push_back({"", run_color(r), epochs[r], train[r], false, /*dashed=*/true});
  }
  LinePlotOptions options;
  const Trainer& first = lab.trainer(0);
  char progress[64] = "";
  if (first.history().empty())
    std::snprintf(progress, sizeof progress, "first epoch %.0f%% trained: points appear per epoch",
                  100 * first.epoch_fraction());
  options.title = progress;
  options.size = ImVec2(size.x, size.y - ImGui::GetFrameHeightWithSpacing());
  options.x_axis.label = "epoch";
  options.x_axis.whole_numbers = true;
  options.x_axis.min = 0;
  options.x_axis.max = std::max(1, lab.state().experiment.epochs);
  options.y_axis.label = show_loss ? "loss (dashed: train)" : "accuracy % (dashed: train)";
  if (!show_loss) options.y_axis.max = 100;
  options.legend = LegendPlacement::best;
  line_plot("training_curves", series, options);
}

// [SECTION] Decision boundaries

void draw_decision_boundaries(PlaygroundState& state, ImVec2 size) {
  Lab& lab = *state.lab();
  const LabRun& run = lab.run(state.selected_run);
  const Dataset& data = lab.dataset();
  if (run.float_boundary.predicted_class.empty())
    return no_lab_message(size, "computing the decision boundary ...");

  std::vector<ScatterPoint> points;
  std::vector<float> point(2);
  const ImU32 train_outline = IM_COL32(20, 20, 20, 220), test_outline = IM_COL32(255, 255, 255, 230);
  for (const auto& [rows, labels, outline] : {std::tuple{&data.train_x, &data.train_y, train_outline},
                                              std::tuple{&data.test_x, &data.test_y, test_outline}}) {
    for (size_t i = 0; i < rows->rows(); ++i) {
      rows->copy_rows(i, 1, point.data());
      points.push_back({point[0], point[1], class_color((*labels)[i]), outline});
    }
  }
  const ImGuiStyle& style = ImGui::GetStyle();
  const int r = state.selected_run;
  const EvaluationCache::Entry* float_entry = lab.evaluation(r, lab.setting_with_weight_bits(0));
  const EvaluationCache::Entry* current = lab.evaluation(r, lab.current_setting());
  const std::optional<DecisionFlips> flips = decision_flips(lab, r, lab.current_setting());
  // White is no class's colour: flipped cells and test points (filled white, rimmed in their class's
  // colour) read as "decided otherwise" whatever the classes.
  const ImU32 flip_color = IM_COL32(245, 245, 245, 255);
  // The quantized map marks its flipped test points; the float map shows every point as it is.
  std::vector<ScatterPoint> quantized_points = points;
  if (state.show_flips && flips) {
    for (uint32_t i : flips->flipped) {
      ScatterPoint& point =
          quantized_points[data.train_x.rows() + i];  // test points follow the training ones
      point.outline = point.fill;
      point.fill = flip_color;
    }
  }
  const std::string float_title = "float weights: test " + accuracy_readout(lab, r, float_entry);
  const std::string quant_title = applied_setting_label(lab) + ": test " + accuracy_readout(lab, r, current);
  const float start_y = ImGui::GetCursorPosY();
  ImGui::Text("Decision boundary: %s", run.method.c_str());
  ImGui::SameLine();
  ImGui::TextDisabled("(?)");
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip(
        "Left (or top): the float model; right (or below): the same weights at the slider's\n"
        "setting. Points with a dark rim are training data, with a white rim test data.\n"
        "Pale bands are where the model is unsure. Click a run's chip to switch runs.\n"
        "Show flips: in white where the quantized model decides otherwise than the float one,\n"
        "and the test points it now classifies differently (white, rimmed in their class).");
  // The classes in one line above both plots, so no legend covers a point.
  for (int c = 0; c < data.num_classes; ++c) {
    const std::string entry = "\u25CF " + data.class_names[c];
    ImGui::SameLine();
    if (ImGui::GetContentRegionAvail().x < ImGui::CalcTextSize(entry.c_str()).x) ImGui::NewLine();
    ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(class_color(c)), "%s", entry.c_str());
  }
  ImGui::Checkbox("show flips", &state.show_flips);
  ImGui::SameLine();
  draw_flip_rates(lab, r, flips);
  size.y -= ImGui::GetCursorPosY() - start_y;

  // Side by side in a wide panel, one above the other in a tall one (a phone): each as large as fits.
  const bool stacked = size.y > size.x * 1.2f;
  const ImVec2 each = stacked ? ImVec2(size.x, (size.y - style.ItemSpacing.y) / 2)
                              : ImVec2((size.x - style.ItemSpacing.x) / 2, size.y);
  const ImU32 background = ImGui::GetColorU32(ImGuiCol_WindowBg);
  // disagree: the other map, whose differing cells are drawn in the flip colour; null for none.
  auto draw_one = [&](const char* id, const DecisionBoundary& boundary, const std::string& title,
                      std::span<const ScatterPoint> shown_points, const DecisionBoundary* disagree) {
    std::vector<ImU32> cells(boundary.predicted_class.size());
    std::vector<double> values(boundary.predicted_class.size());
    for (size_t i = 0; i < cells.size(); ++i) {
      // Deeper colour where the network is surer: the boundary shows as a pale band. Eight shades are
      // enough for the eye and let the heat map merge equal neighbours into one rectangle.
      const float certainty = std::round(8 * std::clamp((boundary.confidence[i] - 1.0f / data.num_classes) /
                                                            (1.0f - 1.0f / data.num_classes),
                                                        0.0f, 1.0f)) /
                              8;
      cells[i] = mix_colors(background, class_color(boundary.predicted_class[i]), 0.15f + 0.45f * certainty);
      if (disagree && disagree->predicted_class.size() == cells.size() &&
          disagree->predicted_class[i] != boundary.predicted_class[i])
        cells[i] = mix_colors(background, flip_color, 0.7f);
      values[i] = boundary.confidence[i];
    }
    HeatMapOptions options;
    options.title = title;
    options.size = each;
    options.x_axis.min = boundary.region.x_min, options.x_axis.max = boundary.region.x_max;
    options.y_axis.min = boundary.region.y_min, options.y_axis.max = boundary.region.y_max;
    options.points = shown_points;
    options.cell_values = values;
    options.value_name = "probability of the predicted class";
    options.legend = LegendPlacement::hidden;
    heat_map_plot(id, cells, boundary.resolution, boundary.resolution, options);
  };
  draw_one("boundary_float", run.float_boundary, float_title, points, nullptr);
  if (!stacked) ImGui::SameLine();
  if (run.quantized_boundary.predicted_class.empty())
    no_lab_message(each, "quantizing ...");
  else
    draw_one("boundary_quantized", run.quantized_boundary,
             lab.plane_maps_current(r) ? quant_title : quant_title + " (map of older weights, updating)",
             quantized_points, state.show_flips ? &run.float_boundary : nullptr);
}

// [SECTION] Weights

void draw_weights(PlaygroundState& state, ImVec2 size) {
  Lab& lab = *state.lab();
  const QuantizationSetting setting = lab.current_setting();
  const std::vector<LayerWeightStatistics>& layers = state.weight_statistics_of(state.selected_run);
  int& shown_layer = state.shown_layer;
  shown_layer = std::clamp(shown_layer, 0, static_cast<int>(layers.size()) - 1);
  ImGui::TextUnformatted("layer");
  for (int i = 0; i < static_cast<int>(layers.size()); ++i) {
    ImGui::SameLine();
    if (ImGui::RadioButton(layers[i].name.c_str(), shown_layer == i)) shown_layer = i;
  }
  const LayerWeightStatistics& stats = layers[shown_layer];
  std::vector<double> counts(stats.float_weights.counts.begin(), stats.float_weights.counts.end());
  std::vector<double> quantized(stats.quantized_weights.counts.begin(), stats.quantized_weights.counts.end());
  std::vector<double> levels(stats.grid_levels.begin(), stats.grid_levels.end());
  const int bits = setting.weight_bits_per_layer.empty() || setting.weight_bits_per_layer[stats.layer] < 0
                       ? setting.weights.bits
                       : setting.weight_bits_per_layer[stats.layer];
  const std::string grid_name =
      bits == 0
          ? ""
          : bits_label(bits) + " grid" +
                (stats.per_channel ? " of channel " + std::to_string(stats.shown_channel) + ", the widest"
                                   : "");
  // Float and quantized histograms side by side, not overlaid: the quantized values pile into a few
  // bins whose spikes would flatten the float histogram to nothing.
  const float available = size.y - ImGui::GetFrameHeightWithSpacing();
  const float spacing = ImGui::GetStyle().ItemSpacing.x;
  if (!grid_name.empty()) {
    ImGui::SameLine();
    text_ellipsized(grid_name, ImGui::GetContentRegionAvail().x, /*disabled=*/true);
  }
  const std::string float_title = "float weights";
  const std::string quantized_title =
      bits == 0 ? "quantized: (slider at float)" : "quantized, " + bits_label(bits);
  HistogramOptions options;
  options.title = float_title;
  options.size = ImVec2((size.x - 2 * spacing) * 0.38f, available);
  options.x_axis.label = "weight value";
  options.y_axis.label = "count";
  options.grid_lines = levels;
  options.grid_lines_name = grid_name;
  options.legend = LegendPlacement::hidden;
  histogram_plot("weights_histogram",
                 Histogram{"float weights", run_color(state.selected_run), counts, stats.float_weights.low,
                           stats.float_weights.high},
                 options);
  ImGui::SameLine();
  HistogramOptions quantized_options;
  quantized_options.title = quantized_title;
  quantized_options.size = ImVec2((size.x - 2 * spacing) * 0.32f, available);
  quantized_options.x_axis.label = "weight value";
  quantized_options.y_axis.label = "count";
  quantized_options.legend = LegendPlacement::hidden;
  histogram_plot("quantized_histogram",
                 Histogram{"quantized weights", run_color(state.selected_run), quantized,
                           stats.quantized_weights.low, stats.quantized_weights.high},
                 quantized_options);
  ImGui::SameLine();
  std::vector<double> xs(stats.staircase_x.begin(), stats.staircase_x.end());
  std::vector<double> ys(stats.staircase_y.begin(), stats.staircase_y.end());
  std::vector<double> identity_x = {stats.float_weights.low, stats.float_weights.high};
  LineSeries curves[] = {{"identity", IM_COL32(160, 160, 160, 200), identity_x, identity_x, false, true},
                         {"quantizer", run_color(state.selected_run), xs, ys, false, false, /*step=*/true}};
  LinePlotOptions staircase;
  staircase.title = bits == 0 ? "quantizer q(w) = w" : "q(w) (dashed: w)";
  staircase.size = ImVec2(-1, available);
  staircase.x_axis.label = "w";
  staircase.y_axis.label = "q(w)";
  staircase.legend = LegendPlacement::hidden;
  if (bits == 0)
    line_plot("transfer", std::span<const LineSeries>(curves, 1), staircase);
  else
    line_plot("transfer", curves, staircase);
}

// [SECTION] Images and confusion matrix

void draw_sample_images(PlaygroundState& state, ImVec2 size) {
  Lab& lab = *state.lab();
  const Dataset& data = lab.dataset();
  const EvaluationCache::Entry* entry = lab.evaluation(state.selected_run, lab.current_setting());
  const std::vector<int>& shape = data.sample_shape;
  const int height = shape.size() == 3 ? shape[0] : 1,
            width = shape.size() == 3 ? shape[1] : data.sample_size();
  const ImGuiStyle& style = ImGui::GetStyle();
  const float start_y = ImGui::GetCursorPosY();
  if (ImGui::RadioButton("first test images", !state.show_flipped_images)) state.show_flipped_images = false;
  ImGui::SameLine();
  if (ImGui::RadioButton("flipped", state.show_flipped_images)) state.show_flipped_images = true;
  const std::optional<DecisionFlips> flips = decision_flips(lab, state.selected_run, lab.current_setting());
  // Flipped images carry two lines under them (true label, then float -> quantized prediction), in fewer,
  // wider columns so class names fit.
  const int columns = state.show_flipped_images ? 4 : 6, rows = state.show_flipped_images ? 2 : 3;
  const int lines = state.show_flipped_images ? 2 : 1;
  auto cell_for_rest = [&] {
    const float width = size.x, height = size.y - (ImGui::GetCursorPosY() - start_y);
    return std::min(
        (width - style.ItemSpacing.x * (columns - 1)) / columns,
        (height - ImGui::GetTextLineHeightWithSpacing() * rows * lines) / rows - style.ItemSpacing.y);
  };
  std::vector<float> pixels(data.sample_size());
  std::vector<ImU32> cells(data.sample_size());
  auto draw_image = [&](size_t index, float cell) {
    data.test_x.copy_rows(index, 1, pixels.data());
    for (size_t p = 0; p < pixels.size(); ++p) {
      const int v = static_cast<int>(std::clamp(pixels[p], 0.0f, 1.0f) * 255);
      cells[p] = IM_COL32(v, v, v, 255);
    }
    HeatMapOptions options;
    options.size = ImVec2(cell, cell);
    options.show_axes = false;
    heat_map_plot(("image" + std::to_string(index)).c_str(), cells, width, height, options);
  };
  const ImU32 wrong_color = IM_COL32(255, 110, 90, 255);

  if (state.show_flipped_images) {
    ImGui::SameLine();
    draw_flip_rates(lab, state.selected_run, flips);
    if (!flips) return;
    const std::string& method = lab.run(state.selected_run).method;
    if (flips->flipped.empty()) {
      ImGui::TextDisabled("no flips at this setting: %s decides every test image as in float",
                          method.c_str());
      return;
    }
    text_ellipsized(std::to_string(flips->flipped.size()) + " test images flipped (" + method + ", " +
                        applied_setting_label(lab) + "): true label, float \u2192 quantized prediction",
                    size.x);
    const float cell = cell_for_rest();
    const float label_width = (size.x - style.ItemSpacing.x * (columns - 1)) / columns;
    const EvaluationCache::Entry* in_float = lab.evaluation(state.selected_run, lab.float_setting());
    const int shown = std::min<int>(columns * rows, static_cast<int>(flips->flipped.size()));
    for (int i = 0; i < shown; ++i) {
      const uint32_t index = flips->flipped[i];
      const int truth = data.test_y[index], before = in_float->predictions[index],
                after = entry->predictions[index];
      ImGui::BeginGroup();
      draw_image(index, cell);
      text_ellipsized(data.class_names[truth], label_width);
      // Red where the quantized model is now wrong; a flip can also make it right.
      ImGui::PushStyleColor(ImGuiCol_Text, after == truth ? ImGui::GetColorU32(ImGuiCol_Text) : wrong_color);
      text_ellipsized(data.class_names[before] + " \u2192 " + data.class_names[after], label_width);
      ImGui::PopStyleColor();
      ImGui::EndGroup();
      if ((i + 1) % columns != 0) ImGui::SameLine();
    }
    return;
  }

  ImGui::Text("%s, %s: predicted label (red: wrong)", lab.run(state.selected_run).method.c_str(),
              applied_setting_label(lab).c_str());
  const float cell = cell_for_rest();
  const int shown = std::min<int>(columns * rows, static_cast<int>(data.test_size()));
  // The cached evaluation fills predictions in a random order; until it is complete, these few images
  // are run through the same quantized forward here, so their labels never wait for the whole split.
  std::vector<int32_t> predictions(shown, -1);
  if (entry && entry->complete) {
    std::copy(entry->predictions.begin(), entry->predictions.begin() + shown, predictions.begin());
  } else if (const ForwardOptions<float>* forward =
                 lab.evaluation_forward(state.selected_run, lab.current_setting())) {
    std::vector<float> images(static_cast<size_t>(shown) * data.sample_size());
    data.test_x.copy_rows(0, shown, images.data());
    std::span<const float> logits = lab.network(state.selected_run).forward(images, shown, *forward);
    for (int i = 0; i < shown; ++i) {
      const float* row = logits.data() + static_cast<size_t>(i) * data.num_classes;
      predictions[i] = static_cast<int32_t>(std::max_element(row, row + data.num_classes) - row);
    }
  }
  for (int i = 0; i < shown; ++i) {
    ImGui::BeginGroup();
    draw_image(i, cell);
    const int predicted = predictions[i];
    const std::string label = predicted < 0 ? "..." : data.class_names[predicted];
    ImGui::PushStyleColor(ImGuiCol_Text, predicted < 0 || predicted == data.test_y[i]
                                             ? ImGui::GetColorU32(ImGuiCol_Text)
                                             : wrong_color);
    ImGui::TextUnformatted(label.c_str());
    ImGui::PopStyleColor();
    ImGui::EndGroup();
    if ((i + 1) % columns != 0) ImGui::SameLine();
  }
}

void draw_confusion_matrix(PlaygroundState& state, ImVec2 size) {
  Lab& lab = *state.lab();
  const Dataset& data = lab.dataset();
  const EvaluationCache::Entry* entry = lab.evaluation(state.selected_run, lab.current_setting());
  if (!entry) return no_lab_message(size, "evaluating ...");
  std::vector<int> counts(static_cast<size_t>(data.num_classes) * data.num_classes, 0);
  for (size_t i = 0; i < entry->predictions.size(); ++i)
    if (entry->predictions[i] >= 0) ++counts[data.test_y[i] * data.num_classes + entry->predictions[i]];
  const std::string title = lab.run(state.selected_run).method + ", " + applied_setting_label(lab) +
                            ", test " + accuracy_readout(lab, state.selected_run, entry) +
                            ": true class (rows) vs predicted (columns), % of each row";
  ConfusionMatrixOptions options;
  options.title = title;
  options.size = size;
  options.class_names = data.class_names;
  confusion_matrix_plot("confusion", counts, data.num_classes, options);
}

// [SECTION] Neurons

void draw_neuron_maps(PlaygroundState& state, ImVec2 size) {
  Lab& lab = *state.lab();
  const Architecture& architecture = lab.network(state.selected_run).architecture();
  const std::vector<int> layers = hidden_neuron_layers(architecture);
  if (layers.empty()) return no_lab_message(size, "this network has no hidden layer");
  int& shown = state.shown_neuron_layer;
  shown = std::clamp(shown, 0, static_cast<int>(layers.size()) - 1);
  const float start_y = ImGui::GetCursorPosY();
  ImGui::Text("%s, hidden layer", lab.run(state.selected_run).method.c_str());
  for (int i = 0; i < static_cast<int>(layers.size()); ++i) {
    ImGui::SameLine();
    const int width = architecture.layers[layers[i]].output.size();
    const std::string label =
        std::to_string(i + 1) + " (" + std::to_string(width) + ")##neuron_layer" + std::to_string(i);
    if (ImGui::RadioButton(label.c_str(), shown == i)) shown = i;
  }
  const std::string setting = bits_label(lab.state().experiment.weight_bits);
  const char* views[] = {"float", "quantized", "difference"};
  ImGui::TextUnformatted("show");
  for (int v = 0; v < 3; ++v) {
    ImGui::SameLine();
    if (ImGui::RadioButton(views[v], state.neuron_view == v)) state.neuron_view = v;
  }
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip(
        "What each neuron computes over the plane (blue positive, orange negative).\n"
        "difference: quantized minus float, where the slider's setting (%s weights) moved each\n"
        "neuron, and its root-mean-square over the plane.",
        setting.c_str());

  // The lab computes the maps of the layer drawn here (LabInterest::neuron_map_layer) beside the boundaries.
  state.neuron_map_layer = layers[shown];
  const LabRun& run = lab.run(state.selected_run);
  const NeuronMaps& float_maps = run.float_neuron_maps;
  const NeuronMaps& quantized_maps = run.quantized_neuron_maps;
  const bool difference = state.neuron_view == 2;
  const ImVec2 rest(size.x, size.y - (ImGui::GetCursorPosY() - start_y));
  if (float_maps.layer != layers[shown]) return no_lab_message(rest, "computing the neuron maps ...");
  if (state.neuron_view > 0 && quantized_maps.layer != layers[shown])
    return no_lab_message(rest, "quantizing ...");
  const NeuronMaps& shown_maps = state.neuron_view == 0 ? float_maps : quantized_maps;
  // One colour scale for the whole layer (and for float and quantized alike), so neurons compare.
  const size_t cells = static_cast<size_t>(float_maps.resolution) * float_maps.resolution;
  std::vector<float> values(shown_maps.values.begin(), shown_maps.values.end());
  if (difference)
    for (size_t i = 0; i < values.size(); ++i) values[i] -= float_maps.values[i];
  float scale = 0;
  for (float v : difference ? std::span<const float>(values) : std::span<const float>(float_maps.values))
    scale = std::max(scale, std::fabs(v));
  if (!difference && quantized_maps.layer == float_maps.layer)
    for (float v : quantized_maps.values) scale = std::max(scale, std::fabs(v));
  if (!(scale > 0)) scale = 1;
  ImGui::SameLine();
  char low[24], high[24];
  std::snprintf(low, sizeof low, "%.3g", -scale);
  std::snprintf(high, sizeof high, "+%.3g", scale);
  color_bar(ColorScale::diverging, low, high, 6 * ImGui::GetFontSize());
  if (!lab.plane_maps_current(state.selected_run)) {
    ImGui::SameLine();
    ImGui::TextDisabled("(of older weights, updating)");
  }

  // One canvas of small square maps, a label line over each, as large as the rest of the panel allows.
  const ImVec2 area(size.x, size.y - (ImGui::GetCursorPosY() - start_y));
  const float font = ImGui::GetFontSize(), gap = 0.5f * font, label = 1.1f * font;
  const int count = float_maps.neurons, resolution = float_maps.resolution;
  int columns = 1;
  float side = 0;
  for (int c = 1; c <= count; ++c) {
    const int rows = (count + c - 1) / c;
    const float fit = std::min((area.x - gap * (c - 1)) / c, (area.y - gap * (rows - 1)) / rows - label);
    if (fit > side) side = fit, columns = c;
  }
  side = std::max(side, 2 * font);  // too many to fit: they scroll
  const int rows = (count + columns - 1) / columns;
  ImGui::InvisibleButton(
      "neuron_maps", ImVec2(columns * side + (columns - 1) * gap, rows * (side + label) + (rows - 1) * gap));
  const ImVec2 origin = ImGui::GetItemRectMin();
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const ImVec2 mouse = ImGui::GetIO().MousePos;
  const bool hovered = ImGui::IsItemHovered();
  const float cell = side / resolution;
  for (int n = 0; n < count; ++n) {
    std::span<const float> map = std::span<const float>(values).subspan(n * cells, cells);
    const ImVec2 corner(origin.x + (n % columns) * (side + gap),
                        origin.y + (n / columns) * (side + label + gap) + label);
    char name[16];
    std::snprintf(name, sizeof name, "n%d", n + 1);
    draw->PushClipRect(ImVec2(corner.x, corner.y - label), ImVec2(corner.x + side, corner.y), true);
    draw->AddText(ImVec2(corner.x, corner.y - label), ImGui::GetColorU32(ImGuiCol_TextDisabled), name);
    draw->PopClipRect();
    draw_neuron_tile(draw, corner, side, map, resolution, scale);
    const int column = static_cast<int>((mouse.x - corner.x) / cell);
    const int row = static_cast<int>((mouse.y - corner.y) / cell);
    if (!hovered || mouse.x < corner.x || mouse.y < corner.y || column >= resolution || row >= resolution)
      continue;
    const PlaneRegion& region = float_maps.region;
    double squares = 0;
    for (float v : map) squares += double(v) * v;
    ImGui::SetTooltip("neuron %d at (%.2f, %.2f)\n%s: %.3g\nroot mean square over the plane: %.3g", n + 1,
                      region.x_min + (column + 0.5) * (region.x_max - region.x_min) / resolution,
                      region.y_max - (row + 0.5) * (region.y_max - region.y_min) / resolution,
                      difference ? "quantized - float" : "output", map[row * resolution + column],
                      std::sqrt(squares / cells));
  }
}

// [SECTION] What the methods learned, and the recipes

bool any_method_readouts(const Lab& lab) {
  for (int r = 0; r < lab.run_count(); ++r)
    if (!lab.run(r).readouts.empty()) return true;
  return false;
}

void draw_method_readouts(PlaygroundState& state) {
  const Lab& lab = *state.lab();
  const std::vector<int>& layers = lab.weighted_layers();
  const std::vector<std::string> layer_names = weighted_layer_names(lab);
  ImGui::TextWrapped("What each method learned besides its weights, per layer (as trained so far).");
  for (int r = 0; r < lab.run_count(); ++r) {
    const std::vector<MethodReadout>& readouts = lab.run(r).readouts;
    if (readouts.empty()) continue;
    ImGui::Spacing();
    ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(run_color(r)), "%s", lab.run(r).method.c_str());
    // Rows are the read-outs in the method's order; columns the weighted layers, then the whole network.
    std::vector<std::string> names;
    bool whole_network = false;
    for (const MethodReadout& readout : readouts) {
      if (std::find(names.begin(), names.end(), readout.name) == names.end()) names.push_back(readout.name);
      whole_network = whole_network || readout.layer < 0;
    }
    const int columns = 1 + static_cast<int>(layers.size()) + (whole_network ? 1 : 0);
    const std::string table_id = "readouts" + std::to_string(r);
    if (!ImGui::BeginTable(table_id.c_str(), columns,
                           ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingFixedFit))
      continue;
    ImGui::TableSetupColumn("read-out");
    for (const std::string& name : layer_names) ImGui::TableSetupColumn(name.c_str());
    if (whole_network) ImGui::TableSetupColumn("network");
    ImGui::TableHeadersRow();
    for (const std::string& name : names) {
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(name.c_str());
      std::vector<std::string> cells(columns - 1, "-");
      for (const MethodReadout& readout : readouts) {
        if (readout.name != name) continue;
        const auto at = std::find(layers.begin(), layers.end(), readout.layer);
        if (at != layers.end())
          cells[static_cast<size_t>(at - layers.begin())] = readout_text(readout);
        else if (readout.layer < 0)
          cells.back() = readout_text(readout);
      }
      for (const std::string& cell : cells) {
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(cell.c_str());
      }
    }
    ImGui::EndTable();
  }
}

void draw_method_recipes(PlaygroundState& state, int* active,
                         const std::function<void(std::string)>& remember) {
  const std::vector<MethodRecipe>& recipes = method_recipes();
  ImGui::TextWrapped("Each button sets up a comparison where one paper's claim can be checked in seconds.");
  for (size_t i = 0; i < recipes.size(); ++i) {
    const std::string label = std::string(recipes[i].title) + "##recipe";
    if (i > 0) {
      const float width =
          ImGui::CalcTextSize(recipes[i].title.data(), recipes[i].title.data() + recipes[i].title.size()).x +
          2 * ImGui::GetStyle().FramePadding.x;
      const float right = ImGui::GetItemRectMax().x + ImGui::GetStyle().ItemSpacing.x + width;
      if (right <= ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x) ImGui::SameLine();
    }
    const bool clicked = ImGui::Button(label.c_str());
    remember("recipe_" + std::string(recipes[i].method));
    if (clicked) {
      state.apply_state(lab_state_from_hash(recipes[i].state).state,
                        "the recipe " + std::string(recipes[i].title));
      if (Lab* lab = state.lab()) lab->play();
      *active = static_cast<int>(i);
    }
    if (ImGui::IsItemHovered()) {
      ImGui::BeginTooltip();
      ImGui::PushTextWrapPos(ImGui::GetFontSize() * 28);
      ImGui::TextUnformatted(recipes[i].look.data(), recipes[i].look.data() + recipes[i].look.size());
      ImGui::PopTextWrapPos();
      ImGui::EndTooltip();
    }
  }
  if (*active < 0) return;
  const MethodRecipe& recipe = recipes[static_cast<size_t>(*active)];
  ImGui::Separator();
  ImGui::TextWrapped("%.*s: %.*s", int(recipe.title.size()), recipe.title.data(), int(recipe.look.size()),
                     recipe.look.data());
  if (ImGui::SmallButton("Hide##recipe")) *active = -1;
}

}  // namespace qplay::ui

// The playground's layout: the top bar, the setup sidebar, the slider strip and a grid of plot panels,
// in one window over the whole display. Sizes are multiples of the font size, so the layout holds at
// 1280x720 and on HiDPI screens alike. Contents:
//   [SECTION] Frame and top bar
//   [SECTION] Setup sidebar
//   [SECTION] Slider strip and headline
//   [SECTION] Panels and tabs
//   [SECTION] Status bar and files
//   [SECTION] The public Playground
#include "core/ui/playground.h"

#include <imgui.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <utility>

#include "core/engine/deploy/onnx_export.h"
#include "core/engine/experiment/state_table.h"
#include "core/engine/io/model_file.h"
#include "core/engine/lab/lab_commands.h"
#include "core/engine/lab/lab_report.h"
#include "core/ui/panels.h"
#include "core/ui/playground_state.h"
#include "core/ui/plot.h"
#include "core/ui/setting_widgets.h"

namespace qplay::ui {
namespace {

// The playground's share of a frame (training, evaluation and layout): leaves room for 60 fps.
constexpr double kFrameBudgetMs = 8.0;
constexpr double kSmallestLabSliceMs = 2.0;  // however long the layout takes, training still moves
// Narrower than this many font sizes (a phone, a small embed), the top bar folds its file buttons into
// a menu and the setup becomes a drawer.
constexpr float kCompactWidthInFonts = 48;

// Continues the row if `width` more pixels fit after a gap, else starts a new one: the slider strip
// wraps on narrow windows instead of running off the edge.
void same_line_if_fits(float width, float gap_in_fonts = 1.5f) {
  ImGui::SameLine(0, ImGui::GetFontSize() * gap_in_fonts);
  if (ImGui::GetContentRegionAvail().x < width) ImGui::NewLine();
}

// A plain-language sentence under the mouse, wrapped to a readable width.
void help_tooltip(std::string_view text) {
  if (text.empty() || !ImGui::IsItemHovered()) return;
  ImGui::BeginTooltip();
  ImGui::PushTextWrapPos(ImGui::GetFontSize() * 28);
  ImGui::TextUnformatted(text.data(), text.data() + text.size());
  ImGui::PopTextWrapPos();
  ImGui::EndTooltip();
}

struct ControlRect {
  ImVec2 min, max;
};

}  // namespace

struct Playground::Impl {
  Impl(Platform& p, std::string_view hash) : platform(p), state(p, hash) {
    // Every plot's right-click menu saves it through the platform.
    set_plot_saving(
        {[&platform = p](const std::string& name, std::string svg) { platform.save_file(name, svg); },
         [&platform = p](const std::string& name, ImVec2 min, ImVec2 max) {
           platform.save_frame_region_png(name, min.x, min.y, max.x - min.x, max.y - min.y);
         }});
  }
  ~Impl() { set_plot_saving({}); }

  Platform& platform;
  PlaygroundState state;
  long frames = 0;
  bool compact = false;            // this frame's window is narrow (kCompactWidthInFonts)
  bool setup_drawer_open = false;  // compact only: the setup covers the body
  int active_recipe = -1;          // the method recipe applied last, whose "what to look for" stays shown
  double layout_ms = 0;            // moving average of the frame's time outside the lab
  std::map<std::string, ControlRect, std::less<>> control_rects;

  bool hidden(std::string_view name) const {
    const Lab* lab = state.lab();
    return lab && lab->state().hidden.count(std::string(name));
  }
  // Settings that mean nothing now (the state table says when each applies) or here (a data folder or a
  // model to start from in a browser, which has no file system) stay out of the way, as do those the
  // embedding page hid.
  bool shown_in_sidebar(const SettingRow& row) const {
    const bool names_a_file = row.key == "data_dir" || row.key == "init_model";
    return !hidden(row.key) && setting_applies(row, state.lab()->state().experiment) &&
           (!names_a_file || platform.has_file_system());
  }
  // The last item's rectangle under a name, for tests that click like a person (control_rect).
  void remember(std::string_view name) {
    control_rects[std::string(name)] = {ImGui::GetItemRectMin(), ImGui::GetItemRectMax()};
  }

  void frame();
  void top_bar();
  void setup_sidebar();
  void file_buttons();
  void settings_group(std::string_view group);
  void methods_section();
  void slider_strip();
  void learned_bits_buttons();
  void headline();
  void bit_slider(const char* key, const char* label, float width);
  void panels(ImVec2 size);
  void details_tabs();
  void status_bar();
  void save_experiment();
  void save_model();
  void export_model(bool onnx);
  void export_menu_items();
  void open();
};

// [SECTION] Frame and top bar

void Playground::Impl::frame() {
  ++frames;
  control_rects.clear();  // a control not drawn this frame has no rectangle (control_rect's contract)
  // The lab gets what the layout (measured on the frames before) leaves of the budget.
  state.advance(std::max(kSmallestLabSliceMs, kFrameBudgetMs - layout_ms));
  const auto layout_start = std::chrono::steady_clock::now();
  const ImGuiViewport* viewport = ImGui::GetMainViewport();
  ImGui::SetNextWindowPos(viewport->WorkPos);
  ImGui::SetNextWindowSize(viewport->WorkSize);
  ImGui::Begin("QPlay", nullptr,
               ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoSavedSettings |
                   ImGuiWindowFlags_NoBringToFrontOnFocus);
  compact = ImGui::GetContentRegionAvail().x < ImGui::GetFontSize() * kCompactWidthInFonts;
  top_bar();
  const float status_height = ImGui::GetFrameHeightWithSpacing();
  const ImVec2 body(ImGui::GetContentRegionAvail().x, ImGui::GetContentRegionAvail().y - status_height);
  const bool with_setup = !hidden("setup") && state.lab();
  if (with_setup && compact && setup_drawer_open) {
    // A phone: the setup is a drawer over the whole body, its fields as wide as the screen.
    ImGui::BeginChild("setup", ImVec2(0, body.y), true);
    if (ImGui::Button("Close setup")) setup_drawer_open = false;
    remember("close_setup");
    setup_sidebar();
    ImGui::EndChild();
  } else {
    if (with_setup && !compact) {
      const float sidebar = std::min(ImGui::GetFontSize() * 22.0f, body.x * 0.3f);
      ImGui::BeginChild("setup", ImVec2(sidebar, body.y), true);
      setup_sidebar();
      ImGui::EndChild();
      ImGui::SameLine();
    }
    ImGui::BeginChild("main", ImVec2(0, body.y), false);
    if (state.lab()) {
      if (!hidden("slider")) slider_strip();
      panels(ImGui::GetContentRegionAvail());
    }
    ImGui::EndChild();
  }
  status_bar();
  ImGui::End();
  finish_plot_saving();
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - layout_start).count();
  // Capped: a frame that opened a file or rebuilt the lab says nothing about the next ones' layout.
  layout_ms = 0.9 * layout_ms + 0.1 * std::min(ms, kFrameBudgetMs);
}

// Title, run controls and training progress, file buttons at the right. Items wrap to a new line
// rather than overlap; on a narrow window the file buttons and the setup drawer are in a menu.
void Playground::Impl::top_bar() {
  Lab* lab = state.lab();
  ImGui::TextUnformatted("QPlay");
  if (!compact) {
    ImGui::SameLine();
    ImGui::TextDisabled("quantization playground");
  }
  if (!lab) return;
  const float font = ImGui::GetFontSize();
  if (compact && (!hidden("files") || !hidden("setup"))) {
    ImGui::SameLine();
    if (ImGui::Button("Menu")) ImGui::OpenPopup("menu");
    remember("menu");
    if (ImGui::BeginPopup("menu")) {
      if (!hidden("setup") &&
          ImGui::MenuItem(setup_drawer_open ? "Hide setup" : "Setup: data, model, methods"))
        setup_drawer_open = !setup_drawer_open;
      remember("menu_setup");
      if (!hidden("files")) {
        if (ImGui::MenuItem("Open...")) open();
        if (ImGui::MenuItem("Save experiment")) save_experiment();
        if (ImGui::MenuItem("Save model (the selected run)")) save_model();
        export_menu_items();
      }
      ImGui::EndPopup();
    }
  }
  if (!hidden("run")) {
    same_line_if_fits(font * 5);
    const bool playing = lab->playing();
    if (ImGui::Button(playing ? "Pause" : (lab->finished() ? "Trained" : "Play"), ImVec2(font * 5, 0))) {
      if (playing)
        lab->pause();
      else
        lab->play();
    }
    remember("play");
    same_line_if_fits(font * 3, 0.5f);
    if (ImGui::Button("Step")) lab->step();
    remember("step");
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("one mini-batch in every run");
    same_line_if_fits(font * 3, 0.5f);
    if (ImGui::Button("Reset")) {
      Status status = lab->reset();
      state.say(status ? "back to the initial weights (same seed)" : status.message(), !status);
    }
    remember("reset");
    const Trainer& trainer = lab->trainer(0);
    char epochs[48];
    std::snprintf(epochs, sizeof epochs, "epoch %d / %d", trainer.completed_epochs(),
                  lab->state().experiment.epochs);
    same_line_if_fits(ImGui::CalcTextSize(epochs).x + font * 6.5f, 0.5f);
    ImGui::TextUnformatted(epochs);
    ImGui::SameLine();
    ImGui::ProgressBar(static_cast<float>((trainer.completed_epochs() + trainer.epoch_fraction()) /
                                          std::max(1, lab->state().experiment.epochs)),
                       ImVec2(font * 6, 0), "");
    if (lab->playing() && !compact) {
      same_line_if_fits(font * 8, 0.5f);
      ImGui::TextDisabled("%.0f samples/s", lab->training_samples_per_second());
    }
  }
  if (!compact && !hidden("files")) file_buttons();
}

// Right-aligned when the row has room, else on a line of their own.
void Playground::Impl::file_buttons() {
  const ImGuiStyle& style = ImGui::GetStyle();
  auto width_of = [&](const char* label) { return ImGui::CalcTextSize(label).x + 2 * style.FramePadding.x; };
  const float buttons = width_of("Open...") + width_of("Save experiment") + width_of("Save model") +
                        width_of("Export") + 3 * style.ItemSpacing.x;
  ImGui::SameLine();
  const float right = ImGui::GetWindowContentRegionMax().x - buttons;
  if (ImGui::GetCursorPosX() + ImGui::GetFontSize() > right)
    ImGui::NewLine();
  else
    ImGui::SameLine(right);
  if (ImGui::Button("Open...")) open();
  ImGui::SameLine();
  if (ImGui::Button("Save experiment")) save_experiment();
  ImGui::SameLine();
  if (ImGui::Button("Save model")) save_model();
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("the selected run's weights and experiment");
  ImGui::SameLine();
  if (ImGui::Button("Export")) ImGui::OpenPopup("export");
  if (ImGui::BeginPopup("export")) {
    export_menu_items();
    ImGui::EndPopup();
  }
}

void Playground::Impl::export_menu_items() {
  if (ImGui::MenuItem("Download ONNX (selected run, current bits)")) export_model(true);
  if (ImGui::MenuItem("Download integer JSON (selected run, current bits)")) export_model(false);
}

// [SECTION] Setup sidebar

void Playground::Impl::settings_group(std::string_view group) {
  Lab& lab = *state.lab();
  for (const SettingRow& row : experiment_settings()) {
    if (row.group != group || !shown_in_sidebar(row)) continue;
    std::string value;
    const bool changed = setting_widget(row, get_setting(lab.state().experiment, row), &value);
    remember(row.key);
    if (changed) state.apply_setting(row.key, value);
  }
}

void Playground::Impl::methods_section() {
  Lab& lab = *state.lab();
  const std::vector<std::string>& chosen = lab.state().methods;
  for (std::string_view name : lab_method_names()) {
    const auto at = std::find(chosen.begin(), chosen.end(), name);
    bool on = at != chosen.end();
    const int index = on ? static_cast<int>(at - chosen.begin()) : -1;
    if (on) ImGui::PushStyleColor(ImGuiCol_CheckMark, run_color(index));
    const std::string label(name);
    if (ImGui::Checkbox(label.c_str(), &on)) {
      std::vector<std::string> next = chosen;
      if (on)
        next.push_back(label);
      else
        next.erase(std::find(next.begin(), next.end(), label));
      if (next.empty())
        state.say("keep at least one method", true);
      else
        state.apply_setting("methods", format_method_list(next));
    }
    if (index >= 0) ImGui::PopStyleColor();
    help_tooltip(method_summary(name));
    if (on && name != "baseline") {
      ImGui::Indent();
      settings_group(name);
      ImGui::Unindent();
    }
  }
}

void Playground::Impl::setup_sidebar() {
  if (!hidden("methods") && ImGui::CollapsingHeader("See a method's effect", ImGuiTreeNodeFlags_DefaultOpen))
    draw_method_recipes(state, &active_recipe, [this](std::string name) { remember(name); });
  if (ImGui::CollapsingHeader("Data", ImGuiTreeNodeFlags_DefaultOpen)) {
    settings_group("data");
    // What the limits and fractions above came to (a browser's data pack holds fewer images than 60,000).
    const Dataset& data = state.lab()->dataset();
    ImGui::TextDisabled("%zu training and %zu test samples", data.train_size(), data.test_size());
  }
  if (ImGui::CollapsingHeader("Model and training", ImGuiTreeNodeFlags_DefaultOpen)) {
    settings_group("model");
    settings_group("training");
  }
  if (!hidden("methods") && ImGui::CollapsingHeader("Methods to compare", ImGuiTreeNodeFlags_DefaultOpen))
    methods_section();
  if (ImGui::CollapsingHeader("Quantizer")) {
    for (const SettingRow& row : experiment_settings()) {
      // The slider strip has the bit-widths, granularity and range method.
      if (row.group != "quantization" || row.key == "weight_bits" || row.key == "activation_bits" ||
          row.key == "granularity" || row.key == "range_method" || !shown_in_sidebar(row))
        continue;
      std::string value;
      if (setting_widget(row, get_setting(state.lab()->state().experiment, row), &value))
        state.apply_setting(row.key, value);
    }
  }
  if (ImGui::CollapsingHeader("Compute")) settings_group("compute");
}

// [SECTION] Slider strip and headline

// Bit-width slider positions 0..7 read 2, 3, ..., 8, float: coarse on the left, exact on the right.
void Playground::Impl::bit_slider(const char* key, const char* label, float width) {
  Lab& lab = *state.lab();
  const int bits =
      key[0] == 'w' ? lab.state().experiment.weight_bits : lab.state().experiment.activation_bits;
  int position = bits == 0 ? 7 : std::clamp(bits, 2, 8) - 2;
  std::string shown = bits == 0 ? "float" : std::to_string(bits) + " bits";
  // With per-layer weight bits the slider sets only the layers left at "global": say so.
  const std::vector<int>& per_layer = lab.state().layer_weight_bits;
  if (key[0] == 'w' && !per_layer.empty()) {
    const bool any_global = std::any_of(per_layer.begin(), per_layer.end(), [](int b) { return b < 0; });
    shown = any_global ? shown + ", other layers per layer" : "unused: every layer set per layer";
  }
  ImGui::TextUnformatted(label);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(width);
  if (ImGui::SliderInt((std::string("##") + key).c_str(), &position, 0, 7, shown.c_str(),
                       ImGuiSliderFlags_AlwaysClamp)) {
    const int next = position == 7 ? 0 : position + 2;
    if (next != bits) state.apply_setting(key, std::to_string(next));
  }
  remember(key);
}

void Playground::Impl::slider_strip() {
  Lab& lab = *state.lab();
  const float font = ImGui::GetFontSize();
  if (!hidden("weight_bits")) bit_slider("weight_bits", "Weight bits", font * 14);
  if (!hidden("activation_bits")) {
    same_line_if_fits(font * 17);
    bit_slider("activation_bits", "Activation bits", font * 10);
  }
  if (!hidden("granularity")) {
    same_line_if_fits(font * 12);
    const bool per_channel = lab.state().experiment.granularity == Granularity::per_channel;
    if (ImGui::RadioButton("per channel", per_channel) && !per_channel)
      state.apply_setting("granularity", "per-channel");
    ImGui::SameLine();
    if (ImGui::RadioButton("per tensor", !per_channel) && per_channel)
      state.apply_setting("granularity", "per-tensor");
  }
  if (!hidden("range_method")) {
    same_line_if_fits(font * 11);
    const SettingRow& row = *find_setting("range_method");
    const std::string current = get_setting(lab.state().experiment, row);
    ImGui::TextUnformatted("range");
    ImGui::SameLine();
    ImGui::SetNextItemWidth(font * 7);
    if (ImGui::BeginCombo("##range_method", current.c_str())) {
      for (std::string_view choice : row.choices)
        if (ImGui::Selectable(std::string(choice).c_str(), choice == current) && choice != current)
          state.apply_setting("range_method", choice);
      ImGui::EndCombo();
    }
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", std::string(row.help).c_str());
  }
  if (!hidden("layer_weight_bits")) {
    same_line_if_fits(font * 5);
    bool per_layer = !lab.state().layer_weight_bits.empty();
    if (ImGui::Checkbox("per layer", &per_layer))
      state.apply_setting(
          "layer_weight_bits",
          per_layer ? format_layer_bits(std::vector<int>(lab.weighted_layers().size(), -1)) : "");
    if (per_layer) {
      std::vector<int> bits = lab.state().layer_weight_bits;
      for (size_t i = 0; i < bits.size(); ++i) {
        same_line_if_fits(font * 4.5f);
        ImGui::SetNextItemWidth(font * 4.5f);
        int value = bits[i];
        const std::string id = "##layer" + std::to_string(i);
        const std::string shown = value < 0    ? "L" + std::to_string(i) + " global"
                                  : value == 0 ? "L" + std::to_string(i) + " float"
                                               : "L" + std::to_string(i) + " %d";
        if (ImGui::SliderInt(id.c_str(), &value, -1, 8, shown.c_str(), ImGuiSliderFlags_AlwaysClamp)) {
          bits[i] = value == 1 ? (bits[i] < 1 ? 2 : 0) : value;
          state.apply_setting("layer_weight_bits", format_layer_bits(bits));
        }
      }
    }
  }
  // One chip per run: its accuracy at the slider's setting, next to its float accuracy.
  for (int r = 0; r < lab.run_count(); ++r) {
    const EvaluationCache::Entry* entry = lab.evaluation(r, lab.current_setting());
    const EvaluationCache::Entry* at_float = lab.evaluation(r, lab.setting_with_weight_bits(0));
    const std::string text = lab.run(r).method + "  " + accuracy_readout(lab, r, entry) +
                             (lab.run(r).loaded ? " (loaded)" : "") + "##chip" + std::to_string(r);
    if (r > 0)
      same_line_if_fits(ImGui::CalcTextSize(text.c_str(), nullptr, true).x +
                        2 * ImGui::GetStyle().FramePadding.x);
    ImGui::PushStyleColor(ImGuiCol_Button, run_color(r) & 0x60FFFFFF);
    ImGui::PushStyleColor(ImGuiCol_ButtonActive, run_color(r) & 0xA0FFFFFF);
    ImGui::PushStyleColor(ImGuiCol_ButtonHovered, run_color(r) & 0x90FFFFFF);
    // A number not of the current weights is faded: it is being redone.
    const bool current = is_current_readout(lab, r, entry);
    ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetColorU32(current ? ImGuiCol_Text : ImGuiCol_TextDisabled));
    // Decided once: the click below may select this run, and the pop must match the push.
    const bool selected = r == state.selected_run;
    if (selected) ImGui::PushStyleVar(ImGuiStyleVar_FrameBorderSize, 2.0f);
    if (ImGui::Button(text.c_str())) state.selected_run = r;
    remember("chip" + std::to_string(r));
    if (selected) ImGui::PopStyleVar();
    ImGui::PopStyleColor(4);
    if (ImGui::IsItemHovered()) {
      const Status& status = lab.trainer(r).status();
      ImGui::BeginTooltip();
      ImGui::Text("%s: test accuracy with %s", lab.run(r).method.c_str(), applied_setting_label(lab).c_str());
      ImGui::PushTextWrapPos(ImGui::GetFontSize() * 28);
      ImGui::TextDisabled("%s", std::string(method_summary(lab.run(r).method)).c_str());
      ImGui::PopTextWrapPos();
      if (entry && !current)
        ImGui::TextDisabled(lab.freshness(r, *entry) == Lab::Freshness::partial
                                ? "\u2248: a first estimate on %d test samples, refining"
                                : "\u2026: of older weights, being evaluated again",
                            static_cast<int>(entry->result.samples));
      if (at_float) ImGui::Text("with float weights: %s", accuracy_readout(lab, r, at_float).c_str());
      const std::vector<EpochMetrics>& history = lab.trainer(r).history();
      if (!history.empty() && history.back().train_penalty != 0) {
        const EpochMetrics& last = history.back();
        ImGui::TextDisabled("epoch %d objective: cross-entropy %.4f + penalty %.4f = %.4f", last.epoch,
                            last.train_loss, last.train_penalty, last.train_loss + last.train_penalty);
      }
      if (!status) ImGui::TextColored(ImVec4(1, 0.5f, 0.4f, 1), "%s", status.message().c_str());
      ImGui::TextDisabled("click: show this run's boundary and weights");
      ImGui::EndTooltip();
    }
  }
  headline();
}

namespace {

// Pieces of text in a row, each kept whole: a piece that does not fit starts a new line (ImGui's own
// wrapping would break "93.8%" at its point). color 0: the text colour.
void flow_text(const std::vector<std::pair<std::string, ImU32>>& pieces) {
  const float space = ImGui::CalcTextSize(" ").x;
  for (size_t i = 0; i < pieces.size(); ++i) {
    const auto& [text, color] = pieces[i];
    if (i > 0) {
      ImGui::SameLine(0, space);
      if (ImGui::GetContentRegionAvail().x < ImGui::CalcTextSize(text.c_str()).x) ImGui::NewLine();
    }
    if (color) ImGui::PushStyleColor(ImGuiCol_Text, color);
    ImGui::TextUnformatted(text.c_str());
    if (color) ImGui::PopStyleColor();
  }
}

}  // namespace

// One line under the chips that says what the numbers show, from the numbers themselves.
void Playground::Impl::headline() {
  const Lab& lab = *state.lab();
  const QuantizationSetting current = lab.current_setting();
  const bool all_float = current.weights.bits == 0 && !quantizes_activations(current) &&
                         std::none_of(current.weight_bits_per_layer.begin(),
                                      current.weight_bits_per_layer.end(), [](int b) { return b > 0; });
  if (all_float) {
    ImGui::TextWrapped(
        "Everything is in float now (%s): drag Weight bits to the left to squeeze the weights into "
        "fewer bits and see which run keeps its accuracy.",
        model_size_label(lab).c_str());
    return;
  }
  std::vector<std::pair<std::string, ImU32>> pieces = {
      {"With " + applied_setting_label(lab) + " (float \u2192 quantized):", 0}};
  int best = -1, worst = -1;
  double best_drop = 0, worst_drop = 0;
  for (int r = 0; r < lab.run_count(); ++r) {
    const EvaluationCache::Entry* quantized = lab.evaluation(r, current);
    const EvaluationCache::Entry* at_float = lab.evaluation(r, lab.setting_with_weight_bits(0));
    if (!is_current_readout(lab, r, quantized) || !is_current_readout(lab, r, at_float)) {
      ImGui::TextDisabled("With %s: evaluating \u2026", applied_setting_label(lab).c_str());
      return;
    }
    const double drop = 100 * (at_float->result.accuracy - quantized->result.accuracy);
    if (best < 0 || drop < best_drop) best = r, best_drop = drop;
    if (worst < 0 || drop > worst_drop) worst = r, worst_drop = drop;
    char part[96];
    std::snprintf(part, sizeof part, "%s %.1f%% \u2192 %.1f%%%s", lab.run(r).method.c_str(),
                  100 * at_float->result.accuracy, 100 * quantized->result.accuracy,
                  r + 1 < lab.run_count() ? "," : ".");
    pieces.emplace_back(part, run_color(r));
  }
  char summary[96];
  if (lab.run_count() > 1 && worst_drop - best_drop >= 1) {
    // A method read on its own grid (CPQ) can gain from rounding: its float weights are latent.
    const char* best_words =
        best_drop < 0 ? (worst_drop < 0 ? "gains the most" : "gains") : "loses the least";
    const char* worst_words = worst_drop < 0 ? "the least" : best_drop < 0 ? "loses" : "the most";
    std::snprintf(summary, sizeof summary, "%s %s, %.1f points;", lab.run(best).method.c_str(), best_words,
                  std::abs(best_drop));
    pieces.emplace_back(summary, 0);
    std::snprintf(summary, sizeof summary, "%s %s, %.1f.", lab.run(worst).method.c_str(), worst_words,
                  std::abs(worst_drop));
    pieces.emplace_back(summary, 0);
  } else if (lab.run_count() > 1) {
    pieces.emplace_back("The runs lose about the same here: try fewer bits.", 0);
  }
  pieces.emplace_back(model_size_label(lab) + ".", ImGui::GetColorU32(ImGuiCol_TextDisabled));
  flow_text(pieces);
}

// [SECTION] Panels and tabs

// The visible panels share the space: a 2x2 grid for four, side by side for two, one row of two above
// a full-width one for three. A small window (an embedded widget) shows one panel at a time in tabs.
void Playground::Impl::panels(ImVec2 size) {
  Lab& lab = *state.lab();
  const ImGuiStyle& style = ImGui::GetStyle();
  const bool plane = lab.is_plane_data();
  struct Panel {
    const char* title;
    std::function<void(ImVec2)> draw;
  };
  std::vector<Panel> shown;
  if (!hidden("curves"))
    shown.push_back({"Accuracy vs bits", [&](ImVec2 s) { draw_accuracy_curves(state, s); }});
  if (plane && !hidden("boundary"))
    shown.push_back({"Decision boundary", [&](ImVec2 s) { draw_decision_boundaries(state, s); }});
  if (!plane && !hidden("images"))
    shown.push_back({"Images", [&](ImVec2 s) { draw_sample_images(state, s); }});
  if (!hidden("training")) shown.push_back({"Training", [&](ImVec2 s) { draw_training_curves(state, s); }});
  const bool details = !hidden("weights") || !hidden("sensitivity") || (plane && !hidden("neurons")) ||
                       (!hidden("learned") && any_method_readouts(*state.lab())) ||
                       (!plane && !hidden("images"));
  if (details) shown.push_back({"Details", [&](ImVec2) { details_tabs(); }});
  state.sensitivity_visible = false;
  state.neuron_map_layer = -1;
  if (shown.empty()) return;

  const float font = ImGui::GetFontSize();
  if (size.x < font * 48 || size.y < font * 24) {
    if (ImGui::BeginTabBar("panels")) {
      for (const Panel& panel : shown) {
        if (!ImGui::BeginTabItem(panel.title)) continue;
        if (panel.title == std::string_view("Details"))
          details_tabs();
        else
          panel.draw(ImGui::GetContentRegionAvail());
        ImGui::EndTabItem();
      }
      ImGui::EndTabBar();
    }
    return;
  }
  const int count = static_cast<int>(shown.size());
  const float half_width = (size.x - style.ItemSpacing.x) / 2;
  const float row_height = count <= 2 ? size.y : (size.y - style.ItemSpacing.y) / 2;
  for (int i = 0; i < count; ++i) {
    // The last panel of an odd count takes the whole row.
    const bool full_row = count == 1 || (count == 3 && i == 2);
    const ImVec2 box(full_row ? size.x : half_width, row_height);
    if (i % 2 == 1) ImGui::SameLine();
    ImGui::BeginChild(shown[i].title, box);
    shown[i].draw(ImGui::GetContentRegionAvail());
    ImGui::EndChild();
  }
}

void Playground::Impl::details_tabs() {
  const bool plane = state.lab()->is_plane_data();
  if (!ImGui::BeginTabBar("details")) return;
  if (!hidden("weights") && ImGui::BeginTabItem("Weights")) {
    draw_weights(state, ImGui::GetContentRegionAvail());
    ImGui::EndTabItem();
  }
  if (!hidden("sensitivity") && ImGui::BeginTabItem("Layer sensitivity")) {
    state.sensitivity_visible = true;
    draw_layer_sensitivity(state, ImGui::GetContentRegionAvail(),
                           [this](std::string name) { remember(name); });
    ImGui::EndTabItem();
  }
  if (plane && !hidden("neurons")) {
    const bool open = ImGui::BeginTabItem("Neurons");
    remember("neurons_tab");
    if (open) {
      draw_neuron_maps(state, ImGui::GetContentRegionAvail());
      ImGui::EndTabItem();
    }
  }
  if (!hidden("learned") && any_method_readouts(*state.lab())) {
    const bool open = ImGui::BeginTabItem("Learned");
    remember("learned_tab");
    if (open) {
      learned_bits_buttons();
      draw_method_readouts(state);
      ImGui::EndTabItem();
    }
  }
  if (!plane && !hidden("images") && ImGui::BeginTabItem("Confusion matrix")) {
    draw_confusion_matrix(state, ImGui::GetContentRegionAvail());
    ImGui::EndTabItem();
  }
  ImGui::EndTabBar();
}

// One button per run that learned its bit-widths: the per-layer slider moves to them, so every run is
// compared at the bits one method chose.
void Playground::Impl::learned_bits_buttons() {
  const Lab& lab = *state.lab();
  for (int r = 0; r < lab.run_count(); ++r) {
    const std::string bits = learned_layer_bits(lab, r);
    if (bits.empty()) continue;
    const std::string label =
        "Evaluate every run at " + lab.run(r).method + "'s bits (" + bits + ")##learned" + std::to_string(r);
    if (ImGui::Button(label.c_str())) state.apply_setting("layer_weight_bits", bits);
    remember("use_learned_bits");
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip(
          "Sets the per-layer weight bits to the learned ones; every run is then evaluated on\n"
          "the ordinary grid at those bits.");
  }
}

// [SECTION] Status bar and files

void Playground::Impl::status_bar() {
  if (state.data_pending()) {
    ImGui::ProgressBar(static_cast<float>(state.data_progress()), ImVec2(ImGui::GetFontSize() * 10, 0));
    ImGui::SameLine();
  }
  // One line: a long message ends in … and is read whole in its tooltip.
  const StatusMessage& message = state.status();
  if (message.error) ImGui::PushStyleColor(ImGuiCol_Text, IM_COL32(255, 120, 100, 255));
  const std::string shown =
      ellipsize(message.text.empty() ? " " : message.text, ImGui::GetContentRegionAvail().x);
  ImGui::TextUnformatted(shown.c_str());
  if (message.error) ImGui::PopStyleColor();
  if (shown.size() != message.text.size() && !message.text.empty() && ImGui::IsItemHovered()) {
    ImGui::BeginTooltip();
    ImGui::PushTextWrapPos(ImGui::GetFontSize() * 36);
    ImGui::TextUnformatted(message.text.c_str());
    ImGui::PopTextWrapPos();
    ImGui::EndTooltip();
  }
  const Lab* lab = state.lab();
  if (!lab) return;
  // At the right, when it fits beside the message: what runs, on which kernels, how fast it draws.
  char right[160];
  const KernelTable& table = lab->network(0).kernels();
  const std::string kernels =
      table.threads > 1 ? table.name + ", " + std::to_string(table.threads) + " threads" : table.name;
  std::snprintf(right, sizeof right, "%s | %s | kernels %s | %.0f fps", lab->dataset().name.c_str(),
                lab->state().experiment.architecture.c_str(), kernels.c_str(), ImGui::GetIO().Framerate);
  const float width = ImGui::CalcTextSize(right).x;
  ImGui::SameLine();
  const float at = ImGui::GetWindowContentRegionMax().x - width;
  if (ImGui::GetCursorPosX() + ImGui::GetFontSize() > at) return;
  ImGui::SameLine(at);
  ImGui::TextDisabled("%s", right);
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip(
        "The kernels are the matrix products every number comes from. The browser's (simd128)\n"
        "and the reference add in the same order and give identical numbers; the desktop's\n"
        "faster avx2, avx512 and xnnpack kernels add in another order, so trained weights and\n"
        "accuracies can differ in the last digits. --kernels=reference on the desktop\n"
        "reproduces the browser's numbers exactly.");
}

void Playground::Impl::save_experiment() {
  platform.save_file("qplay-experiment.json", state.experiment_json());
}

void Playground::Impl::save_model() {
  if (!state.lab()) return;
  const std::string name = "qplay-" + state.lab()->run(state.selected_run).method + ".qmodel";
  const std::vector<uint8_t> bytes = state.model_file_bytes();
  platform.save_file(name, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

// The selected run at the current setting, as docs/formats.md describes both files.
void Playground::Impl::export_model(bool onnx) {
  Lab* lab = state.lab();
  if (!lab) return;
  Result<IntegerModel> model = lab_integer_model(*lab, state.selected_run);
  Result<std::string> bytes = !model ? Result<std::string>(model.status())
                              : onnx ? onnx_model_bytes(*model)
                                     : Result<std::string>(to_json(integer_model_to_json(*model), 1) + "\n");
  if (!bytes) {
    state.say(bytes.message(), true);
    return;
  }
  const std::string name =
      "qplay-" + lab->run(state.selected_run).method + (onnx ? ".onnx" : ".integer.json");
  platform.save_file(name, *bytes);
}

void Playground::Impl::open() { platform.request_open_file(); }

Playground::Playground(Platform& platform, std::string_view initial_state)
    : impl_(std::make_unique<Impl>(platform, initial_state)) {}
Playground::~Playground() = default;

// [SECTION] The public Playground

void Playground::frame() { impl_->frame(); }
void Playground::save_plot(std::string_view plot, bool as_png) {
  ui::save_plot(plot, as_png ? PlotFormat::png : PlotFormat::svg);
}

bool Playground::work_between_frames(double budget_ms) {
  Lab* lab = impl_->state.lab();
  if (!lab || !lab->playing()) return false;
  lab->advance(budget_ms);
  return lab->playing();
}
void Playground::open_file(const std::string& name, std::string_view bytes) {
  impl_->state.open_file(name, bytes);
}

size_t Playground::max_open_file_bytes() { return std::max(kMaxModelFileBytes, kMaxExperimentFileBytes); }

void Playground::show_status(std::string message, bool is_error) {
  impl_->state.say(std::move(message), is_error);
}
void Playground::set_state_from_hash(std::string_view hash) { impl_->state.apply_hash(hash); }
long Playground::frames_drawn() const { return impl_->frames; }

double Playground::current_accuracy() const {
  const Lab* lab = impl_->state.lab();
  if (!lab) return -1;
  const EvaluationCache::Entry* entry = lab->evaluation(0, lab->current_setting());
  return entry ? entry->result.accuracy : -1;
}

Result<Json> Playground::run_command(std::string_view command, const Json& arguments) {
  return impl_->state.run_command(command, arguments);
}

std::string Playground::metrics_json() const {
  const Lab* lab = impl_->state.lab();
  return lab ? to_json(lab_metrics_json(*lab), 0) : std::string();
}

std::string Playground::status_message(bool* is_error) const {
  *is_error = impl_->state.status().error;
  return impl_->state.status().text;
}

bool Playground::training() const {
  const Lab* lab = impl_->state.lab();
  return lab && lab->playing();
}

bool Playground::control_rect(std::string_view name, float* x, float* y, float* width, float* height) const {
  auto it = impl_->control_rects.find(name);
  if (it == impl_->control_rects.end()) return false;
  *x = it->second.min.x, *y = it->second.min.y;
  *width = it->second.max.x - it->second.min.x, *height = it->second.max.y - it->second.min.y;
  return true;
}

}  // namespace qplay::ui

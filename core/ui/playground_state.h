// The playground's own state beside the Lab — what is selected and shown, messages, pending work — and
// the actions that change the Lab, kept apart from drawing so tests can drive them without ImGui.
// Every change of the lab's settings goes through apply_setting/apply_state/run_command, which keep the
// current lab when the new settings are bad and say why.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/engine/io/json.h"
#include "core/engine/lab/lab.h"
#include "core/engine/lab/lab_commands.h"
#include "core/engine/lab/weight_statistics.h"

namespace qplay::ui {

class Platform;

struct StatusMessage {
  std::string text;
  bool error = false;
};

class PlaygroundState : private LabStateTarget {
 public:
  // Builds the lab from a URL hash (bad parts become a warning, the rest applies). If even the
  // defaults cannot be built (no data), `lab()` is null and `status()` says why.
  PlaygroundState(Platform& platform, std::string_view hash);

  Lab* lab() { return lab_.get(); }
  Platform& platform() { return platform_; }  // to save files from a panel (the accuracy card)
  const Lab* lab() const { return lab_.get(); }
  const StatusMessage& status() const { return status_; }
  void say(std::string text, bool error = false) { status_ = {std::move(text), error}; }

  // One setting (state-table key, "methods", "layer_weight_bits", "layer_activation_bits", "<name>_hide").
  // Quantization settings apply live; others rebuild the runs. A setting that needs a data set the platform
  // is still downloading waits (pending_dataset()) and applies once it is ready.
  void apply_setting(std::string_view key, std::string_view value);
  void apply_state(const LabState& state, std::string_view what);
  void apply_hash(std::string_view hash);
  // A command of core/engine/lab/lab_commands.h (what a page around the browser app sends), with the
  // playground's rules for settings: they wait for a data set still downloading and keep the lab when
  // bad. "state" applies the good parts of its hash and answers the skipped ones as its error. Errors
  // also go to the status bar. Without a lab yet (its data set downloading) a command does nothing.
  Result<Json> run_command(std::string_view command, const Json& arguments);
  // An experiment/lab JSON or a saved model, by content (the name is only for messages).
  void open_file(const std::string& name, std::string_view bytes);
  std::string experiment_json() const;
  // The selected run's model file bytes; empty (and a message) if there is no lab.
  std::vector<uint8_t> model_file_bytes();

  // Per frame: finishes a pending data download, then advances the lab within budget_ms.
  void advance(double budget_ms);
  bool data_pending() const { return pending_ != nullptr; }
  double data_progress() const { return data_progress_; }

  // The weights panel's histograms of a run at the current setting. Recomputed when the run's evaluated
  // weights or the setting change (4 times a second while training), not every frame.
  const std::vector<LayerWeightStatistics>& weight_statistics_of(int run);
  // What the panels show (not part of the shareable state).
  int selected_run = 0;
  bool sensitivity_visible = false;
  int neuron_map_layer = -1;         // while the neurons panel is drawn: the layer whose maps the lab keeps
  bool show_loss_curves = false;     // training curves: loss instead of accuracy
  bool show_flips = true;            // decision boundary: where float and quantized disagree, over the latter
  bool show_flipped_images = false;  // images panel: the flipped test images instead of the first ones
  int shown_layer = 0;               // weights panel: index into the weight tensors
  int shown_neuron_layer = 0;        // neurons panel: index into hidden_neuron_layers
  int neuron_view = 0;               // neurons panel: 0 float, 1 quantized, 2 quantized - float
  int mixed_precision_layer = 0;     // sensitivity panel: the weighted layer whose bits its controls set
  float allocation_budget_bits = 4;  // sensitivity panel: the budget its allocation fits, bits per weight
  int allocation_method = 1;         // sensitivity panel: index into choice_names(AllocationMethod), measured
  // Sensitivity panel: the Pareto fronts last asked for, copied from the lab's job as points arrive, so a
  // later allocation (which replaces the lab's job) leaves them on screen. run -1: none asked for.
  struct ParetoFronts {
    int run = -1;
    uint64_t weights_version = 0;  // of the weights they are computed from
    int epoch = 0;                 // the run's completed epochs then
    long steps = 0;                // and its training steps
    JobProgress progress;
    bool finished = false, cancelled = false;
    std::vector<AllocationPoint> points;
  } pareto_fronts;
  bool show_pareto_fronts = false;  // sensitivity panel: the fronts in the bars' place

 private:
  void publish();  // the URL hash, after every change
  const LabState& state_to_change() const override;
  Status change_state(const LabState& next, std::string_view what) override;
  bool build_or_wait(const LabState& state, std::string_view what);

  Platform& platform_;
  std::unique_ptr<Lab> lab_;
  std::unique_ptr<LabState> pending_;  // waiting for its data set
  std::string pending_what_;
  double data_progress_ = 0;
  StatusMessage status_;
  struct WeightStatisticsCache {
    const Lab* lab = nullptr;
    int run = -1;
    uint64_t version = 0;
    std::string setting;
    std::vector<LayerWeightStatistics> layers;
  } weight_statistics_;
};

}  // namespace qplay::ui

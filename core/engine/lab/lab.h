// The Lab: several runs of one experiment side by side — one per method, on the same data from the
// same seed — trained and evaluated in bounded time slices. It is what the playground (core/ui), the
// JS API (web/api) and tests drive; it knows nothing of drawing.
//
//   Lab lab = Lab::create(state).value();  // builds the data once and one run per method
//   lab.play();
//   every frame: lab.advance(8.0);          // trains a few steps and refreshes evaluations, ~8 ms
//   lab.set("weight_bits", "3");            // the slider: evaluations at the new setting start at once
//   lab.evaluation(run, lab.current_setting())->result.accuracy
//
// Settings in the "quantization" group change only how the runs are evaluated and apply live. Every
// other setting (data, model, training, a method's knobs, the methods) rebuilds the runs from the seed:
// the comparison stays like with like. The data set is rebuilt only when a data setting changed.
//
// While training, evaluations refresh at most every refresh_interval_ms so training keeps most of each
// slice; while paused they refresh at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/engine/base/status.h"
#include "core/engine/experiment/run.h"
#include "core/engine/lab/decision_boundary.h"
#include "core/engine/lab/evaluation_cache.h"
#include "core/engine/lab/lab_state.h"
#include "core/engine/train/bit_allocation.h"

namespace qplay {

// One run of the lab as front ends read it. What the lab keeps to know what is up to date (the slider's
// evaluation cache, weights versions, when boundaries and read-outs were computed) is its own.
struct LabRun {
  std::string method;
  Run run;
  bool loaded = false;  // holds a loaded model's weights: evaluated, not trained further
  // Decision boundaries (2-D data sets), float and at the current setting, of the weights evaluations
  // are brought up to (Lab::evaluated_version).
  DecisionBoundary float_boundary, quantized_boundary;
  // What each neuron of the hidden layer LabInterest::neuron_map_layer computes over the plane (2-D
  // data sets), float and at the current setting, kept like the boundaries; empty (layer -1) until
  // asked for. The layer says which one a map is of: after a switch the old one stays until the new one is
  // made.
  NeuronMaps float_neuron_maps, quantized_neuron_maps;
  // What the method learned (CPQ's bits per layer, SymReg's asymmetry, ...), of the same weights;
  // empty for a loaded run, whose method state is not in the model file.
  std::vector<MethodReadout> readouts;
};

// A bit allocation or Pareto fronts of one run's weights, computed in the slices Lab::advance gives it
// (lab/lab_allocation.h starts one).
struct LabAllocationWork {
  int run = 0;
  uint64_t weights_version = 0;  // of the weights it is computed from
  int epoch = 0;                 // the run's completed epochs then, to say which weights in words
  long steps = 0;                // the run's training steps then
  // Set when the run's weights changed before it finished: it stops, and nothing of it is applied.
  bool cancelled = false;
  std::unique_ptr<BitAllocator> allocator;
  std::unique_ptr<BitAllocationJob> job;  // refers to allocator
};

// What the panels currently look at, so advance() spends its evaluation time on those.
struct LabInterest {
  bool accuracy_curves = true;      // every weight bit-width at the current other settings
  bool layer_sensitivity = false;   // each weighted layer's weights, then its input, quantized alone
  bool decision_boundaries = true;  // 2-D data sets only
  int neuron_map_layer = -1;        // 2-D data sets: the hidden layer (hidden_neuron_layers) to map; -1 none
};

class Lab {
 public:
  // Builds the data set (or uses `dataset`, which must have been made from the state's data settings)
  // and one run per method. Errors name the
  // setting at fault; nothing is half-built.
  static Result<std::unique_ptr<Lab>> create(const LabState& state,
                                             std::shared_ptr<const Dataset> dataset = nullptr);

  const LabState& state() const { return state_; }
  // One key of the state (see set_lab_state_value). Quantization keys apply live, with every run's
  // first read-out at the new setting done before returning; others rebuild the runs from the seed. On
  // error nothing changes and the message says what is allowed.
  Status set(std::string_view key, std::string_view value);
  // A whole new state (URL hash, experiment file): rebuilds only if something beyond quantization changed.
  Status apply(const LabState& state);

  // Training.
  void play();
  void pause() { playing_ = false; }
  bool playing() const { return playing_; }
  void step();     // one mini-batch in every unfinished run
  Status reset();  // every run back to its initial weights (same seed), history cleared
  // Replaces a run's weights with a loaded model's; the layout must match the run's network. The run is
  // then evaluated but not trained: its method's own state (latent weights, learned steps) is not in
  // the model file.
  Status load_weights(int run, std::span<const float> parameters);
  bool finished() const;  // every run trained all its epochs (or failed)
  // Trains (while playing) and evaluates for about budget_ms; returns the milliseconds spent.
  double advance(double budget_ms);
  void set_interest(const LabInterest& interest) { interest_ = interest; }
  double training_samples_per_second() const { return samples_per_second_; }

  // The runs, in the order of state().methods.
  int run_count() const { return static_cast<int>(runs_.size()); }
  const LabRun& run(int index) const { return *runs_[index]; }
  // A run's weights version, which changes whenever its weights do, and the version evaluations,
  // boundaries and read-outs are brought up to (following training at most refresh_interval_ms behind).
  uint64_t weights_version(int index) const { return runs_[index]->weights_version; }
  uint64_t evaluated_version(int index) const { return runs_[index]->evaluated_version; }
  // A run's trainer (history, status, steps), network (architecture, weights, forward) and experiment.
  const Trainer& trainer(int index) const { return *runs_[index]->run.trainer; }
  const Network<float>& network(int index) const { return *runs_[index]->run.network; }
  Network<float>& network(int index) { return *runs_[index]->run.network; }
  const Experiment& experiment(int index) const { return runs_[index]->run.experiment; }
  const Dataset& dataset() const { return *dataset_; }
  std::shared_ptr<const Dataset> shared_dataset() const { return dataset_; }
  bool is_plane_data() const { return dataset_->sample_size() == 2; }
  const PlaneRegion& plane_region() const { return plane_region_; }

  // Settings derived from the state's quantization rows.
  QuantizationSetting current_setting() const;
  QuantizationSetting setting_with_weight_bits(int weight_bits) const;  // the curve's points
  QuantizationSetting float_setting() const;  // weights and activations float: what flips are against
  QuantizationSetting layer_only_setting(int layer) const;  // only this layer's weights, current bits
  // Only this layer's input at the current activation bits, weights and other activations float. The
  // first weighted layer's input is data, never quantized: for it this is the all-float setting.
  QuantizationSetting layer_activation_only_setting(int layer) const;
  static const std::vector<int>& curve_weight_bits();  // {0 (float), 8, 7, ..., 2}
  // The weighted layers (dense, conv) in order: what layer_weight_bits, layer_activation_bits and the
  // sensitivity bars index.
  const std::vector<int>& weighted_layers() const { return weighted_layers_; }

  // What is known about a run at a setting (possibly partial or of older weights), or null.
  const EvaluationCache::Entry* evaluation(int run, const QuantizationSetting& setting) const;
  // The forward that evaluates a run at a setting (its quantized weight snapshot and activation grids),
  // once that evaluation has started; null before. Valid until the lab advances or changes.
  const ForwardOptions<float>* evaluation_forward(int run, const QuantizationSetting& setting) const {
    return runs_[run]->evaluations.forward_options(setting);
  }
  // How such a number relates to the run's weights, so nothing older is shown as if it were current.
  // `current` means computed on the whole test split with the weights evaluations are brought up to,
  // which follow training at most refresh_interval_ms behind and equal the final weights once it stops.
  enum class Freshness { current, partial, older };
  Freshness freshness(int run, const EvaluationCache::Entry& entry) const;
  // Whether a run's boundaries and neuron maps are of its evaluated weights and, quantized, of the
  // current setting; otherwise they are of older ones until the evaluations catch up.
  bool plane_maps_current(int run) const;
  // Whether the run's evaluation at the setting is `current` (what a page or a benchmark waits for).
  bool evaluation_current(int run, const QuantizationSetting& setting) const {
    return runs_[run]->evaluations.is_current(setting, runs_[run]->evaluated_version);
  }
  // One allocation job at a time: a new one replaces the last. advance() gives an unfinished one part of
  // each slice, and cancels it once its run's weights change (training, a step, loaded weights); a
  // rebuild or reset drops it. The last one stays readable (its progress, result, or points) until replaced.
  void start_allocation(LabAllocationWork work) {
    allocation_ = std::make_unique<LabAllocationWork>(std::move(work));
  }
  const LabAllocationWork* allocation_work() const { return allocation_.get(); }
  std::unique_ptr<LabAllocationWork> take_allocation_work() { return std::move(allocation_); }

  // How many settings each run's evaluation cache keeps: fewer for large networks (memory).
  size_t cached_settings() const { return cached_settings_; }

 private:
  // A run with the lab's bookkeeping of it.
  struct RunState : LabRun {
    RunState(std::string method, Run run, EvaluationCache evaluations)
        : LabRun{std::move(method), std::move(run)}, evaluations(std::move(evaluations)) {}
    EvaluationCache evaluations;
    uint64_t weights_version = 0;    // changes whenever the run's weights change
    uint64_t evaluated_version = 0;  // the version evaluations are brought up to
    double step_ms = 0;              // a training step's wall time (moving average), 0 before the first
    uint64_t float_maps_version = UINT64_MAX;  // of the float boundary and neuron maps
    std::string quantized_maps_key;            // setting key + version of the quantized ones
    uint64_t readouts_version = UINT64_MAX;
  };

  Lab() = default;
  Status build(const LabState& state, std::shared_ptr<const Dataset> dataset);
  bool train_for(double budget_ms);
  void evaluate_for(double budget_ms, bool first_readout_only);
  void refresh_plane_maps(RunState& run);
  std::string quantized_maps_key(const RunState& run) const;
  void refresh_readouts();
  bool refresh_due() const;
  void advance_allocation(double budget_ms);

  LabState state_;
  std::shared_ptr<const Dataset> dataset_;
  std::vector<std::unique_ptr<RunState>> runs_;
  std::vector<int> weighted_layers_;
  PlaneRegion plane_region_;
  LabInterest interest_;
  bool playing_ = false;
  uint64_t generation_ = 0;  // bumped by rebuilds and resets, part of every weights version
  int next_run_to_train_ = 0;
  size_t cached_settings_ = EvaluationCache::kDefaultMaxSettings;  // per run, by the network's size
  double samples_per_second_ = 0;
  std::chrono::steady_clock::time_point last_refresh_{};
  std::unique_ptr<LabAllocationWork> allocation_;
};

// The bit-widths a run learned per weighted layer ("3,2,3", the layer_weight_bits form), or "" when its
// method learns none (CPQ with cpq_learn_bits=on does).
std::string learned_layer_bits(const Lab& lab, int run);

// The method whose own quantizer rounds the run's weights wherever the lab shows them quantized (CPQ's
// learned steps: TrainingMethod::quantize_on_own_grid), or null. A loaded model brings weights only, not
// the quantizer its method learned.
const TrainingMethod* own_grid_method(const LabRun& run);

// Whether two states need the same data set (every "data" group setting equal).
bool same_data_settings(const Experiment& a, const Experiment& b);

}  // namespace qplay

// Quantized test-set evaluations of one network, for the playground: every quantization setting the
// UI asks about (the slider's position, each point of the accuracy-vs-bits curve, each layer quantized
// alone) is evaluated a chunk at a time under a time budget and cached with the weights version it was
// computed on. Moving the slider back to a setting seen before answers at once; a new setting gets a
// first read-out on a random subset within the frame and is refined on the following frames.
//
// A setting is evaluated on a snapshot of the weights taken when its evaluation starts, so training may
// go on between slices. While a newer evaluation runs, the last complete one stays readable: the
// numbers on screen do not flicker back to partial results during training.
//
// With quantized activations a setting is evaluated by real int8 inference (deploy/int8_inference.h)
// wherever that computes what the fake-quantized float network computes (build_int8_model_for_setting
// says where; elsewhere, and for a method's own grid, by fake quantization), on as many threads as the
// network's kernel table. Otherwise (float activations) the float network evaluates it, with its first
// layer computed in integers where the features are bytes (deploy/byte_input_layer.h).
//
// Not for: training metrics (train/trainer.h) or whole sweeps in one call (train/sweep.h).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/engine/data/dataset.h"
#include "core/engine/deploy/post_training.h"
#include "core/engine/methods/training_method.h"
#include "core/engine/train/incremental_evaluation.h"

namespace qplay {

// A canonical text for a setting ("w4 per-channel symmetric min-max | a0 | layers -,2"): equal
// settings give equal keys, and the key is readable in test failures.
std::string quantization_setting_key(const QuantizationSetting& setting);

class EvaluationCache {
 public:
  struct Entry {
    Evaluation result;                 // over result.samples test samples
    bool complete = false;             // result covers the whole test split
    uint64_t weights_version = 0;      // the weights `result` was computed on
    std::vector<int32_t> predictions;  // [test size] for `result`; -1 where not evaluated
    std::vector<float> margins;        // [test size]: top logit minus runner-up; NaN where not evaluated
  };

  // The data set must outlive the cache. calibration_samples: training samples used to set activation
  // ranges when the setting quantizes activations. max_settings: how many settings are kept (each with
  // its own quantized copy of the weights); the least recently used goes first.
  static constexpr size_t kDefaultMaxSettings = 48;
  EvaluationCache(std::shared_ptr<const Dataset> dataset, int calibration_samples,
                  size_t max_settings = kDefaultMaxSettings);

  // What is known about the setting, or null if its evaluation has not started. Possibly of older weights
  // (compare weights_version) or partial (complete == false).
  const Entry* find(const QuantizationSetting& setting) const;
  // Whether the setting has a complete result for these weights.
  bool is_current(const QuantizationSetting& setting, uint64_t weights_version) const;

  // Works on one setting for about budget_ms: (re)starts it from the network's current weights if it has
  // nothing for weights_version, then evaluates chunks until the budget is spent (but at least
  // min_samples in total) or the split is done. Returns true once it is complete for weights_version.
  // own_grid: the run's method, whose own quantizer rounds the weights if it has one (CPQ); null: rounded
  // post-training.
  bool evaluate(Network<float>& network, uint64_t weights_version, const QuantizationSetting& setting,
                double budget_ms, size_t min_samples = 0, const TrainingMethod* own_grid = nullptr);

  // The forward that evaluates the setting (its quantized weight snapshot and activation grids), once
  // its evaluation has started; null before. Valid until the next evaluate() or clear().
  const ForwardOptions<float>* forward_options(const QuantizationSetting& setting) const;
  // Whether the setting's running or last evaluation is real int8 inference (false before it started).
  bool evaluates_in_int8(const QuantizationSetting& setting) const;

  void clear();
  size_t size() const { return tasks_.size(); }

 private:
  struct Task {
    QuantizationSetting setting;
    Entry shown;                   // what find() returns
    uint64_t running_version = 0;  // the weights the running evaluation uses
    bool running = false;
    std::vector<float> weights;          // the quantized snapshot
    ActivationQuantization activations;  // its grids, when activations are quantized
    ForwardOptions<float> options;
    std::optional<Int8Model> int8;  // the same weights and grids in int8, when it computes the same
    std::optional<ByteInputLayer> byte_input;  // else the first layer in integers, on byte features
    std::unique_ptr<IncrementalEvaluation> evaluation;
    uint64_t last_used = 0;
  };
  void start(Task& task, Network<float>& network, uint64_t weights_version, const TrainingMethod* own_grid);
  void evict_if_full();
  Int8Runner& int8_runner(const Network<float>& network);

  std::shared_ptr<const Dataset> dataset_;
  int calibration_samples_;
  size_t max_settings_;
  std::map<std::string, Task> tasks_;
  uint64_t use_counter_ = 0;
  std::unique_ptr<Int8Runner> int8_runner_;  // shared by the tasks, which run one at a time
};

}  // namespace qplay

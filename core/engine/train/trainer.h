// The trainer: mini-batch training of one network on one data set, advanced in bounded time
// slices (advance(budget_ms)) so a UI thread can keep drawing at 60 fps between slices and the
// browser never blocks. Per epoch it records train loss/accuracy (running mean over the epoch's
// batches) and test loss/accuracy. How a batch becomes gradients is the TrainingMethod's business
// (methods/training_method.h: the baseline, QAT as QReg, gradient-ℓ1, ...); the Trainer owns the
// batch order, the optimizer on the master parameters, the schedule and the metrics.
#pragma once

#include <memory>
#include <vector>

#include "core/engine/base/status.h"
#include "core/engine/data/batcher.h"
#include "core/engine/data/dataset.h"
#include "core/engine/methods/training_method.h"
#include "core/engine/nn/network.h"
#include "core/engine/train/optimizer.h"

namespace qplay {

struct TrainingSettings {
  OptimizerSettings optimizer;
  ScheduleSettings schedule;
  int epochs = 20;
  int batch_size = 32;
  uint64_t seed = 1;  // batch order and the method's random stream (the network's initial
                      // weights are seeded by its owner)
};

struct EpochMetrics {
  int epoch = 0;                              // 1-based: metrics after this many epochs
  double train_loss = 0, train_accuracy = 0;  // train_loss: the mean cross-entropy of the batches
  double train_penalty = 0;  // the method's mean regularizer as added to the objective (0 for plain training)
  double test_loss = 0, test_accuracy = 0;
  double learning_rate = 0;
  double seconds = 0;  // wall time spent training this epoch
};

// A run diverged when its loss or penalty is NaN or infinite, when its mean cross-entropy stays above
// kDivergedLossOverChance times chance level (log K: 0.69 for two classes) for kDivergedSteps steps in a
// row (Adam at a high rate may spike above it for a few steps and recover), or when a weight's magnitude
// passes kDivergedWeightMagnitude (checked every kWeightCheckInterval steps). Healthy training of these
// networks stays far below all three.
inline constexpr double kDivergedLossOverChance = 50;
inline constexpr int kDivergedSteps = 20;
inline constexpr float kDivergedWeightMagnitude = 1e4f;
inline constexpr long kWeightCheckInterval = 16;

class Trainer {
 public:
  // The network must hold its initial weights: the method is attached to it here. A null method
  // trains the plain baseline.
  Trainer(std::shared_ptr<const Dataset> dataset, Network<float>& network, TrainingSettings settings,
          std::unique_ptr<TrainingMethod> method = nullptr);

  // Trains whole steps until budget_ms of wall time has passed (at least one step), the run has
  // finished, or it has failed. Returns the number of steps taken in this slice.
  int advance(double budget_ms);
  // One mini-batch step (the "step" button). Returns false when finished or failed.
  bool step();

  bool finished() const { return epoch_ >= settings_.epochs || !status_.ok(); }
  const Status& status() const { return status_; }  // an error once training diverged
  const std::vector<EpochMetrics>& history() const { return history_; }
  int completed_epochs() const { return epoch_; }
  double epoch_fraction() const;  // progress through the current epoch, 0..1
  long steps_taken() const { return steps_; }
  const TrainingSettings& settings() const { return settings_; }
  const TrainingMethod& method() const { return *method_; }
  // The forward the model as trained is scored with (see TrainingMethod::trained_forward); view is
  // its storage and must outlive the options.
  ForwardOptions<float> trained_forward(std::vector<float>& view) const {
    return method_->trained_forward(network_, view);
  }

 private:
  void finish_epoch();
  void stop_diverged(const std::string& what);  // the run stops with a message naming the learning rate

  std::shared_ptr<const Dataset> dataset_;
  Network<float>& network_;
  TrainingSettings settings_;
  std::unique_ptr<TrainingMethod> method_;
  Rng method_rng_;
  EpochBatcher batcher_;
  Status status_;
  int epoch_ = 0;
  long steps_ = 0;
  int steps_with_exploded_loss_ = 0;  // in a row
  double epoch_loss_sum_ = 0, epoch_penalty_sum_ = 0, epoch_seconds_ = 0;
  size_t epoch_correct_ = 0, epoch_samples_ = 0;
  std::vector<EpochMetrics> history_;
  std::vector<float> batch_features_;
  std::vector<int32_t> batch_labels_;
};

}  // namespace qplay

#include "core/engine/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/engine/io/json.h"
#include "core/engine/train/evaluation.h"

namespace qplay {
namespace {

using Clock = std::chrono::steady_clock;

double milliseconds_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace

Trainer::Trainer(std::shared_ptr<const Dataset> dataset, Network<float>& network, TrainingSettings settings,
                 std::unique_ptr<TrainingMethod> method)
    : dataset_(std::move(dataset)),
      network_(network),
      settings_(std::move(settings)),
      method_(method ? std::move(method) : make_baseline_method()),
      method_rng_(settings_.seed, /*stream=*/0x6d657468),
      batcher_(dataset_->train_size(), settings_.batch_size, settings_.seed) {
  batcher_.start_epoch(0);
  network_.set_optimizer_slot_count(optimizer_slot_count(settings_.optimizer.kind));
  method_->attach(network_);
}

double Trainer::epoch_fraction() const {
  size_t total = dataset_->train_size();
  return total == 0 ? 0.0 : double(epoch_samples_) / double(total);
}

int Trainer::advance(double budget_ms) {
  const Clock::time_point start = Clock::now();
  int taken = 0;
  while (!finished()) {
    if (!step()) break;
    ++taken;
    if (milliseconds_since(start) >= budget_ms) break;
  }
  return taken;
}

bool Trainer::step() {
  if (finished()) return false;
  const Clock::time_point start = Clock::now();
  std::span<const uint32_t> indices;
  if (!batcher_.next(indices)) {
    finish_epoch();
    return !finished() && step();
  }
  const int batch = static_cast<int>(indices.size());
  const int sample_size = dataset_->sample_size();
  batch_features_.resize(size_t(batch) * sample_size);
  batch_labels_.resize(batch);
  gather_batch(dataset_->train_x, indices, batch_features_.data());
  gather_labels(dataset_->train_y, indices, batch_labels_.data());

  const double epoch_position = epoch_ + epoch_fraction();
  StepContext context;
  context.step = steps_ + 1;
  context.progress = settings_.epochs > 0 ? epoch_position / settings_.epochs : 1.0;
  context.learning_rate =
      scheduled_learning_rate(settings_.optimizer, settings_.schedule, epoch_position, settings_.epochs);
  context.rng = &method_rng_;
  const TrainingBatch training_batch{batch_features_, batch_labels_, batch};
  const StepResult result = method_->compute_gradients(network_, training_batch, context);
  const float loss = result.loss;
  // Divergence is more than NaN: a mean cross-entropy far above chance level (log K) means the logits
  // have blown up, even while every number is still finite.
  const double chance = std::log(double(network_.architecture().num_classes));
  steps_with_exploded_loss_ = loss > kDivergedLossOverChance * chance ? steps_with_exploded_loss_ + 1 : 0;
  const bool exploded = steps_with_exploded_loss_ >= kDivergedSteps;
  if (!std::isfinite(loss) || !std::isfinite(result.penalty) || exploded) {
    const bool loss_diverged = !std::isfinite(loss) || exploded;
    const float diverged = loss_diverged ? loss : result.penalty;
    const std::string what = loss_diverged ? std::string("loss") : std::string(method_->name()) + " penalty";
    const std::string became = std::isnan(diverged) ? "became NaN"
                               : std::isinf(diverged)
                                   ? "became infinite"
                                   : "stayed above " + format_json_number(kDivergedLossOverChance * chance) +
                                         " for " + std::to_string(kDivergedSteps) + " steps (now " +
                                         format_json_number(diverged) + "; chance level is " +
                                         format_json_number(std::round(chance * 100) / 100) + ")";
    stop_diverged("the " + what + " " + became);
    return false;
  }
  ++steps_;
  optimizer_step(network_, settings_.optimizer, context.learning_rate, steps_);
  method_->after_optimizer_step(network_, context);
  // Weights can run away while the loss still looks finite; a look every few steps costs little.
  if (steps_ % kWeightCheckInterval == 0) {
    float largest = 0;
    for (float w : network_.parameters())
      largest = std::isfinite(w) ? std::max(largest, std::fabs(w)) : HUGE_VALF;
    if (largest > kDivergedWeightMagnitude) {
      stop_diverged("the weights grew to " +
                    (std::isinf(largest) ? std::string("infinity") : format_json_number(largest)));
      return false;
    }
  }

  std::span<const float> p = network_.probabilities();
  const int classes = network_.architecture().num_classes;
  for (int b = 0; b < batch; ++b) {
    const float* row = p.data() + size_t(b) * classes;
    epoch_correct_ += (std::max_element(row, row + classes) - row) == batch_labels_[b];
  }
  epoch_loss_sum_ += double(loss) * batch;
  epoch_penalty_sum_ += double(result.penalty) * batch;
  epoch_samples_ += batch;
  epoch_seconds_ += milliseconds_since(start) / 1000.0;
  return true;
}

void Trainer::stop_diverged(const std::string& what) {
  const double rate = settings_.optimizer.learning_rate;
  status_ = Status::error("training stopped in epoch " + std::to_string(epoch_ + 1) + " at step " +
                          std::to_string(steps_ + 1) + ": " + what + ". The learning rate (" +
                          format_json_number(rate) + ") is most likely too high for this network; try " +
                          format_json_number(rate / 10) + ".");
}

void Trainer::finish_epoch() {
  EpochMetrics metrics;
  metrics.epoch = epoch_ + 1;
  metrics.train_loss = epoch_samples_ ? epoch_loss_sum_ / epoch_samples_ : 0.0;
  metrics.train_penalty = epoch_samples_ ? epoch_penalty_sum_ / epoch_samples_ : 0.0;
  metrics.train_accuracy = epoch_samples_ ? double(epoch_correct_) / epoch_samples_ : 0.0;
  metrics.learning_rate =
      scheduled_learning_rate(settings_.optimizer, settings_.schedule, epoch_ + 0.5, settings_.epochs);
  metrics.seconds = epoch_seconds_;
  // Test metrics of the model as trained: with QAT, the quantized forward the training optimised.
  std::vector<float> view;
  ForwardOptions<float> options = trained_forward(view);
  Evaluation test = evaluate(network_, dataset_->test_x, dataset_->test_y, options);
  metrics.test_loss = test.loss;
  metrics.test_accuracy = test.accuracy;
  history_.push_back(metrics);

  ++epoch_;
  epoch_loss_sum_ = 0;
  epoch_penalty_sum_ = 0;
  epoch_correct_ = epoch_samples_ = 0;
  epoch_seconds_ = 0;
  batcher_.start_epoch(epoch_);
}

}  // namespace qplay

#include "core/engine/train/incremental_evaluation.h"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <numeric>

#include "core/engine/base/rng.h"
#include "core/engine/data/batcher.h"

namespace qplay {

IncrementalEvaluation::IncrementalEvaluation(const FeatureRows& features, std::span<const int32_t> labels,
                                             uint64_t seed, int chunk_size)
    : features_(features), labels_(labels), chunk_size_(chunk_size) {
  assert(chunk_size >= 1);
  order_.resize(std::min(features.rows(), labels.size()));
  std::iota(order_.begin(), order_.end(), 0u);
  Rng rng(seed);
  rng.shuffle(order_);
  predictions_.assign(order_.size(), -1);
}

void IncrementalEvaluation::restart() {
  evaluated_ = 0;
  loss_sum_ = 0.0;
  correct_ = 0;
  std::fill(predictions_.begin(), predictions_.end(), -1);
}

size_t IncrementalEvaluation::advance(Network<float>& network, const ForwardOptions<float>& options,
                                      double budget_ms, size_t min_samples) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  const size_t sample_size = features_.row_size();
  const int classes = network.architecture().num_classes;
  assert(order_.empty() || sample_size == network.architecture().input.size());
  const size_t before = evaluated_;
  while (!done()) {
    const double elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (evaluated_ >= min_samples && evaluated_ > before && elapsed_ms >= budget_ms) break;
    const int batch = static_cast<int>(std::min<size_t>(chunk_size_, order_.size() - evaluated_));
    std::span<const uint32_t> indices(order_.data() + evaluated_, batch);
    chunk_features_.resize(static_cast<size_t>(batch) * sample_size);
    chunk_labels_.resize(batch);
    gather_batch(features_, indices, chunk_features_.data());
    gather_labels(labels_, indices, chunk_labels_.data());
    network.forward(chunk_features_, batch, options);
    loss_sum_ += double(network.loss(chunk_labels_)) * batch;
    std::span<const float> probabilities = network.probabilities();
    for (int b = 0; b < batch; ++b) {
      const float* row = probabilities.data() + static_cast<size_t>(b) * classes;
      const int32_t predicted = static_cast<int32_t>(std::max_element(row, row + classes) - row);
      predictions_[indices[b]] = predicted;
      correct_ += predicted == chunk_labels_[b];
    }
    evaluated_ += batch;
  }
  return evaluated_ - before;
}

Evaluation IncrementalEvaluation::result() const {
  Evaluation result;
  result.samples = evaluated_;
  if (evaluated_ > 0) {
    result.loss = loss_sum_ / evaluated_;
    result.accuracy = double(correct_) / evaluated_;
  }
  return result;
}

}  // namespace qplay

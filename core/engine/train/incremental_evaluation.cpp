#include "core/engine/train/incremental_evaluation.h"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cmath>
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
  margins_.assign(order_.size(), NAN);
}

void IncrementalEvaluation::restart() {
  evaluated_ = 0;
  loss_sum_ = 0.0;
  correct_ = 0;
  std::fill(predictions_.begin(), predictions_.end(), -1);
  std::fill(margins_.begin(), margins_.end(), NAN);
}

template <typename EvaluateChunk>
size_t IncrementalEvaluation::advance_chunks(int largest_batch, double budget_ms, size_t min_samples,
                                             const EvaluateChunk& evaluate_chunk) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  const size_t before = evaluated_;
  while (!done()) {
    const Clock::time_point chunk_start = Clock::now();
    const double elapsed_ms = std::chrono::duration<double, std::milli>(chunk_start - start).count();
    if (evaluated_ >= min_samples && evaluated_ > before && elapsed_ms >= budget_ms) break;
    // Past min_samples a chunk only takes what is left of the budget (at the speed measured so far), so
    // a small budget is not overrun by a whole chunk; min_samples comes in whole chunks.
    size_t wanted = static_cast<size_t>(std::min(chunk_size_, largest_batch));
    if (evaluated_ >= min_samples && ms_per_sample_ > 0)
      wanted = static_cast<size_t>(std::clamp((budget_ms - elapsed_ms) / ms_per_sample_,
                                              static_cast<double>(std::min(kSmallestChunk, wanted)),
                                              static_cast<double>(wanted)));
    const int batch = static_cast<int>(std::min(wanted, order_.size() - evaluated_));
    std::span<const uint32_t> indices(order_.data() + evaluated_, batch);
    chunk_labels_.resize(batch);
    chunk_predicted_.resize(batch);
    chunk_margins_.resize(batch);
    gather_labels(labels_, indices, chunk_labels_.data());
    loss_sum_ += evaluate_chunk(indices, std::span<const int32_t>(chunk_labels_),
                                std::span<int32_t>(chunk_predicted_), std::span<float>(chunk_margins_));
    for (int b = 0; b < batch; ++b) {
      predictions_[indices[b]] = chunk_predicted_[b];
      margins_[indices[b]] = chunk_margins_[b];
      correct_ += chunk_predicted_[b] == chunk_labels_[b];
    }
    evaluated_ += batch;
    const double chunk_ms = std::chrono::duration<double, std::milli>(Clock::now() - chunk_start).count();
    ms_per_sample_ = ms_per_sample_ > 0 ? 0.8 * ms_per_sample_ + 0.2 * chunk_ms / batch : chunk_ms / batch;
  }
  return evaluated_ - before;
}

size_t IncrementalEvaluation::advance(Network<float>& network, const ForwardOptions<float>& options,
                                      double budget_ms, size_t min_samples,
                                      const ByteInputLayer* first_layer) {
  const size_t sample_size = features_.row_size();
  const int classes = network.architecture().num_classes;
  assert(order_.empty() || sample_size == network.architecture().input.size());
  // No backward follows.
  ForwardOptions<float> chunk_options = options;
  chunk_options.forward_only = true;
  return advance_chunks(
      network.largest_batch(), budget_ms, min_samples,
      [&](std::span<const uint32_t> indices, std::span<const int32_t> labels, std::span<int32_t> predicted,
          std::span<float> margins) {
        const int batch = static_cast<int>(indices.size());
        std::span<const float> logits;
        if (first_layer) {
          chunk_features_.resize(static_cast<size_t>(batch) * first_layer->outputs);
          byte_input_layer_forward(*first_layer, features_, indices, network.kernels(), chunk_features_);
          ForwardOptions<float> from_layer_1 = chunk_options;
          from_layer_1.first_layer_output = chunk_features_;
          logits = network.forward({}, batch, from_layer_1);
        } else {
          chunk_features_.resize(static_cast<size_t>(batch) * sample_size);
          gather_batch(features_, indices, chunk_features_.data());
          logits = network.forward(chunk_features_, batch, chunk_options);
        }
        for (int b = 0; b < batch; ++b)
          margins[b] = decision_margin(logits.subspan(static_cast<size_t>(b) * classes, classes));
        const double loss = double(network.loss(labels)) * batch;
        std::span<const float> probabilities = network.probabilities();
        for (int b = 0; b < batch; ++b) {
          const float* row = probabilities.data() + static_cast<size_t>(b) * classes;
          predicted[b] = static_cast<int32_t>(std::max_element(row, row + classes) - row);
        }
        return loss;
      });
}

size_t IncrementalEvaluation::advance(const Int8Model& model, Int8Runner& runner, double budget_ms,
                                      size_t min_samples) {
  const int classes = model.architecture.num_classes;
  return advance_chunks(
      chunk_size_, budget_ms, min_samples,
      [&](std::span<const uint32_t> indices, std::span<const int32_t> labels, std::span<int32_t> predicted,
          std::span<float> margins) {
        chunk_logits_.resize(indices.size() * classes);
        // The model was built for these features; a refusal here is a programmer error.
        [[maybe_unused]] const Status status =
            runner.logits_of_rows(model, features_, indices, chunk_logits_);
        assert(status.ok());
        for (size_t b = 0; b < indices.size(); ++b)
          margins[b] = decision_margin(std::span<const float>(chunk_logits_).subspan(b * classes, classes));
        return score_logits(classes, chunk_logits_, labels, predicted, chunk_probabilities_);
      });
}

Evaluation IncrementalEvaluation::result() const {
  return Evaluation::of_sums(evaluated_, loss_sum_, correct_);
}

}  // namespace qplay

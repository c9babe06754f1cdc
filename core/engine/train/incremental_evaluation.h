// Test loss and accuracy for a control that must answer within a frame (the bit-width slider): the
// split is evaluated a chunk at a time under a time budget, in a fixed shuffled order, so the first
// samples evaluated are an unbiased random subset. A first read-out on ~1,000 samples arrives within
// one frame; later calls refine it until it equals evaluate() over the whole split.
// Not for training metrics (trainer.h) or sweeps (sweep.h), which want the whole split at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/engine/data/feature_rows.h"
#include "core/engine/nn/network.h"
#include "core/engine/train/evaluation.h"

namespace qplay {

class IncrementalEvaluation {
 public:
  // features[n, sample_size], labels[n]; both must outlive this object. The order is a
  // Fisher-Yates shuffle of 0..n-1 by Rng(seed). chunk_size >= 1.
  IncrementalEvaluation(const FeatureRows& features, std::span<const int32_t> labels, uint64_t seed = 1,
                        int chunk_size = 250);

  // Forgets the partial result: call it whenever the weights or the quantization change.
  void restart();

  // Evaluates chunks until budget_ms of wall time has passed, but at least until min_samples samples
  // (in total since restart) are in, and stops when the split is done. Beyond min_samples the chunks
  // shrink to what fits the rest of the budget (never below kSmallestChunk samples).
  // options.parameters (a quantized weight view) must stay valid until the next restart. Returns the
  // samples evaluated by this call. first_layer (if given): the network's first layer computed on the
  // byte features in integers (deploy/byte_input_layer.h).
  size_t advance(Network<float>& network, const ForwardOptions<float>& options, double budget_ms,
                 size_t min_samples = 0, const ByteInputLayer* first_layer = nullptr);
  // The same through real int8 inference of model (deploy/int8_inference.h) on runner: the slider's
  // path when activations are quantized and the int8 network computes what the fake-quantized one does.
  size_t advance(const Int8Model& model, Int8Runner& runner, double budget_ms, size_t min_samples = 0);

  // Loss and accuracy over the samples evaluated since restart (samples == 0 before the first).
  Evaluation result() const;
  // The predicted class of every sample of the split, -1 for those not evaluated since restart.
  std::span<const int32_t> predictions() const { return predictions_; }
  // How narrowly each sample was decided (decision_margin of its logits), NaN for those not evaluated.
  std::span<const float> margins() const { return margins_; }
  size_t evaluated() const { return evaluated_; }
  size_t total() const { return order_.size(); }
  bool done() const { return evaluated_ == order_.size(); }

 private:
  // The loop both advance()s share: evaluate_chunk(indices, labels, predicted, margins) scores one chunk
  // of at most largest_batch samples and returns its summed loss.
  template <typename EvaluateChunk>
  size_t advance_chunks(int largest_batch, double budget_ms, size_t min_samples,
                        const EvaluateChunk& evaluate_chunk);

  const FeatureRows& features_;
  std::span<const int32_t> labels_;
  std::vector<uint32_t> order_;       // [n], the evaluation order
  std::vector<int32_t> predictions_;  // [n], by sample index
  std::vector<float> margins_;        // [n], by sample index
  static constexpr size_t kSmallestChunk = 16;
  int chunk_size_;
  double ms_per_sample_ = 0;  // of the chunks so far (moving average), 0 before the first
  size_t evaluated_ = 0;      // samples of order_ already in the sums
  double loss_sum_ = 0.0;
  size_t correct_ = 0;
  std::vector<float>
      chunk_features_;  // [chunk_size, sample_size], or first_layer's output [chunk_size, outputs]
  std::vector<int32_t> chunk_labels_;                      // [chunk_size]
  std::vector<int32_t> chunk_predicted_;                   // [chunk_size]
  std::vector<float> chunk_margins_;                       // [chunk_size]
  std::vector<float> chunk_logits_, chunk_probabilities_;  // [chunk_size, classes]: the int8 path
};

}  // namespace qplay

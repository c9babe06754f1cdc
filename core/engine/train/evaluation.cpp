#include "core/engine/train/evaluation.h"

#include <algorithm>
#include <cassert>
#include <limits>
#include <numeric>

#include "core/engine/nn/layers.h"

namespace qplay {

namespace {

// The loop the overloads share. forward_rows(start, batch) runs the network's forward on samples
// [start, start + batch).
template <typename ForwardRows>
Evaluation evaluate_in_chunks(Network<float>& network, size_t n, const ForwardRows& forward_rows,
                              std::span<const int32_t> labels, std::vector<int32_t>* predictions,
                              int chunk_size) {
  const int classes = network.architecture().num_classes;
  if (predictions) predictions->resize(n);
  double loss_sum = 0.0;
  size_t correct = 0;
  chunk_size = std::min(chunk_size, network.largest_batch());
  for (size_t start = 0; start < n; start += chunk_size) {
    const int batch = static_cast<int>(std::min<size_t>(chunk_size, n - start));
    forward_rows(start, batch);
    loss_sum += double(network.loss(labels.subspan(start, batch))) * batch;
    std::span<const float> p = network.probabilities();
    for (int b = 0; b < batch; ++b) {
      const float* row = p.data() + size_t(b) * classes;
      int32_t predicted = static_cast<int32_t>(std::max_element(row, row + classes) - row);
      correct += predicted == labels[start + b];
      if (predictions) (*predictions)[start + b] = predicted;
    }
  }
  return Evaluation::of_sums(n, loss_sum, correct);
}

// No backward follows an evaluation's forward passes.
ForwardOptions<float> forward_only(const ForwardOptions<float>& options) {
  ForwardOptions<float> copy = options;
  copy.forward_only = true;
  return copy;
}

}  // namespace

Evaluation evaluate(Network<float>& network, const FeatureRows& features, std::span<const int32_t> labels,
                    const ForwardOptions<float>& options, std::vector<int32_t>* predictions,
                    size_t max_samples, int chunk_size) {
  const size_t n = std::min({labels.size(), features.rows(), max_samples});
  assert(n == 0 || features.row_size() == network.architecture().input.size());
  std::vector<float> chunk;  // [chunk_size, sample_size] decoded features (uint8 storage only)
  const ForwardOptions<float> chunk_options = forward_only(options);
  return evaluate_in_chunks(
      network, n,
      [&](size_t start, int batch) {
        network.forward(features.float_rows(start, batch, &chunk), batch, chunk_options);
      },
      labels, predictions, chunk_size);
}

Evaluation evaluate(Network<float>& network, const ByteInputLayer& first_layer, const FeatureRows& features,
                    std::span<const int32_t> labels, const ForwardOptions<float>& options,
                    std::vector<int32_t>* predictions) {
  const size_t n = std::min(labels.size(), features.rows());
  std::vector<uint32_t> rows;
  std::vector<float> first_output;  // [chunk, first_layer.outputs]
  ForwardOptions<float> from_layer_1 = forward_only(options);
  return evaluate_in_chunks(
      network, n,
      [&](size_t start, int batch) {
        rows.resize(batch);
        std::iota(rows.begin(), rows.end(), static_cast<uint32_t>(start));
        first_output.resize(size_t(batch) * first_layer.outputs);
        byte_input_layer_forward(first_layer, features, rows, network.kernels(), first_output);
        from_layer_1.first_layer_output = first_output;
        network.forward({}, batch, from_layer_1);
      },
      labels, predictions, 500);
}

Evaluation evaluate(Network<float>& network, std::span<const float> features, std::span<const int32_t> labels,
                    const ForwardOptions<float>& options, std::vector<int32_t>* predictions,
                    size_t max_samples, int chunk_size) {
  const size_t sample_size = network.architecture().input.size();
  const size_t n = std::min({labels.size(), features.size() / sample_size, max_samples});
  const ForwardOptions<float> chunk_options = forward_only(options);
  return evaluate_in_chunks(
      network, n,
      [&](size_t start, int batch) {
        network.forward(features.subspan(start * sample_size, batch * sample_size), batch, chunk_options);
      },
      labels, predictions, chunk_size);
}

float decision_margin(std::span<const float> logits) {
  float top = -std::numeric_limits<float>::infinity(), second = top;
  for (float v : logits) {
    if (v > top)
      second = top, top = v;
    else if (v > second)
      second = v;
  }
  return top - second;
}

std::vector<uint8_t> low_margin_samples(std::span<const float> margins) {
  const size_t n = margins.size();
  std::vector<uint8_t> low(n, 0);
  if (n == 0) return low;
  std::vector<float> sorted(margins.begin(), margins.end());
  std::nth_element(sorted.begin(), sorted.begin() + (n - 1) / 4, sorted.end());
  const float cut = sorted[(n - 1) / 4];
  for (size_t i = 0; i < n; ++i) low[i] = margins[i] <= cut;
  return low;
}

double score_logits(int classes, std::span<const float> logits, std::span<const int32_t> labels,
                    std::span<int32_t> predicted, std::vector<float>& probabilities) {
  const int batch = static_cast<int>(labels.size());
  for (int b = 0; b < batch; ++b) {
    const float* row = logits.data() + static_cast<size_t>(b) * classes;
    predicted[b] = static_cast<int32_t>(std::max_element(row, row + classes) - row);
  }
  if (batch == 0) return 0.0;
  probabilities.resize(logits.size());
  return double(softmax_cross_entropy_forward(batch, classes, logits.data(), labels.data(),
                                              probabilities.data())) *
         batch;
}

Result<Evaluation> evaluate_int8(const Int8Model& model, Int8Runner& runner, const FeatureRows& features,
                                 std::span<const int32_t> labels, std::vector<int32_t>* predictions,
                                 size_t max_samples) {
  // One runner call for all rows (one wake-up of the pool, tasks of equal size), scored on the pool
  // as each group of rows is done: the softmax was a serial 1.6 ms of a 2-thread W3 move. Each row's
  // loss is kept and summed in row order afterwards, so the result does not depend on how the rows
  // were split among threads.
  const size_t n = std::min({labels.size(), features.rows(), max_samples});
  const int classes = model.architecture.num_classes;
  std::vector<uint32_t> rows(n);
  std::iota(rows.begin(), rows.end(), uint32_t{0});
  std::vector<float> logits(n * classes), row_losses(n);
  std::vector<int32_t> predicted(n);
  const Int8Runner::RowsDone score = [&](size_t first, size_t count) {
    thread_local std::vector<float> probabilities;
    for (size_t r = first; r < first + count; ++r) {
      row_losses[r] = static_cast<float>(
          score_logits(classes, std::span<const float>(logits).subspan(r * classes, classes),
                       labels.subspan(r, 1), std::span(predicted).subspan(r, 1), probabilities));
    }
  };
  if (Status status = runner.logits_of_rows(model, features, rows, logits, score); !status) return status;
  double loss_sum = 0.0;
  size_t correct = 0;
  for (size_t r = 0; r < n; ++r) {
    loss_sum += row_losses[r];
    correct += predicted[r] == labels[r];
  }
  if (predictions) *predictions = std::move(predicted);
  return Evaluation::of_sums(n, loss_sum, correct);
}

}  // namespace qplay

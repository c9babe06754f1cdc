#include "core/engine/train/evaluation.h"

#include <algorithm>
#include <cassert>

namespace qplay {

namespace {

// The loop both overloads share. rows_of(start, batch) gives the features of samples
// [start, start + batch) as floats, [batch, sample_size].
template <typename RowsOf>
Evaluation evaluate_in_chunks(Network<float>& network, size_t n, const RowsOf& rows_of,
                              std::span<const int32_t> labels, const ForwardOptions<float>& options,
                              std::vector<int32_t>* predictions, int chunk_size) {
  const int classes = network.architecture().num_classes;
  Evaluation result;
  result.samples = n;
  if (predictions) predictions->resize(n);
  double loss_sum = 0.0;
  size_t correct = 0;
  chunk_size = std::min(chunk_size, network.largest_batch());
  for (size_t start = 0; start < n; start += chunk_size) {
    const int batch = static_cast<int>(std::min<size_t>(chunk_size, n - start));
    network.forward(rows_of(start, batch), batch, options);
    loss_sum += double(network.loss(labels.subspan(start, batch))) * batch;
    std::span<const float> p = network.probabilities();
    for (int b = 0; b < batch; ++b) {
      const float* row = p.data() + size_t(b) * classes;
      int32_t predicted = static_cast<int32_t>(std::max_element(row, row + classes) - row);
      correct += predicted == labels[start + b];
      if (predictions) (*predictions)[start + b] = predicted;
    }
  }
  if (n > 0) {
    result.loss = loss_sum / n;
    result.accuracy = double(correct) / n;
  }
  return result;
}

}  // namespace

Evaluation evaluate(Network<float>& network, const FeatureRows& features, std::span<const int32_t> labels,
                    const ForwardOptions<float>& options, std::vector<int32_t>* predictions,
                    size_t max_samples, int chunk_size) {
  const size_t n = std::min({labels.size(), features.rows(), max_samples});
  assert(n == 0 || features.row_size() == network.architecture().input.size());
  std::vector<float> chunk;  // [chunk_size, sample_size] decoded features (uint8 storage only)
  return evaluate_in_chunks(
      network, n, [&](size_t start, int batch) { return features.float_rows(start, batch, &chunk); }, labels,
      options, predictions, chunk_size);
}

Evaluation evaluate(Network<float>& network, std::span<const float> features, std::span<const int32_t> labels,
                    const ForwardOptions<float>& options, std::vector<int32_t>* predictions,
                    size_t max_samples, int chunk_size) {
  const size_t sample_size = network.architecture().input.size();
  const size_t n = std::min({labels.size(), features.size() / sample_size, max_samples});
  return evaluate_in_chunks(
      network, n,
      [&](size_t start, int batch) { return features.subspan(start * sample_size, batch * sample_size); },
      labels, options, predictions, chunk_size);
}

}  // namespace qplay

// Loss and accuracy of a network on a labelled set, in chunks, on any parameter view and with
// any activation quantization: the one function behind test metrics, sweeps and the slider; and the
// same for real int8 inference (deploy/int8_inference.h), which the slider runs when it can.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "core/engine/base/status.h"
#include "core/engine/data/feature_rows.h"
#include "core/engine/deploy/byte_input_layer.h"
#include "core/engine/deploy/int8_inference.h"
#include "core/engine/nn/network.h"

namespace qplay {

struct Evaluation {
  double loss = 0.0;
  double accuracy = 0.0;
  size_t samples = 0;
  // The mean loss and the accuracy of `samples` samples from their sums; zeros for none.
  static Evaluation of_sums(size_t samples, double loss_sum, size_t correct) {
    if (samples == 0) return {};
    return {loss_sum / samples, double(correct) / samples, samples};
  }
};

// features[n, sample_size] (rows of the network's input size), labels[n]. Evaluates the first
// min(n, max_samples) samples in chunks of chunk_size, decoding uint8 features one chunk at a time;
// predictions (if given) receive the argmax class of each.
Evaluation evaluate(Network<float>& network, const FeatureRows& features, std::span<const int32_t> labels,
                    const ForwardOptions<float>& options = {}, std::vector<int32_t>* predictions = nullptr,
                    size_t max_samples = std::numeric_limits<size_t>::max(), int chunk_size = 500);

// The same over plain float rows: features[n * sample_size] row-major, n inferred from its size.
Evaluation evaluate(Network<float>& network, std::span<const float> features, std::span<const int32_t> labels,
                    const ForwardOptions<float>& options = {}, std::vector<int32_t>* predictions = nullptr,
                    size_t max_samples = std::numeric_limits<size_t>::max(), int chunk_size = 500);

// The first overload with the network's first layer computed by first_layer (the byte features in
// integers, deploy/byte_input_layer.h), the rest by the float network with options.
Evaluation evaluate(Network<float>& network, const ByteInputLayer& first_layer, const FeatureRows& features,
                    std::span<const int32_t> labels, const ForwardOptions<float>& options,
                    std::vector<int32_t>* predictions = nullptr);

// The first min(n, max_samples) samples through real int8 inference on runner, scored like
// evaluate: softmax cross-entropy of the logits, argmax (the first of equal logits) as prediction.
Result<Evaluation> evaluate_int8(const Int8Model& model, Int8Runner& runner, const FeatureRows& features,
                                 std::span<const int32_t> labels, std::vector<int32_t>* predictions = nullptr,
                                 size_t max_samples = std::numeric_limits<size_t>::max());

// How narrowly a model decides a sample: its top logit minus the runner-up (0 on a tie). logits[classes].
float decision_margin(std::span<const float> logits);
// Which samples a model decides most narrowly, from their margins[n] (decision_margin): 1 for the quarter
// with the smallest margins (ties at the cut included), 0 for the rest. Rounding flips these first.
std::vector<uint8_t> low_margin_samples(std::span<const float> margins);

// logits[batch, classes] against labels[batch]: predicted[b] = argmax of row b (the first of equals),
// and the return value is the summed (not mean) softmax cross-entropy. probabilities is scratch.
double score_logits(int classes, std::span<const float> logits, std::span<const int32_t> labels,
                    std::span<int32_t> predicted, std::vector<float>& probabilities);

}  // namespace qplay

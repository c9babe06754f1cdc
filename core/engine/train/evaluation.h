// Loss and accuracy of a network on a labelled set, in chunks, on any parameter view and with
// any activation quantization: the one function behind test metrics, sweeps and the slider.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "core/engine/data/feature_rows.h"
#include "core/engine/nn/network.h"

namespace qplay {

struct Evaluation {
  double loss = 0.0;
  double accuracy = 0.0;
  size_t samples = 0;
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

}  // namespace qplay

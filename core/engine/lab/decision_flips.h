// Decision flips: the test samples whose predicted class at a quantization setting differs from the float
// model's, from the Lab's cached evaluations. Accuracy can stay while decisions move: flips from right to
// wrong and from wrong to right cancel in the accuracy, not here. The low-margin flip rate counts flips
// among the quarter of the test split the float model decides most narrowly (train/evaluation.h's
// low_margin_samples, as qplay-cli compare scores them), where rounding flips first.
// Not for: the decision boundary's grid (the panel compares the Lab's two DecisionBoundary maps).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/engine/lab/lab.h"

namespace qplay {

struct DecisionFlips {
  size_t samples = 0;             // the whole test split
  std::vector<uint32_t> flipped;  // test sample indices, ascending
  size_t low_margin_samples = 0;  // the float model's narrowest quarter
  size_t low_margin_flips = 0;    // flips among those
  uint64_t weights_version = 0;   // the weights both evaluations were computed on
  double rate() const { return samples ? double(flipped.size()) / double(samples) : 0.0; }
  double low_margin_rate() const {
    return low_margin_samples ? double(low_margin_flips) / double(low_margin_samples) : 0.0;
  }
};

// The flips between two complete prediction lists of one test split. float_margins (decision_margin of
// the float model's logits, same length) gives the low-margin counts; empty: those stay 0.
DecisionFlips count_decision_flips(std::span<const int32_t> float_predictions,
                                   std::span<const int32_t> quantized_predictions,
                                   std::span<const float> float_margins);

// A run's flips at a setting, or nullopt until its float evaluation (Lab::float_setting) and the one at the
// setting are both complete on the same weights (which may be older than the run's: compare weights_version
// with Lab::evaluated_version).
std::optional<DecisionFlips> decision_flips(const Lab& lab, int run, const QuantizationSetting& setting);

}  // namespace qplay

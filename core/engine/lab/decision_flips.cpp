#include "core/engine/lab/decision_flips.h"

#include <algorithm>

#include "core/engine/train/evaluation.h"

namespace qplay {

DecisionFlips count_decision_flips(std::span<const int32_t> float_predictions,
                                   std::span<const int32_t> quantized_predictions,
                                   std::span<const float> float_margins) {
  DecisionFlips flips;
  flips.samples = std::min(float_predictions.size(), quantized_predictions.size());
  const std::vector<uint8_t> low_margin =
      float_margins.empty() ? std::vector<uint8_t>(flips.samples, 0) : low_margin_samples(float_margins);
  for (size_t i = 0; i < flips.samples; ++i) {
    const bool flipped = quantized_predictions[i] != float_predictions[i];
    if (flipped) flips.flipped.push_back(static_cast<uint32_t>(i));
    flips.low_margin_samples += low_margin[i];
    flips.low_margin_flips += low_margin[i] && flipped;
  }
  return flips;
}

std::optional<DecisionFlips> decision_flips(const Lab& lab, int run, const QuantizationSetting& setting) {
  const EvaluationCache::Entry* quantized = lab.evaluation(run, setting);
  const EvaluationCache::Entry* in_float = lab.evaluation(run, lab.float_setting());
  if (!quantized || !in_float || !quantized->complete || !in_float->complete ||
      quantized->weights_version != in_float->weights_version)
    return std::nullopt;
  DecisionFlips flips =
      count_decision_flips(in_float->predictions, quantized->predictions, in_float->margins);
  flips.weights_version = in_float->weights_version;
  return flips;
}

}  // namespace qplay

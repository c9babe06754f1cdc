// Post-training quantization sweeps: one trained float model evaluated over a grid of
// (weight bits, activation bits). Each point quantizes the weights afresh from the float master
// copy and calibrates activation ranges on training samples, so points are independent.
#pragma once

#include <functional>
#include <vector>

#include "core/engine/data/dataset.h"
#include "core/engine/deploy/post_training.h"
#include "core/engine/train/evaluation.h"

namespace qplay {

struct SweepPoint {
  int weight_bits = 0;      // 0 = float
  int activation_bits = 0;  // 0 = float
  Evaluation test;
};

struct SweepOptions {
  std::vector<int> weight_bits = {8, 7, 6, 5, 4, 3, 2};
  std::vector<int> activation_bits = {0, 8, 6, 4};
  QuantizationSetting base;  // granularity, symmetry, range method (bits are overwritten per point)
  int calibration_samples = 512;
};

// Evaluates the float model first (0, 0), then every (weight, activation) pair on the test split.
// progress(done, total) is called after each point.
std::vector<SweepPoint> sweep_bit_widths(Network<float>& network, const Dataset& dataset,
                                         const SweepOptions& options,
                                         const std::function<void(int done, int total)>& progress = {});

// How evaluate_quantized runs a setting with quantized activations: through real int8 inference
// when build_int8_model_for_setting can build it (an image set of uint8 codes, a ReLU network, int8
// weight grids), else by fake quantization, with the first layer in integers on byte features
// (deploy/byte_input_layer.h); or by fake quantization in float always (to compare the two).
enum class QuantizedPath { int8_when_exact, fake_quantization };

// Test evaluation of the network at one quantization setting (one slider position). The int8 path
// runs on as many threads as the network's kernel table.
Evaluation evaluate_quantized(Network<float>& network, const Dataset& dataset,
                              const QuantizationSetting& setting, int calibration_samples,
                              std::vector<int32_t>* predictions = nullptr,
                              QuantizedPath path = QuantizedPath::int8_when_exact);

}  // namespace qplay

// A trained network at one quantization setting, as integers: each weighted layer's weight codes with
// their scales and zero points, float biases, and the grid its input activations are rounded to. It is
// what QPlay's quantized evaluation computes (the fake-quantized forward of post_training.h), taken
// apart for export: the ONNX QDQ graph (onnx_export.h) and the documented "qplay-integer-model" JSON
// (docs/formats.md) are both written from it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/engine/base/status.h"
#include "core/engine/deploy/post_training.h"
#include "core/engine/io/json.h"

namespace qplay {

// A grid's codes as an 8-bit integer type: int8 for symmetric grids (zero point 0, codes ±(2^{b-1}-1),
// or {-1, +1} at 1 bit), uint8 for asymmetric and unsigned ones (codes 0..2^b-1).
struct IntegerGrid {
  int bits = 0;
  bool is_signed = true;
  float scale = 1.0f;
  int32_t zero_point = 0;
  int32_t q_min = 0, q_max = 0;
};

struct IntegerWeights {
  int bits = 0;  // 0: float, values in float_values; else codes in `codes`
  bool is_signed = true;
  bool per_channel = true;  // one scale and zero point per output channel (row), else one for all
  std::vector<float> scales;
  std::vector<int32_t> zero_points;
  int rows = 0, columns = 0;   // [outputs, inputs] dense, [outputs, ky*kx*in_channels] conv (QPlay order)
  std::vector<int32_t> codes;  // rows * columns, row-major; real value = scale * (code - zero_point)
  std::vector<float> float_values;
};

struct IntegerLayer {
  LayerSpec spec;
  // Weighted layers other than the first, when activations are quantized.
  std::optional<IntegerGrid> input_grid;
  IntegerWeights weights;  // weighted layers only
  std::vector<float> bias;
};

struct IntegerModel {
  Architecture architecture;
  std::vector<IntegerLayer> layers;
};

// The model QPlay's quantized evaluation computes for `setting`: weight grids from quantize_weights_into,
// activation grids calibrated on the first `calibration_samples` rows (calibrate_activation_ranges).
// Refuses what has no 8-bit QuantizeLinear form: a 1-bit symmetric activation grid ({-s, +s}).
Result<IntegerModel> build_integer_model(Network<float>& network, std::span<const float> parameters,
                                         const QuantizationSetting& setting,
                                         const FeatureRows& calibration_features, int calibration_samples);

// The "qplay-integer-model" version 1 document (docs/formats.md).
Json integer_model_to_json(const IntegerModel& model);

}  // namespace qplay

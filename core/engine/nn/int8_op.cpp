#include "core/engine/nn/int8_op.h"

#include <algorithm>

namespace qplay {
namespace {

// XNNPACK's fp32 requantization: one float product, clamped in float to the output codes, rounded
// half to even, plus the zero point. Clamping before rounding is the same as after, since the bounds
// are whole numbers.
void int8_requantize(const Int8Op& op, size_t rows, const int32_t* accumulators, int8_t* output) {
  const int outputs = op.outputs();
  const QuantGrid& grid = op.output_grid;
  const float low = static_cast<float>(grid.q_min - grid.zero_point);
  const float high = static_cast<float>(grid.q_max - grid.zero_point);
  const int32_t zero_point = grid.zero_point;
  // Restrict pointers: int8_t stores may alias anything, and without them the loop is not vectorized
  // (measured: 14% of a W4A8 slider move scalar).
  const float* __restrict scales = op.accumulator_scales.data();
  for (size_t r = 0; r < rows; ++r) {
    const int32_t* __restrict in = accumulators + r * outputs;
    int8_t* __restrict out = output + r * outputs;
    for (int c = 0; c < outputs; ++c) {
      const float product = static_cast<float>(in[c]) * scales[c];
      const float scaled = product < low ? low : (product > high ? high : product);
      out[c] = static_cast<int8_t>(static_cast<int32_t>(round_half_even(scaled)) + zero_point);
    }
  }
}

void int8_dequantize(const Int8Op& op, size_t rows, const int32_t* accumulators, float* logits) {
  const int outputs = op.outputs();
  for (size_t r = 0; r < rows; ++r) {
    for (int c = 0; c < outputs; ++c) {
      logits[r * outputs + c] = static_cast<float>(accumulators[r * outputs + c]) * op.accumulator_scales[c];
    }
  }
}

}  // namespace

void pack_int8_op(Int8GemmVariant variant, Int8Op& op) {
  const int outputs = op.outputs(), patch = op.patch_size();
  std::vector<int32_t> offsets(outputs);
  for (int c = 0; c < outputs; ++c) {
    const int8_t* w = op.weights.data() + static_cast<size_t>(c) * patch;
    int32_t weight_sum = 0;
    for (int k = 0; k < patch; ++k) weight_sum += w[k];
    offsets[c] = op.bias[c] - op.input_grid.zero_point * weight_sum;
  }
  op.packed = pack_int8_weights(variant, op.weights, outputs, patch, offsets);
}

void int8_weighted_output(const Int8Op& op, size_t rows, const int8_t* patches, const Int8Tensors& tensors) {
  int8_gemm(op.packed, static_cast<int>(rows), patches, op.patch_size(), tensors.accumulators, op.outputs());
  if (op.outputs_logits) {
    int8_dequantize(op, rows, tensors.accumulators, tensors.logits);
  } else {
    int8_requantize(op, rows, tensors.accumulators, tensors.output);
  }
}

}  // namespace qplay

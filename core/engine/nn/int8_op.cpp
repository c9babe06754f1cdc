#include "core/engine/nn/int8_op.h"

#include <algorithm>

namespace qplay {
namespace {

// Σ a[i]·b[i] over int8 codes. Each product fits int16 (|a| <= 128, |b| <= 127), which lets the
// compiler use the 16-bit multiply-add instructions.
int32_t dot_int8(const int8_t* a, const int8_t* b, int n) {
  int32_t sum = 0;
  for (int i = 0; i < n; ++i) sum += static_cast<int16_t>(a[i] * b[i]);
  return sum;
}

// accumulators[rows, outputs] = bias + Σ (x - z_x)·w over patches[rows, patch_size]. The zero point is
// folded into the bias (bias - z_x·Σw), as XNNPACK does when it packs the weights, so the inner loop
// is a plain dot product.
void int8_accumulate(const Int8Op& op, size_t rows, const int8_t* patches, int32_t* accumulators) {
  const int outputs = op.outputs(), patch = op.patch_size();
  std::vector<int32_t> folded_bias(outputs);
  for (int c = 0; c < outputs; ++c) {
    const int8_t* w = op.weights.data() + static_cast<size_t>(c) * patch;
    int32_t weight_sum = 0;
    for (int k = 0; k < patch; ++k) weight_sum += w[k];
    folded_bias[c] = op.bias[c] - op.input_grid.zero_point * weight_sum;
  }
  for (size_t r = 0; r < rows; ++r) {
    const int8_t* x = patches + r * patch;
    int32_t* out = accumulators + r * outputs;
    for (int c = 0; c < outputs; ++c) {
      out[c] = folded_bias[c] + dot_int8(x, op.weights.data() + static_cast<size_t>(c) * patch, patch);
    }
  }
}

// XNNPACK's fp32 requantization: one float product, clamped in float to the output codes, rounded
// half to even, plus the zero point. Clamping before rounding is the same as after, since the bounds
// are whole numbers.
void int8_requantize(const Int8Op& op, size_t rows, const int32_t* accumulators, int8_t* output) {
  const int outputs = op.outputs();
  const QuantGrid& grid = op.output_grid;
  const float low = static_cast<float>(grid.q_min - grid.zero_point);
  const float high = static_cast<float>(grid.q_max - grid.zero_point);
  for (size_t r = 0; r < rows; ++r) {
    const int32_t* in = accumulators + r * outputs;
    int8_t* out = output + r * outputs;
    for (int c = 0; c < outputs; ++c) {
      const float scaled = std::clamp(static_cast<float>(in[c]) * op.accumulator_scales[c], low, high);
      out[c] = static_cast<int8_t>(static_cast<int32_t>(round_half_even(scaled)) + grid.zero_point);
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

void int8_weighted_output(const Int8Op& op, size_t rows, const int8_t* patches, const Int8Tensors& tensors) {
  int8_accumulate(op, rows, patches, tensors.accumulators);
  if (op.outputs_logits) {
    int8_dequantize(op, rows, tensors.accumulators, tensors.logits);
  } else {
    int8_requantize(op, rows, tensors.accumulators, tensors.output);
  }
}

}  // namespace qplay

#include "core/engine/nn/int8_op.h"

#include <algorithm>

namespace qplay {
namespace {

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
  if (op.outputs_logits) {
    int8_gemm(op.packed, static_cast<int>(rows), patches, op.patch_size(), tensors.accumulators,
              op.outputs());
    int8_dequantize(op, rows, tensors.accumulators, tensors.logits);
    return;
  }
  const QuantGrid& grid = op.output_grid;
  const Int8Requantization requantization{op.accumulator_scales.data(),
                                          static_cast<float>(grid.q_min - grid.zero_point),
                                          static_cast<float>(grid.q_max - grid.zero_point), grid.zero_point};
  int8_gemm_requantized(op.packed, static_cast<int>(rows), patches, op.patch_size(), requantization,
                        tensors.output, op.outputs());
}

}  // namespace qplay

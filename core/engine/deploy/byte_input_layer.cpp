#include "core/engine/deploy/byte_input_layer.h"

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <limits>
#include <string>

namespace qplay {

Result<ByteInputLayer> build_byte_input_layer(const Network<float>& network, std::span<const float> master,
                                              const std::vector<std::vector<QuantGrid>>& weight_grids,
                                              const FeatureRows& features, Int8GemmVariant variant) {
  if (features.storage() != FeatureStorage::uint8_codes || !(features.divisor() > 0.0f)) {
    return Status::error("the features are floats: no integer input");
  }
  // A flatten before it changes nothing (NHWC rows are already flat).
  const Architecture& architecture = network.architecture();
  size_t first = 0;
  while (first < architecture.layers.size() && architecture.layers[first].kind == LayerKind::flatten) ++first;
  if (first == architecture.layers.size() || architecture.layers[first].kind != LayerKind::dense) {
    return Status::error("the first layer is not dense");
  }
  const auto& tensors = network.parameter_tensors();
  const ParameterTensor& weight = tensors[0];  // the first dense layer's weight, then its bias
  const ParameterTensor& bias = tensors[1];
  if (weight_grids.empty() || weight_grids[0].empty()) {
    return Status::error("the first layer's weights are float");
  }
  const std::vector<QuantGrid>& grids = weight_grids[0];
  if (int64_t{weight.columns} * 255 * 127 > std::numeric_limits<int32_t>::max()) {  // Σ byte·w in int32
    return Status::error("the first layer has too many inputs for int32 sums");
  }
  ByteInputLayer layer;
  layer.inputs = weight.columns;
  layer.outputs = weight.rows;
  std::vector<int8_t> codes(weight.size());
  std::vector<int32_t> offsets(layer.outputs);
  layer.output_scales.resize(layer.outputs);
  const std::span<const float> weights = master.subspan(weight.offset, weight.size());
  for (int c = 0; c < layer.outputs; ++c) {
    const QuantGrid& grid = grids.size() == 1 ? grids[0] : grids[c];
    if (grid.q_max - grid.zero_point > 127 || grid.zero_point - grid.q_min > 127) {
      return Status::error("the first layer's weight grid " + to_string(grid) + " does not fit int8");
    }
    int32_t sum = 0;
    for (int k = 0; k < layer.inputs; ++k) {
      const size_t index = static_cast<size_t>(c) * layer.inputs + k;
      codes[index] = static_cast<int8_t>(quantize_to_int(grid, weights[index]) - grid.zero_point);
      sum += codes[index];
    }
    offsets[c] = 128 * sum;  // the GEMM sees byte - 128
    layer.output_scales[c] = grid.scale / features.divisor();
  }
  const std::span<const float> biases = master.subspan(bias.offset, bias.size());
  layer.biases.assign(biases.begin(), biases.end());
  layer.weights = pack_int8_weights(variant, codes, layer.outputs, layer.inputs, offsets);
  return layer;
}

void byte_input_layer_forward(const ByteInputLayer& layer, const FeatureRows& features,
                              std::span<const uint32_t> rows, const KernelTable& threads,
                              std::span<float> output) {
  assert(features.storage() == FeatureStorage::uint8_codes && features.row_size() == size_t(layer.inputs));
  assert(output.size() == rows.size() * layer.outputs);
  constexpr size_t kGroupRows = 64;  // a group's codes and sums stay in L1/L2
  const size_t groups = (rows.size() + kGroupRows - 1) / kGroupRows;
  const size_t inputs = layer.inputs, outputs = layer.outputs;
  parallel_for(threads, groups, [&](size_t g) {
    thread_local std::vector<int8_t> shifted;  // [group, inputs] byte - 128
    thread_local std::vector<int32_t> sums;    // [group, outputs]
    shifted.resize(kGroupRows * inputs);
    sums.resize(kGroupRows * outputs);
    const size_t first = g * kGroupRows, count = std::min(kGroupRows, rows.size() - first);
    for (size_t r = 0; r < count; ++r) {
      const uint8_t* __restrict bytes = features.codes().data() + rows[first + r] * inputs;
      int8_t* __restrict out = shifted.data() + r * inputs;
      for (size_t k = 0; k < inputs; ++k) out[k] = static_cast<int8_t>(bytes[k] ^ 0x80);
    }
    int8_gemm(layer.weights, static_cast<int>(count), shifted.data(), inputs, sums.data(), outputs);
    for (size_t r = 0; r < count; ++r) {
      const int32_t* __restrict sum = sums.data() + r * outputs;
      float* __restrict y = output.data() + (first + r) * outputs;
      for (size_t c = 0; c < outputs; ++c)
        y[c] = static_cast<float>(sum[c]) * layer.output_scales[c] + layer.biases[c];
    }
  });
}

}  // namespace qplay

#include "core/engine/deploy/model_size.h"

namespace qplay {
namespace {

constexpr int kFloatBits = 32;
constexpr size_t kScaleBytes = 4;      // a float32 scale
constexpr size_t kZeroPointBytes = 1;  // an int8 zero point
constexpr size_t kBiasBytes = 4;       // a float32 bias

}  // namespace

int deployed_weight_bits(const QuantizationSetting& setting, int layer) {
  int bits = setting.weights.bits;
  if (layer < static_cast<int>(setting.weight_bits_per_layer.size()) &&
      setting.weight_bits_per_layer[layer] >= 0)
    bits = setting.weight_bits_per_layer[layer];
  return bits == 0 ? kFloatBits : bits;
}

size_t layer_bytes(const LayerSpec& layer, int bits, const QuantizationSetting& setting) {
  const size_t rows = static_cast<size_t>(layer.weight_rows());
  const size_t weights = rows * static_cast<size_t>(layer.weight_columns());
  size_t bytes = (weights * static_cast<size_t>(bits) + 7) / 8 + rows * kBiasBytes;
  if (bits < kFloatBits) {
    const size_t scales = setting.weights.granularity == Granularity::per_channel ? rows : 1;
    bytes += scales * kScaleBytes;
    if (setting.weights.symmetry == Symmetry::asymmetric) bytes += scales * kZeroPointBytes;
  }
  return bytes;
}

ModelSize model_size(const Architecture& architecture, const QuantizationSetting& setting) {
  ModelSize size;
  double weight_bits = 0;
  for (int i = 0; i < static_cast<int>(architecture.layers.size()); ++i) {
    const LayerSpec& layer = architecture.layers[i];
    if (!layer.has_parameters()) continue;
    LayerSize entry;
    entry.layer = i;
    entry.weights = static_cast<size_t>(layer.weight_rows()) * static_cast<size_t>(layer.weight_columns());
    entry.bits = deployed_weight_bits(setting, i);
    entry.bytes = layer_bytes(layer, entry.bits, setting);
    size.bytes += entry.bytes;
    size.weights += entry.weights;
    weight_bits += double(entry.weights) * entry.bits;
    size.layers.push_back(entry);
  }
  if (size.weights > 0) size.average_weight_bits = weight_bits / double(size.weights);
  return size;
}

}  // namespace qplay

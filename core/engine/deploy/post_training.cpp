#include "core/engine/deploy/post_training.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <map>
#include <utility>

#include "core/engine/quant/range_estimation.h"

namespace qplay {

bool layer_input_is_nonnegative(const Architecture& architecture, int layer) {
  for (int i = layer - 1; i >= 0; --i) {
    LayerKind kind = architecture.layers[i].kind;
    if (kind == LayerKind::max_pool || kind == LayerKind::flatten) continue;
    return kind == LayerKind::relu;
  }
  return false;
}

int activation_bits_of_layer(const QuantizationSetting& setting, int layer) {
  const std::vector<int>& per_layer = setting.activation_bits_per_layer;
  return layer < static_cast<int>(per_layer.size()) && per_layer[layer] >= 0 ? per_layer[layer]
                                                                             : setting.activations.bits;
}

bool quantizes_activations(const QuantizationSetting& setting) {
  const std::vector<int>& per_layer = setting.activation_bits_per_layer;
  return setting.activations.bits > 0 ||
         std::any_of(per_layer.begin(), per_layer.end(), [](int b) { return b > 0; });
}

void quantize_weights_into(const Network<float>& network, std::span<const float> master,
                           const QuantizationSetting& setting, std::span<float> view,
                           std::vector<std::vector<QuantGrid>>* grids, TaskPool* pool) {
  const auto& tensors = network.parameter_tensors();
  // Each weight tensor is cut into parts of whole channels, about kPartValues weights each, and the
  // parts run as tasks: a channel's grid depends on that channel alone (per-channel), and one
  // tensor-wide grid is chosen before its parts (per-tensor), so the grids and values are the ones a
  // single pass gives, whatever the thread count.
  constexpr size_t kPartValues = 16384;
  struct Part {
    size_t tensor;
    int first_channel, channels;
  };
  std::vector<Part> parts;
  std::vector<std::vector<QuantGrid>> tensor_grids(tensors.size());
  std::vector<WeightQuantSpec> specs(tensors.size());
  std::vector<bool> copied(tensors.size(), true);  // biases and float weights: copied as they are
  for (size_t t = 0; t < tensors.size(); ++t) {
    const ParameterTensor& tensor = tensors[t];
    if (!tensor.is_weight) continue;
    WeightQuantSpec& spec = specs[t];
    spec = setting.weights;
    if (tensor.layer < static_cast<int>(setting.weight_bits_per_layer.size()) &&
        setting.weight_bits_per_layer[tensor.layer] >= 0) {
      spec.bits = setting.weight_bits_per_layer[tensor.layer];
    }
    if (spec.bits == 0) continue;
    copied[t] = false;
    const size_t row = tensor.size() / tensor.rows;
    if (spec.granularity == Granularity::per_tensor) {
      tensor_grids[t] = choose_weight_grids(master.subspan(tensor.offset, tensor.size()), tensor.rows, spec);
    } else {
      tensor_grids[t].resize(tensor.rows);
    }
    const int channels_per_part =
        static_cast<int>(std::max<size_t>(1, kPartValues / std::max<size_t>(row, 1)));
    for (int first = 0; first < tensor.rows; first += channels_per_part) {
      parts.push_back({t, first, std::min(channels_per_part, tensor.rows - first)});
    }
  }
  for (size_t t = 0; t < tensors.size(); ++t) {
    if (!copied[t]) continue;
    const ParameterTensor& tensor = tensors[t];
    std::copy_n(master.begin() + tensor.offset, tensor.size(), view.begin() + tensor.offset);
  }
  auto quantize_part = [&](int index) {
    const Part& part = parts[index];
    const ParameterTensor& tensor = tensors[part.tensor];
    const size_t row = tensor.size() / tensor.rows;
    const size_t offset = tensor.offset + part.first_channel * row, size = part.channels * row;
    std::span<const float> weights = master.subspan(offset, size);
    std::vector<QuantGrid>& all_grids = tensor_grids[part.tensor];
    std::vector<QuantGrid> part_grids;
    if (specs[part.tensor].granularity == Granularity::per_tensor) {
      part_grids = all_grids;
    } else {
      part_grids = choose_weight_grids(weights, part.channels, specs[part.tensor]);
      std::copy(part_grids.begin(), part_grids.end(), all_grids.begin() + part.first_channel);
    }
    fake_quantize_weights(weights, part.channels, part_grids, view.subspan(offset, size));
  };
  if (pool) {
    pool->run(static_cast<int>(parts.size()), quantize_part);
  } else {
    for (size_t i = 0; i < parts.size(); ++i) quantize_part(static_cast<int>(i));
  }
  if (grids) *grids = std::move(tensor_grids);
}

std::vector<float> quantized_weights_view(const Network<float>& network, const QuantizationSetting& setting) {
  std::vector<float> view(network.parameter_count());
  quantize_weights_into(network, network.parameters(), setting, view);
  return view;
}

ActivationQuantization calibrate_activation_ranges(Network<float>& network, std::span<const float> parameters,
                                                   const FeatureRows& calibration_features, int samples,
                                                   const ActivationQuantSpec& spec,
                                                   std::span<const int> bits_per_layer) {
  const Architecture& architecture = network.architecture();
  ActivationQuantization result;
  result.input_grids.assign(architecture.layers.size(), std::nullopt);
  std::vector<ActivationQuantSpec> specs(architecture.layers.size(), spec);
  for (size_t layer = 0; layer < specs.size() && layer < bits_per_layer.size(); ++layer)
    if (bits_per_layer[layer] >= 0) specs[layer].bits = bits_per_layer[layer];
  if (std::all_of(specs.begin(), specs.end(), [](const ActivationQuantSpec& s) { return s.bits == 0; }))
    return result;
  samples = static_cast<int>(std::min<size_t>(std::max(samples, 0), calibration_features.rows()));
  assert(samples == 0 || calibration_features.row_size() == architecture.input.size());
  // min-max grids need only each input's finite extremes, which are tracked here without the
  // observer's reservoir sample (a random draw per value past 65,536: ~1 ms of a serial 2.5 ms
  // calibration in a W4A8 slider move). The same comparisons in the same order give the observer's
  // range bit for bit, and calibrate() reads only the range for min_max (range_estimation.cpp).
  const bool extremes_only = spec.range_method == RangeMethod::min_max;
  std::map<int, ActivationRangeObserver> observers;
  std::map<int, std::pair<ValueRange, bool>> extremes;  // range, and whether any value was finite
  ForwardOptions<float> options;
  options.parameters = parameters;
  options.observe_layer_input = [&](int layer, std::span<const float> input) {
    if (specs[layer].bits == 0) return;
    if (!extremes_only) {
      observers[layer].observe(input);
      return;
    }
    auto& [range, any] = extremes[layer];
    for (float v : input) {
      if (!std::isfinite(v)) continue;
      range.min = any ? std::min(range.min, v) : v;
      range.max = any ? std::max(range.max, v) : v;
      any = true;
    }
  };
  const int chunk_size = std::min(500, network.largest_batch());
  std::vector<float> chunk;  // [chunk_size, input size] decoded features (uint8 storage only)
  for (int start = 0; start < samples; start += chunk_size) {
    int batch = std::min(chunk_size, samples - start);
    network.forward(calibration_features.float_rows(start, batch, &chunk), batch, options);
  }
  for (auto& [layer, observer] : observers) {
    result.input_grids[layer] = observer.grid(specs[layer], layer_input_is_nonnegative(architecture, layer));
  }
  for (const auto& [layer, range_and_any] : extremes) {
    // As ActivationRangeObserver::grid: unsigned after a ReLU, else symmetric.
    const GridKind kind =
        layer_input_is_nonnegative(architecture, layer) ? GridKind::unsigned_after_relu : GridKind::symmetric;
    result.input_grids[layer] = grid_for_range(kind, range_and_any.first, specs[layer].bits);
  }
  return result;
}

}  // namespace qplay

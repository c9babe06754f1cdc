#include "core/engine/deploy/integer_model.h"

#include <string>

namespace qplay {
namespace {

// The bit-width a grid was made for: codes 0..2^b-1 (unsigned), ±(2^{b-1}-1), or {-1, +1} at 1 bit.
// Read from the grid, so that a per-layer bit-width needs no second lookup here.
int bits_of(const QuantGrid& grid) {
  int magnitude_bits = 0;  // of q_max (Emscripten's libc++ has no std::bit_width)
  while ((grid.q_max >> magnitude_bits) != 0) ++magnitude_bits;
  if (grid.q_min >= 0) return magnitude_bits;
  return grid.q_step == 2 ? 1 : magnitude_bits + 1;
}

Result<IntegerGrid> activation_grid(const QuantGrid& grid, int layer) {
  if (grid.q_step != 1) {
    return Status::error("layer " + std::to_string(layer) +
                         ": the 1-bit symmetric activation grid {-s, +s} has no zero code, so no "
                         "QuantizeLinear form; use 2 or more activation bits");
  }
  return IntegerGrid{bits_of(grid), grid.q_min < 0, grid.scale, grid.zero_point, grid.q_min, grid.q_max};
}

IntegerWeights integer_weights(const ParameterTensor& tensor, std::span<const float> values,
                               const std::vector<QuantGrid>& grids, Granularity granularity) {
  IntegerWeights weights;
  weights.rows = tensor.rows;
  weights.columns = tensor.columns;
  if (grids.empty()) {
    weights.float_values.assign(values.begin(), values.end());
    return weights;
  }
  weights.bits = bits_of(grids.front());
  weights.is_signed = grids.front().q_min < 0;
  weights.per_channel = granularity == Granularity::per_channel;
  for (const QuantGrid& grid : grids) {
    weights.scales.push_back(grid.scale);
    weights.zero_points.push_back(grid.zero_point);
  }
  weights.codes.resize(values.size());
  for (int row = 0; row < tensor.rows; ++row) {
    const QuantGrid& grid = grids.size() == 1 ? grids.front() : grids[row];
    for (int column = 0; column < tensor.columns; ++column) {
      const size_t at = static_cast<size_t>(row) * tensor.columns + column;
      weights.codes[at] = quantize_to_int(grid, values[at]);
    }
  }
  return weights;
}

Json numbers(const auto& values) {
  Json array = Json::array();
  for (auto value : values) array.push_back(value);
  return array;
}

Json shape_json(const TensorShape& shape) {
  return numbers(std::vector<int>{shape.height, shape.width, shape.channels});
}

Json grid_json(const IntegerGrid& grid) {
  Json json = Json::object();
  json["bits"] = grid.bits;
  json["signed"] = grid.is_signed;
  json["scale"] = static_cast<double>(grid.scale);
  json["zero_point"] = grid.zero_point;
  json["q_min"] = grid.q_min;
  json["q_max"] = grid.q_max;
  return json;
}

Json weights_json(const IntegerWeights& weights) {
  Json json = Json::object();
  json["shape"] = numbers(std::vector<int>{weights.rows, weights.columns});
  json["bits"] = weights.bits;
  if (weights.bits == 0) {
    json["values"] = numbers(weights.float_values);
    return json;
  }
  json["signed"] = weights.is_signed;
  json["granularity"] = weights.per_channel ? "per-channel" : "per-tensor";
  json["scales"] = numbers(weights.scales);
  json["zero_points"] = numbers(weights.zero_points);
  json["codes"] = numbers(weights.codes);
  return json;
}

}  // namespace

Result<IntegerModel> build_integer_model(Network<float>& network, std::span<const float> parameters,
                                         const QuantizationSetting& setting,
                                         const FeatureRows& calibration_features, int calibration_samples) {
  if (Status status = validate(setting.weights); !status) return status;
  if (Status status = validate(setting.activations); !status) return status;
  std::vector<float> view(network.parameter_count());
  std::vector<std::vector<QuantGrid>> weight_grids;
  quantize_weights_into(network, parameters, setting, view, &weight_grids);
  IntegerModel model;
  model.architecture = network.architecture();
  for (const LayerSpec& spec : model.architecture.layers)
    model.layers.push_back({spec, std::nullopt, {}, {}});
  const std::vector<ParameterTensor>& tensors = network.parameter_tensors();
  for (size_t t = 0; t < tensors.size(); ++t) {
    const ParameterTensor& tensor = tensors[t];
    IntegerLayer& layer = model.layers[tensor.layer];
    std::span<const float> values = parameters.subspan(tensor.offset, tensor.size());
    if (tensor.is_weight) {
      layer.weights = integer_weights(tensor, values, weight_grids[t], setting.weights.granularity);
    } else {
      layer.bias.assign(values.begin(), values.end());
    }
  }
  // Calibration may grow the network's arena, which holds `parameters` when they are the network's own:
  // every read of them is above.
  const ActivationQuantization activations = calibrate_activation_ranges(
      network, view, calibration_features, calibration_samples, setting.activations);
  for (size_t i = 0; i < activations.input_grids.size(); ++i) {
    if (!activations.input_grids[i]) continue;
    Result<IntegerGrid> grid = activation_grid(*activations.input_grids[i], static_cast<int>(i));
    if (!grid) return grid.status();
    model.layers[i].input_grid = *grid;
  }
  return model;
}

Json integer_model_to_json(const IntegerModel& model) {
  Json json = Json::object();
  json["format"] = "qplay-integer-model";
  json["version"] = 1;
  json["architecture"] = model.architecture.spec;
  json["input_shape"] = shape_json(model.architecture.input);
  json["classes"] = model.architecture.num_classes;
  Json layers = Json::array();
  for (const IntegerLayer& layer : model.layers) {
    Json entry = Json::object();
    entry["kind"] = layer_kind_name(layer.spec.kind);
    entry["input_shape"] = shape_json(layer.spec.input);
    entry["output_shape"] = shape_json(layer.spec.output);
    if (layer.spec.kind == LayerKind::conv2d || layer.spec.kind == LayerKind::max_pool) {
      entry["kernel"] = layer.spec.kernel;
      entry["stride"] = layer.spec.stride;
      entry["padding"] = layer.spec.padding;
    }
    if (layer.spec.has_parameters()) {
      entry["input_activation"] = layer.input_grid ? grid_json(*layer.input_grid) : Json();
      entry["weights"] = weights_json(layer.weights);
      entry["bias"] = numbers(layer.bias);
    }
    layers.push_back(std::move(entry));
  }
  json["layers"] = std::move(layers);
  return json;
}

}  // namespace qplay

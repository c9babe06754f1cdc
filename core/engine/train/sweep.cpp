#include "core/engine/train/sweep.h"

namespace qplay {

namespace {

void release_float_workers(Network<float>& network) {
  if (network.kernels().release_workers) network.kernels().release_workers(network.kernels());
}

}  // namespace

Evaluation evaluate_quantized(Network<float>& network, const Dataset& dataset,
                              const QuantizationSetting& setting, int calibration_samples,
                              std::vector<int32_t>* predictions, QuantizedPath path) {
  Int8Runner runner(network.kernels().threads);  // its pool also quantizes the weights
  std::vector<float> view(network.parameter_count());
  std::vector<std::vector<QuantGrid>> weight_grids;
  quantize_weights_into(network, network.parameters(), setting, view, &weight_grids, &runner.pool());
  ActivationQuantization activations =
      calibrate_activation_ranges(network, view, dataset.train_x, calibration_samples, setting.activations,
                                  setting.activation_bits_per_layer);
  // The calibration ran on the float table's pool, whose workers spin for a moment after a loop; the
  // int8 build and run below use the runner's pool, and two pools spinning on the same cores slowed a
  // 2-thread evaluation 10x (4x idle). Every return leaves the float pool asleep too, as the lab does.
  release_float_workers(network);
  if (path == QuantizedPath::int8_when_exact) {
    // A refusal (float activations, float features, a tanh network, ...) is not an error: the fake-
    // quantized float network below computes the same setting.
    Result<Int8Model> int8 = build_int8_model_for_setting(network, network.parameters(), setting, activations,
                                                          dataset.test_x, weight_grids, &runner.pool());
    if (int8) {
      Result<Evaluation> result = evaluate_int8(*int8, runner, dataset.test_x, dataset.test_y, predictions);
      if (result) return *result;
    }
  }
  ForwardOptions<float> options;
  options.parameters = view;
  if (quantizes_activations(setting)) options.activation_quantization = &activations;
  if (path == QuantizedPath::int8_when_exact) {
    // The first layer in integers on byte features; a refusal (float features, a conv first layer,
    // float or asymmetric 8-bit first-layer weights) leaves the whole network float.
    Result<ByteInputLayer> first_layer =
        build_byte_input_layer(network, network.parameters(), weight_grids, dataset.test_x);
    if (first_layer) {
      Evaluation result =
          evaluate(network, *first_layer, dataset.test_x, dataset.test_y, options, predictions);
      release_float_workers(network);
      return result;
    }
  }
  Evaluation result = evaluate(network, dataset.test_x, dataset.test_y, options, predictions);
  release_float_workers(network);
  return result;
}

std::vector<SweepPoint> sweep_bit_widths(Network<float>& network, const Dataset& dataset,
                                         const SweepOptions& options,
                                         const std::function<void(int done, int total)>& progress) {
  std::vector<SweepPoint> points;
  const int total = 1 + static_cast<int>(options.weight_bits.size() * options.activation_bits.size());
  points.push_back({0, 0, evaluate(network, dataset.test_x, dataset.test_y)});
  if (progress) progress(1, total);
  for (int activation_bits : options.activation_bits) {
    for (int weight_bits : options.weight_bits) {
      QuantizationSetting setting = options.base;
      setting.weights.bits = weight_bits;
      setting.activations.bits = activation_bits;
      points.push_back({weight_bits, activation_bits,
                        evaluate_quantized(network, dataset, setting, options.calibration_samples)});
      if (progress) progress(static_cast<int>(points.size()), total);
    }
  }
  return points;
}

}  // namespace qplay

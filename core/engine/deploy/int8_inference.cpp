// Real int8 inference: building an Int8Model from a float network, and the chunked driver both
// backends share (the reference integer loops are each layer kind's int8_forward in nn/); see
// int8_inference.h.
//
// [SECTION] Grids in int8 code space
// [SECTION] Building
// [SECTION] Running
#include "core/engine/deploy/int8_inference.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <mutex>
#include <string>

#include "core/engine/deploy/post_training.h"
#include "core/engine/nn/layer_ops.h"
#include "core/engine/quant/range_estimation.h"

#if QPLAY_HAVE_XNNPACK
#include "core/engine/deploy/xnnpack_int8.h"
#endif

namespace qplay {

struct Int8BackendCache {
  std::mutex mutex;  // XNNPACK operators are set up per call, so one predict at a time uses them
#if QPLAY_HAVE_XNNPACK
  std::unique_ptr<XnnpackInt8Operators> xnnpack;
#endif
};

namespace {

constexpr int kChunkSamples = 500;
constexpr int kMaxThreads = 64;
#if QPLAY_HAVE_XNNPACK
constexpr bool kHaveXnnpack = true;
constexpr size_t kInputPadding = kXnnpackInt8InputPadding;
#else
constexpr bool kHaveXnnpack = false;
constexpr size_t kInputPadding = 0;
#endif

std::string layer_name(const Architecture& architecture, int layer) {
  return "layer " + std::to_string(layer) + " (" + layer_kind_name(architecture.layers[layer].kind) + ")";
}

// [SECTION] Grids in int8 code space

// The same grid with its codes moved into [-128, 127]: codes 0..255 (unsigned, asymmetric) move down
// by 128, symmetric codes -127..127 stay. Shifting codes and zero point together keeps every real
// value, so the int8 codes are exactly the float path's codes, relabelled.
Result<QuantGrid> int8_code_grid(const QuantGrid& grid, const std::string& what) {
  if (grid.q_step != 1 || grid.q_max - grid.q_min > 255) {
    return Status::error(what + ": the grid " + to_string(grid) +
                         " does not fit int8; use grids of 2..8 bits (e.g. ActivationQuantSpec{.bits = 8})");
  }
  const int32_t shift = grid.q_min >= -128 && grid.q_max <= 127 ? 0 : -128 - grid.q_min;
  return QuantGrid{grid.scale, grid.zero_point + shift, grid.q_min + shift, grid.q_max + shift, 1};
}

// ReLU on quantized values: codes below the zero point (the code of 0.0) become the zero point.
void fuse_relu(QuantGrid& grid) { grid.q_min = std::max(grid.q_min, grid.zero_point); }

// [SECTION] Building

Status check_int8_layers(const Architecture& architecture) {
  const int layers = static_cast<int>(architecture.layers.size());
  for (int i = 0; i < layers; ++i) {
    switch (architecture.layers[i].kind) {
      case LayerKind::dense:
      case LayerKind::conv2d:
      case LayerKind::relu:
      case LayerKind::max_pool:
      case LayerKind::flatten:
        break;
      case LayerKind::tanh:
      case LayerKind::softplus:
        return Status::error("real int8 inference supports ReLU networks; layer " + std::to_string(i) +
                             " is " + layer_kind_name(architecture.layers[i].kind));
    }
  }
  if (layers == 0 || architecture.layers.back().kind != LayerKind::dense) {
    return Status::error("real int8 inference needs a network that ends in a dense layer (its logits)");
  }
  return {};
}

// The input grid of the weighted layer after `layer`, which is the output grid of `layer`.
Result<QuantGrid> next_weighted_input_grid(const Architecture& architecture, int layer,
                                           const ActivationQuantization& activations) {
  int next = layer + 1;
  while (!architecture.layers[next].has_parameters()) ++next;  // the last layer is dense
  const std::string what = layer_name(architecture, next) + " input";
  if (next >= static_cast<int>(activations.input_grids.size()) || !activations.input_grids[next]) {
    return Status::error(what +
                         ": no activation grid; calibrate with calibrate_activation_ranges and "
                         "ActivationQuantSpec{.bits = 8}");
  }
  return int8_code_grid(*activations.input_grids[next], what);
}

// Fills op.weights, weight_scales, bias and accumulator_scales; op's grids and shapes are set.
Status quantize_weighted_layer(const Architecture& architecture, int layer, std::span<const float> weights,
                               std::span<const float> biases, Granularity granularity, Int8Op& op) {
  const int outputs = op.outputs(), patch = op.patch_size();
  const std::vector<QuantGrid> grids =
      choose_weight_grids(weights, outputs, WeightQuantSpec{.bits = 8, .granularity = granularity});
  op.weights.resize(weights.size());
  op.weight_scales.resize(outputs);
  op.bias.resize(outputs);
  op.accumulator_scales.resize(outputs);
  const float input_scale = op.input_grid.scale;
  for (int c = 0; c < outputs; ++c) {
    const QuantGrid& grid = grids.size() == 1 ? grids[0] : grids[c];
    // Σ|w| bounds the accumulator: the folded bias (bias - z_x·Σw) and the dot product Σx·w each stay
    // within 128·Σ|w|, as |x|, |z_x| <= 128.
    int64_t largest_sum = 0;
    for (int k = 0; k < patch; ++k) {
      const size_t index = static_cast<size_t>(c) * patch + k;
      op.weights[index] = static_cast<int8_t>(quantize_to_int(grid, weights[index]));
      largest_sum += std::abs(op.weights[index]);
    }
    op.weight_scales[c] = grid.scale;
    // In double: the bias grid s_x·s_w is ~2^15 times finer than the activation grid, and the float
    // product of the two scales must not add an error of its own.
    const double bias = std::nearbyint(static_cast<double>(biases[c]) / (double(input_scale) * grid.scale));
    if (!(std::fabs(bias) + 256.0 * largest_sum < double(std::numeric_limits<int32_t>::max()))) {
      return Status::error(layer_name(architecture, layer) + ": output channel " + std::to_string(c) +
                           " could overflow its int32 accumulator (bias " + std::to_string(biases[c]) +
                           " on a grid of " + std::to_string(double(input_scale) * grid.scale) + ")");
    }
    op.bias[c] = static_cast<int32_t>(bias);
    // Float, in XNNPACK's order (input_scale · kernel_scale / output_scale): both backends must
    // multiply by the very same float.
    op.accumulator_scales[c] =
        op.outputs_logits ? input_scale * grid.scale : input_scale * grid.scale / op.output_grid.scale;
  }
  return {};
}

// [SECTION] Running

struct Int8Workspace {
  std::vector<int8_t> current, next;  // codes [batch, largest tensor] + XNNPACK's over-read
  std::vector<int8_t> patches;        // conv2d im2col [batch·Ho·Wo, patch]
  std::vector<int32_t> accumulators;  // [batch·Ho·Wo, outputs]
};

Int8Workspace make_workspace(const Int8Model& model, int batch) {
  size_t largest_tensor = model.architecture.input.size(), largest_patches = 0;
  for (const Int8Op& op : model.ops) {
    largest_tensor = std::max<size_t>(largest_tensor, op.output.size());
    if (op.kind == Int8OpKind::conv2d) {
      largest_patches =
          std::max<size_t>(largest_patches, size_t(op.output.height) * op.output.width * op.patch_size());
    }
  }
  Int8Workspace workspace;
  workspace.current.resize(batch * largest_tensor + kInputPadding);
  workspace.next.resize(batch * largest_tensor + kInputPadding);
  workspace.patches.resize(batch * largest_patches);
  workspace.accumulators.resize(batch * largest_tensor);  // a weighted op's output, one int32 per code
  return workspace;
}

// The reference path: the integer loops of the op's layer kind (nn/layer_*.h).
void run_reference_op(const Architecture& architecture, const Int8Op& op, int batch, Int8Workspace& workspace,
                      float* logits) {
  const Int8Tensors tensors{workspace.current.data(), workspace.next.data(), logits, workspace.patches.data(),
                            workspace.accumulators.data()};
  layer_ops<float>(architecture.layers[op.layer].kind).int8_forward(op, batch, tensors);
}

// Called after each chunk with the codes of the last op run (null when it output logits) or the logits.
using ChunkConsumer =
    std::function<void(size_t first_sample, int batch, const int8_t* codes, const float* logits)>;

// Runs ops[0..last_op] over `samples` rows of features in chunks, on the chosen backend.
Status run_in_chunks(const Int8Model& model, const FeatureRows& features, size_t samples, Int8Backend backend,
                     int threads, int last_op, const ChunkConsumer& consume) {
  const size_t sample_size = model.architecture.input.size();
  if (!model.backend_cache || model.ops.empty()) {
    return Status::error("int8 inference: the model was not made by build_int8_model");
  }
  if (features.rows() < samples) {
    return Status::error("int8 inference: " + std::to_string(samples) +
                         " samples need as many feature rows, got " + std::to_string(features.rows()));
  }
  if (samples > 0 && features.row_size() != sample_size) {
    return Status::error("int8 inference: the feature rows have " + std::to_string(features.row_size()) +
                         " values, the network input has " + std::to_string(sample_size));
  }
  if (threads < 1 || threads > kMaxThreads) {
    return Status::error("int8 inference: threads must be between 1 and " + std::to_string(kMaxThreads) +
                         ", got " + std::to_string(threads));
  }
  if (!int8_backend_available(backend)) {
    return Status::error(std::string("int8 inference: the ") + int8_backend_name(backend) +
                         " backend is not in this build; use reference");
  }
  std::unique_lock<std::mutex> lock(model.backend_cache->mutex, std::defer_lock);
#if QPLAY_HAVE_XNNPACK
  XnnpackInt8Operators* xnnpack = nullptr;
  if (backend == Int8Backend::xnnpack) {
    lock.lock();
    std::unique_ptr<XnnpackInt8Operators>& operators = model.backend_cache->xnnpack;
    if (!operators) {
      Result<std::unique_ptr<XnnpackInt8Operators>> created =
          XnnpackInt8Operators::create(model.ops, model.weight_granularity);
      if (!created) return created.status();
      operators = std::move(created).value();
    }
    xnnpack = operators.get();
  }
#endif

  const Int8Op& last = model.ops[last_op];
  Int8Workspace workspace = make_workspace(model, kChunkSamples);
  std::vector<float> logits(last.outputs_logits ? static_cast<size_t>(kChunkSamples) * last.outputs() : 0);
  std::vector<float> chunk;  // [kChunkSamples, sample_size] decoded features (uint8 storage only)
  for (size_t start = 0; start < samples; start += kChunkSamples) {
    const int batch = static_cast<int>(std::min<size_t>(kChunkSamples, samples - start));
    quantize_to_int8(model.input_grid, features.float_rows(start, batch, &chunk), workspace.current);
    for (int k = 0; k <= last_op; ++k) {
      const Int8Op& op = model.ops[k];
#if QPLAY_HAVE_XNNPACK
      if (xnnpack && !op.outputs_logits) {
        Status status = xnnpack->run(k, batch, workspace.current.data(), workspace.next.data(), threads);
        if (!status) return status;
        std::swap(workspace.current, workspace.next);
        continue;
      }
#endif
      run_reference_op(model.architecture, op, batch, workspace, logits.data());
      std::swap(workspace.current, workspace.next);
    }
    consume(start, batch, last.outputs_logits ? nullptr : workspace.current.data(), logits.data());
  }
  return {};
}

}  // namespace

const char* int8_backend_name(Int8Backend backend) {
  return backend == Int8Backend::xnnpack ? "xnnpack" : "reference";
}

bool int8_backend_available(Int8Backend backend) { return backend == Int8Backend::reference || kHaveXnnpack; }

void quantize_to_int8(const QuantGrid& grid, std::span<const float> values, std::span<int8_t> codes) {
  // quantize_to_int for a grid of step 1, with the clamp moved before the rounding (the bounds are
  // whole numbers), which keeps the magic-number rounding in its exact range.
  const float low = static_cast<float>(grid.q_min - grid.zero_point);
  const float high = static_cast<float>(grid.q_max - grid.zero_point);
  for (size_t i = 0; i < values.size(); ++i) {
    float scaled = values[i] / grid.scale;
    if (std::isnan(scaled)) scaled = 0.0f;  // as quantize_to_int: NaN quantizes like 0
    codes[i] = static_cast<int8_t>(static_cast<int32_t>(round_half_even(std::clamp(scaled, low, high))) +
                                   grid.zero_point);
  }
}

QuantGrid calibrate_int8_input_grid(std::span<const float> features) {
  return calibrate_range_min_max(features, GridKind::asymmetric, 8);
}

Int8ModelOptions calibrate_int8_model_options(Network<float>& network, std::span<const float> master,
                                              const FeatureRows& calibration_features, int samples,
                                              Granularity weight_granularity) {
  QuantizationSetting setting;
  setting.weights = {.bits = 8, .granularity = weight_granularity};
  std::vector<float> view(master.size());
  quantize_weights_into(network, master, setting, view);
  Int8ModelOptions options;
  options.weight_granularity = weight_granularity;
  options.activation_quantization = calibrate_activation_ranges(network, view, calibration_features, samples,
                                                                ActivationQuantSpec{.bits = 8});
  // calibrate_int8_input_grid of the first `rows` rows, decoded a chunk at a time: the min-max
  // grid depends only on the finite minimum and maximum, so those two values stand for all rows.
  const size_t rows = std::min<size_t>(std::max(samples, 0), calibration_features.rows());
  std::vector<float> chunk, extremes;  // extremes: {minimum, maximum} of the finite values so far
  for (size_t start = 0; start < rows; start += kChunkSamples) {
    const size_t count = std::min<size_t>(kChunkSamples, rows - start);
    for (float v : calibration_features.float_rows(start, count, &chunk)) {
      if (!std::isfinite(v)) continue;
      if (extremes.empty()) extremes = {v, v};
      extremes[0] = std::min(extremes[0], v);
      extremes[1] = std::max(extremes[1], v);
    }
  }
  options.input_grid = calibrate_int8_input_grid(extremes);
  return options;
}

Result<Int8Model> build_int8_model(const Network<float>& network, std::span<const float> parameters,
                                   const Int8ModelOptions& options) {
  const Architecture& architecture = network.architecture();
  if (parameters.size() != network.parameter_count()) {
    return Status::error("int8 model: expected " + std::to_string(network.parameter_count()) +
                         " parameters, got " + std::to_string(parameters.size()));
  }
  if (Status status = check_int8_layers(architecture); !status) return status;
  Result<QuantGrid> input_grid = int8_code_grid(options.input_grid, "the network input");
  if (!input_grid) return input_grid.status();

  Int8Model model;
  model.architecture = architecture;
  model.weight_granularity = options.weight_granularity;
  model.input_grid = *input_grid;
  model.backend_cache = std::make_shared<Int8BackendCache>();
  const int layers = static_cast<int>(architecture.layers.size());
  // Index of the op whose output the next layer reads, -1 for the network input; only max-pool
  // ops can follow it before the next weighted layer.
  int producer = -1;
  for (int i = 0; i < layers; ++i) {
    const LayerSpec& layer = architecture.layers[i];
    if (layer.kind == LayerKind::flatten) continue;  // NHWC rows are already flat
    if (layer.kind == LayerKind::relu) {
      // Fused into whatever produced the codes: ReLU commutes with the max-pools in between.
      if (producer < 0) fuse_relu(model.input_grid);
      for (int k = std::max(producer, 0); k < static_cast<int>(model.ops.size()); ++k) {
        if (k > producer) fuse_relu(model.ops[k].input_grid);
        fuse_relu(model.ops[k].output_grid);
      }
      continue;
    }
    Int8Op op;
    op.layer = i;
    op.input = layer.input;
    op.output = layer.output;
    op.kernel = layer.kernel;
    op.stride = layer.stride;
    op.padding = layer.padding;
    op.input_grid = model.ops.empty() ? model.input_grid : model.ops.back().output_grid;
    if (layer.kind == LayerKind::max_pool) {
      op.kind = Int8OpKind::max_pool;
      op.padding = 0;  // the float max-pool has none (layers.h)
      op.output_grid = op.input_grid;
      model.ops.push_back(std::move(op));
      continue;
    }
    op.kind = layer.kind == LayerKind::dense ? Int8OpKind::dense : Int8OpKind::conv2d;
    if (layer.kind == LayerKind::dense) {
      op.kernel = 1;
      op.stride = 1;
      op.padding = 0;
    }
    op.outputs_logits = i == layers - 1;
    if (!op.outputs_logits) {
      Result<QuantGrid> output_grid =
          next_weighted_input_grid(architecture, i, options.activation_quantization);
      if (!output_grid) return output_grid.status();
      op.output_grid = *output_grid;
    }
    const auto& tensors = network.parameter_tensors();
    const auto weight = std::find_if(tensors.begin(), tensors.end(),
                                     [&](const ParameterTensor& t) { return t.layer == i && t.is_weight; });
    const ParameterTensor& bias = *(weight + 1);  // every weight tensor is followed by its bias
    if (Status status = quantize_weighted_layer(
            architecture, i, parameters.subspan(weight->offset, weight->size()),
            parameters.subspan(bias.offset, bias.size()), options.weight_granularity, op);
        !status) {
      return status;
    }
    producer = static_cast<int>(model.ops.size());
    model.ops.push_back(std::move(op));
  }
  return model;
}

Result<std::vector<int32_t>> int8_predict(const Int8Model& model, const FeatureRows& features, size_t samples,
                                          Int8Backend backend, int threads, std::vector<float>* logits) {
  const int classes = model.architecture.num_classes;
  std::vector<int32_t> predictions(samples);
  if (logits) logits->resize(samples * classes);
  Status status = run_in_chunks(
      model, features, samples, backend, threads, static_cast<int>(model.ops.size()) - 1,
      [&](size_t first_sample, int batch, const int8_t*, const float* chunk_logits) {
        for (int b = 0; b < batch; ++b) {
          const float* row = chunk_logits + static_cast<size_t>(b) * classes;
          predictions[first_sample + b] = static_cast<int32_t>(std::max_element(row, row + classes) - row);
        }
        if (logits) {
          std::copy_n(chunk_logits, static_cast<size_t>(batch) * classes,
                      logits->data() + first_sample * classes);
        }
      });
  if (!status) return status;
  return predictions;
}

Result<std::vector<int8_t>> int8_op_codes(const Int8Model& model, const FeatureRows& features, size_t samples,
                                          Int8Backend backend, int threads, int op) {
  if (op < 0 || op + 1 >= static_cast<int>(model.ops.size())) {
    return Status::error("int8 inference: op " + std::to_string(op) + " has no int8 output; ops 0.." +
                         std::to_string(static_cast<int>(model.ops.size()) - 2) + " do");
  }
  const size_t size = model.ops[op].output.size();
  std::vector<int8_t> codes(samples * size);
  Status status = run_in_chunks(model, features, samples, backend, threads, op,
                                [&](size_t first_sample, int batch, const int8_t* chunk_codes, const float*) {
                                  std::copy_n(chunk_codes, batch * size, codes.data() + first_sample * size);
                                });
  if (!status) return status;
  return codes;
}

}  // namespace qplay

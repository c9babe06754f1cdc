// Real int8 inference: building an Int8Model from a float network (or for a slider setting), and
// the drivers of both backends (the engine's integer ops are each layer kind's int8_forward in nn/,
// over kernels/int8_gemm.h); see int8_inference.h.
//
// [SECTION] Grids in int8 code space
// [SECTION] Building
// [SECTION] Running
#include "core/engine/deploy/int8_inference.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cassert>
#include <cmath>
#include <functional>
#include <limits>
#include <mutex>
#include <string>

#include "core/engine/kernels/task_pool.h"
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

// A weighted layer as build_int8_model quantizes it: its tensors and grids (quantize_weights_into's,
// or chosen here) and its op, whose grids and shapes are set and whose weights, biases and scales
// quantize_weight_channels fills a group of channels at a time.
struct WeightedLayer {
  int layer = 0;
  Int8Op* op = nullptr;
  std::span<const float> weights, biases;  // [outputs, patch], [outputs]
  std::vector<QuantGrid> grids;            // 1 (per tensor) or outputs
};

// Fills op.weights, weight_scales, bias and accumulator_scales of channels [first, first + count).
// An error names the first channel that does not fit.
Status quantize_weight_channels(const Architecture& architecture, const WeightedLayer& weighted, int first,
                                int count) {
  Int8Op& op = *weighted.op;
  const int patch = op.patch_size();
  const float input_scale = op.input_grid.scale;
  for (int c = first; c < first + count; ++c) {
    const QuantGrid& grid = weighted.grids.size() == 1 ? weighted.grids[0] : weighted.grids[c];
    if (grid.q_max - grid.zero_point > 127 || grid.zero_point - grid.q_min > 127) {
      return Status::error(layer_name(architecture, weighted.layer) + ": the weight grid " + to_string(grid) +
                           " reaches more than 127 codes from its zero point; int8 inference takes "
                           "symmetric weights, or asymmetric ones of at most 7 bits");
    }
    // Σ|w| bounds the accumulator: the folded bias (bias - z_x·Σw) and the dot product Σx·w each stay
    // within 128·Σ|w|, as |x|, |z_x| <= 128.
    int64_t largest_sum = 0;
    for (int k = 0; k < patch; ++k) {
      const size_t index = static_cast<size_t>(c) * patch + k;
      // The code minus its zero point: scale·(q - z) is the quantized view's value.
      op.weights[index] =
          static_cast<int8_t>(quantize_to_int(grid, weighted.weights[index]) - grid.zero_point);
      largest_sum += std::abs(op.weights[index]);
    }
    op.weight_scales[c] = grid.scale;
    // In double: the bias grid s_x·s_w is ~2^15 times finer than the activation grid, and the float
    // product of the two scales must not add an error of its own.
    const float bias_value = weighted.biases[c];
    const double bias = std::nearbyint(static_cast<double>(bias_value) / (double(input_scale) * grid.scale));
    if (!(std::fabs(bias) + 256.0 * largest_sum < double(std::numeric_limits<int32_t>::max()))) {
      return Status::error(layer_name(architecture, weighted.layer) + ": output channel " +
                           std::to_string(c) + " could overflow its int32 accumulator (bias " +
                           std::to_string(bias_value) + " on a grid of " +
                           std::to_string(double(input_scale) * grid.scale) + ")");
    }
    op.bias[c] = static_cast<int32_t>(bias);
    // Float, in XNNPACK's order (input_scale · kernel_scale / output_scale): both backends must
    // multiply by the very same float.
    op.accumulator_scales[c] =
        op.outputs_logits ? input_scale * grid.scale : input_scale * grid.scale / op.output_grid.scale;
  }
  return {};
}

// quantize_weight_channels over every weighted layer in groups of channels (about 16,384 weights
// each) run as the pool's tasks: each channel is quantized on its own, so the codes do not depend on
// the grouping, and the first error in layer and channel order is the one a serial pass would find.
Status quantize_weighted_layers(const Architecture& architecture, const std::vector<WeightedLayer>& layers,
                                TaskPool* pool) {
  constexpr int kGroupValues = 16384;
  struct Group {
    size_t layer;
    int first, count;
  };
  std::vector<Group> groups;
  for (size_t l = 0; l < layers.size(); ++l) {
    const Int8Op& op = *layers[l].op;
    const int channels_per_group = std::max(1, kGroupValues / std::max(op.patch_size(), 1));
    for (int first = 0; first < op.outputs(); first += channels_per_group)
      groups.push_back({l, first, std::min(channels_per_group, op.outputs() - first)});
  }
  std::vector<Status> statuses(groups.size());
  auto quantize_group = [&](int g) {
    statuses[g] =
        quantize_weight_channels(architecture, layers[groups[g].layer], groups[g].first, groups[g].count);
  };
  if (pool) {
    pool->run(static_cast<int>(groups.size()), quantize_group);
  } else {
    for (size_t g = 0; g < groups.size(); ++g) quantize_group(static_cast<int>(g));
  }
  for (const Status& status : statuses)
    if (!status) return status;
  return {};
}

// [SECTION] Running

// Which feature rows a call runs: rows[i] when given, else first + i.
struct SampleRows {
  size_t first = 0;
  std::span<const uint32_t> rows;
  size_t operator[](size_t i) const { return rows.empty() ? first + i : rows[i]; }
};

struct Int8Workspace {
  std::vector<int8_t> current, next;  // codes [batch, largest tensor] + XNNPACK's over-read
  std::vector<int8_t> patches;        // conv2d im2col [batch·Ho·Wo, patch]
  std::vector<int32_t> accumulators;  // [batch·Ho·Wo, outputs]
};

// Grown, never shrunk: the slider calls with chunks of any size up to kChunkSamples.
void fit_workspace(const Int8Model& model, int batch, Int8Workspace& workspace) {
  size_t largest_tensor = model.architecture.input.size(), largest_patches = 0;
  for (const Int8Op& op : model.ops) {
    largest_tensor = std::max<size_t>(largest_tensor, op.output.size());
    if (op.kind == Int8OpKind::conv2d) {
      largest_patches =
          std::max<size_t>(largest_patches, size_t(op.output.height) * op.output.width * op.patch_size());
    }
  }
  auto grow = [](auto& buffer, size_t size) {
    if (buffer.size() < size) buffer.resize(size);
  };
  grow(workspace.current, batch * largest_tensor + kInputPadding);
  grow(workspace.next, batch * largest_tensor + kInputPadding);
  grow(workspace.patches, batch * largest_patches);
  grow(workspace.accumulators, batch * largest_tensor);  // a weighted op's output, one int32 per code
}

// codes[count, input size] of the samples rows[begin ..]: uint8 codes through a table of their 256
// int8 codes (exactly quantize_to_int8 of their decoded values), floats through quantize_to_int8.
void quantize_inputs(const QuantGrid& grid, const FeatureRows& features, SampleRows rows, size_t begin,
                     int count, int8_t* codes) {
  const size_t size = features.row_size();
  if (features.storage() == FeatureStorage::uint8_codes) {
    std::array<int8_t, 256> table;
    quantize_to_int8(grid, features.code_values(), table);
    // On the grid of the codes themselves (int8_input_grid_of_codes) each code c becomes c - 128: a
    // vectorized XOR instead of a table lookup per pixel.
    bool codes_minus_128 = true;
    for (int c = 0; c < 256; ++c)
      codes_minus_128 = codes_minus_128 && table[c] == static_cast<int8_t>(c - 128);
    if (codes_minus_128) {
      for (int i = 0; i < count; ++i) {
        const uint8_t* __restrict row = features.codes().data() + rows[begin + i] * size;
        int8_t* __restrict out = codes + static_cast<size_t>(i) * size;
        for (size_t j = 0; j < size; ++j) out[j] = static_cast<int8_t>(row[j] ^ 0x80);
      }
      return;
    }
    for (int i = 0; i < count; ++i) {
      const uint8_t* row = features.codes().data() + rows[begin + i] * size;
      int8_t* out = codes + static_cast<size_t>(i) * size;
      for (size_t j = 0; j < size; ++j) out[j] = table[row[j]];
    }
    return;
  }
  for (int i = 0; i < count; ++i) {
    quantize_to_int8(grid, features.floats().subspan(rows[begin + i] * size, size),
                     std::span<int8_t>(codes + static_cast<size_t>(i) * size, size));
  }
}

// The engine backend: each layer kind's int8 forward (nn/layer_*.h), on the GEMM variant the ops were
// packed for.
void run_engine_op(const Architecture& architecture, const Int8Op& op, int batch, Int8Workspace& workspace,
                   float* logits) {
  const Int8Tensors tensors{workspace.current.data(), workspace.next.data(), logits, workspace.patches.data(),
                            workspace.accumulators.data()};
  layer_ops<float>(architecture.layers[op.layer].kind).int8_forward(op, batch, tensors);
}

// What a run writes for `count` samples: the logits (when the last op run outputs them) or its codes.
struct Int8Outputs {
  float* logits = nullptr;                          // [count, classes]
  int8_t* codes = nullptr;                          // [count, ops[last_op].output.size()]
  const Int8Runner::RowsDone* rows_done = nullptr;  // called after each group of rows, on its task
};

Status check_run(const Int8Model& model, const FeatureRows& features, size_t samples, int threads) {
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
  return {};
}

// The engine backend over `count` samples: the pool's tasks take equal runs of rows, and each runs
// every op on its rows kChunkSamples at a time in its own workspace (the samples are independent).
void run_engine(const Int8Model& model, const FeatureRows& features, SampleRows rows, size_t count,
                int last_op, TaskPool& pool, std::vector<Int8Workspace>& workspaces, const Int8Outputs& out) {
  const Int8Op& last = model.ops[last_op];
  const size_t output_size = last.outputs_logits ? last.outputs() : last.output.size();
  // Below a few dozen rows per task the pool's wake-up costs more than the second thread saves.
  constexpr size_t kSmallestTask = 32;
  const int tasks = static_cast<int>(std::clamp<size_t>(count / kSmallestTask, 1, pool.threads()));
  if (workspaces.size() < static_cast<size_t>(tasks)) workspaces.resize(tasks);
  // The rows go out in groups, about 4 per task, taken in turn by whichever task is free: a thread
  // that wakes late or shares its core with another process then does fewer groups instead of
  // holding up the call (a fixed half per thread left the 2-thread evaluation no faster than 1
  // thread on a shared machine).
  const size_t group = std::clamp<size_t>(count / (size_t(tasks) * 4), kSmallestTask, kChunkSamples);
  std::atomic<size_t> next_group{0};
  pool.run(tasks, [&](int task) {
    Int8Workspace& workspace = workspaces[task];
    fit_workspace(model, static_cast<int>(std::min(group, count)), workspace);
    for (size_t start; (start = next_group.fetch_add(1) * group) < count;) {
      const int batch = static_cast<int>(std::min(group, count - start));
      quantize_inputs(model.input_grid, features, rows, start, batch, workspace.current.data());
      for (int k = 0; k <= last_op; ++k) {
        run_engine_op(model.architecture, model.ops[k], batch, workspace,
                      out.logits ? out.logits + start * output_size : nullptr);
        std::swap(workspace.current, workspace.next);
      }
      if (!last.outputs_logits) {
        std::copy_n(workspace.current.data(), batch * output_size, out.codes + start * output_size);
      }
      if (out.rows_done) (*out.rows_done)(start, batch);
    }
  });
}

// The xnnpack backend, kChunkSamples at a time; its operators split each op across `threads`.
Status run_xnnpack(const Int8Model& model, const FeatureRows& features, SampleRows rows, size_t count,
                   int last_op, int threads, Int8Workspace& workspace, const Int8Outputs& out) {
#if QPLAY_HAVE_XNNPACK
  std::lock_guard<std::mutex> lock(model.backend_cache->mutex);
  std::unique_ptr<XnnpackInt8Operators>& operators = model.backend_cache->xnnpack;
  if (!operators) {
    Result<std::unique_ptr<XnnpackInt8Operators>> created =
        XnnpackInt8Operators::create(model.ops, model.weight_granularity);
    if (!created) return created.status();
    operators = std::move(created).value();
  }
  const Int8Op& last = model.ops[last_op];
  const size_t output_size = last.outputs_logits ? last.outputs() : last.output.size();
  fit_workspace(model, kChunkSamples, workspace);
  for (size_t start = 0; start < count; start += kChunkSamples) {
    const int batch = static_cast<int>(std::min<size_t>(kChunkSamples, count - start));
    quantize_inputs(model.input_grid, features, rows, start, batch, workspace.current.data());
    for (int k = 0; k <= last_op; ++k) {
      const Int8Op& op = model.ops[k];
      if (op.outputs_logits) {  // float logits: not an XNNPACK operator (xnnpack_int8.h)
        run_engine_op(model.architecture, op, batch, workspace, out.logits + start * output_size);
      } else if (Status status =
                     operators->run(k, batch, workspace.current.data(), workspace.next.data(), threads);
                 !status) {
        return status;
      }
      std::swap(workspace.current, workspace.next);
    }
    if (!last.outputs_logits) {
      std::copy_n(workspace.current.data(), batch * output_size, out.codes + start * output_size);
    }
  }
  return {};
#else
  (void)model, (void)features, (void)rows, (void)count, (void)last_op, (void)threads, (void)workspace,
      (void)out;
  return Status::error("int8 inference: the xnnpack backend is not in this build; use engine");
#endif
}

}  // namespace

struct Int8Runner::State {
  explicit State(int threads) : threads(threads), pool(threads) {}
  int threads;  // as asked: the pool has 1 where the build has no threads
  TaskPool pool;
  std::vector<Int8Workspace> workspaces;  // [tasks]; the xnnpack backend uses the first
};

Int8Runner::Int8Runner(int threads) : state_(std::make_unique<State>(std::clamp(threads, 1, kMaxThreads))) {}
Int8Runner::~Int8Runner() = default;
int Int8Runner::threads() const { return state_->threads; }
TaskPool& Int8Runner::pool() { return state_->pool; }

Status Int8Runner::logits_of_rows(const Int8Model& model, const FeatureRows& features,
                                  std::span<const uint32_t> rows, std::span<float> logits,
                                  const RowsDone& rows_done) {
  if (Status status = check_run(model, features, rows.empty() ? 0 : 1, 1); !status) return status;
  assert(logits.size() == rows.size() * model.architecture.num_classes);
  run_engine(model, features, SampleRows{0, rows}, rows.size(), static_cast<int>(model.ops.size()) - 1,
             state_->pool, state_->workspaces,
             Int8Outputs{logits.data(), nullptr, rows_done ? &rows_done : nullptr});
  return {};
}

namespace {

// ops[0..last_op] over the first `samples` feature rows on the chosen backend, with a runner of its own.
Status run_first_rows(const Int8Model& model, const FeatureRows& features, size_t samples,
                      Int8Backend backend, int threads, int last_op, const Int8Outputs& out) {
  if (Status status = check_run(model, features, samples, threads); !status) return status;
  std::vector<Int8Workspace> workspaces(1);
  if (backend == Int8Backend::xnnpack) {
    return run_xnnpack(model, features, SampleRows{}, samples, last_op, threads, workspaces[0], out);
  }
  TaskPool pool(threads);
  run_engine(model, features, SampleRows{}, samples, last_op, pool, workspaces, out);
  return {};
}

}  // namespace

const char* int8_backend_name(Int8Backend backend) {
  return backend == Int8Backend::xnnpack ? "xnnpack" : "engine";
}

bool int8_backend_available(Int8Backend backend) { return backend == Int8Backend::engine || kHaveXnnpack; }

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
  options.weights.granularity = weight_granularity;
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
  model.weight_granularity = options.weights.granularity;
  model.input_grid = *input_grid;
  model.backend_cache = std::make_shared<Int8BackendCache>();
  const int layers = static_cast<int>(architecture.layers.size());
  // Index of the op whose output the next layer reads, -1 for the network input; only max-pool
  // ops can follow it before the next weighted layer.
  int producer = -1;
  std::vector<WeightedLayer> weighted_layers;  // their op pointers are set once model.ops stops growing
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
    WeightQuantSpec spec = options.weights;
    if (i < static_cast<int>(options.weight_bits_per_layer.size()) && options.weight_bits_per_layer[i] >= 0) {
      spec.bits = options.weight_bits_per_layer[i];  // as quantize_weights_into reads a setting
    }
    if (spec.bits == 0) {
      return Status::error(layer_name(architecture, i) +
                           ": float weights have no int8 form; quantize them to 1..8 bits");
    }
    WeightedLayer weighted{i,
                           nullptr,
                           parameters.subspan(weight->offset, weight->size()),
                           parameters.subspan(bias.offset, bias.size()),
                           {}};
    const size_t tensor = static_cast<size_t>(weight - tensors.begin());
    weighted.grids = tensor < options.weight_grids.size() && !options.weight_grids[tensor].empty()
                         ? options.weight_grids[tensor]
                         : choose_weight_grids(weighted.weights, op.outputs(), spec);
    op.weights.resize(weighted.weights.size());
    op.weight_scales.resize(op.outputs());
    op.bias.resize(op.outputs());
    op.accumulator_scales.resize(op.outputs());
    weighted_layers.push_back(std::move(weighted));
    producer = static_cast<int>(model.ops.size());
    model.ops.push_back(std::move(op));
  }
  if (!int8_gemm_variant_available(options.gemm_variant)) {
    return Status::error("int8 model: " + int8_gemm_variant_unavailable_reason(options.gemm_variant));
  }
  // Quantized and packed last: a later ReLU may still have moved an op's grids (q_min), never
  // their scales or zero points, which is all the weights, biases and scales depend on.
  for (WeightedLayer& weighted : weighted_layers) {
    weighted.op = &*std::find_if(model.ops.begin(), model.ops.end(),
                                 [&](const Int8Op& op) { return op.layer == weighted.layer; });
  }
  if (Status status = quantize_weighted_layers(architecture, weighted_layers, options.pool); !status) {
    return status;
  }
  auto pack = [&](int l) { pack_int8_op(options.gemm_variant, *weighted_layers[l].op); };
  if (options.pool) {
    options.pool->run(static_cast<int>(weighted_layers.size()), pack);
  } else {
    for (size_t l = 0; l < weighted_layers.size(); ++l) pack(static_cast<int>(l));
  }
  return model;
}

Result<QuantGrid> int8_input_grid_of_codes(const FeatureRows& features) {
  if (features.storage() != FeatureStorage::uint8_codes || !(features.divisor() > 0.0f)) {
    return Status::error(
        "the features are floats: int8 inference would round the network input to 8 bits, which the "
        "fake-quantized float network does not");
  }
  return QuantGrid{1.0f / features.divisor(), 0, 0, 255, 1};
}

Result<Int8Model> build_int8_model_for_setting(const Network<float>& network, std::span<const float> master,
                                               const QuantizationSetting& setting,
                                               const ActivationQuantization& activations,
                                               const FeatureRows& features,
                                               std::vector<std::vector<QuantGrid>> weight_grids,
                                               TaskPool* pool) {
  if (!quantizes_activations(setting)) {
    return Status::error("float activations: the fake-quantized float network is what runs");
  }
  // A float input between int8 layers has no codes to pass on: the float network runs that setting.
  // Coarser grids than 8-bit activations and 4-bit weights magnify the few float roundings in which the
  // two differ (the int32 bias grid, the order of a sum) into flipped predictions: on Fashion-MNIST
  // 99.91-100% of them agree at W4A8 and W8A8, but 99.2-99.9% at W2A8/W3A8/W4A7 and 80-99% at A2-A4
  // (docs/design.md). The slider's number must be the exported model's, so those run in float.
  const Architecture& architecture = network.architecture();
  bool after_first_weighted = false;
  for (int layer = 0; layer < static_cast<int>(architecture.layers.size()); ++layer) {
    if (!architecture.layers[layer].has_parameters()) continue;
    const int activation_bits = activation_bits_of_layer(setting, layer);
    if (after_first_weighted && activation_bits == 0)
      return Status::error(layer_name(architecture, layer) + " input: float activations have no int8 form");
    if (after_first_weighted && activation_bits != 8) {
      return Status::error(layer_name(architecture, layer) + " input: " + std::to_string(activation_bits) +
                           "-bit activations; int8 computes fake quantization's predictions only at 8");
    }
    const int per_layer = layer < static_cast<int>(setting.weight_bits_per_layer.size())
                              ? setting.weight_bits_per_layer[layer]
                              : -1;
    const int weight_bits = per_layer < 0 ? setting.weights.bits : per_layer;
    if (weight_bits > 0 && weight_bits < 4) {
      return Status::error(layer_name(architecture, layer) + ": " + std::to_string(weight_bits) +
                           "-bit weights; int8 computes fake quantization's predictions from 4 bits up");
    }
    after_first_weighted = true;
  }
  Result<QuantGrid> input_grid = int8_input_grid_of_codes(features);
  if (!input_grid) return input_grid.status();
  Int8ModelOptions options;
  options.weights = setting.weights;
  options.weight_bits_per_layer = setting.weight_bits_per_layer;
  options.weight_grids = std::move(weight_grids);
  options.pool = pool;
  options.activation_quantization = activations;
  options.input_grid = *input_grid;
  return build_int8_model(network, master, options);
}

Result<std::vector<int32_t>> int8_predict(const Int8Model& model, const FeatureRows& features, size_t samples,
                                          Int8Backend backend, int threads, std::vector<float>* logits) {
  const int classes = model.architecture.num_classes;
  std::vector<float> all_logits(samples * classes);
  if (Status status =
          run_first_rows(model, features, samples, backend, threads, static_cast<int>(model.ops.size()) - 1,
                         Int8Outputs{all_logits.data(), nullptr});
      !status) {
    return status;
  }
  std::vector<int32_t> predictions(samples);
  for (size_t i = 0; i < samples; ++i) {
    const float* row = all_logits.data() + i * classes;
    predictions[i] = static_cast<int32_t>(std::max_element(row, row + classes) - row);  // the first of equals
  }
  if (logits) *logits = std::move(all_logits);
  return predictions;
}

Result<std::vector<int8_t>> int8_op_codes(const Int8Model& model, const FeatureRows& features, size_t samples,
                                          Int8Backend backend, int threads, int op) {
  if (op < 0 || op + 1 >= static_cast<int>(model.ops.size())) {
    return Status::error("int8 inference: op " + std::to_string(op) + " has no int8 output; ops 0.." +
                         std::to_string(static_cast<int>(model.ops.size()) - 2) + " do");
  }
  std::vector<int8_t> codes(samples * model.ops[op].output.size());
  if (Status status =
          run_first_rows(model, features, samples, backend, threads, op, Int8Outputs{nullptr, codes.data()});
      !status) {
    return status;
  }
  return codes;
}

}  // namespace qplay

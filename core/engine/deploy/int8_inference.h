// Real int8 inference of a trained ReLU network: int8 weights and activations, int32 accumulators,
// and XNNPACK's requantization, run either by the engine's own ops (each layer kind's int8 forward,
// nn/layer_*.h, over the int8 GEMM of kernels/int8_gemm.h: the reference loops or vpdpbusd,
// vpmaddubsw, i32x4.dot_i16x8_s) or by XNNPACK's qc8/qs8/s8 operators (deploy/xnnpack_int8.h,
// native builds). All give bit-identical codes and logits; fake quantization (post_training.h) is
// the float model of what they compute, and the playground's slider runs this instead of it when
// activations are quantized and it computes the same (build_int8_model_for_setting).
//
// Per weighted layer (dense or conv2d) with int8 input x (scale s_x, zero point z_x), weights w on
// any grid of 1..8 bits stored as code minus zero point (in [-127, 127], scale s_w[c] per output
// channel or one per tensor) and int32 bias:
//   bias[c] = round(b[c] / (s_x·s_w[c]))
//   acc[c]  = bias[c] + Σ (x - z_x)·w[c]                                               int32
//   y[c]    = clamp(round_half_even(acc[c] · (s_x·s_w[c]/s_y)) + z_y, q_min, q_max)     int8
// where (s_y, z_y) is the grid of the NEXT weighted layer's input: the ReLU, max-pool and flatten
// in between commute with this monotone quantizer, so ReLU becomes the clamp's lower bound (the
// zero point), max-pool runs on the codes and flatten is free. The last dense layer is not
// requantized: its accumulators are dequantized to float logits (acc·s_x·s_w[c]), so argmax never
// meets the ties an int8 output would create.
//
// How it differs from the fake-quantized float forward (quantized weight view + the same
// ActivationQuantization): the network INPUT is quantized here (a float network has no int8 input;
// for pixels k/255 on the grid 1/255 the codes are exactly k, so nothing is lost), biases sit on
// the fine int32 grid s_x·s_w instead of staying float, and the sum is exact before one float
// product, where the float path rounds at every addition; a value within those roundings of a
// midpoint between two codes can land on the neighbouring code. On the Fashion-MNIST test set the
// predictions agree on >= 99.98% (tests/engine/int8_inference_test.cpp).
//
// Only ReLU networks (dense, conv2d, relu, max_pool, flatten, ending in dense); anything else is
// refused with a message. Not here: choosing grids (quantizer.h, range_estimation.h) and training.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "core/engine/base/status.h"
#include "core/engine/data/feature_rows.h"
#include "core/engine/deploy/post_training.h"
#include "core/engine/kernels/int8_gemm.h"
#include "core/engine/kernels/task_pool.h"
#include "core/engine/nn/int8_op.h"
#include "core/engine/nn/network.h"
#include "core/engine/quant/quantizer.h"

namespace qplay {

// [SECTION] The model

// engine: the int8 forwards of nn/layer_*.h over the GEMM variant the model was packed for
// (Int8ModelOptions::gemm_variant; the reference variant makes it the portable reference).
enum class Int8Backend { engine, xnnpack };
const char* int8_backend_name(Int8Backend backend);  // "engine", "xnnpack"
bool int8_backend_available(Int8Backend backend);    // xnnpack: native builds with QPLAY_WITH_XNNPACK

// Int8Op (one step of the integer forward pass) is in nn/int8_op.h, beside the layers that run it.

struct Int8BackendCache;  // backend operators, built on first use (int8_inference.cpp)

struct Int8Model {
  Architecture architecture;
  Granularity weight_granularity = Granularity::per_channel;
  QuantGrid input_grid;     // int8 code space; the grid every float input is rounded to first
  std::vector<Int8Op> ops;  // in order; the last one outputs logits
  std::shared_ptr<Int8BackendCache> backend_cache;  // shared by copies: the weights are the same
};

// [SECTION] Building

struct Int8ModelOptions {
  // The weight grids, chosen as quantize_weights_into chooses them for a QuantizationSetting of these
  // weights (so the int8 weights are exactly that view's): bits 1..8 (per layer where
  // weight_bits_per_layer[layer] >= 0), any granularity and range method, symmetric, or asymmetric
  // up to 7 bits: a code minus its zero point must fit [-127, 127], and on an asymmetric 8-bit grid
  // it spans ±255. Float weights (0 bits) have no int8 form. Both are refused, naming the layer.
  WeightQuantSpec weights = {.bits = 8};
  std::vector<int> weight_bits_per_layer;
  // The grids quantize_weights_into gave for these weights and this spec, indexed like
  // network.parameter_tensors(), so they are not chosen a second time; empty: chosen here.
  std::vector<std::vector<QuantGrid>> weight_grids;
  // Grids for the inputs of the weighted layers after the first: calibrate_activation_ranges with
  // ActivationQuantSpec{.bits = 8} (grids of fewer bits run exactly too: the clamp keeps the codes).
  ActivationQuantization activation_quantization;
  QuantGrid input_grid;  // the network input's grid: calibrate_int8_input_grid
  Int8GemmVariant gemm_variant = fastest_int8_gemm_variant();  // how the engine backend multiplies
  TaskPool* pool = nullptr;  // quantizes groups of channels and packs the layers as its tasks (same model)
};

// The 8-bit min-max grid of the network input (asymmetric, so it is the unsigned grid for data >= 0):
// for Fashion-MNIST pixels in [0, 1] it is scale 1/255, zero point 0, and each pixel's code is its byte.
QuantGrid calibrate_int8_input_grid(std::span<const float> features);

// Everything build_int8_model needs from one calibration set: the first `samples` rows of
// calibration_features ([n, input size]) go through the network with 8-bit weights of the given
// granularity (the same quantized view evaluate_quantized uses), and give the 8-bit activation and
// input grids (the input grid is calibrate_int8_input_grid of those rows).
Int8ModelOptions calibrate_int8_model_options(Network<float>& network, std::span<const float> master,
                                              const FeatureRows& calibration_features, int samples,
                                              Granularity weight_granularity);

// Quantizes the float master parameters (layout of network.parameter_tensors()) into an Int8Model.
// Errors name the layer: "real int8 inference supports ReLU networks; layer 1 is tanh".
Result<Int8Model> build_int8_model(const Network<float>& network, std::span<const float> parameters,
                                   const Int8ModelOptions& options);

// [SECTION] The slider's int8 path

// The grid of features stored as uint8 codes (FeatureRows::uint8_codes, divisor d > 0): scale 1/d,
// codes 0..255, so every stored code quantizes to itself and the int8 input is the data exactly.
// An error for float features, whose values no 8-bit grid holds exactly.
Result<QuantGrid> int8_input_grid_of_codes(const FeatureRows& features);

// The Int8Model that evaluates `setting` as the fake-quantized float network does (weights rounded
// by quantize_weights_into from `master`, activations on `activations`, the grids
// calibrate_activation_ranges gave), or why it cannot, so the caller evaluates by fake quantization
// instead: activations not quantized (nothing to gain); features stored as floats (the int8 input
// would round the data, which the float network does not); activations of other than 8 bits or weights
// of fewer than 4 bits in some layer (their coarse grids turn float roundings into 0.1-20% flipped
// predictions); and build_int8_model's refusals (not a ReLU network, float or asymmetric 8-bit weights
// in some layer).
// weight_grids: quantize_weights_into's grids of `master` for `setting` (empty: chosen again); pool:
// as Int8ModelOptions::pool.
Result<Int8Model> build_int8_model_for_setting(const Network<float>& network, std::span<const float> master,
                                               const QuantizationSetting& setting,
                                               const ActivationQuantization& activations,
                                               const FeatureRows& features,
                                               std::vector<std::vector<QuantGrid>> weight_grids = {},
                                               TaskPool* pool = nullptr);

// [SECTION] Running

// Runs Int8Models on the engine backend over rows of features, keeping its workspaces and thread
// pool from call to call (the slider evaluates a test split a chunk at a time). With threads > 1 the
// rows of a call are split across a TaskPool (kernels/task_pool.h; WebAssembly runs 1). One call at
// a time per runner; results do not depend on the thread count (integer sums are exact).
class Int8Runner {
 public:
  explicit Int8Runner(int threads = 1);
  ~Int8Runner();
  int threads() const;
  // Its pool, for the work around an evaluation (quantizing the weights, building the model).
  TaskPool& pool();
  // rows_done(first, count): logits[first, first + count) are final. Called once per group of at most
  // 500 rows, on the thread that computed them, groups in any order and concurrently: work per row
  // (scoring) runs on the pool instead of in a serial pass after the call.
  using RowsDone = std::function<void(size_t first, size_t count)>;
  // logits[rows.size(), classes] of the samples features[rows[i]] (each < features.rows()).
  Status logits_of_rows(const Int8Model& model, const FeatureRows& features, std::span<const uint32_t> rows,
                        std::span<float> logits, const RowsDone& rows_done = nullptr);

  struct State;  // its pool and one workspace per task (int8_inference.cpp)

 private:
  std::unique_ptr<State> state_;
};

// The first `samples` rows of features ([n >= samples, input size]) -> the argmax class of each
// (the first of equal logits), in chunks of 500 (uint8 features decoded a chunk at a time); logits
// (if given) receive [samples, classes]. threads in [1, 64]. Fails, never aborts, when XNNPACK
// refuses an operator.
// Callable from several threads: the xnnpack backend of one model (and its copies) serves one call
// at a time, since its operators are set up per call.
Result<std::vector<int32_t>> int8_predict(const Int8Model& model, const FeatureRows& features, size_t samples,
                                          Int8Backend backend, int threads,
                                          std::vector<float>* logits = nullptr);

// codes[i] = quantize_to_int(grid, values[i]) for a grid in int8 code space (q_step 1), without a
// libm call per value: the first step of int8_predict, turning float inputs into int8 codes.
void quantize_to_int8(const QuantGrid& grid, std::span<const float> values, std::span<int8_t> codes);

// The int8 codes written by model.ops[op] (any op but the last) for each sample: [samples,
// ops[op].output.size()]. For tests and for looking inside the integer network.
Result<std::vector<int8_t>> int8_op_codes(const Int8Model& model, const FeatureRows& features, size_t samples,
                                          Int8Backend backend, int threads, int op);

}  // namespace qplay

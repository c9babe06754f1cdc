// Real int8 inference of a trained ReLU network: int8 weights and activations, int32 accumulators,
// and XNNPACK's requantization, run either by the portable reference loops (always built: each layer
// kind's int8 forward, nn/layer_*.h) or by XNNPACK's qc8/qs8/s8 operators (deploy/xnnpack_int8.h,
// native builds). The two backends give bit-identical codes and logits; fake quantization
// (post_training.h) is the float model of what they compute.
//
// Per weighted layer (dense or conv2d) with int8 input x (scale s_x, zero point z_x), int8 weights
// w (symmetric, codes ±127, scale s_w[c] per output channel or one per tensor) and int32 bias:
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
// predictions agree on >= 99.5% (measured: 100% for mlp:128, 99.98% and more for cnn:8,16).
//
// Only ReLU networks (dense, conv2d, relu, max_pool, flatten, ending in dense); anything else is
// refused with a message. Not here: choosing grids (quantizer.h, range_estimation.h) and training.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/engine/base/status.h"
#include "core/engine/data/feature_rows.h"
#include "core/engine/nn/int8_op.h"
#include "core/engine/nn/network.h"
#include "core/engine/quant/quantizer.h"

namespace qplay {

// [SECTION] The model

enum class Int8Backend { reference, xnnpack };
const char* int8_backend_name(Int8Backend backend);  // "reference", "xnnpack"
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
  Granularity weight_granularity = Granularity::per_channel;  // 8-bit symmetric min-max weight grids
  // Grids for the inputs of the weighted layers after the first: calibrate_activation_ranges with
  // ActivationQuantSpec{.bits = 8} (grids of fewer bits run exactly too: the clamp keeps the codes).
  ActivationQuantization activation_quantization;
  QuantGrid input_grid;  // the network input's grid: calibrate_int8_input_grid
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

// [SECTION] Running

// The first `samples` rows of features ([n >= samples, input size]) -> the argmax class of each
// (the first of equal logits), in chunks of 500 (uint8 features decoded a chunk at a time); logits
// (if given) receive [samples, classes]. threads in [1, 64] (xnnpack's pool; the reference runs on
// the caller's thread). Fails, never aborts, when XNNPACK refuses an operator.
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

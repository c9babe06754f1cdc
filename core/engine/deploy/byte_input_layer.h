// The first dense layer of a float network with quantized weights, computed in integers when the
// network input is bytes (Fashion-MNIST pixels, FeatureRows::uint8_codes): the slider's path for a
// weight bit-width with FLOAT activations, where that layer is ~98% of an mlp's multiply-adds.
//
// Fake quantization computes, in float, y[c] = Σ_k (byte_k / d) · (s_w[c] · w_k) + b[c] with integer
// weight codes w_k (minus their zero point). Here the sum Σ byte_k · w_k is computed exactly in int32
// by the int8 GEMM (kernels/int8_gemm.h: vpdpbusd, vpmaddubsw, i32x4.dot_i16x8_s; bytes enter it as
// byte - 128 and the column offset 128·Σ_k w_k adds the shift back), then
//   y[c] = float(Σ byte_k · w_k) · (s_w[c] / d) + b[c]                                       float
// The rest of the network stays float (ForwardOptions::first_layer_output). A flatten may come first. The two
// differ only by float rounding (the float path rounds at every addition, this one once), so predictions
// agree on all but the rare near-ties (tests/engine/byte_input_layer_test.cpp holds them to >= 99.98% on
// Fashion-MNIST, loss within 1e-4).
//
// Not here: networks whose first layer is a convolution (an integer im2col of bytes; the W2 slider is
// not the one that needs it) and the int8 network with quantized activations (int8_inference.h).
#pragma once

#include <span>
#include <vector>

#include "core/engine/base/status.h"
#include "core/engine/data/feature_rows.h"
#include "core/engine/kernels/int8_gemm.h"
#include "core/engine/kernels/kernel_table.h"
#include "core/engine/nn/network.h"
#include "core/engine/quant/quantizer.h"

namespace qplay {

struct ByteInputLayer {
  int inputs = 0, outputs = 0;
  PackedInt8Weights weights;         // codes minus zero point [outputs, inputs], offsets 128·Σ_k w_k
  std::vector<float> output_scales;  // [outputs] s_w[c] / d
  std::vector<float> biases;         // [outputs] the float biases, as fake quantization keeps them
};

// The first layer of `network` with the weights quantize_weights_into rounded from `master`
// (weight_grids: the grids it gave, indexed like network.parameter_tensors()), or why the
// float path must run instead: features stored as floats; a first layer that is not dense; float
// first-layer weights (nothing is an integer); codes that do not fit int8 (asymmetric 8-bit weights
// reach ±255 from their zero point).
Result<ByteInputLayer> build_byte_input_layer(const Network<float>& network, std::span<const float> master,
                                              const std::vector<std::vector<QuantGrid>>& weight_grids,
                                              const FeatureRows& features,
                                              Int8GemmVariant variant = fastest_int8_gemm_variant());

// output[rows.size(), layer.outputs] = the layer's float output for the samples features[rows[i]];
// groups of rows run on the threads of `threads` (the float network's kernel table, whose pool runs
// the rest of the network right after: a second pool would spin against it). Results do not depend on it.
void byte_input_layer_forward(const ByteInputLayer& layer, const FeatureRows& features,
                              std::span<const uint32_t> rows, const KernelTable& threads,
                              std::span<float> output);

}  // namespace qplay

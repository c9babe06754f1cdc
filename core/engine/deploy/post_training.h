// Post-training quantization of a trained float network: quantized weight views (float master
// weights stay untouched), activation-range calibration on N training samples, and the layer
// facts both need. The slider, the sweep command and quantization-aware training all use these.
//
// Conventions (documented in docs/design.md):
//  - weights of dense and conv layers are quantized; biases stay float (an int8 accelerator keeps
//    them in int32 with scale s_x·s_w, which is finer than any grid here);
//  - activations are quantized at the input of every weighted layer except the first; the
//    network input (pixels, 2-D coordinates) is data, not a network activation;
//  - activation grids are unsigned when the input follows a ReLU (directly or through pooling and
//    flatten) and symmetric signed otherwise (tanh, softplus outputs are bounded or one-sided
//    but the symmetric grid is the conservative default).
#pragma once

#include <span>
#include <vector>

#include "core/engine/data/feature_rows.h"
#include "core/engine/kernels/task_pool.h"
#include "core/engine/nn/network.h"
#include "core/engine/quant/quantizer.h"

namespace qplay {

struct QuantizationSetting {
  WeightQuantSpec weights;          // bits 0 = float weights
  ActivationQuantSpec activations;  // bits 0 = float activations
  // Optional per-layer weight bits (index = layer; -1 = use weights.bits). Empty = global.
  std::vector<int> weight_bits_per_layer;
  // Optional per-layer activation bits, of each layer's input as ActivationQuantization::input_grids
  // (index = layer; -1 = use activations.bits, 0 = float). Empty = global. The first weighted layer's
  // input is the data and is never quantized, whatever its entry.
  std::vector<int> activation_bits_per_layer;

  friend bool operator==(const QuantizationSetting&, const QuantizationSetting&) = default;
};

// The bits of layer's input under the setting (0 = float); the first weighted layer's entry is not read
// by the forward, so callers decide about that layer themselves.
int activation_bits_of_layer(const QuantizationSetting& setting, int layer);
// Whether any layer's input is quantized: the global activation bits or a per-layer entry above 0.
bool quantizes_activations(const QuantizationSetting& setting);

// Whether layer's input is >= 0 by construction (after ReLU, possibly through max-pool/flatten).
bool layer_input_is_nonnegative(const Architecture& architecture, int layer);

// view[] = master[] with every weight tensor fake-quantized per the setting; biases copied.
// grids (if given) receives each weight tensor's grids, indexed like network.parameter_tensors().
// pool (if given) quantizes groups of channels as its tasks; the result is the same without it.
void quantize_weights_into(const Network<float>& network, std::span<const float> master,
                           const QuantizationSetting& setting, std::span<float> view,
                           std::vector<std::vector<QuantGrid>>* grids = nullptr, TaskPool* pool = nullptr);

std::vector<float> quantized_weights_view(const Network<float>& network, const QuantizationSetting& setting);

// Runs the first `samples` rows of calibration_features ([n, input size]) through the network
// (with the given parameter view, float activations), 500 at a time, and turns the observed layer
// inputs into grids of spec.bits, or of bits_per_layer[layer] where that is >= 0 (as
// QuantizationSetting::activation_bits_per_layer; 0 leaves the layer's input float, without a grid).
ActivationQuantization calibrate_activation_ranges(Network<float>& network, std::span<const float> parameters,
                                                   const FeatureRows& calibration_features, int samples,
                                                   const ActivationQuantSpec& spec,
                                                   std::span<const int> bits_per_layer = {});

}  // namespace qplay

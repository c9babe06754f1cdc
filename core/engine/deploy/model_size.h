// The deployed size of a network at a quantization setting, and its average bits per weight: the two
// numbers a bit budget is stated in (train/bit_allocation.h) and the playground shows beside accuracy.
//
// Convention (docs/methods.md, "Bit allocation under a budget"), per weighted layer (dense, conv2d):
//  - weights at their bits: the setting's global bits, or the layer's entry of weight_bits_per_layer
//    (-1 = global); float weights (bits 0) count 32 bits; a layer's codes are packed, rounded up to
//    whole bytes per layer;
//  - quantized layers store one scale per output channel (per_channel) or one per tensor (per_tensor),
//    each a 32-bit float, and with asymmetric weights one zero point per scale, 8 bits (an int8, as
//    ONNX's QuantizeLinear stores it; every grid here has at most 8 bits);
//  - biases are 32-bit floats (as the engine keeps them);
//  - activation grids are not counted (they are a few numbers per layer and not weights).
// Average bits per weight = Σ weights·bits / Σ weights, over weights only (float layers count 32).
// Not for: memory at run time (activations, arenas) or file sizes of qplay's own model format.
#pragma once

#include <cstddef>
#include <vector>

#include "core/engine/deploy/post_training.h"
#include "core/engine/nn/architecture.h"

namespace qplay {

struct LayerSize {
  int layer = 0;       // index into Architecture::layers (weighted layers only)
  size_t weights = 0;  // elements of the weight tensor
  int bits = 32;       // bits per weight as deployed (float = 32)
  size_t bytes = 0;    // packed weights + scales + zero points + biases
};

struct ModelSize {
  std::vector<LayerSize> layers;  // one per weighted layer, in order
  size_t bytes = 0;
  size_t weights = 0;
  double average_weight_bits = 0;  // Σ weights·bits / Σ weights; 0 for a network without weights
  double kilobytes() const { return bytes / 1024.0; }
};

// The bits a weighted layer's weights are stored in under setting (float = 32).
int deployed_weight_bits(const QuantizationSetting& setting, int layer);

// The bytes of one weighted layer stored at `bits` (1..8 quantized, 32 float) under setting's granularity
// and symmetry.
size_t layer_bytes(const LayerSpec& layer, int bits, const QuantizationSetting& setting);

ModelSize model_size(const Architecture& architecture, const QuantizationSetting& setting);

}  // namespace qplay

// One op of real int8 inference (deploy/int8_inference.h builds and runs them) and what the int8
// forwards of the dense and conv2d layers share: the int32 accumulation over int8 codes and its
// requantization. Each layer kind's own int8 forward sits beside its float functions
// (layer_dense.h, layer_conv.h, layer_max_pool.h); here are only the types they take and the
// shared integer steps. The grid arithmetic is explained at the top of deploy/int8_inference.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/engine/kernels/int8_gemm.h"
#include "core/engine/nn/architecture.h"
#include "core/engine/quant/quantizer.h"

namespace qplay {

enum class Int8OpKind { dense, conv2d, max_pool };

// One step of the integer forward pass. ReLU and flatten layers have no op of their own (see the
// top of deploy/int8_inference.h). Grids are in int8 code space: codes q_min..q_max within
// [-128, 127], real value scale·(q - zero_point), q_step 1.
struct Int8Op {
  Int8OpKind kind = Int8OpKind::dense;
  int layer = 0;                            // the architecture layer this op runs
  TensorShape input, output;                // per sample, NHWC (dense: 1x1xfeatures)
  int kernel = 1, stride = 1, padding = 0;  // conv2d and max_pool, as in LayerSpec
  QuantGrid input_grid;                     // the codes this op reads
  QuantGrid output_grid;                    // the codes it writes; q_min is the zero point after a fused ReLU
  bool outputs_logits = false;              // the last dense layer: float logits instead of output_grid
  // dense and conv2d only:
  // Weight codes minus their zero point, so real weight = weight_scales[c]·weights[c, k] in [-127, 127]:
  std::vector<int8_t> weights;       // [outputs, patch]: dense [outputs, inputs], conv [outputs, ky, kx, c]
  std::vector<float> weight_scales;  // [outputs]; all equal for per-tensor weights
  std::vector<int32_t> bias;         // [outputs], in units of input_grid.scale·weight_scales[c]
  std::vector<float> accumulator_scales;  // [outputs]: s_x·s_w[c]/s_y, or s_x·s_w[c] for logits
  // weights packed for the model's int8 GEMM variant, with offsets bias[c] - z_x·Σ_k weights[c, k]:
  // the zero point folded in, as XNNPACK does when it packs, so the product is a plain dot product.
  PackedInt8Weights packed;
  int outputs() const { return output.channels; }
  int patch_size() const {
    return kind == Int8OpKind::dense ? input.size() : kernel * kernel * input.channels;
  }
};

// What one int8 op reads and writes for a batch of B samples.
struct Int8Tensors {
  const int8_t* input = nullptr;    // codes [B, op.input.size()]
  int8_t* output = nullptr;         // codes [B, op.output.size()] (unless op.outputs_logits)
  float* logits = nullptr;          // [B, op.outputs()] when op.outputs_logits
  int8_t* patches = nullptr;        // conv2d scratch [B·Ho·Wo, op.patch_size()]
  int32_t* accumulators = nullptr;  // dense and conv2d scratch [B·Ho·Wo, op.outputs()]
};

// Round half to even of a float within ±2^22, without a libm call per value: adding 1.5·2^23 leaves
// no fraction bits, so the float addition itself rounds (half to even, the default mode), and the
// subtraction is exact. XNNPACK's "magic bias" requantization does the same.
inline float round_half_even(float value) {
  constexpr float kMagic = 12582912.0f;  // 1.5·2^23
  return (value + kMagic) - kMagic;
}

// Fills op.packed from op.weights, op.bias and op.input_grid's zero point for the given GEMM variant.
void pack_int8_op(Int8GemmVariant variant, Int8Op& op);

// The weighted op's output from its patches[rows, patch] (a dense layer's input rows, or a conv's
// im2col rows): int32 sums bias + Σ (x - z_x)·w on op.packed, either requantized to codes in
// tensors.output (int8_gemm_requantized: XNNPACK's fp32 requantization, fused into the GEMM's tiles
// on x86) or, for the last op, summed into tensors.accumulators and dequantized to float logits in
// tensors.logits.
void int8_weighted_output(const Int8Op& op, size_t rows, const int8_t* patches, const Int8Tensors& tensors);

}  // namespace qplay

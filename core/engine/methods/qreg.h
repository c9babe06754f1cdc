// QReg: quantization-aware training as a regularizer (AskariHemmat et al. 2022, "QReg: On
// Regularization Effects of Quantization"). There is no new loss: the forward runs on
// fake-quantized weights (and optionally activations) at a chosen bit-width, the clipped
// straight-through estimator carries the gradient to the float master weights, and the paper's
// claim is that this alone regularizes, more strongly as the bit-width falls (8 bits narrows the
// generalization gap without costing accuracy).
//
// The ablation that shows why: `QregMode::uniform_noise` replaces the rounding by additive noise
// U(-Δ/2, Δ/2) of the same step Δ per channel, drawn afresh every step (the noise model of the
// paper's analysis; methods.md §2.1-2.2). Its gradient is the identity, since nothing is clipped.
// In both modes activation fake-quantization (when on) is the same QAT with EMA ranges.
//
// Not for: post-training quantization (deploy/post_training.h) or evaluation at a bit-width.
#pragma once

#include <array>
#include <memory>
#include <string_view>

#include "core/engine/base/status.h"
#include "core/engine/deploy/post_training.h"
#include "core/engine/methods/training_method.h"

namespace qplay {

enum class QregMode { quantize, uniform_noise };
constexpr std::array<std::string_view, 2> choice_names(QregMode) { return {"quantize", "noise"}; }

struct QregSettings {
  // Bit-widths and quantizer of the training forward. Defaults: 8-bit weights (the paper's
  // "reliable regularizer"), float activations, symmetric per-channel min-max grids.
  QuantizationSetting training = [] {
    QuantizationSetting s;
    s.weights.bits = 8;
    return s;
  }();
  QregMode mode = QregMode::quantize;

  friend bool operator==(const QregSettings&, const QregSettings&) = default;
};

Status validate(const QregSettings& settings);
Result<std::unique_ptr<TrainingMethod>> make_qreg_method(const QregSettings& settings);

}  // namespace qplay

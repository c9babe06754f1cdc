// FGSM evaluation (Goodfellow, Shlens, Szegedy 2015; methods.md §5.4): the accuracy and loss of a
// model on inputs moved by one signed-gradient step of size ε,
//   x_adv = clip(x + ε·sign(∇_x CE(f(x), y))),
// white-box on the forward the caller gives: the float masters, a post-training-quantized view, a
// shift-add view (raq.h), with or without activation fake-quantization. The gradient runs through
// Network::backward on exactly that forward, so through quantized weights it is the exact gradient of
// the view, and through fake-quantized activations it is the clipped straight-through estimate.
// sign(0) = 0 (torch.sign): a coordinate whose gradient is exactly 0 does not move.
//
// The clip is optional: pixels live in [0, 1], but the 2-D toy sets have no box, so there x_adv is
// not clipped (fgsm_clip_range picks it from the data set).
//
// These functions run forward and backward on the network: they overwrite network.gradients() and
// the activations, so do not call them between a method's compute_gradients and the optimizer step.
//
// Not for: adversarial training, iterative attacks (PGD), transfer attacks crafted on another model.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <vector>

#include "core/engine/data/dataset.h"
#include "core/engine/data/feature_rows.h"
#include "core/engine/nn/network.h"
#include "core/engine/quant/quantizer.h"
#include "core/engine/train/evaluation.h"

namespace qplay {

struct FgsmOptions {
  std::optional<ValueRange> clip = ValueRange{0.0f, 1.0f};  // nullopt: no box (toy sets)
  size_t max_samples = std::numeric_limits<size_t>::max();  // the first min(n, max_samples) samples
  int chunk_size = 500;  // samples per forward/backward (as evaluate(), so Fashion-MNIST fits)
};

// One ε of a sweep and the evaluation on its adversarial inputs.
struct FgsmPoint {
  double epsilon = 0;
  Evaluation adversarial;
};

// The box of a data set's inputs: [0, 1] for images (sample_shape of rank 3, pixels divided by 255),
// none for the 2-D toy sets.
std::optional<ValueRange> fgsm_clip_range(const Dataset& dataset);

// adversarial[B, n] = clip(features + ε·sign(∇_features CE)) for one batch on the forward `options`
// describes; features[B, n] with n the network's input size, labels[B]. ε >= 0 (the caller validates
// user input); ε = 0 returns the features clipped.
void fgsm_perturb(Network<float>& network, std::span<const float> features, std::span<const int32_t> labels,
                  int batch, double epsilon, const ForwardOptions<float>& options,
                  std::optional<ValueRange> clip, std::span<float> adversarial);

// Loss and accuracy on the FGSM inputs of features[n, input size], labels[n], in chunks. ε = 0 gives
// exactly evaluate(network, features, labels, options) with the same chunk size when the features lie
// inside the clip range.
Evaluation fgsm_accuracy(Network<float>& network, const FeatureRows& features,
                         std::span<const int32_t> labels, double epsilon,
                         const ForwardOptions<float>& options = {}, const FgsmOptions& fgsm = {});

// The same for several ε, one entry per ε in the order given; each chunk's gradient is computed once
// and shared by every ε.
std::vector<FgsmPoint> fgsm_accuracy_over_epsilons(Network<float>& network, const FeatureRows& features,
                                                   std::span<const int32_t> labels,
                                                   std::span<const double> epsilons,
                                                   const ForwardOptions<float>& options = {},
                                                   const FgsmOptions& fgsm = {});

}  // namespace qplay

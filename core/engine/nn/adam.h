// The Adam update (Kingma & Ba 2015) over flat spans, with torch.optim.Adam's semantics: L2 weight
// decay added to the gradient, bias correction, and PyTorch's order of operations (so a step can be
// checked number for number against it, tests/engine/torch_golden_test.cpp). The one Adam of the
// engine: the trainer's optimizer (train/optimizer.h, on the network's parameters, in float) and CPQ
// (methods/cpq_dropbits.cpp, on its own step sizes and gate logits, in double) both call it.
// Not here: where the moments live (the network's arena, or the method's own vectors).
#pragma once

#include <span>

namespace qplay {

struct AdamHyperparameters {
  double learning_rate = 1e-3;
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;
  double weight_decay = 0.0;  // L2: decay·parameter is added to the gradient
};

// One step over parameters[n] from gradients[n], updating first_moment[n] and second_moment[n]
// (zero before the first step). step counts from 1 (the bias correction). Computes in T; the
// hyperparameters are rounded to T first.
template <typename T>
void adam_update(std::span<T> parameters, std::span<const T> gradients, std::span<T> first_moment,
                 std::span<T> second_moment, const AdamHyperparameters& hyperparameters, long step);

extern template void adam_update<float>(std::span<float>, std::span<const float>, std::span<float>,
                                        std::span<float>, const AdamHyperparameters&, long);
extern template void adam_update<double>(std::span<double>, std::span<const double>, std::span<double>,
                                         std::span<double>, const AdamHyperparameters&, long);

}  // namespace qplay

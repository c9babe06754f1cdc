// Gradient-ℓ1 regularization (Alizadeh, Behboodi, van Baalen, Louizos, Blankevoort, Welling,
// ICLR 2020, "Gradient ℓ1 Regularization for Quantization Robustness").
//
// Quantization moves every weight (and every quantized activation) by at most half a step; to first
// order the loss then grows by at most (δ/2)·‖∇L‖₁, for every bit-width at once. So the method adds
//
//   P(θ) = λ_w Σ_l ‖∇_{W_l} L‖₁ + λ_a Σ_l ‖∇_{y_l} L‖₁
//
// to the mean cross-entropy L, with y_l the activations that get quantized: the input of every
// weighted layer but the first (methods.md §1.1; norms summed, gradients of the batch-mean loss).
//
// ∇P is a Hessian-vector product. It is computed EXACTLY with Pearlmutter's R-operator
// (nn/hessian_vector_product.h)
// (forward-over-reverse, methods.md §1.2 option 1): the tangent (λ_w·sign(∇_W L) on the weights,
// λ_a·sign(∇_y L) added at each y_l, signs held constant as in the paper's double backprop) is
// pushed forward through dense, conv, ReLU/tanh/softplus, max-pool (argmax fixed) and the
// softmax cross-entropy, then back through the backward pass. Cost: about one more forward and
// two more backward GEMMs per layer. A finite difference of two gradients would be cheaper but is
// not faithful with ReLU (methods.md §1.6): any step large enough to beat float round-off flips
// ReLU states, so `finite_difference` mode exists only as a labelled approximation.
//
// The method (make_gradient_l1_method) reads λ_w per weight: it passes λ_w / (number of weights) to the
// penalty, so its weight term is λ_w times the MEAN |∂L/∂w|. The paper's sum grows with the number of
// weights while each weight's rounding error does not: λ = 0.01 suits the 1,184-weight spiral MLP and costs
// a 50,000-weight Fashion-MNIST MLP 12 points of float accuracy (docs/methods.md). The activation term keeps
// the paper's sum (a per-example quantity, harmless at 0.01 on Fashion-MNIST).
//
// Biases are neither penalized nor perturbed. The whole thing is templated so that it is checked
// in double against finite differences of P and against PyTorch's double backprop.
#pragma once

#include <array>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "core/engine/base/status.h"
#include "core/engine/methods/training_method.h"
#include "core/engine/nn/hessian_vector_product.h"
#include "core/engine/nn/network.h"

namespace qplay {

enum class GradientL1Mode {
  exact,              // R-operator Hessian-vector product
  finite_difference,  // (∇L(θ + h·t) - ∇L(θ)) / h on the weight tangent only; an approximation
};
constexpr std::array<std::string_view, 2> choice_names(GradientL1Mode) {
  return {"exact", "finite-difference"};
}

struct GradientL1Settings {
  // λ_w multiplies the mean |∂L/∂w| over the weights (the paper's λ of the summed norm times the number of
  // weights): 10 is the paper-style 0.01 on the default 1,184-weight spiral MLP and 2e-4 on a 50,000-weight
  // Fashion-MNIST MLP. λ_a multiplies the paper's summed activation-gradient norm. The paper's CIFAR λ was
  // not retrieved; these defaults keep float accuracy on every data set while cutting ‖∇L‖₁
  // (tests/engine/methods_gradient_l1_test.cpp, defaults_test.cpp).
  double lambda_weights = 10;
  double lambda_activations = 0.01;
  // Share of the run trained plainly before the penalty starts (the paper also fine-tunes with it
  // for the last epochs only). 0 = from the first step.
  double warmup = 0.0;
  GradientL1Mode mode = GradientL1Mode::exact;
  double finite_difference_step =
      1e-3;  // h of finite_difference mode, relative to the tangent's sign entries

  friend bool operator==(const GradientL1Settings&, const GradientL1Settings&) = default;
};

Status validate(const GradientL1Settings& settings);
Result<std::unique_ptr<TrainingMethod>> make_gradient_l1_method(const GradientL1Settings& settings);

// The penalty and its exact gradient for one batch, for float and double networks. Keeps its
// buffers between calls (one regularizer per network).
template <typename T>
class GradientL1Regularizer {
 public:
  struct Value {
    T loss = 0;     // mean cross-entropy of the batch
    T penalty = 0;  // λ_w Σ‖∇_W L‖₁ + λ_a Σ‖∇_y L‖₁
  };

  // Runs forward, loss and backward on the batch with the network's own parameters (float
  // activations), and returns the loss and the penalty. With add_penalty_gradient the network's
  // gradients end as ∇(L + P); otherwise as ∇L. Not finite when the forward diverged.
  Value evaluate(Network<T>& network, std::span<const T> features, std::span<const int32_t> labels, int batch,
                 T lambda_weights, T lambda_activations, bool add_penalty_gradient);

 private:
  TangentPass<T> pass_;
  std::vector<T> weight_tangent_;  // λ_w·sign(∇_W L) in the parameters' layout (biases 0)
};

extern template class GradientL1Regularizer<float>;
extern template class GradientL1Regularizer<double>;

}  // namespace qplay

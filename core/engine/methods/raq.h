// RAQ-style robustness-aware 2-bit quantization (Li, Jiang, Huang, Tian, arXiv 2010.11271; journal
// version "RAQ", 2021), reconstructed as in shared/research/methods.md §5. No formula, table or code of
// the paper could be retrieved, so every choice below is the [R] reconstruction of methods.md or is
// documented here as ours; the UI labels the method "RAQ-style", not as the paper's exact method.
//
// Contents ([SECTION] markers):
//  - Shift-add 2-bit weights (§5.1): per-output-channel levels ±α·{½, 3/2} (residual binarization with a
//    power-of-two ratio) or ±α·{½, 1} (power of two), with an exact least-squares α and a clipped STE;
//    shift_add_quantize_weights gives any network a 2-bit shift-add view (the comparison uses it too).
//  - Structural loss (§5.2): the batch-relational term only. The GAN critic and its Lipschitz
//    constraint are NOT built (the issue asks only for "a structural loss that keeps the quantized
//    network's batch feature relations close to the float network's").
//  - Perturbation loss and the spectral-norm term (§5.3).
//  - The whole objective and the "raq" TrainingMethod:
//      L = CE(f_Q(x)) + λ_s·L_rel + λ_p·(L_pert + μ·Σ_l σ_max(W_l)²)
//
// Not here: FGSM evaluation (fgsm.h), uniform grids (quant/quantizer.h), a shift-add integer kernel.
#pragma once

#include <array>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "core/engine/base/status.h"
#include "core/engine/kernels/kernel_table.h"
#include "core/engine/methods/training_method.h"
#include "core/engine/nn/network.h"

namespace qplay {

// [SECTION] Shift-add 2-bit weights (methods.md §5.1)

// The four levels of a channel, in units of its scale α. Both keep one sign bit and one magnitude bit,
// so a dot product is two add/sub passes and a shift instead of multiplies.
enum class ShiftAddLevels {
  // ŵ = α(b1 + ½·b2), b1 = sign(w), b2 = sign(w − α·b1): levels ±α·{½, 3/2}, a uniform 4-level grid.
  residual_binary,
  // ŵ = sign(w)·α·2^e, e ∈ {−1, 0}: levels ±α·{½, 1}.
  power_of_two,
};
constexpr std::array<std::string_view, 2> choice_names(ShiftAddLevels) {
  return {"residual-binary", "power-of-two"};
}

struct ShiftAddVariant {
  ShiftAddLevels levels = ShiftAddLevels::residual_binary;
  // Round each channel's least-squares α to the nearest power of two (in log2), so that α itself is a
  // shift too (methods.md §5.1 "α = 2^round(log2 α) for pure shifts").
  bool power_of_two_scale = false;
};

// The α that minimises Σ_i (w_i − ŵ_i)² over one channel, every w_i taking its nearest level. For
// fixed levels c_i the least-squares scale is α = Σ|w_i|·c_i / Σc_i² (methods.md's Σ|w| / Σ|b1 + ½b2|
// is not the least-squares one); as α moves, the nearest levels change, so the error is piecewise
// quadratic in α with breaks where |w_i| sits halfway between the two magnitudes. Taking that closed form
// on each piece of the sorted |w| from prefix sums finds the global minimum exactly, with no alternating
// iteration that could stop in a local one; this one sorts and scans only the few buckets of |w| whose
// pieces can hold the minimum (raq_shift_add.cpp), the same minimum as the reference below up to the
// rounding of the double sums (which are summed in another order). Nearest level means |w| > α takes 3/2
// for residual_binary (the two-sign formula; at |w| = α exactly we take ½ for both signs, where the
// formula's sign(0) = +1 would not be symmetric) and |w| > ¾α takes 1 for power_of_two (methods.md's
// log-domain rounding e = round(log2(|w|/α)) would put that boundary at α/√2 and cost error). 0 for
// an all-zero channel. weights[n].
double shift_add_least_squares_scale(std::span<const float> weights, ShiftAddLevels levels);

// The definition the fast search is tested against: sorts every |w| and tries every piece.
double shift_add_least_squares_scale_reference(std::span<const float> weights, ShiftAddLevels levels);

// weights[channels, n] -> quantized[channels, n] (may alias weights), scales[channels] = each
// channel's α (least squares, then power-of-two rounded if asked). sign(0) counts as +1, as in binary
// networks: a zero weight becomes +½α. With `kernels`, groups of channels run on its threads (each
// channel is independent, so the bits do not depend on the thread count); without, on the caller.
void shift_add_quantize(std::span<const float> weights, int channels, const ShiftAddVariant& variant,
                        std::span<float> quantized, std::span<float> scales,
                        const KernelTable* kernels = nullptr);

// Clipped straight-through estimator: gradient[c, i] is kept where |weights[c, i]| <= the outer level
// (3/2·α residual_binary, α power_of_two) of its channel and zeroed outside (methods.md §5.1). α is a
// constant of the backward (not differentiated through its least-squares fit), as in QAT with a
// max-abs scale. weights, gradient [channels, n]; scales[channels].
void shift_add_straight_through_backward(std::span<const float> weights, int channels, ShiftAddLevels levels,
                                         std::span<const float> scales, std::span<float> gradient);

// view[] = master[] with every weight tensor of the network shift-add quantized per output channel, on
// the threads of the network's kernel table; biases are copied (float, as in post_training.h). Independent of
// QuantizationSetting, so any model can be evaluated at these 2-bit levels. scales (if given) receives each
// tensor's α, indexed like network.parameter_tensors() (empty for biases).
void shift_add_quantize_weights(const Network<float>& network, std::span<const float> master,
                                const ShiftAddVariant& variant, std::span<float> view,
                                std::vector<std::vector<float>>* scales = nullptr);

// [SECTION] Structural loss (methods.md §5.2): batch relations of the penultimate features

// The layer whose output is the feature φ: the input of the last weighted layer. -1 when the last
// weighted layer is the first layer (then φ is the network input and the structural term is 0).
int penultimate_feature_layer(const Architecture& architecture);
// The width of φ: the input size of the last weighted layer.
int penultimate_feature_width(const Architecture& architecture);

// L_rel = ‖Ĝ_S − Ĝ_T‖²_F / B² with Ĝ_ij = cos(φ_i, φ_j): each row of φ L2-normalised before the Gram
// ("row-normalised" in methods.md §5.2), so L_rel is the mean over all sample pairs of the squared
// change of their cosine similarity, in [0, 4]. We normalise φ rather than the rows of φφᵀ (Tung & Mori's
// similarity-preserving distillation, ICCV 2019): those rows have B entries, so that loss shrinks like
// 1/B and λ_s would mean something different at every batch size. Invariant to a global scale and to
// any rotation of φ. A zero row of φ (a dead ReLU sample) normalises to 0. student, teacher [B, D].
template <typename T>
T structural_relation_loss(std::span<const T> student, std::span<const T> teacher, int batch, int width);

// student_gradient[B, D] += scale · ∂L_rel/∂student. The teacher is a constant: no gradient flows into
// it (in RAQ it is the float network, which must not be pulled towards its own quantization).
template <typename T>
void structural_relation_loss_backward(std::span<const T> student, std::span<const T> teacher, int batch,
                                       int width, T scale, std::span<T> student_gradient);

// Scratch of the structural loss, reused from step to step (RaqWorkspace holds one).
struct CosineRows {
  std::vector<double> unit;             // [B, D] rows of φ over their norms
  std::vector<double> unit_transposed;  // [D, B rounded up to a whole tile], zero-padded
  std::vector<double> norms;            // [B]
  std::vector<double> similarities;     // [B, B]
};
struct StructuralRelationBuffers {
  CosineRows student, teacher;
  std::vector<double> p, unit_gradient;  // a few rows of ∂L/∂Ĝ [·, B] and of ∂L/∂n [·, D]
};

// Both at once, each Gram computed once: returns L_rel and, unless student_gradient is empty, adds
// scale · ∂L_rel/∂student to it. Same bits as the two functions above.
template <typename T>
T structural_relation_loss_and_backward(std::span<const T> student, std::span<const T> teacher, int batch,
                                        int width, T scale, std::span<T> student_gradient,
                                        StructuralRelationBuffers& buffers);

// [SECTION] Perturbation loss and spectral norm (methods.md §5.3)

// L_pert = (1/B) Σ_b ‖perturbed_b − clean_b‖², the logits of f_Q at x + ξ and at x. clean, perturbed [B, K].
template <typename T>
T perturbation_loss(std::span<const T> clean, std::span<const T> perturbed, int batch, int classes);

// clean_gradient += scale·∂L_pert/∂clean = −scale·2(perturbed − clean)/B and perturbed_gradient +=
// scale·2(perturbed − clean)/B: the gradient reaches the parameters through both forwards. [B, K] each.
template <typename T>
void perturbation_loss_backward(std::span<const T> clean, std::span<const T> perturbed, int batch,
                                int classes, T scale, std::span<T> clean_gradient,
                                std::span<T> perturbed_gradient);

// One power-iteration step (Miyato et al. 2018) on weight[rows, columns] (a conv weight as stored,
// [O, k·k·C], the reshape methods.md suggests): u ← Wv/‖Wv‖, v ← Wᵀu/‖Wᵀu‖. u[rows] and v[columns]
// persist across steps. Returns σ = uᵀWv = ‖Wᵀu‖, the estimate of σ_max(W). A zero W leaves u, v as they
// were.
template <typename T>
T power_iteration_step(std::span<const T> weight, int rows, int columns, std::span<T> u, std::span<T> v);

// weight_gradient[rows, columns] += scale · 2σ·u vᵀ: the gradient of scale·σ² with u and v held
// constant; exact for σ_max² when u, v are the converged top singular vectors.
template <typename T>
void spectral_penalty_backward(std::span<const T> u, std::span<const T> v, T sigma, T scale,
                               std::span<T> weight_gradient);

// [SECTION] The RAQ objective and training method

// Defaults are methods.md §5.3's "defaults to try" (inputs in [0, 1]); μ at the low end of its 1e-3..1e-2.
// What we measured with them (methods_raq_test.cpp, and Fashion-MNIST mlp:128 for 3 epochs): 2-bit
// accuracy close to float, but no FGSM robustness beyond float; λ_p = 1 with μ = 1e-2 (mostly the
// spectral term) did raise Fashion-MNIST FGSM accuracy above the float baseline's, at ~2 points of clean
// accuracy. With the self-teacher L_rel stays ~1e-3 whatever λ_s ≤ 10; λ_s >= 100 destabilised a toy
// MLP (near-zero feature rows get gradients ∝ 1/‖φ_i‖).
struct RaqSettings {
  ShiftAddLevels levels = ShiftAddLevels::residual_binary;
  bool power_of_two_scale = false;   // round each α to a power of two (pure shifts)
  double structural_lambda = 1;      // λ_s on L_rel; 0 switches the structural term off
  double perturbation_lambda = 0.1;  // λ_p on L_pert + μ·Σσ²; 0 switches both off
  double perturbation_epsilon = 0.03;  // ε₀: ξ ~ U(−ε₀, ε₀) per input value; 0 leaves only the σ term
  double spectral_lambda = 1e-3;       // μ, inside λ_p's bracket
  // The structural loss's float teacher: the weights the network has at attach(), frozen (the paper's
  // pretrained teacher, when the run starts from a trained model: init_model); otherwise the masters
  // themselves, which makes L_rel small by construction.
  bool frozen_teacher = false;

  friend bool operator==(const RaqSettings&, const RaqSettings&) = default;
};

// Errors name the setting, the allowed range and the value: "raq structural lambda: -1 is not allowed, use
// a finite value >= 0".
Status validate(const RaqSettings& settings);

// One batch as the network part of the objective consumes it.
template <typename T>
struct RaqBatchInputs {
  std::span<const T> features;            // [B, input size]: x
  std::span<const T> perturbed_features;  // [B, input size]: x + ξ (unused when λ_p = 0)
  std::span<const int32_t> labels;        // [B]
  std::span<const T> teacher_features;    // [B, penultimate width]: the teacher's φ (unused when λ_s = 0)
  int size = 0;                           // B
};

// The unweighted terms of one batch; the objective is cross_entropy + λ_s·structural + λ_p·perturbation.
struct RaqLossTerms {
  double cross_entropy = 0;
  double structural = 0;    // L_rel (0 when λ_s = 0)
  double perturbation = 0;  // L_pert on the logits (0 when λ_p = 0)
};

// What raq_network_loss_backward keeps from step to step, so that a step allocates nothing once the sizes
// have settled. RaqMethod holds one, with a second network for the perturbed pass.
template <typename T>
struct RaqWorkspace {
  // Null: the perturbed pass runs in the main network, whose clean forward must then run again. A network
  // of the same architecture (and kernels): the perturbed pass runs there while the clean forward's
  // activations stay in the main one, so the clean forward runs once. Same bits either way.
  std::unique_ptr<Network<T>> perturbed_network;
  std::vector<T> perturbed_gradients;  // [parameter_count], without one
  std::vector<T> clean_logits, logits_gradient, perturbed_logits_gradient, cross_entropy_gradient;  // [B, K]
  StructuralRelationBuffers structural;
};

// The part of the objective that runs through the network, on the forward given by `parameters` (a
// view with the network's layout, held outside the network's arena, which a forward may grow): CE(f(x)) +
// λ_s·L_rel(φ(x), teacher) + λ_p·L_pert(f(x), f(x + ξ)). network.gradients() receives its gradient w.r.t.
// those parameters. Network::backward overwrites the gradients, so the perturbed pass's gradient waits (in
// the perturbed network, or in workspace.perturbed_gradients) and is added after the clean pass. Runs
// three forwards when λ_p > 0 (clean logits, perturbed + its backward, clean + its backward; two with a
// perturbed network) and one otherwise; the last forward and loss() of `network` are the clean ones. If the
// clean loss is not finite, returns without the clean backward (the caller stops the run).
template <typename T>
RaqLossTerms raq_network_loss_backward(Network<T>& network, std::span<const T> parameters,
                                       const RaqBatchInputs<T>& inputs, const RaqSettings& settings,
                                       RaqWorkspace<T>& workspace);

// The same without a perturbed network, the perturbed pass's gradient waiting in scratch[parameter_count].
template <typename T>
RaqLossTerms raq_network_loss_backward(Network<T>& network, std::span<const T> parameters,
                                       const RaqBatchInputs<T>& inputs, const RaqSettings& settings,
                                       std::span<T> scratch);

// The "raq" TrainingMethod. Per step:
//  1. the float teacher: with frozen_teacher, the weights at attach() (a pretrained start), frozen; else
//     the master weights themselves ("self-teacher"). Its φ is a constant of the step: no gradient flows
//     through the teacher's forward;
//  2. the 2-bit shift-add view of the masters; activations stay float (the paper's activation
//     treatment is unknown; methods.md suggests 2-bit PACT or 8 bits, float is our documented default);
//  3. raq_network_loss_backward on the view with ξ ~ U(−ε₀, ε₀) from the run's method stream (x + ξ is
//     not clipped to the data's box);
//  4. the clipped STE from the view to the masters;
//  5. one power-iteration step per weighted layer on the float masters (every dense and conv layer, the
//     logits layer included) and λ_p·μ·2σ·u vᵀ added to the master weight gradients. The masters are
//     what the optimizer moves and the view follows them through α.
// StepResult: loss = CE of the 2-bit forward; penalty = λ_s·L_rel + λ_p·(L_pert + μ·Σσ²).
// trained_forward: the 2-bit view. readouts: per weighted layer "spectral norm" (σ of the masters, the
// power-iteration estimate) and "shift-add scale mean" (mean α over its output channels).
Result<std::unique_ptr<TrainingMethod>> make_raq_method(const RaqSettings& settings);

}  // namespace qplay

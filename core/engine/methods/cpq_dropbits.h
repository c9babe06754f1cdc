// CPQ + DropBits + learned per-layer bit-width (Lee, Yun, Hwang, Yang, "Cluster-Promoting
// Quantization with Bit-Drop for Minimizing Network Quantization Loss", ICCV 2021, arXiv 2109.02100;
// shared/research/methods.md §4): the math as free functions over spans, and the "cpq" TrainingMethod.
//
//   §4.1 CPQ quantizer, one per weight tensor: grid g_k = α·k, k ∈ [-2^{b-1}, 2^{b-1}-1], logistic
//        noise scale σ. Forward: the nearest grid point with clipping. Backward: the multi-class STE,
//        i.e. the exact derivative of the smooth surrogate S(x) = Σ_k g_k π_k(x; α, σ), in its
//        telescoped closed form over the cell thresholds t_j = α(k_j + ½).
//   §4.2 DropBits: per layer and step, nested keep-gates for bit levels 3..b; the step runs on the
//        b'-bit grid with the same α (the outer points are dropped), b' = 2 + Σ_j M_j. Never below 2
//        bits: this grid's 1-bit version is {-α, 0}, on which every non-negative weight becomes 0 (the
//        paper's premise, that training at fewer bits now and then helps, cannot hold there).
//   §4.3 Learned bit-width: hard-concrete keep-gates with learnable log a per level and layer, an L0
//        penalty on their expected number, and deterministic gates at test time.
//
// Choices the paper leaves open (methods.md §4 and §7), made here and tested:
//   * α and σ are learned as log α and log σ (positive without clipping; Adam steps are then relative
//     changes, which suits a scale). Init α = max|W| / 2^{b-1} (the most negative code reaches the
//     largest weight), σ = α/3 (Relaxed Quantization's init).
//   * Forward: round-to-nearest with clipping (std::nearbyint, ties to even; the loops compute it
//     without the library call, bit for bit the same), which is also the test-time rule, so training
//     and evaluation see the same weights. The literal argmax of π differs only in a band just inside
//     the two outermost thresholds, where the infinite boundary cells win: 3.5% of a cell at σ = α/3,
//     0.3% at σ = α/5.
//   * The backward sums over every threshold within c·σ of x, c = 2 - log(machine epsilon of T)
//     (38 in double, 18 in float): the omitted terms are below e^-c relative to Sig'(0), i.e. below
//     the rounding error, so the result is exact at the precision of T and costs O(σ/α) terms, not 2^b.
//   * The fast backward (cpq_quantize_backward, the one training uses) computes those sums with two
//     exps per weight, not one per threshold: the thresholds are evenly spaced, so walking outward
//     from the two next to x, each e^{-|z|} is the one before times e^{-α/σ}. It runs over blocks of
//     weights in loops the compiler vectorizes (in float with a polynomial exp within 1 ulp; on x86-64
//     Linux also compiled for AVX2 and picked at load time, with identical results), and may add
//     terms just beyond c·σ (each below e^-c). It equals the literal per-weight sum
//     (cpq_quantize_backward_reference) to rounding, tested over bits 1-8, α/σ 0.1-120 and x across
//     and beyond the grid: within 32ε·κ of the sum of the terms' magnitudes, κ = 1 + (|x| + α)/σ the
//     condition number of z = (x - t)/σ (the literal sum rounds every t, the fast one steps z by α/σ),
//     and in double also within 1e-12. Training runs differ from the literal backward's only through
//     that rounding.
//   * Weights only; biases and activations stay float (the paper also quantizes activations, but
//     applies DropBits and bit learning to weights only: methods.md §4.2, §4.4).
//   * Per-tensor α, σ, gates (per-layer-per-step DropBits masks, the recommended default of §4.2; masks per
//     output channel as an option, for fixed-rate DropBits: each row then runs at its own b').
//   * Learned bits: in training a level is kept when its hard-concrete sample z > ½ (so with
//     probability Sig(log a)), the same rule as the deterministic test-time gate. The gradient into
//     log a_j is ∂L/∂z_j · ∂z_j/∂log a_j (reparameterized, u held) + λ_b · share · ∂P(z_j > 0)/∂log a_j,
//     where ∂L/∂z_j is straight-through on the nesting product (nested_gates_backward) of
//     ∂L/∂M_j = Σ u (Q_j - Q_{j-1}), the first-order effect of keeping level j (bit_level_gradients).
//   * Biases keep their plain gradient; deployed_parameters() stays the master floats (already
//     clustered at the grid), and trained_forward() scores the hard-rounded weights at the learned α
//     and bit-widths, without DropBits.
//
// Not here: post-training quantization (deploy/post_training.h), the optimizer on the master weights
// (the Trainer owns it; the method steps only its own parameters, with its own Adam).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "core/engine/base/rng.h"
#include "core/engine/base/status.h"
#include "core/engine/methods/training_method.h"

namespace qplay {

// [SECTION] Settings and the factory

// The name of CPQ's per-layer read-out of its learned bit-width (the UI offers to evaluate at them).
inline constexpr std::string_view kLearnedWeightBitsReadout = "learned weight bits";
// The fewest bits DropBits drops to and a learned bit-width reaches: the grid g_k = α·k, k in
// [-2^{b-1}, 2^{b-1}-1], is {-α, 0} at 1 bit, which zeroes every non-negative weight.
inline constexpr int kCpqFewestBits = 2;

enum class DropBitsMasks { per_layer, per_channel };
constexpr std::array<std::string_view, 2> choice_names(DropBitsMasks) { return {"per-layer", "per-channel"}; }

struct CpqSettings {
  int bits = 3;          // maximum (and initial) weight bit-width of every weighted layer, 2..8
  bool dropbits = true;  // §4.2: drop nested bit levels per layer per training step
  // One DropBits mask per output channel (weight row) instead of one per layer (§4.2 names both); fixed-rate
  // DropBits only: learned gates are per layer.
  DropBitsMasks masks = DropBitsMasks::per_layer;
  double drop_rate = 0.2;   // P(drop level j | levels < j kept), j = 3..bits; in [0, 1) (§4.2: 0.1-0.3).
                            // With learn_bits: every gate's initial drop probability, in (0, 1)
  bool learn_bits = false;  // §4.3: learnable hard-concrete keep-gates (needs dropbits)
  // λ_b ≥ 0. The L0 term is λ_b × Σ_l (layer's share of all weights) × Σ_j P(z_lj > 0), i.e. λ_b
  // times the expected number of kept levels per weight, so λ_b is the mean cross-entropy (nats) one
  // bit per weight is worth. 0.01 is a mild default (about 1-10% of a trained toy or Fashion-MNIST
  // loss per bit). Measured on the spiral (4-bit mlp:32,32, method rate 1e-2, ~1300 steps, seed 1): 0.01
  // keeps 4/4/4 bits, 0.1 gives 4/3/4, 1 gives 3/2/3 (2 is the floor, kCpqFewestBits).
  double bits_lambda = 0.01;
  // Adam lr for log α, log σ and the gate logits, in (0, 1]. On log parameters a step changes α or σ
  // by at most ~0.1%, so over a toy run (~10^3 steps) they can move by a factor e and over a
  // Fashion-MNIST run freely. Measured on the spiral (4 seeds): 1e-2 lets σ collapse to 2-5% of α,
  // where weights on the plateaus get no gradient, and the clustering weakens (mean distance to the
  // grid 0.23-0.24 vs 0.20 at 1e-3). A gate logit starts at logit(1 - drop_rate) = 1.39 and moves by at
  // most the rate per step, so learned bit-widths need > 1.4/rate steps to change: raise the rate for
  // short toy runs.
  double method_learning_rate = 1e-3;

  friend bool operator==(const CpqSettings&, const CpqSettings&) = default;
};

// Rejects bits outside 2..8, non-finite or out-of-range rates, a negative λ_b, learn_bits without
// dropbits, with a message naming the setting, the allowed values and the value given.
Status validate(const CpqSettings& settings);

// The "cpq" method: every weighted layer's weights are CPQ-quantized in the forward, the multi-class
// STE gradients go into network.gradients(), the method steps its own α, σ and gates.
// Readouts per weighted layer: "learned weight bits", "step α", "noise σ".
Result<std::unique_ptr<TrainingMethod>> make_cpq_method(const CpqSettings& settings);

// [SECTION] §4.1 The CPQ quantizer of one tensor

// The codes of the signed b-bit grid g_k = α·k (Relaxed Quantization's grid: one more negative code
// than positive, not the restricted range of quant/quantizer.h).
constexpr int cpq_code_min(int bits) { return -(1 << (bits - 1)); }
constexpr int cpq_code_max(int bits) { return (1 << (bits - 1)) - 1; }

// The grid code of the forward: clamp(nearbyint(x/α), k_min, k_max).
template <typename T>
T cpq_code(T x, T step, int bits);

// weights[n] -> quantized[n] = α · cpq_code(w). quantized may be weights.
template <typename T>
void cpq_quantize_forward(std::span<const T> weights, T step, int bits, std::span<T> quantized);

// π_k(x; α, σ) of Eq. 1 for the 2^b cells, k_min first, computed literally from the cell edges
// (g_k ± α/2, the outer cells open): the reference the closed forms below are tested against.
// probabilities[2^bits].
template <typename T>
void cpq_cell_probabilities(T x, T step, T noise, int bits, std::span<T> probabilities);

// Partial derivatives at one x of the surrogate S(x; α, σ) = Σ_k g_k π_k(x; α, σ) (Eqs. 2-3):
struct CpqSurrogateDerivatives {
  double x = 0;      // ∂S/∂x = (α/σ) Σ_j Sig'(z_j), z_j = (x - t_j)/σ: the multi-class STE
  double step = 0;   // ∂S/∂α through π only, g_k held fixed (the STE path): -(1/σ) Σ_j Sig'(z_j) t_j
  double noise = 0;  // ∂S/∂σ = -(α/σ) Σ_j Sig'(z_j) z_j
};
template <typename T>
CpqSurrogateDerivatives cpq_surrogate_derivatives(T x, T step, T noise, int bits);

// Gradients of the loss w.r.t. a tensor's log α and log σ, summed over its elements.
struct CpqScaleGradients {
  double log_step = 0;   // α Σ_i u_i (k*_i + ∂S/∂α): the direct path (x̂ = α k*) plus the STE path
  double log_noise = 0;  // σ Σ_i u_i ∂S/∂σ
};

// The multi-class STE backward of one tensor. weights[n], quantized_gradient[n] = u = ∂L/∂x̂ ->
// weight_gradient[n] = u · ∂S/∂x (may be the same span as quantized_gradient: element by element).
// The fast form: two exps per weight, vectorized (header: "The fast backward").
template <typename T>
CpqScaleGradients cpq_quantize_backward(std::span<const T> weights, std::span<const T> quantized_gradient,
                                        T step, T noise, int bits, std::span<T> weight_gradient);
// The same backward written literally, cpq_surrogate_derivatives weight by weight: the reference the
// fast form is tested against (equal to rounding).
template <typename T>
CpqScaleGradients cpq_quantize_backward_reference(std::span<const T> weights,
                                                  std::span<const T> quantized_gradient, T step, T noise,
                                                  int bits, std::span<T> weight_gradient);

// [SECTION] §4.2 DropBits

// masks[b]: masks[j-1] = M_j for bit level j = 1..b. M_1 = M_2 = 1 always (kCpqFewestBits); for j ≥ 3 a
// keep-gate Z_j ~ Bernoulli(1 - drop_rate) is drawn (all b-2 of them, so the stream advances the same way
// whatever is dropped) and M_j = M_{j-1} Z_j: dropping a level drops every level above it.
void sample_dropbits_masks(double drop_rate, Rng& rng, std::span<uint8_t> masks);

// The effective bit-width b' = Σ_j M_j = 2 + Σ_{j≥3} M_j of nested masks[b].
int masked_bit_width(std::span<const uint8_t> masks);

// [SECTION] §4.3 Learned bit-width: hard-concrete gates (Louizos, Welling, Kingma 2018)

constexpr double kHardConcreteTemperature = 2.0 / 3.0;  // β
constexpr double kHardConcreteLower = -0.1;             // γ
constexpr double kHardConcreteUpper = 1.1;              // ζ

// z = clamp(Sig((log u - log(1-u) + log a)/β)(ζ-γ) + γ, 0, 1) for u in (0, 1). P(z > ½) = Sig(log a).
template <typename T>
T hard_concrete_sample(T log_alpha, T uniform);
// ∂z/∂log a of that sample with u held fixed: (ζ-γ) s(1-s)/β inside (0, 1), 0 where z is clamped.
template <typename T>
T hard_concrete_sample_derivative(T log_alpha, T uniform);
// P(z > 0) = Sig(log a - β log(-γ/ζ)): the L0 term of one gate.
template <typename T>
T hard_concrete_probability_nonzero(T log_alpha);
template <typename T>
T hard_concrete_probability_nonzero_derivative(T log_alpha);
// The deterministic test-time gate clamp(Sig(log a)(ζ-γ) + γ, 0, 1); a level is kept iff it is > ½,
// i.e. iff log a > 0.
template <typename T>
T hard_concrete_test_gate(T log_alpha);

// ∂L/∂M_j for levels j = 3..b of one tensor, where the forward is read as the telescoping mixture
//   x̂ = Q_2(x) + Σ_{j≥3} M_j (Q_j(x) - Q_{j-1}(x)),   Q_j = the j-bit CPQ forward with the same α,
// which equals Q_{b'}(x) for nested 0/1 masks: level_gradients[j-3] = Σ_i u_i (Q_j(x_i) - Q_{j-1}(x_i)).
// weights[n], quantized_gradient[n] = u, level_gradients[b - kCpqFewestBits].
template <typename T>
void bit_level_gradients(std::span<const T> weights, std::span<const T> quantized_gradient, T step, int bits,
                         std::span<double> level_gradients);

// Straight-through on the nesting product: the forward uses M_j = Π_{i≤j} H_i with hard gates
// H_i = [z_i > ½]; the backward treats H as z, so ∂L/∂z_i = Σ_{j≥i} ∂L/∂M_j Π_{k≤j, k≠i} H_k.
// hard_gates[n], mask_gradients[n] (levels 3..b) -> gate_gradients[n].
void nested_gates_backward(std::span<const double> hard_gates, std::span<const double> mask_gradients,
                           std::span<double> gate_gradients);

}  // namespace qplay

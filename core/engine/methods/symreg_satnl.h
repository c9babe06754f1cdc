// SymReg + SatNL (+ SAM/ASAM): "Symmetry Regularization and Saturating Nonlinearity for Robust
// Quantization", Park, Jang, Park, ECCV 2022 (arXiv 2208.00338); shared/research/methods.md §3.
//
// Three ingredients, each a set of free functions below, and one TrainingMethod ("symreg") that
// combines them:
//  - SymReg (§3.2): a per-layer penalty that is zero when a layer's weights are distributed
//    symmetrically about 0, so that a symmetric quantizer's error has zero mean and the layer
//    outputs do not drift (insight 1).
//  - SatNL (§3.3): the layer uses w = c·tanh(v/c) and the optimizer trains the latent v; the range
//    of w stays inside (-c, c) (insight 2: a narrow range, less clipping/rounding error).
//  - SAM / ASAM (§3.4): the gradient is taken at a sharpness-seeking perturbation of the weights;
//    with SatNL the perturbation of the latent v moves small weights more than saturated large ones
//    (insight 3: small weights are the quantization-sensitive ones).
//
// The objective is mean CE + λ Σ_l L_sym(W_l) over the weight tensor of every dense and conv layer
// (biases excluded; the paper also excludes depthwise convs, which the engine does not have).
// The math is templated on the scalar type so every gradient is checked in double precision; the
// TrainingMethod runs it in float. The objective functions below treat the network's parameters as
// the master variables (latent v); the TrainingMethod keeps v itself and leaves the deployed w in the
// network between steps, as methods/training_method.h requires.
//
// Not here: post-training quantization of the result (deploy/post_training.h), the trainer loop.
//
// Cost (methods.md "Limits"): a step sorts every weight tensor and runs the tanh once over the
// weights, both in linear time (a radix sort, a vectorized tanh). On Fashion-MNIST mlp:128 (100k
// first-layer weights, batch 64, one thread) a step takes about four baseline steps, 2.8 ms against
// 0.7; half of the difference is the sort. Both, and the pairing, run on the network's kernel table's
// threads, split by tensor size only, so the results do not depend on the thread count.
//
// [SECTION] The pairing's order     SymmetrySortBuffers, ascending_order_reference / _radix
// [SECTION] Symmetry penalties      symmetry_penalty_one_to_one / _two_to_two, weight_asymmetry
// [SECTION] Saturating weights      saturating_weights_forward / _backward / _inverse, saturation_scale_for
// [SECTION] Sharpness-aware         sam_perturbation, asam_perturbation
// [SECTION] Settings and factory    SymRegSettings, validate, make_symreg_method
// [SECTION] The objective           SymRegState, attach_symreg, symreg_effective_parameters, symreg_gradients
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "core/engine/base/status.h"
#include "core/engine/kernels/kernel_table.h"
#include "core/engine/methods/training_method.h"
#include "core/engine/nn/network.h"

namespace qplay {

// [SECTION] The pairing's order
//
// Both penalties below sort the weights and pair by order[j] = the position of the j-th smallest,
// ties broken by position (w_a before w_b iff w_a < w_b, or w_a == w_b and a < b; -0 equals +0): a
// total order, so the pairing, and the one-sided derivative chosen at ties, are deterministic. The
// reference sorts the positions with that comparison; the float penalties use the radix sort, which
// gives the same order in linear time (about 1 ms instead of 11 ms for 100k weights). Finite weights.

// Scratch of the sorts, sized on first use.
struct SymmetrySortBuffers {
  std::vector<uint64_t> items, spare;   // [n] (order key << 32 | position); the sorted ones end in spare
  std::vector<uint32_t> bucket_start;   // [2049] the radix sort's first-digit buckets
  std::vector<uint32_t> chunk_next;     // [chunks, 2048] each chunk's counts, then its scatter offsets
  std::vector<uint32_t> bucket_groups;  // [groups + 1] the first bucket of each bucket-sort task
  std::vector<double> run_totals;       // [runs] the pairing's partial sums, one per task
  std::vector<uint32_t> order;          // [n] the reference sort's positions (double penalties)
};

// weights[n] -> order_out[n] by std::sort of the positions: the definition the radix sort is tested against.
template <typename T>
void ascending_order_reference(std::span<const T> weights, std::span<uint32_t> order_out);

// weights[n] -> order_out[n], the same order, by a radix sort of each float's bits mapped to an
// unsigned key that sorts like the value: one pass on the key's top 11 bits, then each of those
// buckets (in cache) on the low 21. Stable from position order, so equal values keep their positions.
void ascending_order_radix(std::span<const float> weights, std::span<uint32_t> order_out,
                           SymmetrySortBuffers& buffers);

// [SECTION] Symmetry penalties (§3.2)
//
// Both sort the weights ascending, w_(1) <= ... <= w_(n), and pair the bottom of the sorted list
// with its top; an exactly symmetric set has every pair summing to zero. Sorting is piecewise
// linear, so the gradient (scattered back through the argsort) is exact wherever no two weights
// are equal. At ties the sort breaks them by index, which picks one of the one-sided derivatives;
// the penalty itself is continuous there. Middle weights that have no partner (the median when n
// is odd; the n mod 4 middle ones for 2:2) do not enter the penalty and get a zero gradient.
// A set with too few weights to form one pair has penalty 0. Non-finite weights give NaN and a
// zero gradient (the sort needs a total order; the trainer stops on the NaN loss anyway).

enum class SymmetryPairing {
  one_to_one,  // L_sym1: the i-th smallest with the i-th largest (the default, methods.md §3.2)
  two_to_two,  // L_sym2: adjacent sorted pairs from the bottom with adjacent pairs from the top (looser)
};
constexpr std::array<std::string_view, 2> choice_names(SymmetryPairing) {
  return {"one-to-one", "two-to-two"};
}

// L_sym1 = (1/m) Σ_{i=1}^{m} (w_(i) + w_(n+1-i))², m = ⌊n/2⌋.
// weights[n] -> returns L_sym1; gradient_out[n] (overwritten; empty: value only) = ∂L_sym1/∂w.
template <typename T>
T symmetry_penalty_one_to_one(std::span<const T> weights, std::span<T> gradient_out);

// L_sym2 = (1/m) Σ_{j=1}^{m} (w_(2j-1) + w_(2j) + w_(n-2j+2) + w_(n-2j+1))², m = ⌊n/4⌋.
// methods.md's reconstruction of the paper's 2:2 pairing (the exact form was not retrieved): each
// pair of small weights must cancel a pair of large ones, not each weight its mirror, so sets that
// L_sym1 calls asymmetric can score 0 here.
// weights[n] -> returns L_sym2; gradient_out[n] (overwritten; empty: value only).
template <typename T>
T symmetry_penalty_two_to_two(std::span<const T> weights, std::span<T> gradient_out);

// The pairing's penalty.
template <typename T>
T symmetry_penalty(SymmetryPairing pairing, std::span<const T> weights, std::span<T> gradient_out);

// The same, sorting in `buffers` (reused from call to call, so a training step allocates nothing) and
// writing gradient_out = gradient_scale · ∂L_sym/∂w (the objective's λ, applied where each entry is
// written), the sort and the pairing on the threads of `kernels`. Same bits as the overload above
// followed by `g *= gradient_scale`, whatever the thread count. Both forms add the squared group sums
// in order within runs of 32768 terms, one per task, and the runs' totals in order: the plain
// order's bits up to 32768 terms (65536 weights with 1:1 pairing).
template <typename T>
T symmetry_penalty(SymmetryPairing pairing, std::span<const T> weights, std::span<T> gradient_out,
                   T gradient_scale, SymmetrySortBuffers& buffers, const KernelTable& kernels);

// Readout for the UI and the tests: L_sym1(W) / mean(W²), a scale-free asymmetry of one tensor.
// 0 for an exactly symmetric set; an i.i.d. sample of n weights from a symmetric distribution
// scores of order 1/n from sampling noise alone (uniform init: ~0.08 for 64 weights, 0.001-0.013 for
// 1024); a set shifted by its own RMS scores 2; the bound is 4 (all weights equal). 0 for an
// all-zero tensor.
template <typename T>
T weight_asymmetry(std::span<const T> weights);

// [SECTION] Saturating weights (SatNL, §3.3)
//
// w = c·tanh(v/c): odd, bounded by ±c, slope 1 at 0 and decreasing with |v|, as the paper requires.
// Plain tanh (c = 1) would be almost the identity for typical weights (|w| << 1), hence the scale.

// latent[n] -> weights[n] = c·tanh(latent/c). May be the same buffer.
// In float the tanh is the engine's own, not libm's: the float nearest to tanh(x), evaluated in double
// (relative error < 1e-15; equal to std::tanh in double rounded to float for every non-negative float,
// checked exhaustively). It is vectorized (AVX2 when the CPU has it, the same bits either way) and
// gives the same bits natively and in WASM. glibc 2.36's tanhf was 8x slower here and is not the
// nearest float for a third of the inputs in [-1.5, 1.5]. Double uses std::tanh.
template <typename T>
void saturating_weights_forward(std::span<const T> latent, T scale, std::span<T> weights);

// weights[n] (the forward's output), weight_gradient[n] -> latent_gradient[n] = dw·(1 - tanh²(v/c)),
// with tanh(v/c) = w/c read from the forward's output. latent_gradient may be weight_gradient.
template <typename T>
void saturating_weights_backward(std::span<const T> weights, T scale, std::span<const T> weight_gradient,
                                 std::span<T> latent_gradient);

// weights[n] -> latent[n] = c·atanh(w/c), so that forward(inverse(w)) = w. Initial weights lie well
// inside ±c at the default scale; a ratio |w/c| beyond kSaturationInverseLimit (a scale below
// √3 ≈ 1.73 with uniform init) is clamped to it, so such weights start saturated, not infinite.
template <typename T>
void saturating_weights_inverse(std::span<const T> weights, T scale, std::span<T> latent);
inline constexpr double kSaturationInverseLimit = 0.999;

// c = saturation_scale · std(initial_weights) (population std about the mean; methods.md §3.3's
// recommendation). A tensor with no spread (all values equal) gets c = saturation_scale.
template <typename T>
T saturation_scale_for(std::span<const T> initial_weights, double saturation_scale);

// [SECTION] Sharpness-aware perturbations (§3.4; Foret et al. 2021, Kwon et al. 2021)
//
// Both act on a flat list of the trained weight parameters, i.e. the master weights: the latent v
// under SatNL, so ASAM's T is |v| + η as methods.md §3.4 writes it, and a step of v moves w by less
// where tanh saturates (the paper's small-weight emphasis). The method gathers the weight tensors;
// biases are not perturbed: the paper's argument is about weight quantization, and ASAM's
// scale-invariance is a property of weights (the ASAM reference code perturbs biases with T = 1;
// we do not). A zero gradient gives a zero perturbation.

// gradient[n] -> perturbation[n] = ρ·g/‖g‖₂ (SAM; ‖perturbation‖₂ = ρ).
template <typename T>
void sam_perturbation(std::span<const T> gradient, T rho, std::span<T> perturbation);

// parameters[n], gradient[n] -> perturbation[n] = ρ·T²g/‖T g‖₂ with T = |parameters| + η (ASAM;
// ‖perturbation / T‖₂ = ρ: the ball is measured relative to each weight's magnitude).
template <typename T>
void asam_perturbation(std::span<const T> parameters, std::span<const T> gradient, T rho, T eta,
                       std::span<T> perturbation);

// [SECTION] Settings and factory

enum class SharpnessAware { none, sam, asam };
constexpr std::array<std::string_view, 3> choice_names(SharpnessAware) { return {"none", "sam", "asam"}; }

struct SymRegSettings {
  // λ of mean CE + λ Σ_l L_sym(W_l). methods.md §3.2 suggests sweeping {1e-4, 1e-3, 1e-2, 1e-1}; we
  // take the top. L_sym is a MEAN over ⌊n/2⌋ pairs, so its pull on one weight is 4λ·(pair sum)/n,
  // weak in all but tiny layers: on mlp:32,32 / spiral after 400 steps the first layer's asymmetry
  // is 0.100 for the baseline, 0.097 at λ = 1e-3, 0.074 at 1e-2 and 0.007 at 1e-1, and even 1e-1
  // leaves the 32x32 layer at its sampling-noise level (the behaviour test
  // SymRegMethod.TrainingLowersAsymmetryAndSatNLBoundsWeights). A slider up to 1 makes sense.
  double symmetry_lambda = 0.1;
  SymmetryPairing pairing = SymmetryPairing::one_to_one;
  bool saturating_weights = true;  // SatNL: train latent v, use w = c·tanh(v/c)
  double saturation_scale = 2.5;   // c_l = saturation_scale · std(W_l at init) (methods.md §3.3), > 0
  SharpnessAware sam = SharpnessAware::none;
  // ρ of the SAM/ASAM ball; 0 means the usual default of the chosen variant: 0.05 for SAM, 0.5 for
  // ASAM (methods.md §3.4; ASAM's ball is relative to |v| + η, hence the larger radius).
  double sam_rho = 0;
  double asam_eta = 0.01;  // η of ASAM's T = |v| + η (v: the master weights), >= 0

  friend bool operator==(const SymRegSettings&, const SymRegSettings&) = default;
};

// ρ actually used: sam_rho, or the variant's default when sam_rho is 0.
double effective_sam_rho(const SymRegSettings& settings);

// Rejects NaN/inf anywhere, a negative λ, a saturation scale <= 0, a negative ρ or η; messages name
// the setting and the value.
Status validate(const SymRegSettings& settings);

// The "symreg" TrainingMethod. attach() must run before the first compute_gradients: with SatNL it
// turns the network's weights into latent v (the effective weights stay the initial ones) and fixes
// each layer's c. Readouts: per weighted layer "weight asymmetry" (weight_asymmetry of the deployed
// w) and, with SatNL, "saturation scale c".
// With SAM/ASAM a step runs forward/backward at the parameters, again at the perturbed ones, and one
// more forward at the parameters, so that network.probabilities() and the reported loss are those
// of the unperturbed weights (what the training accuracy should count), as TrainingMethod asks.
Result<std::unique_ptr<TrainingMethod>> make_symreg_method(const SymRegSettings& settings);

// [SECTION] The objective, templated so the whole step is gradient-checked in double

template <typename T>
struct SymRegState {
  // [parameter tensors] c of each weight tensor with SatNL; 0 for biases and without SatNL.
  std::vector<T> saturation_scales;
  // Scratch, sized by attach_symreg: [parameter_count] views laid out like the parameters ...
  std::vector<T> effective, penalty_gradient, perturbed_master, perturbed_effective;
  // ... and [all weight entries] flat lists for SAM/ASAM (empty without).
  std::vector<T> flat_weights, flat_gradient, flat_perturbation;
  SymmetrySortBuffers sort_buffers;  // the penalties' sort, reused by every tensor and step
};

template <typename T>
struct SymRegStepValues {
  T loss = 0;     // mean CE at the unperturbed parameters
  T penalty = 0;  // λ Σ_l L_sym(W_l) at the unperturbed effective weights
};

// With SatNL: c_l from the current (initial) weights, which are replaced in place by their latent v.
template <typename T>
SymRegState<T> attach_symreg(Network<T>& network, const SymRegSettings& settings);

// master[parameter_count] -> out[parameter_count]: the weights the layers use (c·tanh(v/c), or v
// itself without SatNL); biases copied.
template <typename T>
void symreg_effective_parameters(const Network<T>& network, const SymRegState<T>& state,
                                 std::span<const T> master, std::span<T> out);

// One step's gradient into network.gradients(): without SAM the gradient of
// CE(effective(v)) + λ Σ_l L_sym(effective(v)_l) w.r.t. the master parameters; with SAM/ASAM the CE
// part is taken at v + ε̂ (ε̂ from the CE gradient at v, weights only) and the penalty part at v.
// features[batch, input size], labels[batch]. A non-finite loss returns at once, as the step's
// loss even when it is the perturbed one (gradients unspecified; the trainer stops on the loss).
template <typename T>
SymRegStepValues<T> symreg_gradients(Network<T>& network, SymRegState<T>& state,
                                     const SymRegSettings& settings, std::span<const T> features,
                                     std::span<const int32_t> labels, int batch);

// symreg_gradients for a caller that has already written symreg_effective_parameters of
// network.parameters() into state.effective (the TrainingMethod does when it restores the deployed
// weights after the optimizer step), so that the tanh runs once per step, not twice. Same bits.
template <typename T>
SymRegStepValues<T> symreg_gradients_from_effective(Network<T>& network, SymRegState<T>& state,
                                                    const SymRegSettings& settings,
                                                    std::span<const T> features,
                                                    std::span<const int32_t> labels, int batch);

}  // namespace qplay

// Each method's registration: its summary, its rows (key, range or choices, when it applies, help), its
// factory from the experiment's knobs, and the readouts it reports. Contents:
//   [SECTION] baseline   [SECTION] qreg   [SECTION] gradl1   [SECTION] symreg   [SECTION] cpq   [SECTION] raq
#include "core/engine/methods/method_registry.h"

namespace qplay {
namespace {

using S = MethodSettings;
namespace rows = setting_rows;
using Made = Result<std::unique_ptr<TrainingMethod>>;

// [SECTION] baseline

MethodRegistration baseline_registration() {
  return {MethodKind::baseline,
          "Plain training in float; every other method is compared with it, same data, same seed.",
          {},
          [](const S&, const MethodContext&) -> Made { return make_baseline_method(); },
          {}};
}

// [SECTION] qreg

MethodRegistration qreg_registration() {
  return {MethodKind::qreg,
          "Trains with the weights rounded to a few bits, so the network learns to live with the rounding "
          "(AskariHemmat et al. 2022).",
          {
              rows::integer<S>(
                  "qat_weight_bits", "qreg", "qreg: train with weights fake-quantized to this many bits", 1,
                  8, [](auto& s) -> auto& { return s.qreg.training.weights.bits; }),
              rows::integer<S>(
                  "qat_activation_bits", "qreg",
                  "qreg: train with activations fake-quantized to this many bits (0 = float)", 0, 8,
                  [](auto& s) -> auto& { return s.qreg.training.activations.bits; })
                  .refusing([](double bits) -> std::string_view {
                    return bits == 1 ? "1-bit activations are not supported (0 = float, or 2 to 8)" : "";
                  }),
              rows::choice<S>(
                  "qat_mode", "qreg",
                  "qreg: round to the grid, or add uniform noise of the same step (the ablation)",
                  [](auto& s) -> auto& { return s.qreg.mode; }),
          },
          [](const S& s, const MethodContext& context) -> Made {
            QregSettings settings = s.qreg;
            // The knobs are the bit-widths; the grids are the experiment's.
            settings.training = context.quantizer;
            settings.training.weights.bits = s.qreg.training.weights.bits;
            settings.training.activations.bits = s.qreg.training.activations.bits;
            return make_qreg_method(settings);
          },
          {}};
}

// [SECTION] gradl1

MethodRegistration gradl1_registration() {
  return {MethodKind::gradl1,
          "Penalizes how much the loss changes when weights and activations move a little, so rounding them "
          "moves "
          "the loss less (Alizadeh et al. 2020).",
          {
              rows::number<S>(
                  "gradl1_lambda_weights", "gradl1",
                  "gradl1: weight of the mean |gradient of the loss| over the weights (the paper's summed l1 "
                  "norm divided by the number of weights, so one value suits small and large networks)",
                  0, 10000, [](auto& s) -> auto& { return s.gradl1.lambda_weights; }),
              rows::number<S>(
                  "gradl1_lambda_activations", "gradl1",
                  "gradl1: weight of the l1 norm of the loss gradient w.r.t. the quantized activations", 0,
                  100, [](auto& s) -> auto& { return s.gradl1.lambda_activations; }),
              rows::number<S>(
                  "gradl1_warmup", "gradl1",
                  "gradl1: share of the run trained plainly before the penalty switches on", 0, 0.99,
                  [](auto& s) -> auto& { return s.gradl1.warmup; }),
              rows::choice<S>(
                  "gradl1_mode", "gradl1",
                  "gradl1: exact Hessian-vector product, or a finite difference of two gradients (an "
                  "approximation)",
                  [](auto& s) -> auto& { return s.gradl1.mode; }),
          },
          [](const S& s, const MethodContext&) -> Made { return make_gradient_l1_method(s.gradl1); },
          {}};
}

// [SECTION] symreg

MethodRegistration symreg_registration() {
  return {
      MethodKind::symreg,
      "Keeps each layer's weights symmetric around zero and squashed by c*tanh, so a symmetric grid covers "
      "them "
      "without wasted levels (Park et al. 2022).",
      {
          rows::number<S>(
              "symreg_lambda", "symreg", "symreg: weight of the weight-symmetry penalty", 0, 10,
              [](auto& s) -> auto& { return s.symreg.symmetry_lambda; }),
          rows::choice<S>(
              "symreg_pairing", "symreg",
              "symreg: pair sorted weights one to one (i-th smallest with i-th largest) or two to two "
              "(looser)",
              [](auto& s) -> auto& { return s.symreg.pairing; }),
          rows::choice<S>(
              "satnl", "symreg", "symreg: saturating weights w = c*tanh(v/c), the optimizer training v",
              [](auto& s) -> auto& { return s.symreg.saturating_weights; }),
          rows::number<S>(
              "satnl_scale", "symreg",
              "symreg: c of the saturating weights, in standard deviations of the layer's initial weights",
              0.1, 100, [](auto& s) -> auto& { return s.symreg.saturation_scale; })
              .when([](const S& s) { return s.symreg.saturating_weights; }, "with satnl on"),
          rows::choice<S>(
              "sam", "symreg",
              "symreg: sharpness-aware step (two passes per step): none, SAM or adaptive ASAM",
              [](auto& s) -> auto& { return s.symreg.sam; }),
          rows::number<S>(
              "sam_rho", "symreg", "symreg: SAM/ASAM radius (0 = SAM 0.05, ASAM 0.5)", 0, 10,
              [](auto& s) -> auto& { return s.symreg.sam_rho; })
              .when([](const S& s) { return s.symreg.sam != SharpnessAware::none; },
                    "with sam set to sam or asam"),
      },
      [](const S& s, const MethodContext&) -> Made { return make_symreg_method(s.symreg); },
      {"weight asymmetry", "saturation scale c"}};
}

// [SECTION] cpq

MethodRegistration cpq_registration() {
  // DropBits never goes below kCpqFewestBits, so at that many bits it has nothing to drop.
  const auto can_drop = [](const S& s) { return s.cpq.bits > kCpqFewestBits; };
  return {
      MethodKind::cpq,
      "Pulls weights onto the grid points while training, sometimes on fewer bits (DropBits), and can learn "
      "each "
      "layer's bit-width (Lee et al. 2021).",
      {
          rows::integer<S>(
              "cpq_bits", "cpq", "cpq: weight bit-width trained for (the largest, with learned bits)", 2, 8,
              [](auto& s) -> auto& { return s.cpq.bits; }),
          rows::choice<S>(
              "cpq_dropbits", "cpq",
              "cpq: DropBits, training each step on a randomly reduced bit-width (never below 2 bits)",
              [](auto& s) -> auto& { return s.cpq.dropbits; })
              .when(can_drop, "with cpq_bits above 2"),
          rows::number<S>(
              "cpq_drop_rate", "cpq", "cpq: probability of dropping each bit level above 2", 0, 0.95,
              [](auto& s) -> auto& { return s.cpq.drop_rate; })
              .when([=](const S& s) { return s.cpq.dropbits && can_drop(s); },
                    "with cpq_dropbits on and cpq_bits above 2"),
          rows::choice<S>(
              "cpq_dropbits_masks", "cpq",
              "cpq: one DropBits mask per layer, or per output channel (each channel at its own "
              "bit-width)",
              [](auto& s) -> auto& { return s.cpq.masks; })
              .when([=](const S& s) { return s.cpq.dropbits && !s.cpq.learn_bits && can_drop(s); },
                    "with cpq_dropbits on, cpq_learn_bits off and cpq_bits above 2"),
          rows::choice<S>(
              "cpq_learn_bits", "cpq",
              "cpq: learn each layer's bit-width (hard-concrete gates on the bit levels; needs DropBits)",
              [](auto& s) -> auto& { return s.cpq.learn_bits; })
              .when(can_drop, "with cpq_bits above 2"),
          rows::number<S>(
              "cpq_bits_lambda", "cpq",
              "cpq: price of one bit per weight, in nats of loss (learned bit-widths)", 0, 100,
              [](auto& s) -> auto& { return s.cpq.bits_lambda; })
              .when([=](const S& s) { return s.cpq.learn_bits && can_drop(s); },
                    "with cpq_learn_bits on and cpq_bits above 2"),
          rows::number<S>(
              "cpq_learning_rate", "cpq", "cpq: Adam learning rate of the steps, noise scales and bit gates",
              1e-6, 1, [](auto& s) -> auto& { return s.cpq.method_learning_rate; }),
      },
      [](const S& s, const MethodContext&) -> Made {
        CpqSettings settings = s.cpq;
        // Per channel only where it means something (fixed-rate DropBits); elsewhere the setting is moot.
        if (!settings.dropbits || settings.learn_bits) settings.masks = DropBitsMasks::per_layer;
        return make_cpq_method(settings);
      },
      {kLearnedWeightBitsReadout, "step α", "noise σ"}};
}

// [SECTION] raq

MethodRegistration raq_registration() {
  return {
      MethodKind::raq,
      "Trains 2-bit shift-add weights that keep the float network's feature relations and resist input noise "
      "(after Li et al. 2020).",
      {
          rows::choice<S>(
              "raq_levels", "raq",
              "raq: 2-bit shift-add levels, {±1.5a, ±0.5a} (residual binary) or {±a, ±a/2} (power of "
              "two)",
              [](auto& s) -> auto& { return s.raq.levels; }),
          rows::choice<S>(
              "raq_power_of_two_scale", "raq",
              "raq: round each channel's scale a to a power of two (pure shifts)",
              [](auto& s) -> auto& { return s.raq.power_of_two_scale; }),
          rows::number<S>(
              "raq_structural_lambda", "raq",
              "raq: weight of the structural loss (batch feature relations of the 2-bit network vs the "
              "float one)",
              0, 1000, [](auto& s) -> auto& { return s.raq.structural_lambda; }),
          rows::number<S>(
              "raq_perturbation_lambda", "raq",
              "raq: weight of the perturbation loss (logit change under input noise) and the spectral "
              "term",
              0, 1000, [](auto& s) -> auto& { return s.raq.perturbation_lambda; }),
          rows::number<S>(
              "raq_perturbation_epsilon", "raq",
              "raq: half-width of the uniform input noise of the perturbation loss", 0, 1,
              [](auto& s) -> auto& { return s.raq.perturbation_epsilon; }),
          rows::number<S>(
              "raq_spectral_lambda", "raq",
              "raq: weight of the squared spectral norms (power iteration) inside the perturbation term", 0,
              10, [](auto& s) -> auto& { return s.raq.spectral_lambda; }),
      },
      [](const S& s, const MethodContext& context) -> Made {
        RaqSettings settings = s.raq;
        settings.frozen_teacher = context.starts_from_trained_weights;  // the paper's pretrained teacher
        return make_raq_method(settings);
      },
      {"spectral norm", "shift-add scale mean"}};
}

}  // namespace

std::span<const MethodRegistration> registered_methods() {
  static const std::vector<MethodRegistration> methods = [] {
    std::vector<MethodRegistration> all{baseline_registration(), qreg_registration(), gradl1_registration(),
                                        symreg_registration(),   cpq_registration(),  raq_registration()};
    for (size_t i = 0; i < all.size(); ++i)
      if (static_cast<size_t>(all[i].kind) != i) std::abort();  // registered in MethodKind order
    return all;
  }();
  return methods;
}

const MethodRegistration& registration_of(MethodKind kind) {
  return registered_methods()[static_cast<size_t>(kind)];
}

}  // namespace qplay

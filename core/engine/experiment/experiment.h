// An Experiment is everything that defines a run: data set, architecture, training settings,
// seed, and the quantization setting it is evaluated at. It is described once, by the state
// table (state_table.h); the CLI flags, the JSON experiment file, the UI widgets, the URL hash and
// the JS API are all generated from that table.
//
// This file turns an Experiment into the engine's objects (data set, architecture, kernels,
// training and quantization settings), with errors as values.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/engine/base/status.h"
#include "core/engine/data/dataset.h"
#include "core/engine/deploy/post_training.h"
#include "core/engine/kernels/kernel_table.h"
#include "core/engine/nn/architecture.h"
#include "core/engine/train/trainer.h"

namespace qplay {

struct Experiment {
  // Data
  std::string dataset = "spiral";  // spiral | moons | circles | xor | blobs | fashion-mnist
  int samples = 1500;              // toy sets: points in train + test
  double noise = 0.1;              // toy sets
  double test_fraction = 0.3;      // toy sets
  int classes = 3;                 // spiral arms / blobs
  int train_limit = 60000;         // fashion-mnist: first N training images
  int test_limit = 10000;          // fashion-mnist: first N test images
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  // Model and training
  std::string architecture = "mlp:32,32";
  std::string optimizer = "sgd";   // sgd | adam
  double learning_rate = 0.05;
  double momentum = 0.9;
  double weight_decay = 0.0;
  std::string schedule = "cosine";  // constant | step | cosine
  int step_epochs = 10;
  double gamma = 0.1;
  int epochs = 30;
  int batch_size = 32;
  int64_t seed = 1;
  // A model file to start from instead of the seed's random weights (fine-tuning a trained network, e.g. a
  // baseline checkpoint); "" = from scratch. Its architecture must be this experiment's.
  std::string init_model;
  // The training method (methods/): baseline | qreg | gradl1 | symreg | cpq | raq
  std::string method = "baseline";
  // qreg: quantization-aware training as a regularizer
  int qat_weight_bits = 8;
  int qat_activation_bits = 0;             // 0 = float activations
  std::string qat_mode = "quantize";       // quantize | noise (the uniform-noise ablation)
  // gradl1: gradient-ℓ1 regularization
  double gradl1_lambda_weights = 10;       // times the MEAN |dL/dw| (gradient_l1.h)
  double gradl1_lambda_activations = 0.01;
  double gradl1_warmup = 0.0;              // share of the run trained plainly before the penalty starts
  std::string gradl1_mode = "exact";       // exact | finite-difference
  // symreg: symmetry regularization + saturating weights (+ SAM/ASAM)
  double symreg_lambda = 0.1;
  std::string symreg_pairing = "one-to-one";  // one-to-one | two-to-two
  std::string satnl = "on";                   // on | off
  double satnl_scale = 2.5;                   // c = scale · std(initial weights of the layer)
  std::string sam = "none";                   // none | sam | asam
  double sam_rho = 0.0;                       // 0 = the variant's default (SAM 0.05, ASAM 0.5)
  // cpq: cluster-promoting quantization + DropBits (+ learned bit-widths)
  int cpq_bits = 3;
  std::string cpq_dropbits = "on";            // on | off
  double cpq_drop_rate = 0.2;
  std::string cpq_dropbits_masks = "per-layer";  // per-layer | per-channel
  std::string cpq_learn_bits = "off";         // on | off
  double cpq_bits_lambda = 0.01;
  double cpq_learning_rate = 1e-3;            // Adam on the steps, noise scales and gates
  // raq: robustness-aware 2-bit quantization with shift-add levels
  std::string raq_levels = "residual-binary";  // residual-binary | power-of-two
  std::string raq_power_of_two_scale = "off";  // on | off
  double raq_structural_lambda = 1.0;
  double raq_perturbation_lambda = 0.1;
  double raq_perturbation_epsilon = 0.03;
  double raq_spectral_lambda = 1e-3;
  // The quantization setting the model is evaluated at (the slider)
  int weight_bits = 4;
  int activation_bits = 0;
  std::string granularity = "per-channel";  // per-channel | per-tensor
  std::string symmetry = "symmetric";       // symmetric | asymmetric
  std::string range_method = "min-max";     // min-max | percentile | mse
  double percentile = 99.99;
  int calibration_samples = 512;
  // Compute
  std::string kernels = "auto";  // auto | reference | avx2 | xnnpack | simd128
  int threads = 2;

  friend bool operator==(const Experiment&, const Experiment&) = default;
};

// Cross-field checks the per-row ranges cannot express (e.g. a CNN needs image data).
Status validate_experiment(const Experiment& experiment);

Result<Dataset> make_dataset(const Experiment& experiment);
Result<Architecture> make_architecture(const Experiment& experiment, const Dataset& dataset);
Result<std::shared_ptr<const KernelTable>> make_kernels(const Experiment& experiment);
TrainingSettings make_training_settings(const Experiment& experiment);
// The experiment's training method with its knobs (errors name the offending setting). A run that starts
// from trained weights (init_model, or a comparison's checkpoint) gives RAQ its pretrained, frozen teacher.
Result<std::unique_ptr<TrainingMethod>> make_training_method(const Experiment& experiment,
                                                             bool starts_from_trained_weights);
// The evaluation (slider) setting with explicit bit-widths; the experiment supplies the rest.
QuantizationSetting make_quantization_setting(const Experiment& experiment, int weight_bits, int activation_bits);

}  // namespace qplay

#include "core/engine/experiment/experiment.h"

#include "core/engine/data/fashion_mnist.h"
#include "core/engine/data/toy_datasets.h"
#include "core/engine/experiment/state_table.h"
#include "core/engine/methods/cpq_dropbits.h"
#include "core/engine/methods/gradient_l1.h"
#include "core/engine/methods/qreg.h"
#include "core/engine/methods/raq.h"
#include "core/engine/methods/symreg_satnl.h"

namespace qplay {
namespace {

TensorShape shape_of(const Dataset& dataset) {
  const auto& s = dataset.sample_shape;
  if (s.size() == 3) return {s[0], s[1], s[2]};
  return {1, 1, dataset.sample_size()};
}

}  // namespace

Status validate_experiment(const Experiment& e) {
  const bool images = e.dataset == "fashion-mnist";
  if (e.architecture.starts_with("cnn") && !images) {
    return Status::error("architecture '" + e.architecture + "' is a CNN, which needs image data; the '" +
                         e.dataset + "' data set has 2-D points (use an mlp, e.g. mlp:32,32)");
  }
  // Parse the architecture against the data's shape without generating the data.
  TensorShape input = images ? TensorShape{28, 28, 1} : TensorShape{1, 1, 2};
  int classes = images ? 10 : (e.dataset == "spiral" || e.dataset == "blobs" ? e.classes : 2);
  if (Result<Architecture> a = parse_architecture(e.architecture, input, classes); !a) return a.status();
  if (Status status = check_settings(e); !status) return status;
  if (Result<std::unique_ptr<TrainingMethod>> method = make_training_method(e, !e.init_model.empty()); !method) return method.status();
  return {};
}

Result<Dataset> make_dataset(const Experiment& e) {
  if (e.dataset == "fashion-mnist") {
    FashionMnistOptions options;
    options.directory = e.data_dir;
    options.max_train = e.train_limit;
    options.max_test = e.test_limit;
    return load_fashion_mnist(options);
  }
  std::optional<ToyDatasetKind> kind = parse_toy_dataset_kind(e.dataset);
  if (!kind) return Status::error("unknown data set '" + e.dataset + "'");
  ToyDatasetOptions options;
  options.kind = *kind;
  options.num_samples = e.samples;
  options.noise = e.noise;
  options.test_fraction = e.test_fraction;
  options.num_classes = e.classes;
  options.seed = static_cast<uint64_t>(e.seed);
  return make_toy_dataset(options);
}

Result<Architecture> make_architecture(const Experiment& e, const Dataset& dataset) {
  return parse_architecture(e.architecture, shape_of(dataset), dataset.num_classes);
}

Result<std::shared_ptr<const KernelTable>> make_kernels(const Experiment& e) {
  return make_kernel_table(e.kernels, e.threads);
}

TrainingSettings make_training_settings(const Experiment& e) {
  TrainingSettings settings;
  settings.optimizer.kind = e.optimizer == "adam" ? OptimizerKind::adam : OptimizerKind::sgd;
  settings.optimizer.learning_rate = e.learning_rate;
  settings.optimizer.momentum = e.momentum;
  settings.optimizer.weight_decay = e.weight_decay;
  settings.schedule.kind = e.schedule == "step"     ? ScheduleKind::step
                           : e.schedule == "cosine" ? ScheduleKind::cosine
                                                    : ScheduleKind::constant;
  settings.schedule.step_epochs = e.step_epochs;
  settings.schedule.gamma = e.gamma;
  settings.epochs = e.epochs;
  settings.batch_size = e.batch_size;
  settings.seed = static_cast<uint64_t>(e.seed);
  return settings;
}

Result<std::unique_ptr<TrainingMethod>> make_training_method(const Experiment& e, bool starts_from_trained_weights) {
  if (e.method == "baseline") return make_baseline_method();
  if (e.method == "qreg") {
    QregSettings settings;
    settings.training = make_quantization_setting(e, e.qat_weight_bits, e.qat_activation_bits);
    settings.mode = e.qat_mode == "noise" ? QregMode::uniform_noise : QregMode::quantize;
    return make_qreg_method(settings);
  }
  if (e.method == "gradl1") {
    GradientL1Settings settings;
    settings.lambda_weights = e.gradl1_lambda_weights;
    settings.lambda_activations = e.gradl1_lambda_activations;
    settings.warmup = e.gradl1_warmup;
    settings.mode = e.gradl1_mode == "finite-difference" ? GradientL1Mode::finite_difference : GradientL1Mode::exact;
    return make_gradient_l1_method(settings);
  }
  if (e.method == "symreg") {
    SymRegSettings settings;
    settings.symmetry_lambda = e.symreg_lambda;
    settings.pairing = e.symreg_pairing == "two-to-two" ? SymmetryPairing::two_to_two : SymmetryPairing::one_to_one;
    settings.saturating_weights = e.satnl == "on";
    settings.saturation_scale = e.satnl_scale;
    settings.sam = e.sam == "sam" ? SharpnessAware::sam : e.sam == "asam" ? SharpnessAware::asam : SharpnessAware::none;
    settings.sam_rho = e.sam_rho;
    return make_symreg_method(settings);
  }
  if (e.method == "cpq") {
    CpqSettings settings;
    settings.bits = e.cpq_bits;
    settings.dropbits = e.cpq_dropbits == "on";
    // Per channel only where it means something (fixed-rate DropBits); elsewhere the setting is moot.
    settings.masks_per_channel = e.cpq_dropbits_masks == "per-channel" && settings.dropbits && e.cpq_learn_bits != "on";
    settings.drop_rate = e.cpq_drop_rate;
    settings.learn_bits = e.cpq_learn_bits == "on";
    settings.bits_lambda = e.cpq_bits_lambda;
    settings.method_learning_rate = e.cpq_learning_rate;
    return make_cpq_method(settings);
  }
  if (e.method == "raq") {
    RaqSettings settings;
    settings.levels = e.raq_levels == "power-of-two" ? ShiftAddLevels::power_of_two : ShiftAddLevels::residual_binary;
    settings.power_of_two_scale = e.raq_power_of_two_scale == "on";
    settings.structural_lambda = e.raq_structural_lambda;
    settings.perturbation_lambda = e.raq_perturbation_lambda;
    settings.perturbation_epsilon = e.raq_perturbation_epsilon;
    settings.spectral_lambda = e.raq_spectral_lambda;
    settings.frozen_teacher = starts_from_trained_weights;  // the paper's pretrained teacher
    return make_raq_method(settings);
  }
  return Status::error("unknown method '" + e.method + "'");
}

QuantizationSetting make_quantization_setting(const Experiment& e, int weight_bits, int activation_bits) {
  QuantizationSetting setting;
  setting.weights.bits = weight_bits;
  setting.weights.granularity = e.granularity == "per-tensor" ? Granularity::per_tensor : Granularity::per_channel;
  setting.weights.symmetry = e.symmetry == "asymmetric" ? Symmetry::asymmetric : Symmetry::symmetric;
  setting.weights.range_method = e.range_method == "percentile" ? RangeMethod::percentile
                                 : e.range_method == "mse"      ? RangeMethod::mse
                                                                : RangeMethod::min_max;
  setting.weights.percentile = e.percentile;
  setting.activations.bits = activation_bits;
  setting.activations.range_method = setting.weights.range_method;
  setting.activations.percentile = e.percentile;
  return setting;
}

}  // namespace qplay

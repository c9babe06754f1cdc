// An Experiment is everything that defines a run: data set, architecture, training settings,
// seed, and the quantization setting it is evaluated at, as enums, numbers and (for paths and the
// architecture) text. It is described once, by the state
// table (state_table.h); the CLI flags, the JSON experiment file, the UI widgets, the URL hash and
// the JS API are all generated from that table.
//
// This file turns an Experiment into the engine's objects (data set, architecture, kernels,
// training and quantization settings), with errors as values.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/engine/base/status.h"
#include "core/engine/data/dataset.h"
#include "core/engine/data/toy_datasets.h"
#include "core/engine/deploy/post_training.h"
#include "core/engine/kernels/kernel_table.h"
#include "core/engine/methods/method_registry.h"
#include "core/engine/nn/architecture.h"
#include "core/engine/train/trainer.h"

namespace qplay {

enum class DatasetChoice { spiral, moons, circles, xor_quadrants, blobs, fashion_mnist };
constexpr std::array<std::string_view, 6> choice_names(DatasetChoice) {
  return {"spiral", "moons", "circles", "xor", "blobs", "fashion-mnist"};
}
// The kernel table: "auto" picks the fastest this build and CPU have (kernels/kernel_table.h).
enum class KernelChoice { automatic, reference, avx2, avx512, xnnpack, simd128 };
constexpr std::array<std::string_view, 6> choice_names(KernelChoice) {
  return {"auto", "reference", "avx2", "avx512", "xnnpack", "simd128"};
}

struct Experiment {
  // Data
  DatasetChoice dataset = DatasetChoice::spiral;
  int samples = 1500;          // toy sets: points in train + test
  double noise = 0.1;          // toy sets
  double test_fraction = 0.3;  // toy sets
  int classes = 3;             // spiral arms / blobs
  int train_limit = 60000;     // fashion-mnist: first N training images
  int test_limit = 10000;      // fashion-mnist: first N test images
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  // Model and training
  std::string architecture = "mlp:32,32";
  OptimizerKind optimizer = OptimizerKind::sgd;
  double learning_rate = 0.05;
  double momentum = 0.9;
  double weight_decay = 0.0;
  ScheduleKind schedule = ScheduleKind::cosine;
  int step_epochs = 10;
  double gamma = 0.1;
  int epochs = 30;
  int batch_size = 32;
  int64_t seed = 1;
  // A model file to start from instead of the seed's random weights (fine-tuning a trained network, e.g. a
  // baseline checkpoint); "" = from scratch. Its architecture must be this experiment's.
  std::string init_model;
  // The training method and every method's knobs (methods/method_registry.h)
  MethodKind method = MethodKind::baseline;
  MethodSettings methods;
  // The quantization setting the model is evaluated at (the slider)
  int weight_bits = 4;
  int activation_bits = 0;
  Granularity granularity = Granularity::per_channel;
  Symmetry symmetry = Symmetry::symmetric;
  RangeMethod range_method = RangeMethod::min_max;
  double percentile = 99.99;
  int calibration_samples = 512;
  // Compute
  KernelChoice kernels = KernelChoice::automatic;
  int threads = 2;

  friend bool operator==(const Experiment&, const Experiment&) = default;
};

// The toy set an experiment's data set is, or nullopt for Fashion-MNIST.
std::optional<ToyDatasetKind> toy_dataset_kind(DatasetChoice dataset);

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
QuantizationSetting make_quantization_setting(const Experiment& experiment, int weight_bits,
                                              int activation_bits);

}  // namespace qplay

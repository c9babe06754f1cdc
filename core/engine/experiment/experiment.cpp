#include "core/engine/experiment/experiment.h"

#include "core/engine/data/fashion_mnist.h"
#include "core/engine/data/toy_datasets.h"
#include "core/engine/experiment/state_table.h"

namespace qplay {
namespace {

TensorShape shape_of(const Dataset& dataset) {
  const auto& s = dataset.sample_shape;
  if (s.size() == 3) return {s[0], s[1], s[2]};
  return {1, 1, dataset.sample_size()};
}

}  // namespace

std::optional<ToyDatasetKind> toy_dataset_kind(DatasetChoice dataset) {
  switch (dataset) {
    case DatasetChoice::spiral:
      return ToyDatasetKind::spiral;
    case DatasetChoice::moons:
      return ToyDatasetKind::moons;
    case DatasetChoice::circles:
      return ToyDatasetKind::circles;
    case DatasetChoice::xor_quadrants:
      return ToyDatasetKind::xor_quadrants;
    case DatasetChoice::blobs:
      return ToyDatasetKind::blobs;
    case DatasetChoice::fashion_mnist:
      return std::nullopt;
  }
  return std::nullopt;
}

Status validate_experiment(const Experiment& e) {
  const std::optional<ToyDatasetKind> toy = toy_dataset_kind(e.dataset);
  if (e.architecture.starts_with("cnn") && toy) {
    return Status::error("architecture '" + e.architecture + "' is a CNN, which needs image data; the '" +
                         std::string(choice_name(e.dataset)) +
                         "' data set has 2-D points (use an mlp, e.g. mlp:32,32)");
  }
  // Parse the architecture against the data's shape without generating the data.
  TensorShape input = toy ? TensorShape{1, 1, 2} : TensorShape{28, 28, 1};
  int classes = !toy ? 10 : uses_num_classes(*toy) ? e.classes : 2;
  if (Result<Architecture> a = parse_architecture(e.architecture, input, classes); !a) return a.status();
  if (Status status = check_settings(e); !status) return status;
  if (Result<std::unique_ptr<TrainingMethod>> method = make_training_method(e, !e.init_model.empty());
      !method)
    return method.status();
  return {};
}

Result<Dataset> make_dataset(const Experiment& e) {
  const std::optional<ToyDatasetKind> toy = toy_dataset_kind(e.dataset);
  if (!toy) {
    FashionMnistOptions options;
    options.directory = e.data_dir;
    options.max_train = e.train_limit;
    options.max_test = e.test_limit;
    return load_fashion_mnist(options);
  }
  ToyDatasetOptions options;
  options.kind = *toy;
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
  return make_kernel_table(std::string(choice_name(e.kernels)), e.threads);
}

TrainingSettings make_training_settings(const Experiment& e) {
  TrainingSettings settings;
  settings.optimizer.kind = e.optimizer;
  settings.optimizer.learning_rate = e.learning_rate;
  settings.optimizer.momentum = e.momentum;
  settings.optimizer.weight_decay = e.weight_decay;
  settings.schedule.kind = e.schedule;
  settings.schedule.step_epochs = e.step_epochs;
  settings.schedule.gamma = e.gamma;
  settings.epochs = e.epochs;
  settings.batch_size = e.batch_size;
  settings.seed = static_cast<uint64_t>(e.seed);
  return settings;
}

Result<std::unique_ptr<TrainingMethod>> make_training_method(const Experiment& e,
                                                             bool starts_from_trained_weights) {
  MethodContext context;
  context.quantizer = make_quantization_setting(e, 0, 0);
  context.starts_from_trained_weights = starts_from_trained_weights;
  return registration_of(e.method).make(e.methods, context);
}

QuantizationSetting make_quantization_setting(const Experiment& e, int weight_bits, int activation_bits) {
  QuantizationSetting setting;
  setting.weights.bits = weight_bits;
  setting.weights.granularity = e.granularity;
  setting.weights.symmetry = e.symmetry;
  setting.weights.range_method = e.range_method;
  setting.weights.percentile = e.percentile;
  setting.activations.bits = activation_bits;
  setting.activations.range_method = e.range_method;
  setting.activations.percentile = e.percentile;
  return setting;
}

}  // namespace qplay

#include "core/engine/experiment/saved_model.h"

#include "core/engine/experiment/state_table.h"
#include "core/engine/io/json.h"
#include "core/engine/kernels/kernel_table.h"

namespace qplay {

ModelFile make_model_file(const Network<float>& network, const Experiment& experiment) {
  const Architecture& architecture = network.architecture();
  ModelFile file;
  file.architecture = architecture.spec;
  file.input_shape = {architecture.input.height, architecture.input.width, architecture.input.channels};
  file.num_classes = architecture.num_classes;
  file.metadata_json = to_json(experiment_to_json(experiment), 0);
  for (const ParameterTensor& tensor : network.parameter_tensors()) {
    std::span<const float> values = network.tensor(network.parameters(), tensor);
    std::vector<int> shape = tensor.shape();
    file.tensors.push_back({tensor.name, std::vector<int32_t>(shape.begin(), shape.end()),
                            std::vector<float>(values.begin(), values.end())});
  }
  return file;
}

Status save_model(const std::string& path, const Network<float>& network, const Experiment& experiment) {
  return save_model_file(path, make_model_file(network, experiment));
}

Result<SavedModel> model_from_file(const ModelFile& file, std::shared_ptr<const KernelTable> kernels) {
  SavedModel saved;
  Result<Json> metadata = parse_json(file.metadata_json);
  if (!metadata) return metadata.status().with_context("model metadata");
  Result<Experiment> experiment = experiment_from_json(*metadata);
  if (!experiment) return experiment.status().with_context("model metadata");
  saved.experiment = std::move(experiment).value();

  if (file.input_shape.size() != 3)
    return Status::error("model input shape must have 3 dimensions (H, W, C)");
  TensorShape input{file.input_shape[0], file.input_shape[1], file.input_shape[2]};
  Result<Architecture> architecture = parse_architecture(file.architecture, input, file.num_classes);
  if (!architecture) return architecture.status();
  if (Status status = check_batch_fits(*architecture, 1); !status) return status;
  saved.network = std::make_unique<Network<float>>(std::move(architecture).value(), std::move(kernels));

  const auto& expected = saved.network->parameter_tensors();
  if (file.tensors.size() != expected.size()) {
    return Status::error("architecture '" + file.architecture + "' has " + std::to_string(expected.size()) +
                         " tensors, the file holds " + std::to_string(file.tensors.size()));
  }
  for (size_t i = 0; i < expected.size(); ++i) {
    const ModelTensor& stored = file.tensors[i];
    std::vector<int> shape = expected[i].shape();
    if (stored.name != expected[i].name ||
        std::vector<int>(stored.shape.begin(), stored.shape.end()) != shape ||
        stored.values.size() != expected[i].size()) {
      return Status::error("tensor " + std::to_string(i) + " ('" + stored.name + "') does not match '" +
                           expected[i].name + "' of architecture '" + file.architecture + "'");
    }
    std::span<float> target = saved.network->tensor(saved.network->parameters(), expected[i]);
    std::copy(stored.values.begin(), stored.values.end(), target.begin());
  }
  return saved;
}

Status load_initial_weights(const std::string& path, Network<float>& network) {
  Result<ModelFile> file = load_model_file(path);
  if (!file) return file.status().with_context("init_model");
  Result<SavedModel> saved = model_from_file(*file, reference_kernel_table());
  if (!saved) return saved.status().with_context("init_model " + path);
  const Architecture& theirs = saved->network->architecture();
  const Architecture& ours = network.architecture();
  if (theirs.spec != ours.spec || theirs.input.size() != ours.input.size() ||
      theirs.num_classes != ours.num_classes)
    return Status::error("init_model " + path + ": its network is " + theirs.spec + " on " +
                         std::to_string(theirs.input.size()) + " inputs and " +
                         std::to_string(theirs.num_classes) + " classes; this experiment's is " + ours.spec +
                         " on " + std::to_string(ours.input.size()) + " inputs and " +
                         std::to_string(ours.num_classes) + " classes");
  std::copy(saved->network->parameters().begin(), saved->network->parameters().end(),
            network.parameters().begin());
  return {};
}

Result<SavedModel> load_model(const std::string& path, std::shared_ptr<const KernelTable> kernels) {
  Result<ModelFile> file = load_model_file(path);
  if (!file) return file.status();
  Result<SavedModel> model = model_from_file(*file, std::move(kernels));
  if (!model) return model.status().with_context(path);
  return model;
}

}  // namespace qplay

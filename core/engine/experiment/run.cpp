#include "core/engine/experiment/run.h"

#include <algorithm>

#include "core/engine/experiment/saved_model.h"

namespace qplay {

Status check_model_matches_dataset(const Network<float>& network, const Dataset& dataset) {
  const Architecture& a = network.architecture();
  if (a.input.size() != dataset.sample_size() || a.num_classes != dataset.num_classes) {
    return Status::error("the model expects " + std::to_string(a.input.size()) + " inputs and " +
                         std::to_string(a.num_classes) + " classes, but data set '" + dataset.name +
                         "' has " + std::to_string(dataset.sample_size()) + " and " +
                         std::to_string(dataset.num_classes));
  }
  return {};
}

Result<Run> start_run(const Experiment& experiment, std::shared_ptr<const Dataset> dataset,
                      std::shared_ptr<const KernelTable> kernels, std::span<const float> initial_parameters) {
  if (Status status = validate_experiment(experiment); !status) return status;
  Run run;
  run.experiment = experiment;
  if (!dataset) {
    Result<Dataset> made = make_dataset(experiment);
    if (!made) return made.status();
    dataset = std::make_shared<const Dataset>(std::move(made).value());
  }
  run.dataset = std::move(dataset);
  Result<Architecture> architecture = make_architecture(experiment, *run.dataset);
  if (!architecture) return architecture.status();
  if (Status status = check_batch_fits(*architecture, experiment.batch_size); !status) return status;
  if (!kernels) {
    Result<std::shared_ptr<const KernelTable>> made = make_kernels(experiment);
    if (!made) return made.status();
    kernels = std::move(made).value();
  }
  run.network = std::make_unique<Network<float>>(std::move(architecture).value(), std::move(kernels));
  run.network->initialize(static_cast<uint64_t>(experiment.seed));
  if (!experiment.init_model.empty()) {
    if (Status status = load_initial_weights(experiment.init_model, *run.network); !status) return status;
  }
  if (!initial_parameters.empty()) {
    if (initial_parameters.size() != run.network->parameter_count()) {
      return Status::error("the initial parameters are " + std::to_string(initial_parameters.size()) +
                           " values; the network has " + std::to_string(run.network->parameter_count()));
    }
    std::copy(initial_parameters.begin(), initial_parameters.end(), run.network->parameters().begin());
  }
  const bool starts_trained = !experiment.init_model.empty() || !initial_parameters.empty();
  Result<std::unique_ptr<TrainingMethod>> method = make_training_method(experiment, starts_trained);
  if (!method) return method.status();
  run.trainer = std::make_unique<Trainer>(run.dataset, *run.network, make_training_settings(experiment),
                                          std::move(method).value());
  return run;
}

}  // namespace qplay

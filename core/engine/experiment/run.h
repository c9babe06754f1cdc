// A Run is one experiment being trained: its data set, its network (initialised from the seed)
// and its trainer. The CLI drives one Run at a time (a comparison one after another); the Lab holds
// several side by side (a baseline and one per method, same data and seed).
#pragma once

#include <memory>
#include <span>

#include "core/engine/base/status.h"
#include "core/engine/experiment/experiment.h"
#include "core/engine/nn/network.h"
#include "core/engine/train/trainer.h"

namespace qplay {

struct Run {
  Experiment experiment;
  std::shared_ptr<const Dataset> dataset;
  std::unique_ptr<Network<float>> network;
  std::unique_ptr<Trainer> trainer;
};

// Validates the experiment, builds (or reuses, when given) the data set, and initialises everything.
// kernels: a table to share with other runs (one thread pool for all); null makes the experiment's own.
// initial_parameters: a trained network's parameters to start from (a comparison's checkpoint), as
// init_model would load them; empty: init_model's, or the seed's random weights.
Result<Run> start_run(const Experiment& experiment, std::shared_ptr<const Dataset> dataset = nullptr,
                      std::shared_ptr<const KernelTable> kernels = nullptr,
                      std::span<const float> initial_parameters = {});

// A model can only be evaluated on data of the shape and class count it was built for.
Status check_model_matches_dataset(const Network<float>& network, const Dataset& dataset);

}  // namespace qplay

// A trained model on disk: the network's parameters in a QPlay model file, with the experiment
// that produced it as the file's metadata, so `eval` and `sweep` can rebuild the same data set
// (toy sets are regenerated from their seed) and nobody has to remember the flags.
#pragma once

#include <memory>
#include <string>

#include "core/engine/base/status.h"
#include "core/engine/experiment/experiment.h"
#include "core/engine/io/model_file.h"
#include "core/engine/nn/network.h"

namespace qplay {

struct SavedModel {
  Experiment experiment;
  std::unique_ptr<Network<float>> network;
};

ModelFile make_model_file(const Network<float>& network, const Experiment& experiment);
Status save_model(const std::string& path, const Network<float>& network, const Experiment& experiment);

// Checks that the file's tensors match its architecture exactly (names, shapes, count) before any
// value is used; a mismatch names the first tensor that differs.
Result<SavedModel> model_from_file(const ModelFile& file, std::shared_ptr<const KernelTable> kernels);
// Replaces `network`'s parameters with those of the model file at `path` (init_model: fine-tuning from a
// trained network). Refused unless the file's architecture, input shape and classes are the network's.
Status load_initial_weights(const std::string& path, Network<float>& network);
Result<SavedModel> load_model(const std::string& path, std::shared_ptr<const KernelTable> kernels);

}  // namespace qplay

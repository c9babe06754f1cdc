#include "core/engine/methods/training_method.h"

#include <algorithm>
#include <cmath>

namespace qplay {

void TrainingMethod::deployed_parameters(const Network<float>& network, std::span<float> out) const {
  std::span<const float> master = network.parameters();
  std::copy(master.begin(), master.end(), out.begin());
}

ForwardOptions<float> TrainingMethod::trained_forward(const Network<float>& network, std::vector<float>& view) const {
  view.resize(network.parameter_count());
  deployed_parameters(network, view);
  ForwardOptions<float> options;
  options.parameters = view;
  return options;
}

float forward_loss_backward(Network<float>& network, const TrainingBatch& batch, const ForwardOptions<float>& options) {
  network.forward(batch.features, batch.size, options);
  const float loss = network.loss(batch.labels);
  if (std::isfinite(loss)) network.backward(batch.labels);
  return loss;
}

namespace {

class BaselineMethod final : public TrainingMethod {
 public:
  std::string_view name() const override { return "baseline"; }
  StepResult compute_gradients(Network<float>& network, const TrainingBatch& batch, const StepContext&) override {
    return {forward_loss_backward(network, batch), 0.0f};
  }
};

}  // namespace

std::unique_ptr<TrainingMethod> make_baseline_method() { return std::make_unique<BaselineMethod>(); }

}  // namespace qplay

#include "core/engine/methods/training_method.h"

#include <algorithm>
#include <cmath>

namespace qplay {

ForwardOptions<float> TrainingMethod::trained_forward(const Network<float>&, std::vector<float>&) const {
  return {};
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

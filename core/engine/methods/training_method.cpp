#include "core/engine/methods/training_method.h"

#include <algorithm>
#include <cmath>

namespace qplay {

ForwardOptions<float> TrainingMethod::trained_forward(const Network<float>&, std::vector<float>&) const {
  return {};
}

Json method_readouts_json(std::span<const MethodReadout> readouts) {
  Json json = Json::array();
  for (const MethodReadout& readout : readouts) {
    Json item = Json::object();
    item["name"] = readout.name;
    item["layer"] = readout.layer;
    item["value"] = readout.value;
    json.push_back(std::move(item));
  }
  return json;
}

float forward_loss_backward(Network<float>& network, const TrainingBatch& batch,
                            const ForwardOptions<float>& options) {
  network.forward(batch.features, batch.size, options);
  const float loss = network.loss(batch.labels);
  if (std::isfinite(loss)) network.backward(batch.labels);
  return loss;
}

namespace {

class BaselineMethod final : public TrainingMethod {
 public:
  std::string_view name() const override { return "baseline"; }
  StepResult compute_gradients(Network<float>& network, const TrainingBatch& batch,
                               const StepContext&) override {
    return {forward_loss_backward(network, batch), 0.0f};
  }
};

}  // namespace

std::unique_ptr<TrainingMethod> make_baseline_method() { return std::make_unique<BaselineMethod>(); }

}  // namespace qplay

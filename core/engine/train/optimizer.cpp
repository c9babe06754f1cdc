#include "core/engine/train/optimizer.h"

#include <cmath>

#include "core/engine/base/deterministic_math.h"
#include "core/engine/nn/adam.h"

namespace qplay {

double scheduled_learning_rate(const OptimizerSettings& optimizer, const ScheduleSettings& schedule,
                               double epoch, int total_epochs) {
  const double base = optimizer.learning_rate;
  switch (schedule.kind) {
    case ScheduleKind::constant:
      return base;
    case ScheduleKind::step:
      return base *
             deterministic_pow(schedule.gamma,
                               static_cast<long>(std::floor(epoch / std::max(1, schedule.step_epochs))));
    case ScheduleKind::cosine: {
      double progress = total_epochs > 0 ? std::min(1.0, epoch / total_epochs) : 1.0;
      return base * 0.5 * (1.0 + deterministic_cos(kPi * progress));
    }
  }
  return base;
}

int optimizer_slot_count(OptimizerKind kind) { return kind == OptimizerKind::sgd ? 1 : 2; }

void optimizer_step(Network<float>& network, const OptimizerSettings& settings, double learning_rate,
                    long step) {
  network.set_optimizer_slot_count(optimizer_slot_count(settings.kind));
  std::span<float> weights = network.parameters();
  std::span<const float> gradients = network.gradients();
  const float lr = static_cast<float>(learning_rate);
  const float decay = static_cast<float>(settings.weight_decay);
  const size_t n = weights.size();
  if (settings.kind == OptimizerKind::sgd) {
    std::span<float> velocity = network.optimizer_slot(0);
    const float momentum = static_cast<float>(settings.momentum);
    for (size_t i = 0; i < n; ++i) {
      float g = gradients[i] + decay * weights[i];
      // torch.optim.SGD initialises the buffer to the first gradient; with a zero buffer
      // momentum·0 + g gives exactly that.
      velocity[i] = momentum * velocity[i] + g;
      weights[i] -= lr * velocity[i];
    }
    return;
  }
  adam_update(weights, gradients, network.optimizer_slot(0), network.optimizer_slot(1),
              AdamHyperparameters{.learning_rate = learning_rate,
                                  .beta1 = settings.beta1,
                                  .beta2 = settings.beta2,
                                  .epsilon = settings.epsilon,
                                  .weight_decay = settings.weight_decay},
              step);
}

}  // namespace qplay

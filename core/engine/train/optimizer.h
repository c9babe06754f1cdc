// Optimizers and learning-rate schedules with PyTorch's semantics (torch.optim.SGD with momentum
// and dampening 0, torch.optim.Adam with L2 weight decay added to the gradient), so one step can
// be checked number for number against PyTorch. Their state lives in the network's arena.
#pragma once

#include <array>
#include <string_view>

#include "core/engine/nn/network.h"

namespace qplay {

enum class OptimizerKind { sgd, adam };
enum class ScheduleKind { constant, step, cosine };
constexpr std::array<std::string_view, 2> choice_names(OptimizerKind) { return {"sgd", "adam"}; }
constexpr std::array<std::string_view, 3> choice_names(ScheduleKind) {
  return {"constant", "step", "cosine"};
}

struct OptimizerSettings {
  OptimizerKind kind = OptimizerKind::sgd;
  double learning_rate = 0.05;
  double momentum = 0.9;                              // SGD only
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;  // Adam only
  double weight_decay = 0.0;
};

struct ScheduleSettings {
  ScheduleKind kind = ScheduleKind::constant;
  int step_epochs = 10;  // step: multiply by gamma every step_epochs epochs
  double gamma = 0.1;
};

// The learning rate at a (fractional) epoch of a run that lasts total_epochs.
// cosine: lr · (1 + cos(π · epoch / total)) / 2, evaluated per step so it decays smoothly.
double scheduled_learning_rate(const OptimizerSettings& optimizer, const ScheduleSettings& schedule,
                               double epoch, int total_epochs);

// How many arena slots the optimizer keeps per parameter (SGD: velocity; Adam: m and v).
int optimizer_slot_count(OptimizerKind kind);

// One update of network.parameters() from network.gradients(). step counts from 1 (Adam's bias correction).
void optimizer_step(Network<float>& network, const OptimizerSettings& settings, double learning_rate,
                    long step);

}  // namespace qplay

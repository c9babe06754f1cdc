#include "core/engine/nn/adam.h"

#include <cassert>
#include <cmath>

#include "core/engine/base/deterministic_math.h"

namespace qplay {

template <typename T>
void adam_update(std::span<T> parameters, std::span<const T> gradients, std::span<T> first_moment,
                 std::span<T> second_moment, const AdamHyperparameters& hyperparameters, long step) {
  assert(gradients.size() == parameters.size() && first_moment.size() == parameters.size() &&
         second_moment.size() == parameters.size() && step >= 1);
  const double beta1 = hyperparameters.beta1, beta2 = hyperparameters.beta2;
  // The corrections in double, from the deterministic pow: the same bits natively and in WebAssembly.
  const T bias_correction1 = static_cast<T>(1.0 - deterministic_pow(beta1, step));
  const T bias_correction2_sqrt = static_cast<T>(std::sqrt(1.0 - deterministic_pow(beta2, step)));
  const T step_size = static_cast<T>(hyperparameters.learning_rate) / bias_correction1;
  const T decay = static_cast<T>(hyperparameters.weight_decay);
  const T epsilon = static_cast<T>(hyperparameters.epsilon);
  const T b1 = static_cast<T>(beta1), one_minus_b1 = static_cast<T>(1 - beta1);
  const T b2 = static_cast<T>(beta2), one_minus_b2 = static_cast<T>(1 - beta2);
  for (size_t i = 0; i < parameters.size(); ++i) {
    const T g = gradients[i] + decay * parameters[i];
    first_moment[i] = b1 * first_moment[i] + one_minus_b1 * g;
    second_moment[i] = b2 * second_moment[i] + one_minus_b2 * g * g;
    const T denominator = std::sqrt(second_moment[i]) / bias_correction2_sqrt + epsilon;
    parameters[i] -= step_size * first_moment[i] / denominator;
  }
}

template void adam_update<float>(std::span<float>, std::span<const float>, std::span<float>, std::span<float>,
                                 const AdamHyperparameters&, long);
template void adam_update<double>(std::span<double>, std::span<const double>, std::span<double>,
                                  std::span<double>, const AdamHyperparameters&, long);

}  // namespace qplay

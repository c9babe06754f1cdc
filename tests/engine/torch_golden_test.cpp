// One full training step checked against PyTorch: loss, every gradient, and the parameters after
// two SGD-momentum steps and two Adam steps (with weight decay), for an MLP and a CNN. The golden
// JSON comes from tools/golden/make_torch_golden.py (PyTorch in float64). QPlay runs in double
// (must agree to ~1e-12: same formulas) and in float with the kernels it trains with (~1e-5).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/engine/nn/network.h"
#include "core/engine/train/optimizer.h"
#include "tests/engine/golden_json.h"

namespace qplay {
namespace {

using golden::expect_tensors_near;
using golden::Golden;
using golden::load_golden;
using golden::load_tensors;

template <typename T>
void check_loss_and_gradients(const std::string& file, std::shared_ptr<const KernelTable> kernels,
                              double tolerance) {
  Golden g = load_golden(file);
  Network<T> network(g.architecture, kernels);
  load_tensors<T>(network, *g.json.find("initial_parameters"), network.parameters());
  std::vector<T> inputs(g.inputs.begin(), g.inputs.end());
  network.forward(inputs, int(g.labels.size()));
  double loss = network.loss(g.labels);
  network.backward(g.labels);
  EXPECT_NEAR(loss, g.json.find("loss")->as_number(), tolerance) << file;
  expect_tensors_near<T>(network, *g.json.find("gradients"), network.gradients(), tolerance,
                         file + " gradients");
}

void check_optimizer_steps(const std::string& file, OptimizerKind kind, const std::string& key) {
  Golden g = load_golden(file);
  Result<std::shared_ptr<const KernelTable>> kernels = make_kernel_table("auto", 1);
  ASSERT_TRUE(kernels.ok());
  Network<float> network(g.architecture, *kernels);
  load_tensors<float>(network, *g.json.find("initial_parameters"), network.parameters());
  const Json& config = *g.json.find("optimizers")->find(key == "after_two_sgd_steps" ? "sgd" : "adam");
  OptimizerSettings settings;
  settings.kind = kind;
  settings.learning_rate = config.find("learning_rate")->as_number();
  settings.weight_decay = config.find("weight_decay")->as_number();
  if (kind == OptimizerKind::sgd) settings.momentum = config.find("momentum")->as_number();
  std::vector<float> inputs(g.inputs.begin(), g.inputs.end());
  for (long step = 1; step <= 2; ++step) {
    network.forward(inputs, int(g.labels.size()));
    network.loss(g.labels);
    network.backward(g.labels);
    optimizer_step(network, settings, settings.learning_rate, step);
  }
  expect_tensors_near<float>(network, *g.json.find(key), network.parameters(), 2e-5, file + " " + key);
}

TEST(TorchGolden, MlpLossAndGradientsInDouble) {
  check_loss_and_gradients<double>("train_step_mlp.json", reference_kernel_table(), 1e-12);
}
TEST(TorchGolden, CnnLossAndGradientsInDouble) {
  check_loss_and_gradients<double>("train_step_cnn.json", reference_kernel_table(), 1e-12);
}
TEST(TorchGolden, MlpLossAndGradientsInFloatWithTheFastKernels) {
  check_loss_and_gradients<float>("train_step_mlp.json", *make_kernel_table("auto", 2), 1e-5);
}
TEST(TorchGolden, CnnLossAndGradientsInFloatWithTheFastKernels) {
  check_loss_and_gradients<float>("train_step_cnn.json", *make_kernel_table("auto", 2), 1e-5);
}
TEST(TorchGolden, MlpTwoSgdMomentumSteps) {
  check_optimizer_steps("train_step_mlp.json", OptimizerKind::sgd, "after_two_sgd_steps");
}
TEST(TorchGolden, MlpTwoAdamSteps) {
  check_optimizer_steps("train_step_mlp.json", OptimizerKind::adam, "after_two_adam_steps");
}
TEST(TorchGolden, CnnTwoSgdMomentumSteps) {
  check_optimizer_steps("train_step_cnn.json", OptimizerKind::sgd, "after_two_sgd_steps");
}
TEST(TorchGolden, CnnTwoAdamSteps) {
  check_optimizer_steps("train_step_cnn.json", OptimizerKind::adam, "after_two_adam_steps");
}

}  // namespace
}  // namespace qplay

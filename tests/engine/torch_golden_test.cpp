// One full training step checked against PyTorch: loss, every gradient, and the parameters after
// two SGD-momentum steps and two Adam steps (with weight decay), for an MLP and a CNN. The golden
// JSON comes from tools/golden/make_torch_golden.py (PyTorch in float64). QPlay runs in double
// (must agree to ~1e-12: same formulas) and in float with the kernels it trains with (~1e-5).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/engine/io/file_util.h"
#include "core/engine/io/json.h"
#include "core/engine/nn/network.h"
#include "core/engine/train/optimizer.h"

namespace qplay {
namespace {

struct Golden {
  Json json;
  Architecture architecture;
  std::vector<double> inputs;
  std::vector<int32_t> labels;
};

std::vector<double> numbers(const Json& array) {
  std::vector<double> values;
  for (const Json& v : array.as_array()) values.push_back(v.as_number());
  return values;
}

Golden load_golden(const std::string& file) {
  Golden g;
  Result<std::string> text = read_text_file(std::string(QPLAY_TEST_DATA_DIR) + "/" + file);
  EXPECT_TRUE(text.ok()) << text.message();
  Result<Json> json = parse_json(*text);
  EXPECT_TRUE(json.ok()) << json.message();
  g.json = *json;
  std::vector<double> shape = numbers(*g.json.find("input_shape"));
  Result<Architecture> a =
      parse_architecture(g.json.find("architecture")->as_string(), {int(shape[0]), int(shape[1]), int(shape[2])},
                         int(g.json.find("classes")->as_number()));
  EXPECT_TRUE(a.ok()) << a.message();
  g.architecture = *a;
  g.inputs = numbers(*g.json.find("inputs"));
  for (double label : numbers(*g.json.find("labels"))) g.labels.push_back(int32_t(label));
  return g;
}

// Copies (or compares) a list of named tensors in QPlay's layout into/with a network's buffer.
template <typename T>
void load_tensors(const Network<T>& network, const Json& tensors, std::span<T> target) {
  for (const Json& tensor : tensors.as_array()) {
    const std::string& name = tensor.find("name")->as_string();
    auto it = std::find_if(network.parameter_tensors().begin(), network.parameter_tensors().end(),
                           [&](const ParameterTensor& t) { return t.name == name; });
    ASSERT_NE(it, network.parameter_tensors().end()) << name;
    std::vector<double> values = numbers(*tensor.find("values"));
    ASSERT_EQ(values.size(), it->size()) << name;
    std::copy(values.begin(), values.end(), target.begin() + it->offset);
  }
}

template <typename T>
void expect_tensors_near(const Network<T>& network, const Json& expected, std::span<const T> actual,
                         double tolerance, const std::string& what) {
  std::vector<T> golden(actual.size());
  load_tensors<T>(network, expected, golden);
  double worst = 0, scale = 1e-3;
  for (size_t i = 0; i < golden.size(); ++i) {
    worst = std::max(worst, std::fabs(double(actual[i]) - double(golden[i])));
    scale = std::max(scale, std::fabs(double(golden[i])));
  }
  EXPECT_LT(worst / scale, tolerance) << what << ": max abs error " << worst;
}

template <typename T>
void check_loss_and_gradients(const std::string& file, std::shared_ptr<const KernelTable> kernels, double tolerance) {
  Golden g = load_golden(file);
  Network<T> network(g.architecture, kernels);
  load_tensors<T>(network, *g.json.find("initial_parameters"), network.parameters());
  std::vector<T> inputs(g.inputs.begin(), g.inputs.end());
  network.forward(inputs, int(g.labels.size()));
  double loss = network.loss(g.labels);
  network.backward(g.labels);
  EXPECT_NEAR(loss, g.json.find("loss")->as_number(), tolerance) << file;
  expect_tensors_near<T>(network, *g.json.find("gradients"), network.gradients(), tolerance, file + " gradients");
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

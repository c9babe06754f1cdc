// Every method at its default knobs, on every data set, trains a model as good as the baseline's within a
// stated margin: a person who picks a method in the playground and presses play never gets a wrecked model.
// "As good" is read on the model each method deploys: the float weights for baseline, gradient-l1 and SymReg,
// the quantized forward for QReg (8-bit), CPQ (3-bit) and RAQ (2-bit shift-add levels).
#include <gtest/gtest.h>

#include <filesystem>

#include "core/engine/experiment/comparison.h"

// The WebAssembly build reads uncompressed copies (tests/CMakeLists.txt).
#ifndef QPLAY_FASHION_MNIST_DIR
#define QPLAY_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"
#endif

namespace qplay {
namespace {

// Methods that deploy float weights may cost this much accuracy; those that deploy 2- or 3-bit weights more.
constexpr double kFloatMethodMargin = 0.02;
constexpr double kLowBitMethodMargin = 0.04;

ComparisonSettings defaults_on(const std::string& dataset) {
  ComparisonSettings settings;
  settings.base.dataset = *parse_choice<DatasetChoice>(dataset);
  settings.base.threads = 2;
  if (dataset == "fashion-mnist") {
    settings.base.data_dir = QPLAY_FASHION_MNIST_DIR;
    settings.base.architecture = "mlp:64";
    settings.base.train_limit = 10000;
    settings.base.test_limit = 2000;
    settings.base.epochs = 2;
    settings.base.batch_size = 64;
  }
  Result<std::vector<ComparisonArm>> arms = parse_comparison_arms("baseline,gradl1,qreg,symreg,cpq,raq");
  EXPECT_TRUE(arms.ok());
  settings.arms = std::move(arms).value();
  settings.seeds = {1};
  settings.weight_bits = {8};
  settings.fgsm_epsilons.clear();
  return settings;
}

class MethodDefaults : public testing::TestWithParam<std::string> {};

TEST_P(MethodDefaults, KeepTheBaselinesAccuracyOnEveryDataSet) {
  if (GetParam() == "fashion-mnist" && !std::filesystem::exists(QPLAY_FASHION_MNIST_DIR)) {
    GTEST_SKIP() << "Fashion-MNIST is not installed (tools/setup.sh installs it)";
  }
  Result<ComparisonResult> result = run_comparison(defaults_on(GetParam()));
  ASSERT_TRUE(result.ok()) << result.message();
  const double baseline = result->runs.front().test_accuracy;
  for (const ComparisonRun& run : result->runs) {
    const double margin = run.float_weights_are_latent ? kLowBitMethodMargin : kFloatMethodMargin;
    EXPECT_GE(run.test_accuracy, baseline - margin)
        << run.method << " on " << GetParam() << ": " << run.test_accuracy << " against the baseline's "
        << baseline;
  }
}

INSTANTIATE_TEST_SUITE_P(DataSets, MethodDefaults,
                         testing::Values("spiral", "moons", "circles", "xor", "blobs", "fashion-mnist"),
                         [](const testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           std::erase(name, '-');
                           return name;
                         });

}  // namespace
}  // namespace qplay

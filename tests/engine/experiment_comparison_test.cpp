// The comparison behind `qplay-cli compare`: every method trained from the same seeds on the same
// data, scored the same way, reproducibly; bad settings are refused before anything trains.
#include <gtest/gtest.h>

#include <cmath>

#include "core/engine/experiment/comparison.h"

namespace qplay {
namespace {

ComparisonSettings tiny_comparison() {
  ComparisonSettings settings;
  settings.base.dataset = "moons";
  settings.base.samples = 200;
  settings.base.architecture = "mlp:16";
  settings.base.epochs = 10;
  settings.base.kernels = "reference";
  settings.base.threads = 1;
  settings.methods = {"baseline", "qreg"};
  settings.seeds = {7, 8};
  settings.weight_bits = {8, 2};
  return settings;
}

TEST(Comparison, TrainsEveryMethodForEverySeedAndScoresEveryBitWidth) {
  double last_fraction = 0;
  Result<ComparisonResult> result = run_comparison(tiny_comparison(), [&](double fraction, const std::string&) {
    EXPECT_GE(fraction, last_fraction - 1e-12);
    last_fraction = fraction;
  });
  ASSERT_TRUE(result.ok()) << result.message();
  EXPECT_DOUBLE_EQ(last_fraction, 1.0);
  ASSERT_EQ(result->runs.size(), 4u);
  const std::vector<std::pair<std::string, int64_t>> order = {{"baseline", 7}, {"baseline", 8}, {"qreg", 7}, {"qreg", 8}};
  for (size_t i = 0; i < order.size(); ++i) {
    EXPECT_EQ(result->runs[i].method, order[i].first);
    EXPECT_EQ(result->runs[i].seed, order[i].second);
    EXPECT_EQ(result->runs[i].per_tensor_accuracy.size(), 2u);
    EXPECT_EQ(result->runs[i].per_channel_accuracy.size(), 2u);
    EXPECT_GT(result->runs[i].float_accuracy, 0.5);
    // QReg deploys quantized weights: its float ones are latent masters, the baseline's are the model.
    EXPECT_EQ(result->runs[i].float_weights_are_latent, order[i].first == "qreg");
  }
  EXPECT_EQ(values_of(*result, "qreg", [](auto& r) { return r.float_accuracy; }).size(), 2u);
  // Flips: every accuracy change needs at least as many changed predictions; 2 bits flip more than 8.
  for (const ComparisonRun& run : result->runs) {
    ASSERT_EQ(run.per_tensor_flip_rate.size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_GE(run.per_tensor_flip_rate[i] + 1e-12, std::abs(run.per_tensor_accuracy[i] - run.float_accuracy));
      EXPECT_GE(run.per_channel_flip_rate[i] + 1e-12, std::abs(run.per_channel_accuracy[i] - run.float_accuracy));
      EXPECT_LE(run.per_tensor_flip_rate[i], 1.0);
    }
    EXPECT_LE(run.per_tensor_flip_rate[0], run.per_tensor_flip_rate[1]);
    // The narrow quarter holds at most all the flips (a law), and here, as usual, flips more than the rest.
    ASSERT_EQ(run.per_tensor_low_margin_flip_rate.size(), 2u);
    EXPECT_LE(run.per_tensor_low_margin_flip_rate[1], 4 * run.per_tensor_flip_rate[1] + 1e-12);
    EXPECT_GE(run.per_tensor_low_margin_flip_rate[1] + 1e-12, run.per_tensor_flip_rate[1]);
  }
  // Paired by seed: qreg's run of seed 7 minus baseline's of seed 7, and so for seed 8.
  const PairedDifference d =
      paired_difference_of(*result, "qreg", "baseline", [](auto& r) { return r.per_tensor_accuracy[1]; });
  EXPECT_EQ(d.pairs, 2);
  EXPECT_NEAR(d.mean, ((result->runs[2].per_tensor_accuracy[1] - result->runs[0].per_tensor_accuracy[1]) +
                       (result->runs[3].per_tensor_accuracy[1] - result->runs[1].per_tensor_accuracy[1])) / 2,
              1e-12);
}

TEST(Comparison, AttacksTheFloatModelAndTheModelAsTrained) {
  ComparisonSettings settings = tiny_comparison();
  settings.fgsm_epsilons = {0.0, 0.3};
  settings.fgsm_samples = 100000;  // the whole test split
  Result<ComparisonResult> result = run_comparison(settings);
  ASSERT_TRUE(result.ok()) << result.message();
  for (const ComparisonRun& run : result->runs) {
    ASSERT_EQ(run.fgsm_float_accuracy.size(), 2u);
    ASSERT_EQ(run.fgsm_trained_accuracy.size(), 2u);
    EXPECT_DOUBLE_EQ(run.fgsm_float_accuracy[0], run.float_accuracy) << run.method;  // ε = 0 is no attack
    EXPECT_LT(run.fgsm_float_accuracy[1], run.float_accuracy) << run.method;
    if (run.method == "baseline") EXPECT_EQ(run.fgsm_trained_accuracy, run.fgsm_float_accuracy);
  }
  settings.fgsm_epsilons = {-0.1};
  EXPECT_FALSE(run_comparison(settings).ok());
}

TEST(Comparison, IsReproducibleSeedForSeed) {
  Result<ComparisonResult> first = run_comparison(tiny_comparison());
  Result<ComparisonResult> second = run_comparison(tiny_comparison());
  ASSERT_TRUE(first.ok() && second.ok());
  for (size_t i = 0; i < first->runs.size(); ++i) {
    EXPECT_EQ(first->runs[i].float_loss, second->runs[i].float_loss);
    EXPECT_EQ(first->runs[i].per_tensor_accuracy, second->runs[i].per_tensor_accuracy);
  }
  // Different seeds draw different data and weights.
  EXPECT_NE(first->runs[0].float_loss, first->runs[1].float_loss);
}

TEST(Comparison, RefusesBadSettingsBeforeTraining) {
  ComparisonSettings settings = tiny_comparison();
  settings.methods = {"baseline", "telepathy"};
  Result<ComparisonResult> result = run_comparison(settings);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.message().find("telepathy"), std::string::npos) << result.message();
  settings = tiny_comparison();
  settings.weight_bits = {0};
  EXPECT_FALSE(run_comparison(settings).ok());
  settings = tiny_comparison();
  settings.seeds.clear();
  EXPECT_FALSE(run_comparison(settings).ok());
  settings = tiny_comparison();
  settings.base.gradl1_lambda_weights = -1;
  settings.methods = {"gradl1"};
  EXPECT_FALSE(run_comparison(settings).ok());
}

}  // namespace
}  // namespace qplay

// The comparison behind `qplay-cli compare`: every arm trained from the same seeds on the same data, scored
// the same way at every evaluation point, reproducibly; knob grids chosen on a validation split only; the
// fine-tuning protocol; verdicts; bad settings refused before anything trains.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "core/engine/experiment/comparison.h"
#include "core/engine/experiment/run.h"

namespace qplay {
namespace {

std::vector<ComparisonArm> arms(std::string_view text) {
  Result<std::vector<ComparisonArm>> parsed = parse_comparison_arms(text);
  EXPECT_TRUE(parsed.ok()) << parsed.message();
  return parsed.ok() ? std::move(parsed).value() : std::vector<ComparisonArm>{};
}

ComparisonSettings tiny_comparison() {
  ComparisonSettings settings;
  settings.base.dataset = DatasetChoice::moons;
  settings.base.samples = 200;
  settings.base.architecture = "mlp:16";
  settings.base.epochs = 10;
  settings.base.kernels = KernelChoice::reference;
  settings.base.threads = 1;
  settings.arms = arms("baseline,qreg");
  settings.seeds = {7, 8};
  settings.weight_bits = {8, 2};
  return settings;
}

TEST(Comparison, TrainsEveryArmForEverySeedAndScoresEveryPoint) {
  double last_fraction = 0;
  ComparisonSettings settings = tiny_comparison();
  settings.activation_bits = {0, 4};
  settings.range_methods = {"min-max", "mse"};
  Result<ComparisonResult> result = run_comparison(settings, [&](double fraction, const std::string&) {
    EXPECT_GE(fraction, last_fraction - 1e-12);
    last_fraction = fraction;
  });
  ASSERT_TRUE(result.ok()) << result.message();
  EXPECT_DOUBLE_EQ(last_fraction, 1.0);
  // 2 weight x 2 activation bit-widths x 2 granularities x 2 range methods.
  ASSERT_EQ(result->points.size(), 16u);
  EXPECT_EQ(result->points[0].name(), "W8Afloat per-tensor min-max");
  EXPECT_EQ(result->points[3].name(), "W2A4 per-tensor min-max");
  EXPECT_EQ(result->points[15].name(), "W2A4 per-channel mse");
  ASSERT_EQ(result->runs.size(), 4u);
  const std::vector<std::pair<std::string, int64_t>> order = {
      {"baseline", 7}, {"baseline", 8}, {"qreg", 7}, {"qreg", 8}};
  for (size_t i = 0; i < order.size(); ++i) {
    const ComparisonRun& run = result->runs[i];
    EXPECT_EQ(run.arm, order[i].first);
    EXPECT_EQ(run.seed, order[i].second);
    ASSERT_EQ(run.quantized.size(), 16u);
    EXPECT_GT(run.float_accuracy, 0.5);
    // QReg deploys quantized weights: its float ones are latent masters, the baseline's are the model.
    EXPECT_EQ(run.float_weights_are_latent, order[i].first == "qreg");
    for (size_t p = 0; p < run.quantized.size(); ++p) {
      const QuantizedScore& q = run.quantized[p];
      // Every accuracy change needs at least as many changed predictions.
      EXPECT_GE(q.flip_rate + 1e-12, std::abs(q.accuracy - run.float_accuracy));
      // The narrow quarter holds at most all the flips.
      EXPECT_LE(q.low_margin_flip_rate, 4 * q.flip_rate + 1e-12);
      // The first-order bound bounds the linear term (Hoelder), and is measured at float activations only.
      if (result->points[p].activation_bits == 0) {
        EXPECT_GE(q.first_order_bound + 1e-12, std::abs(q.first_order_term));
        EXPECT_GT(q.first_order_bound, 0);
      } else {
        EXPECT_EQ(q.first_order_bound, 0);
      }
    }
    // 2 bits flip more than 8, and their bound is larger.
    EXPECT_LE(run.quantized[0].flip_rate, run.quantized[1].flip_rate);
    EXPECT_LT(run.quantized[0].first_order_bound, run.quantized[1].first_order_bound);
  }
  // Paired by seed: qreg's run of seed 7 minus baseline's of seed 7, and so for seed 8.
  const PairedDifference d =
      paired_difference_of(*result, "qreg", "baseline", [](auto& r) { return r.quantized[1].accuracy; });
  EXPECT_EQ(d.pairs, 2);
  EXPECT_NEAR(d.mean,
              ((result->runs[2].quantized[1].accuracy - result->runs[0].quantized[1].accuracy) +
               (result->runs[3].quantized[1].accuracy - result->runs[1].quantized[1].accuracy)) /
                  2,
              1e-12);
  // One verdict per point, plus accuracy as trained, one per FGSM epsilon and the generalization gap.
  EXPECT_EQ(comparison_verdicts(*result).size(), 16u + 1 + 3 + 1);
}

TEST(Comparison, TheFirstOrderTermPredictsSmallLossIncreases) {
  // At 8 bits the rounding error is tiny, so the loss moves by about delta.g.
  Result<ComparisonResult> result = run_comparison(tiny_comparison());
  ASSERT_TRUE(result.ok()) << result.message();
  for (const ComparisonRun& run : result->runs) {
    const QuantizedScore& w8 = run.quantized[0];
    EXPECT_NEAR(w8.loss - run.float_loss, w8.first_order_term, 0.2 * std::abs(w8.first_order_bound) + 1e-4);
  }
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
    EXPECT_DOUBLE_EQ(run.fgsm_float_accuracy[0], run.float_accuracy) << run.arm;  // ε = 0 is no attack
    EXPECT_LT(run.fgsm_float_accuracy[1], run.float_accuracy) << run.arm;
    if (run.arm == "baseline") EXPECT_EQ(run.fgsm_trained_accuracy, run.fgsm_float_accuracy);
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
    EXPECT_EQ(first->runs[i].quantized[1].accuracy, second->runs[i].quantized[1].accuracy);
  }
  // Different seeds draw different data and weights.
  EXPECT_NE(first->runs[0].float_loss, first->runs[1].float_loss);
}

TEST(ComparisonArms, ParsesKnobsGridsAndAblations) {
  const std::vector<ComparisonArm> parsed =
      arms("baseline,gradl1[gradl1_lambda_weights=1e-4|1e-3,learning_rate=0.1],symreg[satnl=off]");
  ASSERT_EQ(parsed.size(), 3u);
  EXPECT_EQ(parsed[1].label, "gradl1[gradl1_lambda_weights=1e-4|1e-3,learning_rate=0.1]");
  EXPECT_EQ(parsed[1].method, "gradl1");
  EXPECT_EQ(parsed[1].grid_size(), 2u);
  EXPECT_EQ(parsed[2].grid_size(), 1u);
  Result<Experiment> second = arm_experiment(Experiment{}, parsed[1], 1);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->method, MethodKind::gradl1);
  EXPECT_EQ(second->methods.gradl1.lambda_weights, 1e-3);
  EXPECT_EQ(second->learning_rate, 0.1);
  EXPECT_FALSE(arm_experiment(Experiment{}, parsed[2], 0)->methods.symreg.saturating_weights);
  // Two arms of one method stay apart; the same arm twice does not.
  EXPECT_TRUE(parse_comparison_arms("symreg,symreg[satnl=off]").ok());
  for (const char* bad :
       {"symreg,symreg", "telepathy", "gradl1[symreg_lambda=1]", "gradl1[epochs=3]", "gradl1[seed=2]",
        "gradl1[gradl1_lambda_weights=-1]", "gradl1[gradl1_lambda_weights]",
        "gradl1[gradl1_lambda_weights=1e-3", "gradl1]", "baseline[dataset=xor]",
        "gradl1[gradl1_warmup=0|0.1|0.2|0.3|0.4,gradl1_lambda_weights=1e-4|1e-3|1e-2|1e-1]"}) {
    Result<std::vector<ComparisonArm>> result = parse_comparison_arms(bad);
    EXPECT_FALSE(result.ok()) << bad;
  }
  EXPECT_NE(parse_comparison_arms("gradl1[symreg_lambda=1]").message().find("symreg"), std::string::npos);
}

TEST(Comparison, ChoosesAGridPointOnValidationAndKeepsItForEverySeed) {
  ComparisonSettings settings = tiny_comparison();
  // A learning rate of 1e-6 cannot learn in 10 epochs; validation must reject it.
  settings.base.dataset =
      DatasetChoice::circles;  // not linearly separable: an untrained network is at chance
  settings.arms = arms("baseline,baseline[learning_rate=0.000001|0.05]");
  settings.validation_fraction = 0.25;
  settings.fgsm_epsilons.clear();
  Result<ComparisonResult> result = run_comparison(settings);
  ASSERT_TRUE(result.ok()) << result.message();
  ASSERT_EQ(result->selections.size(), 1u);
  const ArmSelection& selection = result->selections[0];
  EXPECT_EQ(selection.arm, "baseline[learning_rate=0.000001|0.05]");
  ASSERT_EQ(selection.validation_scores.size(), 2u);
  EXPECT_EQ(selection.chosen, 1u);
  EXPECT_GT(selection.validation_scores[1], selection.validation_scores[0] + 0.1);
  for (const ComparisonRun& run : result->runs) {
    if (run.arm != selection.arm) continue;
    ASSERT_EQ(run.knobs.size(), 1u);
    EXPECT_EQ(run.knobs[0].second, "0.05");
  }
  // The split: 140 training points (70% of 200), a quarter of them held out; the test set untouched.
  EXPECT_EQ(result->validation_samples, 35u);
  EXPECT_EQ(result->training_samples, 105u);
  EXPECT_EQ(result->test_samples, 60u);
  // With the same learning rate, the grid arm is the baseline itself, run for run.
  const std::vector<double> plain = values_of(*result, "baseline", [](auto& r) { return r.float_loss; });
  const std::vector<double> chosen = values_of(*result, selection.arm, [](auto& r) { return r.float_loss; });
  EXPECT_EQ(plain, chosen);
  // A grid needs a validation split.
  settings.validation_fraction = 0;
  EXPECT_FALSE(run_comparison(settings).ok());
}

TEST(Comparison, ValidationSplitIsDisjointAndSeeded) {
  Experiment e;
  e.dataset = DatasetChoice::moons;
  e.samples = 200;
  Result<Dataset> data = make_dataset(e);
  ASSERT_TRUE(data.ok());
  Result<ValidationSplit> split = split_validation(*data, 0.2, 3);
  ASSERT_TRUE(split.ok());
  EXPECT_EQ(split->validation_y.size(), 28u);
  EXPECT_EQ(split->training.train_size(), 112u);
  EXPECT_EQ(split->training.test_size(), data->test_size());
  // Every training point lands on exactly one side.
  std::multiset<std::pair<float, float>> all, sides;
  for (size_t i = 0; i < data->train_size(); ++i)
    all.insert({data->train_x.value(i, 0), data->train_x.value(i, 1)});
  for (size_t i = 0; i < split->training.train_size(); ++i)
    sides.insert({split->training.train_x.value(i, 0), split->training.train_x.value(i, 1)});
  for (size_t i = 0; i < split->validation_y.size(); ++i)
    sides.insert({split->validation_x.value(i, 0), split->validation_x.value(i, 1)});
  EXPECT_EQ(all, sides);
  Result<ValidationSplit> other = split_validation(*data, 0.2, 4);
  EXPECT_NE(other->validation_x.value(0, 0), split->validation_x.value(0, 0));
  EXPECT_FALSE(split_validation(*data, 0, 3).ok());
  EXPECT_FALSE(split_validation(*data, 1, 3).ok());
}

TEST(Comparison, FineTunesEveryArmFromEachSeedsBaselineCheckpoint) {
  ComparisonSettings settings = tiny_comparison();
  settings.arms = arms("baseline,raq");
  settings.fine_tune_epochs = 2;
  settings.fgsm_epsilons.clear();
  Result<ComparisonResult> fine_tuned = run_comparison(settings);
  ASSERT_TRUE(fine_tuned.ok()) << fine_tuned.message();
  // The baseline arm is the checkpoint trained 2 more epochs: better than 2 epochs from scratch.
  ComparisonSettings scratch = tiny_comparison();
  scratch.arms = arms("baseline");
  scratch.base.epochs = 2;
  scratch.fgsm_epsilons.clear();
  Result<ComparisonResult> short_run = run_comparison(scratch);
  ASSERT_TRUE(short_run.ok());
  for (size_t s = 0; s < 2; ++s) EXPECT_LT(fine_tuned->runs[s].float_loss, short_run->runs[s].float_loss);
}

TEST(Comparison, StartRunTakesACheckpointsParameters) {
  Experiment e;
  e.dataset = DatasetChoice::moons;
  e.samples = 200;
  e.architecture = "mlp:8";
  Result<qplay::Run> first = start_run(e);
  ASSERT_TRUE(first.ok());
  std::vector<float> checkpoint(first->network->parameter_count());
  for (size_t i = 0; i < checkpoint.size(); ++i) checkpoint[i] = 0.001f * float(i);
  e.method = MethodKind::raq;  // takes the start as its frozen teacher
  Result<qplay::Run> started = start_run(e, first->dataset, nullptr, checkpoint);
  ASSERT_TRUE(started.ok()) << started.message();
  std::span<const float> parameters = started->network->parameters();
  EXPECT_EQ(std::vector<float>(parameters.begin(), parameters.end()), checkpoint);
  checkpoint.pop_back();
  EXPECT_FALSE(start_run(e, first->dataset, nullptr, checkpoint).ok());
}

TEST(Comparison, RefusesBadSettingsBeforeTraining) {
  ComparisonSettings settings = tiny_comparison();
  settings.weight_bits = {0};
  EXPECT_FALSE(run_comparison(settings).ok());
  settings = tiny_comparison();
  settings.activation_bits = {1};
  EXPECT_FALSE(run_comparison(settings).ok());
  settings = tiny_comparison();
  settings.range_methods = {"vibes"};
  EXPECT_FALSE(run_comparison(settings).ok());
  settings = tiny_comparison();
  settings.seeds.clear();
  EXPECT_FALSE(run_comparison(settings).ok());
  settings = tiny_comparison();
  settings.validation_fraction = 1;
  EXPECT_FALSE(run_comparison(settings).ok());
  settings = tiny_comparison();
  settings.base.methods.gradl1.lambda_weights = -1;
  settings.arms = arms("gradl1");
  EXPECT_FALSE(run_comparison(settings).ok());
}

}  // namespace
}  // namespace qplay

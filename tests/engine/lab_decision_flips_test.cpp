// Decision flips (lab/decision_flips.h) and the metrics JSON's flip rates, against a direct count: the
// float model's predictions and margins from its own forward over the test split, the quantized model's
// from an evaluation with the setting's forward.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/engine/lab/decision_flips.h"
#include "core/engine/lab/lab_report.h"
#include "core/engine/train/evaluation.h"

namespace qplay {
namespace {

std::unique_ptr<Lab> trained_moons_lab() {
  LabState state = default_lab_state();
  state.methods = {"baseline"};
  state.experiment.dataset = DatasetChoice::moons;
  state.experiment.samples = 600;
  state.experiment.architecture = "mlp:16,16";
  state.experiment.epochs = 8;
  state.experiment.kernels = KernelChoice::reference;
  state.experiment.threads = 1;
  Result<std::unique_ptr<Lab>> made = Lab::create(state);
  EXPECT_TRUE(made.ok()) << made.message();
  std::unique_ptr<Lab> lab = std::move(made).value();
  lab->play();
  while (lab->playing()) lab->advance(50);
  return lab;
}

struct DirectCount {
  double flip_rate = 0, low_margin_flip_rate = 0;
  size_t flips = 0;
};

// The counts without the lab's caches: margins sorted in full (not nth_element), the cut at the
// quarter's last sample.
DirectCount count_flips_directly(Lab& lab, const QuantizationSetting& setting) {
  const Dataset& data = lab.dataset();
  Network<float>& network = lab.network(0);
  const size_t n = data.test_size();
  const int classes = data.num_classes;
  std::vector<float> rows(n * data.sample_size());
  data.test_x.copy_rows(0, n, rows.data());
  std::vector<int32_t> float_predictions(n), quantized_predictions;
  std::vector<float> margins(n);
  for (size_t i = 0; i < n; ++i) {
    std::span<const float> logits = network.forward(std::span<const float>(rows).subspan(i * 2, 2), 1);
    float_predictions[i] =
        static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    std::vector<float> sorted(logits.begin(), logits.end());
    std::sort(sorted.rbegin(), sorted.rend());
    margins[i] = sorted[0] - sorted[1];
  }
  evaluate(network, data.test_x, data.test_y, *lab.evaluation_forward(0, setting), &quantized_predictions);
  std::vector<float> sorted_margins = margins;
  std::sort(sorted_margins.begin(), sorted_margins.end());
  const float cut = sorted_margins[(n - 1) / 4];
  DirectCount count;
  size_t low = 0, low_flips = 0;
  for (size_t i = 0; i < n; ++i) {
    const bool flipped = quantized_predictions[i] != float_predictions[i];
    count.flips += flipped;
    low += margins[i] <= cut;
    low_flips += flipped && margins[i] <= cut;
  }
  count.flip_rate = double(count.flips) / double(n);
  count.low_margin_flip_rate = double(low_flips) / double(low);
  return count;
}

TEST(DecisionMargin, IsTheTopLogitMinusTheRunnerUp) {
  EXPECT_FLOAT_EQ(decision_margin(std::vector<float>{0.5f, 2.0f, -1.0f, 1.25f}), 0.75f);
  EXPECT_FLOAT_EQ(decision_margin(std::vector<float>{3.0f, 3.0f, 1.0f}), 0.0f);
}

TEST(LowMarginSamples, AreTheNarrowestQuarterWithTiesAtTheCut) {
  const std::vector<float> margins = {5, 0.1f, 4, 3, 0.2f, 7, 6, 8};  // quarter of 8: two samples
  EXPECT_EQ(low_margin_samples(margins), (std::vector<uint8_t>{0, 1, 0, 0, 1, 0, 0, 0}));
  const std::vector<float> tied = {1, 1, 1, 2, 3};  // (5 - 1) / 4 = 1: the cut is 1, all three ones in
  EXPECT_EQ(low_margin_samples(tied), (std::vector<uint8_t>{1, 1, 1, 0, 0}));
  EXPECT_TRUE(low_margin_samples({}).empty());
}

// Flips that cancel leave the accuracy unchanged, so the flip rate is at least the accuracy change; it
// counts exactly the samples whose class moved, and the narrow quarter flips more often than the rest.
TEST(DecisionFlips, MatchADirectCountAndReachTheMetrics) {
  std::unique_ptr<Lab> lab = trained_moons_lab();
  ASSERT_TRUE(lab->set("weight_bits", "2"));
  ASSERT_TRUE(lab->set("granularity", "per-tensor"));
  for (int i = 0; i < 100 && !lab->evaluation_current(0, lab->current_setting()); ++i) lab->advance(1000);
  const std::optional<DecisionFlips> flips = decision_flips(*lab, 0, lab->current_setting());
  ASSERT_TRUE(flips.has_value());
  const DirectCount direct = count_flips_directly(*lab, lab->current_setting());
  EXPECT_GT(direct.flips, 0u) << "2 bits per tensor move some predictions";
  EXPECT_EQ(flips->flipped.size(), direct.flips);
  EXPECT_DOUBLE_EQ(flips->rate(), direct.flip_rate);
  EXPECT_DOUBLE_EQ(flips->low_margin_rate(), direct.low_margin_flip_rate);
  EXPECT_EQ(flips->low_margin_samples, (lab->dataset().test_size() - 1) / 4 + 1);
  EXPECT_TRUE(std::is_sorted(flips->flipped.begin(), flips->flipped.end()));
  EXPECT_EQ(flips->weights_version, lab->evaluated_version(0));

  const Json metrics = lab_metrics_json(*lab);
  const Json& run = metrics.find("runs")->as_array()[0];
  const Json& current = *run.find("current");
  EXPECT_DOUBLE_EQ(current.find("flip_rate")->as_number(), direct.flip_rate);
  EXPECT_DOUBLE_EQ(current.find("low_margin_flip_rate")->as_number(), direct.low_margin_flip_rate);
  const double change =
      std::fabs(current.find("accuracy")->as_number() - run.find("float")->find("accuracy")->as_number());
  EXPECT_GE(direct.flip_rate + 1e-12, change);
}

// A setting evaluated on part of the test split so far has no flip rate yet: the metrics say null, not
// a share of the samples seen, until the evaluation is complete.
TEST(DecisionFlips, AreNullUntilBothEvaluationsAreComplete) {
  LabState state = default_lab_state();
  state.methods = {"baseline"};
  state.experiment.dataset = DatasetChoice::moons;
  state.experiment.samples = 12000;  // a test split larger than the slider's first read-out
  state.experiment.architecture = "mlp:16,16";
  state.experiment.kernels = KernelChoice::reference;
  state.experiment.threads = 1;
  Result<std::unique_ptr<Lab>> made = Lab::create(state);
  ASSERT_TRUE(made.ok()) << made.message();
  Lab& lab = *made.value();
  for (int i = 0; i < 100 && !lab.evaluation_current(0, lab.float_setting()); ++i) lab.advance(1000);
  // A setting none of the curve's points has evaluated yet: only its first read-out is in.
  ASSERT_TRUE(lab.set("granularity", "per-channel"));
  const EvaluationCache::Entry* partial = lab.evaluation(0, lab.current_setting());
  ASSERT_TRUE(partial && !partial->complete)
      << (partial ? partial->result.samples : 0) << " of " << lab.dataset().test_size();
  EXPECT_TRUE(
      std::any_of(partial->margins.begin(), partial->margins.end(), [](float m) { return std::isnan(m); }));
  EXPECT_FALSE(decision_flips(lab, 0, lab.current_setting()).has_value());
  const Json before = *lab_metrics_json(lab).find("runs")->as_array()[0].find("current");
  EXPECT_TRUE(before.find("flip_rate")->is_null());
  EXPECT_TRUE(before.find("low_margin_flip_rate")->is_null());
  for (int i = 0; i < 100 && !lab.evaluation_current(0, lab.current_setting()); ++i) lab.advance(1000);
  const Json after = *lab_metrics_json(lab).find("runs")->as_array()[0].find("current");
  EXPECT_FALSE(after.find("flip_rate")->is_null());
  EXPECT_FALSE(after.find("low_margin_flip_rate")->is_null());
}

}  // namespace
}  // namespace qplay

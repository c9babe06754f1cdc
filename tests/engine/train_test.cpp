// Training end to end on small fixed problems: it learns, it is deterministic, it stops with a
// clear message when the loss diverges, it advances in bounded slices, and quantization behaves as
// a person expects (8 bits ~ float, 2 bits worse; QAT at 2 bits beats post-training 2 bits).
#include <gtest/gtest.h>

#include "core/engine/experiment/run.h"
#include "core/engine/train/sweep.h"

namespace qplay {
namespace {

Experiment small_spiral() {
  Experiment e;
  e.dataset = "spiral";
  e.samples = 900;
  e.noise = 0.05;
  e.architecture = "mlp:32,32";
  e.epochs = 40;
  e.kernels = "reference";
  return e;
}

qplay::Run trained(const Experiment& e) {
  Result<qplay::Run> run = start_run(e);
  EXPECT_TRUE(run.ok()) << run.message();
  while (!run->trainer->finished()) run->trainer->advance(1000.0);
  EXPECT_TRUE(run->trainer->status().ok()) << run->trainer->status().message();
  return std::move(run).value();
}

TEST(Trainer, LearnsTheThreeArmSpiral) {
  qplay::Run run = trained(small_spiral());
  ASSERT_EQ(run.trainer->history().size(), 40u);
  EXPECT_GT(run.trainer->history().back().test_accuracy, 0.9);
  EXPECT_LT(run.trainer->history().back().train_loss, run.trainer->history().front().train_loss / 3);
}

TEST(Trainer, AdamAndStepScheduleLearnMoons) {
  Experiment e = small_spiral();
  e.dataset = "moons";
  e.optimizer = "adam";
  e.learning_rate = 0.01;
  e.schedule = "step";
  e.step_epochs = 5;
  e.epochs = 10;
  qplay::Run run = trained(e);
  EXPECT_GT(run.trainer->history().back().test_accuracy, 0.95);
}

TEST(Trainer, SameSeedSameWeights) {
  Experiment e = small_spiral();
  e.epochs = 2;
  qplay::Run a = trained(e), b = trained(e);
  EXPECT_TRUE(std::equal(a.network->parameters().begin(), a.network->parameters().end(),
                         b.network->parameters().begin()));
}

TEST(Trainer, DivergenceStopsWithAMessageNamingTheLearningRate) {
  Experiment e = small_spiral();
  e.architecture = "mlp:64,64,64";
  e.learning_rate = 10;
  e.momentum = 0.999;
  e.schedule = "constant";
  Result<qplay::Run> run = start_run(e);
  ASSERT_TRUE(run.ok());
  while (!run->trainer->finished()) run->trainer->advance(1000.0);
  ASSERT_FALSE(run->trainer->status().ok());
  EXPECT_NE(run->trainer->status().message().find("learning rate"), std::string::npos)
      << run->trainer->status().message();
}

TEST(Trainer, AdvanceTakesBoundedSlices) {
  Experiment e = small_spiral();
  e.batch_size = 8;
  Result<qplay::Run> run = start_run(e);
  ASSERT_TRUE(run.ok());
  // A zero budget still makes progress, one step at a time.
  EXPECT_EQ(run->trainer->advance(0.0), 1);
  EXPECT_EQ(run->trainer->steps_taken(), 1);
  EXPECT_GT(run->trainer->epoch_fraction(), 0.0);
}

TEST(PostTrainingQuantization, EightBitsKeepsAccuracyTwoBitsLosesSome) {
  qplay::Run run = trained(small_spiral());
  SweepOptions options;
  options.weight_bits = {8, 2};
  options.activation_bits = {0, 8};
  options.base.weights.granularity = Granularity::per_tensor;
  std::vector<SweepPoint> points = sweep_bit_widths(*run.network, *run.dataset, options);
  ASSERT_EQ(points.size(), 5u);
  const double float_accuracy = points[0].test.accuracy;
  auto at = [&](int w, int a) {
    for (const SweepPoint& p : points)
      if (p.weight_bits == w && p.activation_bits == a) return p.test.accuracy;
    return -1.0;
  };
  EXPECT_NEAR(at(8, 0), float_accuracy, 0.01);
  EXPECT_NEAR(at(8, 8), float_accuracy, 0.02);
  EXPECT_LT(at(2, 0), float_accuracy - 0.05);
}

TEST(QuantizationAwareTraining, TwoBitQatBeatsTwoBitPostTrainingQuantization) {
  Experiment e = small_spiral();
  qplay::Run baseline = trained(e);
  e.qat_weight_bits = 2;
  qplay::Run qat = trained(e);
  QuantizationSetting two_bits = make_quantization_setting(e, 2, 0);
  double ptq = evaluate_quantized(*baseline.network, *baseline.dataset, two_bits, 256).accuracy;
  double with_qat = evaluate_quantized(*qat.network, *qat.dataset, two_bits, 256).accuracy;
  EXPECT_GT(with_qat, ptq + 0.05) << "PTQ " << ptq << " QAT " << with_qat;
  EXPECT_GT(with_qat, 0.8);
}

TEST(QuantizationAwareTraining, ActivationQatTrainsAndReportsQuantizedTestAccuracy) {
  Experiment e = small_spiral();
  e.qat_weight_bits = 4;
  e.qat_activation_bits = 4;
  qplay::Run run = trained(e);
  EXPECT_GT(run.trainer->history().back().test_accuracy, 0.85);
}

}  // namespace
}  // namespace qplay

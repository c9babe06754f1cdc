// Training end to end on small fixed problems: it learns, it is deterministic, it stops with a
// clear message when the loss diverges, it advances in bounded slices, and quantization behaves as
// a person expects (8 bits ~ float, 2 bits worse; QAT at 2 bits beats post-training 2 bits), and
// image bytes stored as uint8 codes train and evaluate exactly like the floats they decode to.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/engine/base/rng.h"
#include "core/engine/experiment/run.h"
#include "core/engine/train/evaluation.h"
#include "core/engine/train/sweep.h"

namespace qplay {
namespace {

Experiment small_spiral() {
  Experiment e;
  e.dataset = DatasetChoice::spiral;
  e.samples = 900;
  e.noise = 0.05;
  e.architecture = "mlp:32,32";
  e.epochs = 40;
  e.kernels = KernelChoice::reference;
  return e;
}

qplay::Run trained(const Experiment& e, std::shared_ptr<const Dataset> dataset = nullptr) {
  Result<qplay::Run> run = start_run(e, std::move(dataset));
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
  e.dataset = DatasetChoice::moons;
  e.optimizer = OptimizerKind::adam;
  e.learning_rate = 0.01;
  e.schedule = ScheduleKind::step;
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
  e.schedule = ScheduleKind::constant;
  Result<qplay::Run> run = start_run(e);
  ASSERT_TRUE(run.ok());
  while (!run->trainer->finished()) run->trainer->advance(1000.0);
  ASSERT_FALSE(run->trainer->status().ok());
  EXPECT_NE(run->trainer->status().message().find("learning rate"), std::string::npos)
      << run->trainer->status().message();
}

// Divergence is not only NaN: at learning rate 10 on moons the loss and weights explode while staying
// finite (the runs used to save weights of 1e19 at chance accuracy). A high Adam rate that spikes for a
// few steps and recovers is not stopped.
TEST(Trainer, ExplodingLossOrWeightsStopTheRunButARecoveringSpikeDoesNot) {
  for (const char* optimizer : {"sgd", "adam"}) {
    Experiment e;
    e.dataset = DatasetChoice::moons;
    e.architecture = "mlp:32,32";
    e.epochs = 20;
    e.optimizer = *parse_choice<OptimizerKind>(optimizer);
    e.learning_rate = 10;
    e.kernels = KernelChoice::reference;
    Result<qplay::Run> run = start_run(e);
    ASSERT_TRUE(run.ok());
    while (!run->trainer->finished()) run->trainer->advance(1000.0);
    const std::string message = run->trainer->status().message();
    EXPECT_FALSE(run->trainer->status().ok()) << optimizer;
    EXPECT_TRUE(message.find("weights grew") != std::string::npos ||
                message.find("loss stayed above") != std::string::npos)
        << message;
    EXPECT_NE(message.find("learning rate (10)"), std::string::npos) << message;
  }
  Experiment spiky;
  spiky.dataset = DatasetChoice::moons;
  spiky.architecture = "mlp:32,32";
  spiky.epochs = 5;
  spiky.optimizer = OptimizerKind::adam;
  spiky.learning_rate = 0.5;  // the loss passes 30 in its first steps, then trains to ~99%
  spiky.kernels = KernelChoice::reference;
  Result<qplay::Run> run = start_run(spiky);
  ASSERT_TRUE(run.ok());
  while (!run->trainer->finished()) run->trainer->advance(1000.0);
  EXPECT_TRUE(run->trainer->status().ok()) << run->trainer->status().message();
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
  e.method = MethodKind::qreg;
  e.methods.qreg.training.weights.bits = 2;
  qplay::Run qat = trained(e);
  QuantizationSetting two_bits = make_quantization_setting(e, 2, 0);
  double ptq = evaluate_quantized(*baseline.network, *baseline.dataset, two_bits, 256).accuracy;
  double with_qat = evaluate_quantized(*qat.network, *qat.dataset, two_bits, 256).accuracy;
  EXPECT_GT(with_qat, ptq + 0.05) << "PTQ " << ptq << " QAT " << with_qat;
  EXPECT_GT(with_qat, 0.8);
}

TEST(QuantizationAwareTraining, ActivationQatTrainsAndReportsQuantizedTestAccuracy) {
  Experiment e = small_spiral();
  e.method = MethodKind::qreg;
  e.methods.qreg.training.weights.bits = 4;
  e.methods.qreg.training.activations.bits = 4;
  qplay::Run run = trained(e);
  EXPECT_GT(run.trainer->history().back().test_accuracy, 0.85);
}

// [SECTION] Feature storage

// Random 28x28x1 "images" with random labels 0..9 as uint8 codes (byte / 255), and the same data
// set with the floats those codes decode to: {codes, floats}.
std::pair<std::shared_ptr<const Dataset>, std::shared_ptr<const Dataset>> random_images_both_ways() {
  Rng rng(5);
  Dataset codes;
  codes.name = "random images";
  codes.sample_shape = {28, 28, 1};
  codes.num_classes = 10;
  for (int c = 0; c < 10; ++c) codes.class_names.push_back("class " + std::to_string(c));
  auto split = [&](size_t count, FeatureRows& x, std::vector<int32_t>& y) {
    std::vector<uint8_t> pixels(count * 784);
    for (uint8_t& pixel : pixels) pixel = static_cast<uint8_t>(rng.below(256));
    for (size_t i = 0; i < count; ++i) y.push_back(static_cast<int32_t>(rng.below(10)));
    x = FeatureRows::from_uint8_codes(std::move(pixels), 784, 255.0f);
  };
  split(300, codes.train_x, codes.train_y);
  split(130, codes.test_x, codes.test_y);
  Dataset floats = codes;
  for (FeatureRows* x : {&floats.train_x, &floats.test_x}) {
    std::vector<float> values(x->size());
    x->copy_rows(0, x->rows(), values.data());
    *x = FeatureRows::from_floats(std::move(values), 784);
  }
  return {std::make_shared<const Dataset>(std::move(codes)),
          std::make_shared<const Dataset>(std::move(floats))};
}

TEST(FeatureStorage, Uint8CodesTrainEvaluateAndCalibrateLikeTheirFloats) {
  auto [codes, floats] = random_images_both_ways();
  ASSERT_TRUE(validate_dataset(*codes).ok()) << validate_dataset(*codes).message();
  Experiment e;
  e.dataset = DatasetChoice::fashion_mnist;  // the image shape; the data comes from the test
  e.architecture = "mlp:16";
  e.epochs = 2;
  e.batch_size = 32;
  e.kernels = KernelChoice::reference;
  qplay::Run from_codes = trained(e, codes), from_floats = trained(e, floats);
  std::span<const float> a = from_codes.network->parameters(), b = from_floats.network->parameters();
  EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin(), b.end()));
  ASSERT_EQ(from_codes.trainer->history().size(), 2u);
  EXPECT_EQ(from_codes.trainer->history().back().test_loss, from_floats.trainer->history().back().test_loss);

  // evaluate over uint8 rows (decoded a chunk at a time) against evaluate over the float span.
  Network<float>& network = *from_codes.network;
  std::vector<int32_t> by_rows_predictions, by_span_predictions;
  const Evaluation by_rows = evaluate(network, codes->test_x, codes->test_y, {}, &by_rows_predictions,
                                      std::numeric_limits<size_t>::max(), 7);
  const Evaluation by_span = evaluate(network, floats->test_x.floats(), floats->test_y, {},
                                      &by_span_predictions, std::numeric_limits<size_t>::max(), 7);
  EXPECT_EQ(by_rows.samples, 130u);
  EXPECT_EQ(by_rows.loss, by_span.loss);
  EXPECT_EQ(by_rows.accuracy, by_span.accuracy);
  EXPECT_EQ(by_rows_predictions, by_span_predictions);

  // Post-training quantization calibrates activation ranges on the training rows. (Fake quantization
  // both ways: by default the uint8 codes would run through real int8 inference, the floats cannot.)
  QuantizationSetting setting = make_quantization_setting(e, 4, 4);
  const Evaluation quantized_codes =
      evaluate_quantized(network, *codes, setting, 200, nullptr, QuantizedPath::fake_quantization);
  const Evaluation quantized_floats =
      evaluate_quantized(network, *floats, setting, 200, nullptr, QuantizedPath::fake_quantization);
  EXPECT_EQ(quantized_codes.loss, quantized_floats.loss);
  EXPECT_EQ(quantized_codes.accuracy, quantized_floats.accuracy);
}

}  // namespace
}  // namespace qplay

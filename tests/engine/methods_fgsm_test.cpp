// FGSM evaluation (methods.md §5.4): ε = 0 is exactly the clean evaluation, the adversarial input
// moves every coordinate by ±ε along the sign of the input gradient of the forward it is given (a
// quantized view included), the clip applies to images only, accuracy falls with ε on a trained MLP,
// and the signed-gradient step hurts far more than random signs of the same size.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/engine/base/rng.h"
#include "core/engine/data/batcher.h"
#include "core/engine/data/toy_datasets.h"
#include "core/engine/deploy/post_training.h"
#include "core/engine/methods/raq.h"
#include "core/engine/methods/training_method.h"
#include "core/engine/train/evaluation.h"
#include "core/engine/train/fgsm.h"
#include "core/engine/train/optimizer.h"

namespace qplay {
namespace {

Dataset three_arm_spiral() {
  ToyDatasetOptions options;
  options.kind = ToyDatasetKind::spiral;
  options.num_samples = 900;
  options.noise = 0.05;
  Result<Dataset> data = make_toy_dataset(options);
  EXPECT_TRUE(data.ok()) << data.message();
  return std::move(data).value();
}

// A baseline-trained 32-32 MLP (SGD with momentum, 30 epochs, batches of 32): ~97 % test accuracy.
Network<float> trained_mlp(const Dataset& data) {
  Result<Architecture> architecture = parse_architecture("mlp:32,32", {1, 1, 2}, data.num_classes);
  EXPECT_TRUE(architecture.ok());
  Network<float> network(*architecture, reference_kernel_table());
  network.initialize(1);
  const OptimizerSettings optimizer;
  network.set_optimizer_slot_count(optimizer_slot_count(optimizer.kind));
  std::unique_ptr<TrainingMethod> method = make_baseline_method();
  EpochBatcher batcher(data.train_size(), 32, 1);
  std::vector<float> features(32 * 2);
  std::vector<int32_t> labels(32);
  long step = 0;
  for (int epoch = 0; epoch < 30; ++epoch) {
    batcher.start_epoch(epoch);
    std::span<const uint32_t> indices;
    while (batcher.next(indices)) {
      gather_batch(data.train_x, indices, features.data());
      gather_labels(data.train_y, indices, labels.data());
      method->compute_gradients(network, {features, labels, static_cast<int>(indices.size())}, {++step});
      optimizer_step(network, optimizer, optimizer.learning_rate * (1 - epoch / 30.0), step);
    }
  }
  return network;
}

// Image-like data: random pixels k/255 in [0, 1] (pure 0 and 1 included), 4x4x1, three classes.
FeatureRows random_pixels(size_t rows, uint64_t seed) {
  Rng rng(seed);
  std::vector<uint8_t> codes(rows * 16);
  for (uint8_t& code : codes) code = static_cast<uint8_t>(rng.below(256));
  codes[0] = 0, codes[1] = 255;
  return FeatureRows::from_uint8_codes(std::move(codes), 16, 255.0f);
}

TEST(FgsmClipRange, ImagesAreBoxedToySetsAreNot) {
  Dataset images;
  images.sample_shape = {28, 28, 1};
  const std::optional<ValueRange> box = fgsm_clip_range(images);
  ASSERT_TRUE(box.has_value());
  EXPECT_EQ(box->min, 0.0f);
  EXPECT_EQ(box->max, 1.0f);
  EXPECT_FALSE(fgsm_clip_range(three_arm_spiral()).has_value());
}

TEST(Fgsm, EpsilonZeroGivesExactlyTheCleanAccuracyAndLoss) {
  const Dataset data = three_arm_spiral();
  Network<float> network = trained_mlp(data);
  FgsmOptions no_box;
  no_box.clip = std::nullopt;
  no_box.chunk_size = 100;  // 270 test points: three chunks, the last one short
  const Evaluation clean =
      evaluate(network, data.test_x, data.test_y, {}, nullptr, std::numeric_limits<size_t>::max(), 100);
  const Evaluation attacked = fgsm_accuracy(network, data.test_x, data.test_y, 0.0, {}, no_box);
  EXPECT_EQ(attacked.accuracy, clean.accuracy);
  EXPECT_EQ(attacked.loss, clean.loss);
  EXPECT_EQ(attacked.samples, clean.samples);

  // The same on a 2-bit view with 4-bit activations (the STE path of backward runs, the sign is unused).
  QuantizationSetting setting;
  setting.weights.bits = 2;
  setting.activations.bits = 4;
  const std::vector<float> view = quantized_weights_view(network, setting);
  const ActivationQuantization activations =
      calibrate_activation_ranges(network, view, data.train_x, 256, setting.activations);
  ForwardOptions<float> quantized;
  quantized.parameters = view;
  quantized.activation_quantization = &activations;
  const Evaluation clean_quantized = evaluate(network, data.test_x, data.test_y, quantized, nullptr,
                                              std::numeric_limits<size_t>::max(), 100);
  const Evaluation attacked_quantized =
      fgsm_accuracy(network, data.test_x, data.test_y, 0.0, quantized, no_box);
  EXPECT_EQ(attacked_quantized.accuracy, clean_quantized.accuracy);
  EXPECT_EQ(attacked_quantized.loss, clean_quantized.loss);

  // Pixels: inside [0, 1] the clip changes nothing at ε = 0.
  Result<Architecture> architecture = parse_architecture("mlp:8", {4, 4, 1}, 3);
  ASSERT_TRUE(architecture.ok());
  Network<float> image_network(*architecture, reference_kernel_table());
  image_network.initialize(5);
  const FeatureRows pixels = random_pixels(40, 6);
  std::vector<int32_t> labels(40);
  for (int i = 0; i < 40; ++i) labels[i] = i % 3;
  const Evaluation clean_images = evaluate(image_network, pixels, labels);
  const Evaluation attacked_images = fgsm_accuracy(image_network, pixels, labels, 0.0);
  EXPECT_EQ(attacked_images.accuracy, clean_images.accuracy);
  EXPECT_EQ(attacked_images.loss, clean_images.loss);
}

// The input gradient of the mean cross-entropy on the network's own parameters, by plain backward.
std::vector<float> input_gradient(Network<float>& network, std::span<const float> x,
                                  std::span<const int32_t> labels, int batch) {
  std::vector<float> gradient(x.size());
  network.forward(x, batch);
  network.loss(labels);
  BackwardOptions<float> options;
  options.input_gradient = gradient;
  network.backward(labels, options);
  return gradient;
}

TEST(Fgsm, MovesEveryCoordinateByEpsilonAlongTheSignOfTheInputGradient) {
  const Dataset data = three_arm_spiral();
  Network<float> network = trained_mlp(data);
  const int batch = 50;
  std::vector<float> x(size_t(batch) * 2);
  data.test_x.copy_rows(0, batch, x.data());
  std::span<const int32_t> labels(data.test_y.data(), batch);
  const std::vector<float> gradient = input_gradient(network, x, labels, batch);
  const double epsilon = 0.07;
  std::vector<float> adversarial(x.size());
  fgsm_perturb(network, x, labels, batch, epsilon, {}, std::nullopt, adversarial);
  int moved = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_NE(gradient[i], 0.0f) << i;  // a trained ReLU MLP has no dead input here
    const double step = double(adversarial[i]) - double(x[i]);
    EXPECT_NEAR(step, gradient[i] > 0 ? epsilon : -epsilon, 1e-6) << i;
    moved += std::fabs(step) > 0.5 * epsilon;
  }
  EXPECT_EQ(moved, int(x.size()));

  // With the pixel box the step is clipped to [0, 1].
  Result<Architecture> architecture = parse_architecture("mlp:8", {4, 4, 1}, 3);
  ASSERT_TRUE(architecture.ok());
  Network<float> image_network(*architecture, reference_kernel_table());
  image_network.initialize(7);
  const FeatureRows pixels = random_pixels(10, 8);
  std::vector<float> images(pixels.size());
  pixels.copy_rows(0, 10, images.data());
  const std::vector<int32_t> image_labels = {0, 1, 2, 0, 1, 2, 0, 1, 2, 0};
  const std::vector<float> image_gradient = input_gradient(image_network, images, image_labels, 10);
  std::vector<float> clipped(images.size());
  fgsm_perturb(image_network, images, image_labels, 10, 0.2, {}, ValueRange{0.0f, 1.0f}, clipped);
  for (size_t i = 0; i < images.size(); ++i) {
    const float sign = image_gradient[i] > 0 ? 1.0f : (image_gradient[i] < 0 ? -1.0f : 0.0f);
    EXPECT_EQ(clipped[i], std::clamp(images[i] + 0.2f * sign, 0.0f, 1.0f)) << i;
  }
}

TEST(Fgsm, AttacksTheQuantizedViewItIsGivenWithTheViewsExactGradient) {
  const Dataset data = three_arm_spiral();
  Network<float> network = trained_mlp(data);
  std::vector<float> view(network.parameter_count());
  shift_add_quantize_weights(network, network.parameters(), {}, view);
  const int batch = 40;
  std::vector<float> x(size_t(batch) * 2);
  data.test_x.copy_rows(0, batch, x.data());
  std::span<const int32_t> labels(data.test_y.data(), batch);
  ForwardOptions<float> options;
  options.parameters = view;
  std::vector<float> on_view(x.size()), on_float(x.size());
  fgsm_perturb(network, x, labels, batch, 0.1, options, std::nullopt, on_view);
  fgsm_perturb(network, x, labels, batch, 0.1, {}, std::nullopt, on_float);

  Network<float> quantized(network.architecture(), reference_kernel_table());
  std::copy(view.begin(), view.end(), quantized.parameters().begin());
  const std::vector<float> gradient = input_gradient(quantized, x, labels, batch);
  int differs_from_float = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(on_view[i], x[i] + 0.1f * (gradient[i] > 0 ? 1.0f : -1.0f)) << i;
    differs_from_float += on_view[i] != on_float[i];
  }
  EXPECT_GT(differs_from_float, 0);  // the view's gradient is not the masters'
}

// Measured (ε: accuracy): 0: 0.967, 0.02: 0.948, 0.05: 0.922, 0.1: 0.837, 0.2: 0.419, 0.4: 0.144.
TEST(Fgsm, AccuracyFallsWithEpsilonOnATrainedMlp) {
  const Dataset data = three_arm_spiral();
  Network<float> network = trained_mlp(data);
  const std::vector<double> epsilons = {0, 0.02, 0.05, 0.1, 0.2, 0.4};
  FgsmOptions no_box;
  no_box.clip = std::nullopt;
  const std::vector<FgsmPoint> points =
      fgsm_accuracy_over_epsilons(network, data.test_x, data.test_y, epsilons, {}, no_box);
  ASSERT_EQ(points.size(), epsilons.size());
  EXPECT_GT(points[0].adversarial.accuracy, 0.95);
  for (size_t i = 0; i < points.size(); ++i) {
    EXPECT_EQ(points[i].epsilon, epsilons[i]);
    // The sweep shares one gradient per chunk; each entry equals a call with that ε alone.
    const Evaluation alone = fgsm_accuracy(network, data.test_x, data.test_y, epsilons[i], {}, no_box);
    EXPECT_EQ(points[i].adversarial.accuracy, alone.accuracy);
    EXPECT_EQ(points[i].adversarial.loss, alone.loss);
    if (i == 0) continue;
    EXPECT_LE(points[i].adversarial.accuracy, points[i - 1].adversarial.accuracy + 0.01) << epsilons[i];
    EXPECT_GT(points[i].adversarial.loss, points[i - 1].adversarial.loss) << epsilons[i];
  }
  EXPECT_LT(points.back().adversarial.accuracy, points[0].adversarial.accuracy - 0.5);
}

// The same step size in random directions barely hurts: FGSM's direction is what makes it an attack.
// Measured at ε = 0.15: FGSM 0.644, random signs 0.867.
TEST(Fgsm, HurtsFarMoreThanRandomSignsOfTheSameSize) {
  const Dataset data = three_arm_spiral();
  Network<float> network = trained_mlp(data);
  const double epsilon = 0.15;
  FgsmOptions no_box;
  no_box.clip = std::nullopt;
  const double attacked = fgsm_accuracy(network, data.test_x, data.test_y, epsilon, {}, no_box).accuracy;
  std::vector<float> noisy(data.test_x.floats().begin(), data.test_x.floats().end());
  Rng rng(9);
  for (float& value : noisy) value += static_cast<float>(rng.below(2) ? epsilon : -epsilon);
  const double random = evaluate(network, noisy, data.test_y).accuracy;
  EXPECT_LT(attacked, random - 0.1) << "FGSM " << attacked << ", random signs " << random;
}

}  // namespace
}  // namespace qplay

// The first dense layer computed in integers on byte features (deploy/byte_input_layer.h): against
// the float dense layer of the fake-quantized view over shapes and every weight grid family (within
// float rounding; bit for bit across GEMM variants and thread counts), its refusals, and on the
// Fashion-MNIST test set the slider's float-activation path against fake quantization in float; and that
// evaluate_quantized, which routes it, leaves the float table's workers asleep on every path.
#include "core/engine/deploy/byte_input_layer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <numeric>
#include <string>

#include "core/engine/base/rng.h"
#include "core/engine/data/fashion_mnist.h"
#include "core/engine/experiment/run.h"
#include "core/engine/train/sweep.h"

namespace qplay {
namespace {

Architecture parsed(const std::string& spec, TensorShape input, int classes) {
  Result<Architecture> architecture = parse_architecture(spec, input, classes);
  EXPECT_TRUE(architecture.ok()) << architecture.message();
  return architecture.ok() ? *architecture : Architecture{};
}

// Random weights and biases, random bytes on the grid 1/255 (as Fashion-MNIST stores its pixels).
struct Case {
  std::unique_ptr<Network<float>> network;
  FeatureRows features;
};
Case random_case(const std::string& spec, int inputs, int rows, uint64_t seed) {
  Case c;
  c.network = std::make_unique<Network<float>>(parsed(spec, {1, 1, inputs}, 5), reference_kernel_table());
  c.network->initialize(seed);
  Rng rng(seed, /*stream=*/3);
  for (const ParameterTensor& tensor : c.network->parameter_tensors()) {
    if (tensor.is_weight) continue;
    for (float& bias : c.network->tensor(c.network->parameters(), tensor))
      bias = static_cast<float>(rng.uniform(-0.3, 0.3));
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(rows) * inputs);
  for (uint8_t& byte : bytes) byte = static_cast<uint8_t>(rng.below(256));
  c.features = FeatureRows::from_uint8_codes(std::move(bytes), inputs, 255.0f);
  return c;
}

TEST(ByteInputLayer, IsTheFloatFirstLayerOfTheQuantizedViewWithinFloatRoundingOnEveryGrid) {
  // Two threads where the build has them: the groups of rows on the pool give the caller's bits.
  const std::shared_ptr<const KernelTable> threaded = make_kernel_table("auto", 2).value();
  for (int inputs : {1, 17, 130, 784}) {
    Case c = random_case("mlp:37,6", inputs, 203, 40 + inputs);
    Network<float>& network = *c.network;
    const ParameterTensor& weight = network.parameter_tensors()[0];
    const ParameterTensor& bias = network.parameter_tensors()[1];
    std::vector<uint32_t> rows(c.features.rows());
    std::iota(rows.rbegin(), rows.rend(), 0u);  // any order
    for (int bits : {1, 2, 4, 7, 8}) {
      for (Symmetry symmetry : {Symmetry::symmetric, Symmetry::asymmetric}) {
        for (Granularity granularity : {Granularity::per_channel, Granularity::per_tensor}) {
          for (RangeMethod range : {RangeMethod::min_max, RangeMethod::mse}) {
            const std::string name = std::to_string(inputs) + " inputs, " + std::to_string(bits) + " bits " +
                                     std::string(choice_name(symmetry)) + " " +
                                     std::string(choice_name(granularity)) + " " +
                                     std::string(choice_name(range));
            QuantizationSetting setting;
            setting.weights = {
                .bits = bits, .granularity = granularity, .symmetry = symmetry, .range_method = range};
            std::vector<float> view(network.parameter_count());
            std::vector<std::vector<QuantGrid>> grids;
            quantize_weights_into(network, network.parameters(), setting, view, &grids);
            Result<ByteInputLayer> reference = build_byte_input_layer(network, network.parameters(), grids,
                                                                      c.features, Int8GemmVariant::reference);
            if (bits == 8 && symmetry == Symmetry::asymmetric) {  // codes reach ±255 from the zero point
              ASSERT_FALSE(reference.ok()) << name;
              EXPECT_NE(reference.message().find("does not fit int8"), std::string::npos)
                  << reference.message();
              continue;
            }
            ASSERT_TRUE(reference.ok()) << name << ": " << reference.message();
            std::vector<float> expected(rows.size() * weight.rows), by_reference(expected.size()),
                by_fastest(expected.size());
            byte_input_layer_forward(*reference, c.features, rows, *reference_kernel_table(), by_reference);
            Result<ByteInputLayer> fastest =
                build_byte_input_layer(network, network.parameters(), grids, c.features);
            ASSERT_TRUE(fastest.ok());
            byte_input_layer_forward(*fastest, c.features, rows, *threaded, by_fastest);
            ASSERT_EQ(by_fastest, by_reference) << name;  // integer sums: the same bits
            // The float layer in double: Σ_k x_k·w_k + b, and Σ|x_k·w_k| + |b| for the tolerance.
            std::vector<float> decoded;
            for (size_t r = 0; r < rows.size(); ++r) {
              const std::span<const float> x = c.features.float_rows(rows[r], 1, &decoded);
              for (int o = 0; o < weight.rows; ++o) {
                double sum = view[bias.offset + o], magnitude = std::fabs(sum);
                for (int k = 0; k < inputs; ++k) {
                  const double product = double(x[k]) * view[weight.offset + size_t(o) * inputs + k];
                  sum += product;
                  magnitude += std::fabs(product);
                }
                ASSERT_NEAR(by_reference[r * weight.rows + o], sum, 4e-7 * magnitude + 1e-30)
                    << name << " row " << r << " output " << o;
              }
            }
          }
        }
      }
    }
  }
}

// A float table whose kernels mark its "workers" awake and whose release_workers puts them to sleep: a
// stand-in for a pool whose workers spin after each call (kernel_table.h).
bool float_workers_awake = false;
std::shared_ptr<const KernelTable> table_that_tracks_its_workers() {
  auto table = std::make_shared<KernelTable>(*reference_kernel_table());
  static GemmFunction reference_gemm = table->gemm;
  table->gemm = [](const KernelTable& self, auto... arguments) {
    float_workers_awake = true;
    reference_gemm(self, arguments...);
  };
  table->release_workers = [](const KernelTable&) { float_workers_awake = false; };
  return table;
}

TEST(EvaluateQuantized, LeavesTheFloatTablesWorkersAsleepOnEveryPath) {
  // Spinning float workers beside the int8 runner's pool made the direct evaluation slower at 2 threads
  // than at 1 (docs/performance.md); every path must send them to sleep before it returns.
  Case c = random_case("mlp:37,6", 30, 160, 3);
  c.network = std::make_unique<Network<float>>(c.network->architecture(), table_that_tracks_its_workers());
  c.network->initialize(3);
  Dataset data;
  data.sample_shape = {30};
  data.num_classes = 5;
  data.train_x = c.features;
  data.test_x = c.features;
  data.train_y.assign(c.features.rows(), 1);
  data.test_y = data.train_y;
  for (int activation_bits : {0, 8}) {  // float activations: the byte layer then float; 8: the int8 runner
    for (QuantizedPath path : {QuantizedPath::int8_when_exact, QuantizedPath::fake_quantization}) {
      QuantizationSetting setting;
      setting.weights.bits = 4;
      setting.activations.bits = activation_bits;
      float_workers_awake = true;
      (void)evaluate_quantized(*c.network, data, setting, 100, nullptr, path);
      EXPECT_FALSE(float_workers_awake) << "A" << activation_bits << " path " << int(path);
    }
  }
}

TEST(ByteInputLayer, RefusesFloatFeaturesConvFirstLayersAndFloatWeights) {
  Case c = random_case("mlp:8", 12, 4, 3);
  QuantizationSetting setting;
  setting.weights = {.bits = 4};
  std::vector<float> view(c.network->parameter_count());
  std::vector<std::vector<QuantGrid>> grids;
  quantize_weights_into(*c.network, c.network->parameters(), setting, view, &grids);
  const FeatureRows floats = FeatureRows::from_floats(std::vector<float>(48, 0.5f), 12);
  EXPECT_FALSE(build_byte_input_layer(*c.network, c.network->parameters(), grids, floats).ok());
  setting.weight_bits_per_layer = {0};  // the first layer float, the last at 4 bits
  quantize_weights_into(*c.network, c.network->parameters(), setting, view, &grids);
  Result<ByteInputLayer> float_weights =
      build_byte_input_layer(*c.network, c.network->parameters(), grids, c.features);
  ASSERT_FALSE(float_weights.ok());
  EXPECT_EQ(float_weights.message(), "the first layer's weights are float");

  Network<float> cnn(parsed("cnn:4", {6, 6, 1}, 3), reference_kernel_table());
  cnn.initialize(5);
  setting.weight_bits_per_layer.clear();
  view.resize(cnn.parameter_count());
  quantize_weights_into(cnn, cnn.parameters(), setting, view, &grids);
  const FeatureRows images = FeatureRows::from_uint8_codes(std::vector<uint8_t>(72, 9), 36, 255.0f);
  Result<ByteInputLayer> conv = build_byte_input_layer(cnn, cnn.parameters(), grids, images);
  ASSERT_FALSE(conv.ok());
  EXPECT_EQ(conv.message(), "the first layer is not dense");
}

// [SECTION] Fashion-MNIST: the slider's float-activation path against fake quantization in float

TEST(ByteInputLayerFashionMnist, PredictionsLossAndAccuracyAgreeWithFakeQuantizationAtEveryWeightGrid) {
  FashionMnistOptions data_options;
  data_options.directory = QPLAY_FASHION_MNIST_DIR;
  data_options.max_train = 10000;
  Result<Dataset> loaded = load_fashion_mnist(data_options);
  if (!loaded.ok()) GTEST_SKIP() << "Fashion-MNIST is not installed in " << QPLAY_FASHION_MNIST_DIR;
  auto data = std::make_shared<Dataset>(std::move(loaded).value());
  ASSERT_EQ(data->test_x.storage(), FeatureStorage::uint8_codes);
  auto training_only = std::make_shared<Dataset>(*data);
  training_only->test_x = FeatureRows();
  training_only->test_y.clear();
  Experiment experiment;
  experiment.dataset = DatasetChoice::fashion_mnist;
  experiment.architecture = "mlp:128";
  experiment.epochs = 1;
  experiment.kernels = KernelChoice::automatic;
  Result<qplay::Run> run = start_run(experiment, std::move(training_only));
  ASSERT_TRUE(run.ok()) << run.message();
  while (!run->trainer->finished()) run->trainer->advance(1000.0);
  Network<float>& network = *run->network;
  ASSERT_EQ(network.architecture().layers[0].kind, LayerKind::flatten);  // 28x28x1 images
  for (int bits : {2, 4, 8}) {
    for (Symmetry symmetry : {Symmetry::symmetric, Symmetry::asymmetric}) {
      for (Granularity granularity : {Granularity::per_channel, Granularity::per_tensor}) {
        for (RangeMethod range : {RangeMethod::min_max, RangeMethod::mse}) {
          if (bits == 8 && symmetry == Symmetry::asymmetric) continue;  // refused: the float path runs
          QuantizationSetting setting;
          setting.weights = {
              .bits = bits, .granularity = granularity, .symmetry = symmetry, .range_method = range};
          const std::string name = std::to_string(bits) + " bits " + std::string(choice_name(symmetry)) +
                                   " " + std::string(choice_name(granularity)) + " " +
                                   std::string(choice_name(range));
          std::vector<float> view(network.parameter_count());
          std::vector<std::vector<QuantGrid>> grids;
          quantize_weights_into(network, network.parameters(), setting, view, &grids);
          ASSERT_TRUE(build_byte_input_layer(network, network.parameters(), grids, data->test_x).ok())
              << name;
          std::vector<int32_t> by_integers, by_floats;
          const Evaluation integer = evaluate_quantized(network, *data, setting, 512, &by_integers);
          const Evaluation fake =
              evaluate_quantized(network, *data, setting, 512, &by_floats, QuantizedPath::fake_quantization);
          size_t agree = 0;
          for (size_t i = 0; i < by_floats.size(); ++i) agree += by_integers[i] == by_floats[i];
          const double agreement = double(agree) / by_floats.size();
          EXPECT_GE(agreement, 0.9998) << name;
          EXPECT_NEAR(integer.accuracy, fake.accuracy, 0.0002) << name;
          EXPECT_NEAR(integer.loss, fake.loss, 1e-4) << name;
          std::printf("[ bytes    ] W%d %s: %.2f%% agree; accuracy %.2f%% / %.2f%%, loss %.6f / %.6f\n", bits,
                      name.c_str(), 100 * agreement, 100 * integer.accuracy, 100 * fake.accuracy,
                      integer.loss, fake.loss);
        }
      }
    }
  }
}

}  // namespace
}  // namespace qplay

// Specification of real int8 inference (deploy/int8_inference.h): how a float network becomes int8
// weights (on any grid of 1..8 bits the slider offers, or a refusal naming the layer), int32 biases
// and int8 activation grids; that every int8 GEMM variant and the XNNPACK backend give the reference
// loops' codes and logits bit for bit over odd-sized MLPs and CNNs (strides, padding, tails, two
// chunks, one and two threads). On real images: int8_fashion_mnist_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/engine/base/rng.h"
#include "core/engine/deploy/int8_inference.h"
#include "core/engine/deploy/post_training.h"
#include "core/engine/experiment/run.h"
#include "core/engine/quant/range_estimation.h"
#include "core/engine/train/evaluation.h"
#include "core/engine/train/sweep.h"

namespace qplay {
namespace {

// [SECTION] Small random networks

Architecture parsed(const std::string& spec, TensorShape input, int classes) {
  Result<Architecture> architecture = parse_architecture(spec, input, classes);
  EXPECT_TRUE(architecture.ok()) << architecture.message();
  return architecture.ok() ? *architecture : Architecture{};
}

// A CNN the spec parser cannot write: stride 2 without padding, a 5x5 kernel with padding 2, and a
// 3x3 max-pool with stride 2, on a 13x11x3 image.
Architecture hand_built_cnn() {
  Architecture architecture;
  architecture.spec = "hand-built cnn";
  architecture.input = {13, 11, 3};
  architecture.num_classes = 7;
  architecture.layers = {{LayerKind::conv2d, 6, 3, 2, 0},
                         {LayerKind::relu},
                         {LayerKind::conv2d, 5, 5, 1, 2},
                         {LayerKind::relu},
                         {LayerKind::max_pool, 0, 3, 2, 0},
                         {LayerKind::flatten},
                         {LayerKind::dense, 9},
                         {LayerKind::relu},
                         {LayerKind::dense, 7}};
  TensorShape shape = architecture.input;
  for (LayerSpec& layer : architecture.layers) {
    layer.input = shape;
    if (layer.kind == LayerKind::conv2d || layer.kind == LayerKind::max_pool) {
      shape = {(shape.height + 2 * layer.padding - layer.kernel) / layer.stride + 1,
               (shape.width + 2 * layer.padding - layer.kernel) / layer.stride + 1,
               layer.kind == LayerKind::conv2d ? layer.outputs : shape.channels};
    } else if (layer.kind == LayerKind::dense) {
      shape = {1, 1, layer.outputs};
    } else if (layer.kind == LayerKind::flatten) {
      shape = {1, 1, shape.size()};
    }
    layer.output = shape;
  }
  return architecture;
}

// He-initialised weights and random biases (initialize() leaves biases at 0, which would not test them).
std::unique_ptr<Network<float>> random_network(const Architecture& architecture, uint64_t seed) {
  auto network = std::make_unique<Network<float>>(architecture, reference_kernel_table());
  network->initialize(seed);
  Rng rng(seed, /*stream=*/7);
  for (const ParameterTensor& tensor : network->parameter_tensors()) {
    if (tensor.is_weight) continue;
    for (float& bias : network->tensor(network->parameters(), tensor)) {
      bias = static_cast<float>(rng.uniform(-0.3, 0.3));
    }
  }
  return network;
}

// Uniform in [low, high): [0, 1) for images; [-0.5, 1.5) for flat features gives the input an odd
// zero point (int8 code -64).
std::vector<float> random_features(size_t count, float low, float high, uint64_t seed) {
  Rng rng(seed, /*stream=*/11);
  std::vector<float> features(count);
  for (float& value : features) value = static_cast<float>(rng.uniform(low, high));
  return features;
}

// random_features as rows of row_size values.
FeatureRows random_rows(size_t rows, size_t row_size, float low, float high, uint64_t seed) {
  return FeatureRows::from_floats(random_features(rows * row_size, low, high, seed), row_size);
}

Int8Model built(Network<float>& network, const FeatureRows& calibration, Granularity granularity) {
  Int8ModelOptions options =
      calibrate_int8_model_options(network, network.parameters(), calibration, 256, granularity);
  Result<Int8Model> model = build_int8_model(network, network.parameters(), options);
  EXPECT_TRUE(model.ok()) << model.message();
  return model.ok() ? *model : Int8Model{};
}

// [SECTION] Building the model

TEST(Int8InputGrid, PixelsOnTheGridOneOver255AreExact) {
  std::vector<float> pixels(256);
  for (int byte = 0; byte < 256; ++byte) {
    pixels[byte] = static_cast<float>(byte) / 255.0f;  // as fashion_mnist.cpp does
  }
  const QuantGrid grid = calibrate_int8_input_grid(pixels);
  EXPECT_EQ(grid, (QuantGrid{1.0f / 255.0f, 0, 0, 255, 1}));

  Network<float> network(parsed("linear", {16, 16, 1}, 3), reference_kernel_table());
  Result<Int8Model> model = build_int8_model(network, network.parameters(), {.input_grid = grid});
  ASSERT_TRUE(model.ok()) << model.message();
  EXPECT_EQ(model->input_grid, (QuantGrid{1.0f / 255.0f, -128, -128, 127, 1}));
  for (int byte = 0; byte < 256; ++byte) {
    EXPECT_EQ(quantize_to_int(model->input_grid, pixels[byte]), byte - 128) << "pixel " << byte;
    // Exact as a code; as a float, (1/255)·byte and byte/255 are each rounded once.
    const float real = dequantize(model->input_grid, byte - 128);
    EXPECT_LE(std::fabs(real - pixels[byte]), std::fabs(std::nextafter(pixels[byte], 2.0f) - pixels[byte]));
  }
}

TEST(Int8InputGrid, QuantizeToInt8IsQuantizeToIntOnEveryKindOfValue) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (const QuantGrid& grid : {QuantGrid{0.5f, -64, -128, 127, 1}, QuantGrid{3.0f / 127, 0, -127, 127, 1},
                                QuantGrid{0.25f, -128, -128, -113, 1}}) {
    // Ties at every half code (0.125 = half a step of 0.25), both bounds and beyond, NaN and infinities.
    std::vector<float> values = {nan,    inf,    -inf,   0.0f,    -0.0f,  1e30f,
                                 -1e30f, 0.125f, 0.375f, -0.125f, -0.375f};
    for (int step = -600; step <= 600; ++step) values.push_back(grid.scale * (0.5f * step));
    std::vector<float> random = random_features(1000, -100.0f, 100.0f, 1);
    values.insert(values.end(), random.begin(), random.end());
    std::vector<int8_t> codes(values.size());
    quantize_to_int8(grid, values, codes);
    for (size_t i = 0; i < values.size(); ++i) {
      EXPECT_EQ(codes[i], quantize_to_int(grid, values[i]))
          << "value " << values[i] << " grid " << to_string(grid);
    }
  }
}

TEST(Int8Model, RefusesNetworksThatAreNotRelu) {
  for (const char* activation : {"tanh", "softplus"}) {
    Network<float> network(parsed(std::string("mlp:16:") + activation, {1, 1, 2}, 3),
                           reference_kernel_table());
    Result<Int8Model> model = build_int8_model(network, network.parameters(), {});
    ASSERT_FALSE(model.ok());
    EXPECT_EQ(model.message(),
              std::string("real int8 inference supports ReLU networks; layer 1 is ") + activation);
  }
}

TEST(Int8Model, RefusesAMissingActivationGridAndParametersOfAnotherNetwork) {
  Network<float> network(parsed("mlp:8", {1, 1, 5}, 3), reference_kernel_table());
  Int8ModelOptions options{.input_grid = asymmetric_grid(0.0f, 1.0f, 8)};
  Result<Int8Model> model = build_int8_model(network, network.parameters(), options);
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.message().find("layer 2 (dense) input: no activation grid"), std::string::npos)
      << model.message();

  std::vector<float> too_few(network.parameter_count() - 1);
  EXPECT_FALSE(build_int8_model(network, too_few, options).ok());
}

// The int8 weights are the fake-quantized weights exactly: scale·code is the quantized view's value.
TEST(Int8Model, WeightsAreTheFakeQuantizedWeightsAndBiasesInt32OnTheGridOfInputTimesWeightScale) {
  for (Granularity granularity : {Granularity::per_channel, Granularity::per_tensor}) {
    std::unique_ptr<Network<float>> network = random_network(parsed("cnn:4", {6, 5, 2}, 5), 3);
    Int8Model model = built(*network, random_rows(256, 60, 0.0f, 1.0f, 4), granularity);
    QuantizationSetting setting;
    setting.weights = {.bits = 8, .granularity = granularity};
    const std::vector<float> view = quantized_weights_view(*network, setting);
    ASSERT_EQ(model.ops.size(), 3u);  // conv2d (+ fused relu), max_pool, dense (flatten is free)
    for (const Int8Op& op : model.ops) {
      if (op.kind == Int8OpKind::max_pool) continue;
      const auto& tensors = network->parameter_tensors();
      const ParameterTensor* weight = nullptr;
      for (const ParameterTensor& tensor : tensors) {
        if (tensor.layer == op.layer && tensor.is_weight) weight = &tensor;
      }
      ASSERT_NE(weight, nullptr);
      std::span<const float> biases = network->tensor(network->parameters(), *(weight + 1));
      for (int c = 0; c < op.outputs(); ++c) {
        if (granularity == Granularity::per_tensor) EXPECT_EQ(op.weight_scales[c], op.weight_scales[0]);
        for (int k = 0; k < op.patch_size(); ++k) {
          const size_t index = static_cast<size_t>(c) * op.patch_size() + k;
          EXPECT_EQ(op.weight_scales[c] * op.weights[index], view[weight->offset + index]);
        }
        const double bias_scale = double(op.input_grid.scale) * op.weight_scales[c];
        EXPECT_EQ(op.bias[c], static_cast<int32_t>(std::nearbyint(biases[c] / bias_scale)));
      }
      int largest = 0;
      for (int8_t w : op.weights) largest = std::max(largest, std::abs(int(w)));
      EXPECT_EQ(largest, 127);  // min-max grids use the whole restricted range, and never -128
    }
  }
}

TEST(Int8Model, UnsignedGridsMapToZeroPointMinus128AndReluClampsSymmetricGridsAtZero) {
  std::unique_ptr<Network<float>> network = random_network(parsed("mlp:8", {1, 1, 5}, 3), 5);
  const FeatureRows features = random_rows(300, 5, -0.5f, 1.5f, 6);
  Int8Model model = built(*network, features, Granularity::per_channel);
  EXPECT_EQ(model.ops[0].output_grid.zero_point, -128);  // after ReLU: the unsigned grid, codes 0..255
  EXPECT_EQ(model.ops[0].output_grid.q_min, -128);
  EXPECT_EQ(model.ops[0].output_grid.q_max, 127);
  EXPECT_EQ(model.ops[1].input_grid, model.ops[0].output_grid);

  // A symmetric grid after a ReLU keeps zero point 0; the fused ReLU makes 0 its lowest code.
  Int8ModelOptions options =
      calibrate_int8_model_options(*network, network->parameters(), features, 300, Granularity::per_channel);
  options.activation_quantization.input_grids[2] = symmetric_grid(3.0f, 8);
  Result<Int8Model> symmetric = build_int8_model(*network, network->parameters(), options);
  ASSERT_TRUE(symmetric.ok()) << symmetric.message();
  EXPECT_EQ(symmetric->ops[0].output_grid, (QuantGrid{3.0f / 127, 0, 0, 127, 1}));
  Result<std::vector<int8_t>> codes = int8_op_codes(*symmetric, features, 300, Int8Backend::engine, 1, 0);
  ASSERT_TRUE(codes.ok()) << codes.message();
  EXPECT_GE(*std::min_element(codes->begin(), codes->end()), 0);
}

// The slider's weight grids: the int8 weights times their scales are the quantized view's weights.
TEST(Int8Model, WeightsOfEverySliderGridAreTheQuantizedViewAndAsymmetric8BitOrFloatWeightsAreRefused) {
  std::unique_ptr<Network<float>> network = random_network(parsed("mlp:9,7", {1, 1, 11}, 4), 8);
  const FeatureRows features = random_rows(200, 11, 0.0f, 1.0f, 9);
  for (int bits : {1, 2, 4, 7, 8}) {
    for (Symmetry symmetry : {Symmetry::symmetric, Symmetry::asymmetric}) {
      for (Granularity granularity : {Granularity::per_channel, Granularity::per_tensor}) {
        for (RangeMethod range : {RangeMethod::min_max, RangeMethod::mse}) {
          QuantizationSetting setting;
          setting.weights = {
              .bits = bits, .granularity = granularity, .symmetry = symmetry, .range_method = range};
          setting.weight_bits_per_layer = {-1, -1, 3};  // layer 2 (the second dense) at 3 bits
          const std::vector<float> view = quantized_weights_view(*network, setting);
          Int8ModelOptions options =
              calibrate_int8_model_options(*network, network->parameters(), features, 200, granularity);
          options.weights = setting.weights;
          options.weight_bits_per_layer = setting.weight_bits_per_layer;
          Result<Int8Model> model = build_int8_model(*network, network->parameters(), options);
          const std::string name = std::to_string(bits) + " bits " + std::string(choice_name(symmetry)) +
                                   " " + std::string(choice_name(granularity)) + " " +
                                   std::string(choice_name(range));
          if (bits == 8 && symmetry == Symmetry::asymmetric) {
            ASSERT_FALSE(model.ok()) << name;
            EXPECT_NE(model.message().find("layer 0 (dense): the weight grid"), std::string::npos)
                << model.message();
            continue;
          }
          ASSERT_TRUE(model.ok()) << name << ": " << model.message();
          for (const Int8Op& op : model->ops) {
            const ParameterTensor* weight = nullptr;
            for (const ParameterTensor& tensor : network->parameter_tensors()) {
              if (tensor.layer == op.layer && tensor.is_weight) weight = &tensor;
            }
            ASSERT_NE(weight, nullptr);
            for (int c = 0; c < op.outputs(); ++c) {
              for (int k = 0; k < op.patch_size(); ++k) {
                const size_t index = static_cast<size_t>(c) * op.patch_size() + k;
                ASSERT_EQ(op.weight_scales[c] * op.weights[index], view[weight->offset + index])
                    << name << " layer " << op.layer << " [" << c << ", " << k << "]";
              }
            }
          }
        }
      }
    }
  }
  Int8ModelOptions float_layer =
      calibrate_int8_model_options(*network, network->parameters(), features, 200, Granularity::per_channel);
  float_layer.weight_bits_per_layer = {-1, -1, 0};
  Result<Int8Model> refused = build_int8_model(*network, network->parameters(), float_layer);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.message(),
            "layer 2 (dense): float weights have no int8 form; quantize them to 1..8 bits");
}

// The slider quantizes the weights on the int8 runner's pool and builds the model from the grids that
// quantization chose: the view, the grids and every op must be the ones of a serial pass that chooses
// the grids again, for every grid family, per-layer bits, and tensors of more than one task's channels.
TEST(Int8Model, GridsOfTheViewAndAPoolGiveTheSameViewAndModelAsASerialBuild) {
  TaskPool pool(2);
  for (const Architecture& architecture :
       {parsed("mlp:300,7", {1, 1, 130}, 4), hand_built_cnn(), parsed("cnn:5", {9, 9, 2}, 3)}) {
    SCOPED_TRACE(architecture.spec);
    std::unique_ptr<Network<float>> network = random_network(architecture, 21);
    const FeatureRows features = random_rows(120, architecture.input.size(), 0.0f, 1.0f, 22);
    for (int bits : {1, 4, 7}) {
      for (Symmetry symmetry : {Symmetry::symmetric, Symmetry::asymmetric}) {
        for (Granularity granularity : {Granularity::per_channel, Granularity::per_tensor}) {
          for (RangeMethod range : {RangeMethod::min_max, RangeMethod::mse}) {
            QuantizationSetting setting;
            setting.weights = {
                .bits = bits, .granularity = granularity, .symmetry = symmetry, .range_method = range};
            setting.weight_bits_per_layer = {5};  // the first layer at 5 bits
            const std::string name = std::to_string(bits) + " bits " + std::string(choice_name(symmetry)) +
                                     " " + std::string(choice_name(granularity)) + " " +
                                     std::string(choice_name(range));
            std::vector<float> view(network->parameter_count());
            std::vector<std::vector<QuantGrid>> grids;
            quantize_weights_into(*network, network->parameters(), setting, view, &grids, &pool);
            ASSERT_EQ(view, quantized_weights_view(*network, setting)) << name;
            Int8ModelOptions options =
                calibrate_int8_model_options(*network, network->parameters(), features, 120, granularity);
            options.weights = setting.weights;
            options.weight_bits_per_layer = setting.weight_bits_per_layer;
            options.gemm_variant = Int8GemmVariant::reference;
            Result<Int8Model> serial = build_int8_model(*network, network->parameters(), options);
            options.weight_grids = grids;
            options.pool = &pool;
            Result<Int8Model> pooled = build_int8_model(*network, network->parameters(), options);
            ASSERT_EQ(serial.ok(), pooled.ok()) << name;
            if (!serial.ok()) {
              EXPECT_EQ(serial.message(), pooled.message());
              continue;
            }
            ASSERT_EQ(serial->ops.size(), pooled->ops.size());
            for (size_t k = 0; k < serial->ops.size(); ++k) {
              const Int8Op &a = serial->ops[k], &b = pooled->ops[k];
              EXPECT_EQ(a.weights, b.weights) << name << " op " << k;
              EXPECT_EQ(a.weight_scales, b.weight_scales) << name << " op " << k;
              EXPECT_EQ(a.bias, b.bias) << name << " op " << k;
              EXPECT_EQ(a.accumulator_scales, b.accumulator_scales) << name << " op " << k;
              EXPECT_EQ(a.input_grid, b.input_grid) << name << " op " << k;
              EXPECT_EQ(a.output_grid, b.output_grid) << name << " op " << k;
            }
            std::vector<float> serial_logits, pooled_logits;
            ASSERT_TRUE(int8_predict(*serial, features, 120, Int8Backend::engine, 1, &serial_logits).ok());
            ASSERT_TRUE(int8_predict(*pooled, features, 120, Int8Backend::engine, 2, &pooled_logits).ok());
            EXPECT_EQ(serial_logits, pooled_logits) << name;
          }
        }
      }
    }
  }
}

// calibrate_activation_ranges tracks only the extremes for min-max grids; they must be the grids an
// ActivationRangeObserver per layer input gives (unsigned after a ReLU, symmetric after tanh or at the
// input), over more than one 500-row chunk and with NaN and ±inf among the inputs, which it skips.
TEST(CalibrateActivationRanges, MinMaxGridsAreTheGridsOfAnActivationRangeObserverPerInput) {
  for (const char* spec : {"mlp:16,8", "mlp:16,8:tanh"}) {
    SCOPED_TRACE(spec);
    std::unique_ptr<Network<float>> network = random_network(parsed(spec, {1, 1, 6}, 3), 11);
    Rng rng(12);
    std::vector<float> values(1203 * 6);
    for (float& v : values) v = static_cast<float>(rng.uniform() * 4.0 - 1.5);
    values[7] = std::numeric_limits<float>::quiet_NaN();
    values[500 * 6 + 1] = std::numeric_limits<float>::infinity();
    values[900 * 6 + 2] = -std::numeric_limits<float>::infinity();
    const FeatureRows features = FeatureRows::from_floats(values, 6);
    for (int bits : {2, 8}) {
      const ActivationQuantSpec activations{.bits = bits};
      // A copy: network->parameters() lives in the arena a larger batch reallocates.
      const std::vector<float> parameters(network->parameters().begin(), network->parameters().end());
      const ActivationQuantization calibrated =
          calibrate_activation_ranges(*network, parameters, features, 1203, activations);
      std::map<int, ActivationRangeObserver> observers;
      ForwardOptions<float> options;
      options.observe_layer_input = [&](int layer, std::span<const float> input) {
        observers[layer].observe(input);
      };
      for (int start = 0; start < 1203; start += 500) {  // calibrate_activation_ranges' chunks
        const int batch = std::min(500, 1203 - start);
        network->forward(std::span<const float>(values).subspan(start * 6, batch * 6), batch, options);
      }
      ASSERT_EQ(calibrated.input_grids.size(), network->architecture().layers.size());
      for (size_t layer = 0; layer < calibrated.input_grids.size(); ++layer) {
        const auto observed = observers.find(static_cast<int>(layer));
        ASSERT_EQ(calibrated.input_grids[layer].has_value(), observed != observers.end())
            << "layer " << layer;
        if (observed == observers.end()) continue;
        EXPECT_EQ(*calibrated.input_grids[layer],
                  observed->second.grid(activations,
                                        layer_input_is_nonnegative(network->architecture(), int(layer))))
            << "layer " << layer << " bits " << bits;
      }
    }
  }
}

TEST(Int8ModelForSetting, RunsForUint8ImagesWithQuantizedActivationsAndSaysWhyNotOtherwise) {
  std::unique_ptr<Network<float>> network = random_network(parsed("mlp:8", {4, 4, 1}, 3), 5);
  Rng rng(4);
  std::vector<uint8_t> pixels(64 * 16);
  for (uint8_t& pixel : pixels) pixel = static_cast<uint8_t>(rng.below(256));
  const FeatureRows codes = FeatureRows::from_uint8_codes(pixels, 16, 255.0f);
  std::vector<float> values(codes.size());
  codes.copy_rows(0, codes.rows(), values.data());
  const FeatureRows floats = FeatureRows::from_floats(values, 16);
  QuantizationSetting setting;
  setting.weights = {.bits = 4};
  setting.activations = {.bits = 8};
  const std::vector<float> view = quantized_weights_view(*network, setting);
  const ActivationQuantization activations =
      calibrate_activation_ranges(*network, view, codes, 64, setting.activations);

  Result<Int8Model> model =
      build_int8_model_for_setting(*network, network->parameters(), setting, activations, codes);
  ASSERT_TRUE(model.ok()) << model.message();
  EXPECT_EQ(model->input_grid, (QuantGrid{1.0f / 255.0f, -128, -128, 127, 1}));  // every byte is its own code
  Result<Int8Model> from_floats =
      build_int8_model_for_setting(*network, network->parameters(), setting, activations, floats);
  ASSERT_FALSE(from_floats.ok());
  EXPECT_NE(from_floats.message().find("the features are floats"), std::string::npos);
  // Under 4-bit weights (globally or in one layer) fake quantization runs: see the W2A8 and W3A8 figures
  // in docs/design.md.
  for (const std::vector<int>& layer_bits : {std::vector<int>{}, std::vector<int>{-1, -1, -1, 3}}) {
    QuantizationSetting coarse = setting;
    coarse.weight_bits_per_layer = layer_bits;
    if (layer_bits.empty()) coarse.weights.bits = 3;
    Result<Int8Model> refused =
        build_int8_model_for_setting(*network, network->parameters(), coarse, activations, codes);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.message(),
              std::string(layer_bits.empty() ? "layer 1" : "layer 3") +
                  " (dense): 3-bit weights; int8 computes fake quantization's predictions from 4 bits up");
  }
  setting.activations.bits = 0;
  EXPECT_FALSE(
      build_int8_model_for_setting(*network, network->parameters(), setting, activations, codes).ok());
}

// Per-layer activation bits: each layer's input grid has its own bits (0: no grid, the input stays
// float), the int8 model takes grids of mixed bits and gives the fake-quantized network's predictions
// (nearly: the slider's path refuses other than 8 bits), and a float input between two weighted layers
// is refused by name, so the caller falls back.
TEST(Int8ModelForSetting,
     MixedPerLayerActivationBitsCalibrateTheirOwnGridsAndBuildButTheSliderKeepsThemFloat) {
  std::unique_ptr<Network<float>> network = random_network(parsed("mlp:24,16,12", {1, 1, 16}, 3), 15);
  Rng rng(16);
  std::vector<uint8_t> pixels(700 * 16);
  for (uint8_t& pixel : pixels) pixel = static_cast<uint8_t>(rng.below(256));
  const FeatureRows codes = FeatureRows::from_uint8_codes(pixels, 16, 255.0f);
  QuantizationSetting setting;
  setting.weights = {.bits = 4};
  setting.activations = {.bits = 8};
  setting.activation_bits_per_layer = {-1, -1, 3, -1, -1, -1, 5};  // dense 2 reads 3 bits, dense 6 reads 5
  const std::vector<float> view = quantized_weights_view(*network, setting);
  const ActivationQuantization activations = calibrate_activation_ranges(
      *network, view, codes, 700, setting.activations, setting.activation_bits_per_layer);
  ASSERT_TRUE(activations.input_grids[2] && activations.input_grids[4] && activations.input_grids[6]);
  EXPECT_EQ(activations.input_grids[2]->q_max - activations.input_grids[2]->q_min, 7);
  EXPECT_EQ(activations.input_grids[4]->q_max - activations.input_grids[4]->q_min, 255);
  EXPECT_EQ(activations.input_grids[6]->q_max - activations.input_grids[6]->q_min, 31);
  EXPECT_FALSE(activations.input_grids[0]);  // the data

  // The slider's path refuses grids this coarse (they flip predictions fake quantization keeps) ...
  Result<Int8Model> for_slider =
      build_int8_model_for_setting(*network, network->parameters(), setting, activations, codes);
  ASSERT_FALSE(for_slider.ok());
  EXPECT_EQ(
      for_slider.message(),
      "layer 2 (dense) input: 3-bit activations; int8 computes fake quantization's predictions only at 8");
  // ... but int8 inference itself runs them, each layer requantized to its own grid.
  Int8ModelOptions options;
  options.weights = setting.weights;
  options.activation_quantization = activations;
  options.input_grid = *int8_input_grid_of_codes(codes);
  Result<Int8Model> model = build_int8_model(*network, network->parameters(), options);
  ASSERT_TRUE(model.ok()) << model.message();
  Result<std::vector<int32_t>> int8 = int8_predict(*model, codes, 700, Int8Backend::engine, 1);
  ASSERT_TRUE(int8.ok()) << int8.message();
  ForwardOptions<float> fake;
  fake.parameters = view;
  fake.activation_quantization = &activations;
  std::vector<float> values(codes.size());
  codes.copy_rows(0, codes.rows(), values.data());
  std::span<const float> logits = network->forward(values, 700, fake);
  size_t agree = 0;
  for (int i = 0; i < 700; ++i) {
    const float* row = logits.data() + i * 3;
    agree += (*int8)[i] == std::max_element(row, row + 3) - row;
  }
  // Measured 696: random weights leave some logits a rounding apart, and at 3 bits an int8 requantization
  // that lands beside a grid midpoint moves a code a whole step (the trained test below agrees on 99.9%).
  EXPECT_GE(agree, 693u) << "of 700";

  // Float activations everywhere but one layer: its grid alone, the rest float, no int8 form.
  QuantizationSetting one_layer;
  one_layer.weights = {.bits = 4};
  one_layer.activation_bits_per_layer = {-1, -1, -1, -1, 2};
  EXPECT_TRUE(quantizes_activations(one_layer));
  const ActivationQuantization one = calibrate_activation_ranges(
      *network, view, codes, 700, one_layer.activations, one_layer.activation_bits_per_layer);
  for (size_t layer = 0; layer < one.input_grids.size(); ++layer)
    EXPECT_EQ(one.input_grids[layer].has_value(), layer == 4) << "layer " << layer;
  EXPECT_EQ(one.input_grids[4]->q_max - one.input_grids[4]->q_min, 3);
  Result<Int8Model> refused =
      build_int8_model_for_setting(*network, network->parameters(), one_layer, one, codes);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.message(), "layer 2 (dense) input: float activations have no int8 form");
}

TEST(Int8Predict, RejectsArgumentsItCannotRun) {
  std::unique_ptr<Network<float>> network = random_network(parsed("mlp:8", {1, 1, 5}, 3), 5);
  const FeatureRows features = random_rows(10, 5, 0.0f, 1.0f, 6);
  Int8Model model = built(*network, features, Granularity::per_channel);
  EXPECT_NE(int8_predict(model, features, 11, Int8Backend::engine, 1)
                .message()
                .find("11 samples need as many feature rows, got 10"),
            std::string::npos);
  EXPECT_NE(int8_predict(model, random_rows(10, 4, 0.0f, 1.0f, 6), 10, Int8Backend::engine, 1)
                .message()
                .find("the feature rows have 4 values, the network input has 5"),
            std::string::npos);
  EXPECT_FALSE(int8_predict(model, features, 10, Int8Backend::engine, 0).ok());
  EXPECT_FALSE(int8_op_codes(model, features, 10, Int8Backend::engine, 1, 1).ok());  // op 1 outputs logits
  EXPECT_FALSE(int8_predict(Int8Model{}, features, 10, Int8Backend::engine, 1).ok());
  EXPECT_EQ(int8_predict(model, features, 10, Int8Backend::xnnpack, 1).ok(),
            int8_backend_available(Int8Backend::xnnpack));
}

TEST(Int8Predict, Uint8FeaturesGiveTheGridsAndLogitsOfTheirFloats) {
  std::unique_ptr<Network<float>> network = random_network(parsed("mlp:8", {4, 4, 1}, 3), 5);
  Rng rng(9);
  std::vector<uint8_t> pixels(523 * 16);  // a full chunk of 500 and a tail
  for (uint8_t& pixel : pixels) pixel = static_cast<uint8_t>(rng.below(256));
  const FeatureRows codes = FeatureRows::from_uint8_codes(pixels, 16, 255.0f);
  std::vector<float> values(codes.size());
  codes.copy_rows(0, codes.rows(), values.data());
  const FeatureRows floats = FeatureRows::from_floats(values, 16);

  const Int8ModelOptions from_codes =
      calibrate_int8_model_options(*network, network->parameters(), codes, 510, Granularity::per_channel);
  const Int8ModelOptions from_floats =
      calibrate_int8_model_options(*network, network->parameters(), floats, 510, Granularity::per_channel);
  EXPECT_EQ(from_codes.input_grid, from_floats.input_grid);
  EXPECT_EQ(from_codes.input_grid, calibrate_int8_input_grid(std::span<const float>(values).first(510 * 16)));
  EXPECT_EQ(from_codes.activation_quantization.input_grids, from_floats.activation_quantization.input_grids);

  Result<Int8Model> model = build_int8_model(*network, network->parameters(), from_codes);
  ASSERT_TRUE(model.ok()) << model.message();
  std::vector<float> logits_from_codes, logits_from_floats;
  Result<std::vector<int32_t>> predicted_from_codes =
      int8_predict(*model, codes, 523, Int8Backend::engine, 1, &logits_from_codes);
  Result<std::vector<int32_t>> predicted_from_floats =
      int8_predict(*model, floats, 523, Int8Backend::engine, 1, &logits_from_floats);
  ASSERT_TRUE(predicted_from_codes.ok() && predicted_from_floats.ok());
  EXPECT_EQ(*predicted_from_codes, *predicted_from_floats);
  EXPECT_EQ(logits_from_codes, logits_from_floats);
}

// [SECTION] Every int8 GEMM variant and XNNPACK against the reference, bit for bit

// Logits of the reference GEMM variant and of every other variant this CPU has (1 and 2 threads)
// bitwise equal, and so are the codes of every int8 op.
void expect_gemm_variants_agree(Network<float>& network, const FeatureRows& features, size_t samples) {
  for (Granularity granularity : {Granularity::per_channel, Granularity::per_tensor}) {
    Int8ModelOptions options =
        calibrate_int8_model_options(network, network.parameters(), features, 256, granularity);
    options.gemm_variant = Int8GemmVariant::reference;
    Result<Int8Model> reference = build_int8_model(network, network.parameters(), options);
    ASSERT_TRUE(reference.ok()) << reference.message();
    std::vector<float> expected_logits, logits;
    ASSERT_TRUE(int8_predict(*reference, features, samples, Int8Backend::engine, 1, &expected_logits).ok());
    for (Int8GemmVariant variant : kAllInt8GemmVariants) {
      if (!int8_gemm_variant_available(variant) || variant == Int8GemmVariant::reference) continue;
      SCOPED_TRACE(std::string(network.architecture().spec) + " " + int8_gemm_variant_name(variant));
      options.gemm_variant = variant;
      Result<Int8Model> model = build_int8_model(network, network.parameters(), options);
      ASSERT_TRUE(model.ok()) << model.message();
      for (int threads : {1, 2}) {
        ASSERT_TRUE(int8_predict(*model, features, samples, Int8Backend::engine, threads, &logits).ok());
        EXPECT_EQ(logits, expected_logits) << threads << " threads";
      }
      for (int op = 0; op + 1 < static_cast<int>(model->ops.size()); ++op) {
        EXPECT_EQ(*int8_op_codes(*model, features, samples, Int8Backend::engine, 2, op),
                  *int8_op_codes(*reference, features, samples, Int8Backend::engine, 1, op))
            << "op " << op;
      }
    }
  }
}

TEST(Int8GemmVariantsInTheModel, MatchTheReferenceBitForBitOnOddSizedMlpsAndCnns) {
  constexpr size_t kSamples = 523;  // a full chunk of 500 and a tail
  for (const Architecture& architecture :
       {parsed("mlp:13,7", {1, 1, 37}, 5), parsed("mlp:64,33,17", {1, 1, 100}, 10),
        parsed("cnn:5,3", {9, 11, 2}, 4), hand_built_cnn()}) {
    std::unique_ptr<Network<float>> network = random_network(architecture, 41);
    expect_gemm_variants_agree(*network, random_rows(kSamples, architecture.input.size(), -0.5f, 1.5f, 42),
                               kSamples);
  }
}

// Logits of both backends (1 and 2 threads) bitwise equal, and so are the codes of every int8 op.
void expect_backends_agree(Network<float>& network, const FeatureRows& features, size_t samples) {
  for (Granularity granularity : {Granularity::per_channel, Granularity::per_tensor}) {
    SCOPED_TRACE(std::string(network.architecture().spec) +
                 (granularity == Granularity::per_channel ? " per-channel" : " per-tensor"));
    Int8Model model = built(network, features, granularity);
    std::vector<float> reference_logits, xnnpack_logits;
    Result<std::vector<int32_t>> reference =
        int8_predict(model, features, samples, Int8Backend::engine, 1, &reference_logits);
    ASSERT_TRUE(reference.ok()) << reference.message();
    for (int threads : {1, 2}) {
      Result<std::vector<int32_t>> xnnpack =
          int8_predict(model, features, samples, Int8Backend::xnnpack, threads, &xnnpack_logits);
      ASSERT_TRUE(xnnpack.ok()) << xnnpack.message();
      EXPECT_EQ(*xnnpack, *reference);
      ASSERT_EQ(xnnpack_logits.size(), reference_logits.size());
      EXPECT_EQ(std::memcmp(xnnpack_logits.data(), reference_logits.data(),
                            sizeof(float) * reference_logits.size()),
                0);
    }
    for (int op = 0; op + 1 < static_cast<int>(model.ops.size()); ++op) {
      Result<std::vector<int8_t>> expected =
          int8_op_codes(model, features, samples, Int8Backend::engine, 1, op);
      Result<std::vector<int8_t>> actual =
          int8_op_codes(model, features, samples, Int8Backend::xnnpack, 2, op);
      ASSERT_TRUE(expected.ok() && actual.ok()) << expected.message() << actual.message();
      EXPECT_EQ(*actual, *expected) << "op " << op << " (layer " << model.ops[op].layer << ")";
    }
  }
}

TEST(Int8Xnnpack, MatchesTheReferenceBitForBitOnOddSizedMlps) {
  if (!int8_backend_available(Int8Backend::xnnpack)) GTEST_SKIP() << "no XNNPACK in this build";
  constexpr size_t kSamples = 523;  // a full chunk of 500 and a tail
  struct Case {
    const char* spec;
    TensorShape input;
    int classes;
  };
  for (const Case& c :
       {Case{"mlp:13,7", {1, 1, 37}, 5}, Case{"mlp:1", {1, 1, 3}, 2}, Case{"mlp:64,33,17", {1, 1, 100}, 10},
        Case{"mlp:19", {5, 7, 3}, 4}, Case{"linear", {1, 1, 9}, 3}}) {
    std::unique_ptr<Network<float>> network = random_network(parsed(c.spec, c.input, c.classes), 21);
    expect_backends_agree(*network, random_rows(kSamples, c.input.size(), -0.5f, 1.5f, 22), kSamples);
  }
}

TEST(Int8Xnnpack, MatchesTheReferenceBitForBitOnOddSizedCnns) {
  if (!int8_backend_available(Int8Backend::xnnpack)) GTEST_SKIP() << "no XNNPACK in this build";
  constexpr size_t kSamples = 517;
  for (const Architecture& architecture :
       {parsed("cnn:5,3", {9, 11, 2}, 4), parsed("cnn:8", {7, 7, 1}, 3), hand_built_cnn()}) {
    std::unique_ptr<Network<float>> network = random_network(architecture, 31);
    expect_backends_agree(*network, random_rows(kSamples, architecture.input.size(), 0.0f, 1.0f, 32),
                          kSamples);
  }
}

}  // namespace
}  // namespace qplay

// The integer model behind both exports (deploy/integer_model.h): its codes dequantize to the weights
// QPlay's quantized evaluation uses, its activation grids are the calibrated ones with the right
// signedness, per-layer bits reach each layer, what has no QuantizeLinear form is refused, and the ONNX
// writer lays out what it documents. The graph's numbers are checked in ONNX Runtime by
// tests/export/onnx_agreement_test.mjs.
#include "core/engine/deploy/integer_model.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "core/engine/base/rng.h"
#include "core/engine/deploy/onnx_export.h"

namespace qplay {
namespace {

struct Case {
  std::unique_ptr<Network<float>> network;
  FeatureRows features;
};

Case random_case(const std::string& spec, TensorShape input, uint64_t seed) {
  Result<Architecture> architecture = parse_architecture(spec, input, 3);
  EXPECT_TRUE(architecture.ok()) << architecture.message();
  Case c;
  c.network = std::make_unique<Network<float>>(*architecture, reference_kernel_table());
  c.network->initialize(seed);
  Rng rng(seed, /*stream=*/5);
  std::vector<float> values(64 * static_cast<size_t>(input.size()));
  for (float& v : values) v = static_cast<float>(rng.uniform(-1.0, 1.0));
  c.features = FeatureRows::from_floats(std::move(values), input.size());
  return c;
}

TEST(IntegerModel, CodesDequantizeToTheQuantizedEvaluationsWeights) {
  Case c = random_case("mlp:7,5", {1, 1, 4}, 3);
  Network<float>& network = *c.network;
  for (Granularity granularity : {Granularity::per_channel, Granularity::per_tensor}) {
    for (Symmetry symmetry : {Symmetry::symmetric, Symmetry::asymmetric}) {
      for (int bits : {1, 3, 8}) {
        QuantizationSetting setting;
        setting.weights = {.bits = bits, .granularity = granularity, .symmetry = symmetry};
        const std::vector<float> view = quantized_weights_view(network, setting);
        Result<IntegerModel> model =
            build_integer_model(network, network.parameters(), setting, c.features, 64);
        ASSERT_TRUE(model.ok()) << model.message();
        for (const ParameterTensor& tensor : network.parameter_tensors()) {
          const IntegerLayer& layer = model->layers[tensor.layer];
          if (!tensor.is_weight) {
            for (int i = 0; i < tensor.rows; ++i) EXPECT_EQ(layer.bias[i], view[tensor.offset + i]);
            continue;
          }
          const IntegerWeights& w = layer.weights;
          EXPECT_EQ(w.bits, bits);
          EXPECT_EQ(w.is_signed, symmetry == Symmetry::symmetric);
          EXPECT_EQ(w.scales.size(), granularity == Granularity::per_channel ? size_t(tensor.rows) : 1u);
          for (int row = 0; row < tensor.rows; ++row) {
            const size_t g = w.scales.size() == 1 ? 0 : row;
            for (int col = 0; col < tensor.columns; ++col) {
              const size_t at = size_t(row) * tensor.columns + col;
              const int32_t code = w.codes[at];
              EXPECT_GE(code, w.is_signed ? -127 : 0);
              EXPECT_LE(code, w.is_signed ? 127 : 255);
              EXPECT_EQ(w.scales[g] * static_cast<float>(code - w.zero_points[g]), view[tensor.offset + at])
                  << "bits " << bits << " row " << row << " column " << col;
            }
          }
        }
      }
    }
  }
}

TEST(IntegerModel, ActivationGridsAreUnsignedAfterReluSignedAfterTanhAndAbsentAtTheInput) {
  for (const char* spec : {"mlp:6,6", "mlp:6,6:tanh"}) {
    Case c = random_case(spec, {1, 1, 4}, 9);
    QuantizationSetting setting;
    setting.weights.bits = 4;
    setting.activations.bits = 5;
    Result<IntegerModel> model =
        build_integer_model(*c.network, c.network->parameters(), setting, c.features, 64);
    ASSERT_TRUE(model.ok()) << model.message();
    const bool relu = std::string(spec) == "mlp:6,6";
    int quantized_inputs = 0;
    for (const IntegerLayer& layer : model->layers) {
      if (!layer.input_grid) continue;
      ++quantized_inputs;
      EXPECT_EQ(layer.input_grid->bits, 5);
      EXPECT_EQ(layer.input_grid->is_signed, !relu) << spec;
      EXPECT_EQ(layer.input_grid->q_max, relu ? 31 : 15) << spec;
    }
    EXPECT_EQ(quantized_inputs, 2) << spec;  // the second and third dense layers; the first reads data
    EXPECT_FALSE(model->layers[0].input_grid.has_value());
  }
}

TEST(IntegerModel, PerLayerBitsReachTheirLayerAndFloatLayersStayFloat) {
  Case c = random_case("mlp:6,6", {1, 1, 4}, 11);
  QuantizationSetting setting;
  setting.weights.bits = 8;
  setting.weight_bits_per_layer = {2, -1, -1, -1, 0};  // layers: dense relu dense relu dense
  Result<IntegerModel> model =
      build_integer_model(*c.network, c.network->parameters(), setting, c.features, 64);
  ASSERT_TRUE(model.ok()) << model.message();
  EXPECT_EQ(model->layers[0].weights.bits, 2);
  EXPECT_EQ(model->layers[2].weights.bits, 8);
  EXPECT_EQ(model->layers[4].weights.bits, 0);
  EXPECT_TRUE(model->layers[4].weights.codes.empty());
  const ParameterTensor& last = c.network->parameter_tensors()[4];
  EXPECT_EQ(model->layers[4].weights.float_values[0], c.network->parameters()[last.offset]);
}

TEST(IntegerModel, RefusesTheOneBitSymmetricActivationGridAndBadBits) {
  Case c = random_case("mlp:6:tanh", {1, 1, 4}, 12);
  QuantizationSetting setting;
  setting.activations.bits = 1;
  Result<IntegerModel> model =
      build_integer_model(*c.network, c.network->parameters(), setting, c.features, 64);
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.message().find("no zero code"), std::string::npos) << model.message();
  setting.activations.bits = 9;
  EXPECT_FALSE(build_integer_model(*c.network, c.network->parameters(), setting, c.features, 64).ok());
}

TEST(IntegerModelJson, NamesItsFormatAndHoldsOneEntryPerLayer) {
  Case c = random_case("cnn:2", {4, 4, 1}, 13);
  QuantizationSetting setting;
  setting.weights.bits = 4;
  setting.activations.bits = 8;
  Result<IntegerModel> model =
      build_integer_model(*c.network, c.network->parameters(), setting, c.features, 64);
  ASSERT_TRUE(model.ok()) << model.message();
  const Json json = integer_model_to_json(*model);
  EXPECT_EQ(json.find("format")->as_string(), "qplay-integer-model");
  EXPECT_EQ(json.find("version")->as_number(), 1);
  const Json& layers = *json.find("layers");
  ASSERT_EQ(layers.size(), model->layers.size());
  const Json& conv = layers.as_array()[0];
  EXPECT_EQ(conv.find("kind")->as_string(), "conv2d");
  EXPECT_EQ(conv.find("weights")->find("codes")->size(), 2u * 9u);
  EXPECT_TRUE(conv.find("input_activation")->is_null());
  const Json& dense = layers.as_array().back();
  EXPECT_EQ(dense.find("input_activation")->find("signed")->as_bool(), false);  // after relu, pool, flatten
}

TEST(OnnxExport, IsAnIr7Opset13ModelWithQdqNodesAndNchwConvolution) {
  Case c = random_case("cnn:2", {4, 4, 1}, 14);
  QuantizationSetting setting;
  setting.weights.bits = 4;
  setting.activations.bits = 8;
  Result<IntegerModel> model =
      build_integer_model(*c.network, c.network->parameters(), setting, c.features, 64);
  ASSERT_TRUE(model.ok()) << model.message();
  Result<std::string> bytes = onnx_model_bytes(*model);
  ASSERT_TRUE(bytes.ok()) << bytes.message();
  EXPECT_EQ(bytes->substr(0, 2), std::string("\x08\x07", 2));  // ModelProto.ir_version = 7 comes first
  for (const char* expected : {"QuantizeLinear", "DequantizeLinear", "Clip", "Conv", "MaxPool", "Transpose",
                               "Reshape", "Flatten", "Gemm", "logits", "layer0.weight_codes"}) {
    EXPECT_NE(bytes->find(expected), std::string::npos) << expected;
  }
  // The opset import {version: 13} closes the model: field 8, length 2, field 2 = 13.
  EXPECT_EQ(bytes->substr(bytes->size() - 4), std::string("\x42\x02\x10\x0d", 4));
}

}  // namespace
}  // namespace qplay

// Architecture specs: what they build, and what they refuse with a message.
#include <gtest/gtest.h>

#include "core/engine/nn/architecture.h"
#include "core/engine/nn/network.h"

namespace qplay {
namespace {

TEST(ParseArchitecture, MlpStacksDenseAndActivationThenTheClassifier) {
  Result<Architecture> a = parse_architecture("mlp:256,256", {1, 1, 784}, 10);
  ASSERT_TRUE(a.ok()) << a.message();
  ASSERT_EQ(a->layers.size(), 5u);
  EXPECT_EQ(a->layers[0].kind, LayerKind::dense);
  EXPECT_EQ(a->layers[1].kind, LayerKind::relu);
  EXPECT_EQ(a->layers[4].output.size(), 10);
  EXPECT_EQ(a->parameter_count(), 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10);
}

TEST(ParseArchitecture, CnnIsTheBenchmarkNetworkW2) {
  // conv3x3(16)-ReLU-maxpool-conv3x3(32)-ReLU-maxpool-dense(10) on 28x28x1.
  Result<Architecture> a = parse_architecture("cnn:16,32", {28, 28, 1}, 10);
  ASSERT_TRUE(a.ok()) << a.message();
  ASSERT_EQ(a->layers.size(), 8u);
  EXPECT_EQ(a->layers[2].output, (TensorShape{14, 14, 16}));
  EXPECT_EQ(a->layers[5].output, (TensorShape{7, 7, 32}));
  EXPECT_EQ(a->layers[6].kind, LayerKind::flatten);
  EXPECT_EQ(a->layers[7].input.size(), 7 * 7 * 32);
}

TEST(ParseArchitecture, ActivationSuffixAndLinear) {
  Result<Architecture> tanh = parse_architecture("mlp:8:tanh", {1, 1, 2}, 3);
  ASSERT_TRUE(tanh.ok());
  EXPECT_EQ(tanh->layers[1].kind, LayerKind::tanh);
  Result<Architecture> linear = parse_architecture("linear", {1, 1, 2}, 3);
  ASSERT_TRUE(linear.ok());
  EXPECT_EQ(linear->layers.size(), 1u);
}

TEST(ParseArchitecture, RefusesBadSpecsWithMessages) {
  struct Case {
    const char* spec;
    const char* message_part;
  };
  for (const Case& c : {Case{"rnn:4", "unknown family"}, Case{"mlp:", "give layer widths"},
                        Case{"mlp:0", "not a layer width"}, Case{"mlp:8,", "trailing comma"},
                        Case{"mlp:8:gelu", "unknown activation"}, Case{"mlp:99999", "not a layer width"},
                        Case{"cnn:4", "needs image data"}, Case{"mlp:a", "not a layer width"}}) {
    Result<Architecture> a = parse_architecture(c.spec, {1, 1, 2}, 3);
    ASSERT_FALSE(a.ok()) << c.spec;
    EXPECT_NE(a.message().find(c.message_part), std::string::npos) << c.spec << ": " << a.message();
  }
  Result<Architecture> too_deep = parse_architecture("cnn:4,4,4,4,4,4", {28, 28, 1}, 10);
  ASSERT_FALSE(too_deep.ok());
  EXPECT_NE(too_deep.message().find("smaller than its"), std::string::npos) << too_deep.message();
}

TEST(ParseArchitecture, RefusesNetworksTooLargeToTrainHere) {
  // 784·1024 + 1024 + 1024·1024 + 1024 + 1024·10 + 10 = 1,863,690 parameters: allowed.
  EXPECT_TRUE(parse_architecture("mlp:1024,1024", {28, 28, 1}, 10).ok());
  Result<Architecture> wide = parse_architecture("mlp:4096,4096", {28, 28, 1}, 10);
  ASSERT_FALSE(wide.ok());
  EXPECT_NE(wide.message().find("has 20037642 parameters"), std::string::npos) << wide.message();
  EXPECT_NE(wide.message().find("up to 2000000"), std::string::npos) << wide.message();
  // The largest spec the other checks allow (16 hidden layers of 4096) is counted right, not wrapped.
  std::string deep = "mlp:4096";
  for (int i = 1; i < 16; ++i) deep += ",4096";
  Result<Architecture> huge = parse_architecture(deep, {1, 1, 2}, 3);
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.message().find("has 251744259 parameters"), std::string::npos)
      << huge.message().substr(0, 120);
}

TEST(Network, ParameterTensorsFollowTorchSequentialNames) {
  Result<Architecture> a = parse_architecture("mlp:4", {1, 1, 2}, 3);
  Network<float> network(*a, reference_kernel_table());
  const auto& t = network.parameter_tensors();
  ASSERT_EQ(t.size(), 4u);
  EXPECT_EQ(t[0].name, "0.weight");
  EXPECT_EQ(t[0].shape(), (std::vector<int>{4, 2}));
  EXPECT_EQ(t[3].name, "2.bias");
  EXPECT_EQ(network.parameter_count(), 4u * 2 + 4 + 3 * 4 + 3);
}

TEST(Network, InitialisationDependsOnlyOnTheSeed) {
  Result<Architecture> a = parse_architecture("mlp:16,16", {1, 1, 2}, 3);
  Network<float> first(*a, reference_kernel_table()), second(*a, reference_kernel_table()),
      other(*a, reference_kernel_table());
  first.initialize(5);
  second.initialize(5);
  other.initialize(6);
  EXPECT_TRUE(std::equal(first.parameters().begin(), first.parameters().end(), second.parameters().begin()));
  EXPECT_FALSE(std::equal(first.parameters().begin(), first.parameters().end(), other.parameters().begin()));
}

TEST(Network, ArenaHoldsParametersGradientsOptimizerStateAndActivations) {
  Result<Architecture> a = parse_architecture("mlp:8", {1, 1, 2}, 3);
  Network<float> network(*a, reference_kernel_table());
  network.initialize(1);
  std::vector<float> before(network.parameters().begin(), network.parameters().end());
  network.set_optimizer_slot_count(2);
  std::vector<float> input(64 * 2, 0.5f);
  network.forward(input, 64);
  // Growing the activation area must not disturb the parameters.
  EXPECT_TRUE(std::equal(before.begin(), before.end(), network.parameters().begin()));
  EXPECT_GE(network.arena_bytes(), (4 * network.parameter_count() + 64 * (2 + 8 + 8 + 3)) * sizeof(float));
}

// Passing the network's own parameters() as the forward's parameters stays valid when the batch grows
// the arena under them (the calibration of activation ranges does this with a chunk larger than any
// batch before; it read freed memory).
TEST(Network, ItsOwnParametersPassedToAForwardSurviveTheArenaGrowing) {
  Result<Architecture> a = parse_architecture("mlp:8", {1, 1, 2}, 3);
  ASSERT_TRUE(a.ok()) << a.message();
  Network<float> network(*a, reference_kernel_table()), twin(*a, reference_kernel_table());
  network.initialize(1);
  twin.initialize(1);
  std::vector<float> input(4096 * 2);
  for (size_t i = 0; i < input.size(); ++i) input[i] = 0.001f * static_cast<float>(i % 997);
  network.forward(std::span<const float>(input).first(2), 1);  // a small arena first
  ForwardOptions<float> own;
  own.parameters = network.parameters();
  const std::span<const float> logits = network.forward(input, 4096, own);
  const std::span<const float> expected = twin.forward(input, 4096);
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(), logits.begin()));
}

// The estimate a batch is checked against is the arena the network really lays out for it.
TEST(Network, BatchValuesPerSampleIsWhatTheArenaGrowsByPerSample) {
  for (const char* spec : {"mlp:8,4", "cnn:4,6"}) {
    Result<Architecture> a = parse_architecture(spec, {8, 8, 1}, 3);
    ASSERT_TRUE(a.ok()) << a.message();
    Network<float> network(*a, reference_kernel_table());
    const int batch = 5;
    std::vector<float> input(batch * 64, 0.25f);
    network.forward(input, batch);
    EXPECT_EQ(network.arena_bytes() / sizeof(float),
              2 * network.parameter_count() + batch * size_t(a->batch_values_per_sample()))
        << spec;
  }
}

// A batch whose buffers would pass 512 MiB is refused before anything is allocated (cnn:400,400 at batch 4096
// used to end in std::bad_alloc); evaluation takes chunks no larger than the network allows.
TEST(Network, BatchesBeyondTheBufferLimitAreRefusedAndEvaluationChunksStayWithin) {
  Result<Architecture> a = parse_architecture("cnn:400,400", {28, 28, 1}, 10);
  ASSERT_TRUE(a.ok()) << a.message();
  const int64_t per_sample = a->batch_values_per_sample();
  const int largest = static_cast<int>(kMaxBatchValues / per_sample);
  EXPECT_TRUE(check_batch_fits(*a, largest).ok());
  Status refused = check_batch_fits(*a, 4096);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("a batch of 4096 would need"), std::string::npos) << refused.message();
  EXPECT_NE(refused.message().find("use batch_size at most " + std::to_string(largest)), std::string::npos)
      << refused.message();
  Network<float> network(*a, reference_kernel_table());
  EXPECT_EQ(network.largest_batch(), largest);
}

}  // namespace
}  // namespace qplay

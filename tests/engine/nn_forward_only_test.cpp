// Specification of ForwardOptions::forward_only (network.h): a forward that keeps nothing for backward
// (the input is read in place, not copied into the arena) gives the logits of a plain forward bit for bit,
// on every kernel table, for an MLP and a CNN; and a training step after it is the one it would have been.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/engine/base/rng.h"
#include "core/engine/nn/network.h"
#include "tests/engine/kernel_tables_under_test.h"

namespace qplay {
namespace {

constexpr int kBatch = 9;

std::vector<float> random_values(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> values(n);
  for (float& value : values) value = static_cast<float>(rng.uniform(-1.0, 1.0));
  return values;
}

Network<float> network_of(const std::string& spec, std::shared_ptr<const KernelTable> table) {
  Result<Architecture> architecture = parse_architecture(spec, TensorShape{8, 8, 1}, 10);
  EXPECT_TRUE(architecture.ok()) << architecture.message();
  Network<float> network(*architecture, std::move(table));
  network.initialize(5);
  return network;
}

ForwardOptions<float> forward_only() {
  ForwardOptions<float> options;
  options.forward_only = true;
  return options;
}

TEST(ForwardOnly, GivesThePlainForwardsLogitsBitForBit) {
  const std::vector<float> input = random_values(kBatch * 64, 1);
  for (const auto& table : tables_under_test()) {
    for (const std::string spec : {"mlp:33,17", "cnn:8,16"}) {
      SCOPED_TRACE(describe(*table) + " " + spec);
      Network<float> plain = network_of(spec, table), only = network_of(spec, table);
      std::span<const float> expected = plain.forward(input, kBatch);
      std::span<const float> actual = only.forward(input, kBatch, forward_only());
      EXPECT_TRUE(same_bits(expected, actual));
    }
  }
}

TEST(ForwardOnly, LeavesTheNextTrainingStepAsItWouldHaveBeen) {
  const std::vector<float> input = random_values(kBatch * 64, 1), other = random_values(kBatch * 64, 2);
  const std::vector<int32_t> labels = {0, 1, 2, 3, 4, 5, 6, 7, 8};
  for (const auto& table : tables_under_test()) {
    SCOPED_TRACE(describe(*table));
    Network<float> plain = network_of("mlp:33,17", table), only = network_of("mlp:33,17", table);
    only.forward(other, kBatch, forward_only());
    for (Network<float>* network : {&plain, &only}) {
      network->forward(input, kBatch);
      network->loss(labels);
      network->backward(labels);
    }
    EXPECT_TRUE(same_bits(plain.gradients(), only.gradients()));
    EXPECT_TRUE(same_bits(plain.layer_output(-1), only.layer_output(-1)));
  }
}

}  // namespace
}  // namespace qplay

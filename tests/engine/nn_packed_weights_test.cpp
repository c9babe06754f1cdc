// Specification of weights packed ahead (kernel_table.h: pack_transposed_b, gemm_packed_transposed_b)
// and of the forward passes that keep them (network.h: ForwardOptions::weights_unchanged and
// ::forward_only): the packed product, bias and ReLU give the bits of gemm, add_bias and relu_forward,
// and a network never runs on packed weights that are no longer its parameters' values, whatever the
// caller says: after an optimizer step, a load, a reset, on a quantized view, on another table, or
// after a write it could not see followed by a forward without the caller's word.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/engine/base/rng.h"
#include "core/engine/deploy/post_training.h"
#include "core/engine/nn/network.h"
#include "core/engine/train/evaluation.h"
#include "core/engine/train/optimizer.h"
#include "tests/engine/kernel_tables_under_test.h"

namespace qplay {
namespace {

std::vector<float> random_values(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> values(n);
  for (float& value : values) value = static_cast<float>(rng.uniform(-1.0, 1.0));
  return values;
}

bool same_bits(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// The tables that pack ahead (avx2, avx512 at 1 and 2 threads where the CPU has them).
std::vector<std::shared_ptr<const KernelTable>> packing_tables() {
  std::vector<std::shared_ptr<const KernelTable>> tables;
  for (const auto& table : tables_under_test())
    if (table->pack_transposed_b != nullptr) tables.push_back(table);
  return tables;
}

TEST(GemmPackedTransposedB, EqualsGemmThenAddBiasThenReluBitForBit) {
  struct Shape {
    int m, n, k;
  };
  // W1's three products, tile and block edges, a row stride past K, and a depth-split product.
  const Shape shapes[] = {{128, 256, 784}, {128, 256, 256}, {128, 10, 256}, {1, 1, 1},   {13, 17, 33},
                          {97, 33, 257},   {385, 47, 300},  {5, 16, 512},   {4, 9, 9000}};
  const auto tables = packing_tables();
  if (tables.empty()) GTEST_SKIP() << "no table of this build and CPU packs ahead";
  for (const auto& table : tables) {
    SCOPED_TRACE(describe(*table));
    for (const Shape& s : shapes) {
      const int lda = s.k + 3, ldb = s.k + 5, ldc = s.n + 2;
      const std::vector<float> a = random_values(static_cast<size_t>(s.m) * lda, 1);
      const std::vector<float> b = random_values(static_cast<size_t>(s.n) * ldb, 2);
      const std::vector<float> bias = random_values(s.n, 3);
      std::vector<float> packed;
      table->pack_transposed_b(*table, s.n, s.k, b.data(), ldb, packed);
      for (bool with_bias : {false, true}) {
        for (bool relu : {false, true}) {
          std::vector<float> expected = random_values(static_cast<size_t>(s.m) * ldc, 4), actual = expected;
          table->gemm(*table, Transpose::no, Transpose::yes, s.m, s.n, s.k, a.data(), lda, b.data(), ldb,
                      expected.data(), ldc, false);
          for (int i = 0; i < s.m; ++i) {
            float* row = expected.data() + static_cast<size_t>(i) * ldc;
            if (with_bias) table->add_bias(*table, 1, s.n, bias.data(), row);
            if (relu) table->relu_forward(*table, s.n, row, row);
          }
          table->gemm_packed_transposed_b(*table, s.m, s.n, s.k, a.data(), lda, packed.data(),
                                          with_bias ? bias.data() : nullptr, relu, actual.data(), ldc);
          EXPECT_TRUE(same_bits(expected, actual)) << "m=" << s.m << " n=" << s.n << " k=" << s.k
                                                   << " bias=" << with_bias << " relu=" << relu;
        }
      }
    }
  }
}

// A small W1: mlp 48-33-17-10 (tails of every tile) with ReLUs, batch 40.
constexpr int kInputs = 48, kBatch = 40;

Network<float> small_mlp(std::shared_ptr<const KernelTable> table, uint64_t seed) {
  Result<Architecture> architecture = parse_architecture("mlp:33,17", TensorShape{1, 1, kInputs}, 10);
  EXPECT_TRUE(architecture.ok()) << architecture.message();
  Network<float> network(*architecture, std::move(table));
  network.initialize(seed);
  return network;
}

ForwardOptions<float> kept(std::span<const float> parameters = {}) {
  ForwardOptions<float> options;
  options.parameters = parameters;
  options.forward_only = true;
  options.weights_unchanged = true;  // even where it is not true: the network must notice
  return options;
}

// Logits of a forward that keeps nothing, on a fresh network with these parameters.
std::vector<float> plain_logits(const Network<float>& like, std::span<const float> parameters,
                                std::span<const float> input) {
  Network<float> fresh(like.architecture(), std::make_shared<KernelTable>(like.kernels()));
  std::copy(parameters.begin(), parameters.end(), fresh.parameters().begin());
  std::span<const float> logits = fresh.forward(input, kBatch);
  return {logits.begin(), logits.end()};
}

std::vector<float> kept_logits(Network<float>& network, std::span<const float> input,
                               std::span<const float> parameters = {}) {
  std::span<const float> logits = network.forward(input, kBatch, kept(parameters));
  return {logits.begin(), logits.end()};
}

class KeptPackedWeights : public ::testing::Test {
 protected:
  void SetUp() override {
    tables_ = packing_tables();
    if (tables_.empty()) GTEST_SKIP() << "no table of this build and CPU packs ahead";
  }
  std::vector<std::shared_ptr<const KernelTable>> tables_;
  const std::vector<float> input_ = random_values(static_cast<size_t>(kBatch) * kInputs, 11);
};

TEST_F(KeptPackedWeights, GiveThePlainForwardsLogitsBitForBit) {
  for (const auto& table : tables_) {
    SCOPED_TRACE(describe(*table));
    Network<float> network = small_mlp(table, 5);
    const std::vector<float> expected = plain_logits(network, network.parameters(), input_);
    for (int call = 0; call < 3; ++call) EXPECT_TRUE(same_bits(kept_logits(network, input_), expected));
  }
}

TEST_F(KeptPackedWeights, AreRepackedAfterAnOptimizerStep) {
  for (const auto& table : tables_) {
    SCOPED_TRACE(describe(*table));
    Network<float> network = small_mlp(table, 5);
    kept_logits(network, input_);
    const std::vector<int32_t> labels(kBatch, 3);
    network.forward(input_, kBatch);
    network.loss(labels);
    network.backward(labels);
    optimizer_step(network, OptimizerSettings{}, 0.5, 1);
    const std::vector<float> expected = plain_logits(network, std::as_const(network).parameters(), input_);
    EXPECT_TRUE(same_bits(kept_logits(network, input_), expected));
  }
}

TEST_F(KeptPackedWeights, AreRepackedAfterALoadAndAReset) {
  for (const auto& table : tables_) {
    SCOPED_TRACE(describe(*table));
    Network<float> network = small_mlp(table, 5);
    kept_logits(network, input_);
    // A load (Lab::load_weights, load_initial_weights) writes the values through parameters().
    const Network<float> other = small_mlp(table, 6);
    std::copy(other.parameters().begin(), other.parameters().end(), network.parameters().begin());
    EXPECT_TRUE(same_bits(kept_logits(network, input_), plain_logits(network, other.parameters(), input_)));
    network.initialize(7);  // a reset
    EXPECT_TRUE(same_bits(kept_logits(network, input_),
                          plain_logits(network, std::as_const(network).parameters(), input_)));
  }
}

TEST_F(KeptPackedWeights, AreNeverThoseOfAnotherParameterVector) {
  for (const auto& table : tables_) {
    SCOPED_TRACE(describe(*table));
    Network<float> network = small_mlp(table, 5);
    const std::vector<float> own = plain_logits(network, network.parameters(), input_);
    kept_logits(network, input_);
    QuantizationSetting setting;
    setting.weights.bits = 2;
    std::vector<float> view = quantized_weights_view(network, setting);
    EXPECT_TRUE(same_bits(kept_logits(network, input_, view), plain_logits(network, view, input_)));
    EXPECT_TRUE(same_bits(kept_logits(network, input_), own));
    // The view rewritten in place (the next slider move) and evaluated: its first chunk repacks.
    setting.weights.bits = 3;
    const std::vector<float> next_view = quantized_weights_view(network, setting);
    std::copy(next_view.begin(), next_view.end(), view.begin());
    const std::vector<int32_t> labels(kBatch, 1);
    ForwardOptions<float> on_view;
    on_view.parameters = view;
    std::vector<int32_t> predictions;
    evaluate(network, input_, labels, on_view, &predictions, kBatch, /*chunk_size=*/16);
    std::vector<int32_t> expected(kBatch);
    const std::vector<float> logits = plain_logits(network, view, input_);
    for (int b = 0; b < kBatch; ++b) {
      const float* row = logits.data() + static_cast<size_t>(b) * 10;
      expected[b] = static_cast<int32_t>(std::max_element(row, row + 10) - row);
    }
    EXPECT_EQ(predictions, expected);
  }
}

TEST_F(KeptPackedWeights, AreForgottenByAForwardWithoutTheCallersWord) {
  // A write through a span taken before the packing is invisible to the network; a forward that does not
  // promise unchanged weights ends the reuse, so the next promise covers only what that forward saw.
  for (const auto& table : tables_) {
    SCOPED_TRACE(describe(*table));
    Network<float> network = small_mlp(table, 5);
    network.forward(input_, kBatch);  // the arena's final size, so that the span below stays valid
    std::span<float> held = network.parameters();
    kept_logits(network, input_);
    for (float& value : held) value *= 0.5f;
    network.forward(input_, kBatch);
    EXPECT_TRUE(same_bits(kept_logits(network, input_),
                          plain_logits(network, std::as_const(network).parameters(), input_)));
  }
}

TEST_F(KeptPackedWeights, AreRepackedForAnotherKernelTable) {
  const auto& tables = tables_;
  for (size_t t = 0; t + 1 < tables.size(); ++t) {
    Network<float> network = small_mlp(tables[t], 5);
    kept_logits(network, input_);
    network.set_kernels(tables[t + 1]);
    SCOPED_TRACE(describe(*tables[t]) + " then " + describe(*tables[t + 1]));
    EXPECT_TRUE(same_bits(kept_logits(network, input_), plain_logits(network, network.parameters(), input_)));
  }
}

TEST_F(KeptPackedWeights, LeaveEvaluationsResultsAsTheyWere) {
  // evaluate() keeps packed weights from its second chunk on; the same sums as chunk-by-chunk forwards.
  const std::vector<int32_t> labels = [] {
    std::vector<int32_t> l(kBatch);
    for (int b = 0; b < kBatch; ++b) l[b] = b % 10;
    return l;
  }();
  for (const auto& table : tables_) {
    SCOPED_TRACE(describe(*table));
    Network<float> network = small_mlp(table, 5);
    const Evaluation result = evaluate(network, input_, labels, {}, nullptr, kBatch, /*chunk_size=*/7);
    double loss_sum = 0.0;
    size_t correct = 0;
    Network<float> plain = small_mlp(table, 5);
    for (int start = 0; start < kBatch; start += 7) {
      const int batch = std::min(7, kBatch - start);
      std::span<const float> logits =
          plain.forward(std::span<const float>(input_).subspan(static_cast<size_t>(start) * kInputs), batch);
      loss_sum += double(plain.loss(std::span<const int32_t>(labels).subspan(start, batch))) * batch;
      for (int b = 0; b < batch; ++b) {
        const float* row = logits.data() + static_cast<size_t>(b) * 10;
        correct += std::max_element(row, row + 10) - row == labels[start + b];
      }
    }
    const Evaluation expected = Evaluation::of_sums(kBatch, loss_sum, correct);
    EXPECT_EQ(result.loss, expected.loss);
    EXPECT_EQ(result.accuracy, expected.accuracy);
  }
}

}  // namespace
}  // namespace qplay

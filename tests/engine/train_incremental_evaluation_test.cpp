// IncrementalEvaluation: the slider's time-sliced test evaluation must end at exactly what
// evaluate() says for the whole split, and its first read-out must be a random subset.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "core/engine/data/batcher.h"
#include "core/engine/data/toy_datasets.h"
#include "core/engine/kernels/kernel_table.h"
#include "core/engine/nn/architecture.h"
#include "core/engine/nn/network.h"
#include "core/engine/train/evaluation.h"
#include "core/engine/train/incremental_evaluation.h"

namespace qplay {
namespace {

struct Fixture {
  Dataset dataset;
  Network<float> network;
};

Fixture make_fixture() {
  ToyDatasetOptions options;
  options.num_samples = 4000;
  options.num_classes = 4;
  Result<Dataset> dataset = make_toy_dataset(options);
  EXPECT_TRUE(dataset.ok()) << dataset.message();
  Result<Architecture> architecture = parse_architecture("mlp:16", TensorShape{1, 1, 2}, 4);
  EXPECT_TRUE(architecture.ok()) << architecture.message();
  Fixture fixture{*dataset, Network<float>(*architecture, reference_kernel_table())};
  fixture.network.initialize(7);
  return fixture;
}

TEST(IncrementalEvaluation, EndsAtExactlyTheFullSplitEvaluation) {
  Fixture f = make_fixture();
  const Evaluation full = evaluate(f.network, f.dataset.test_x, f.dataset.test_y);
  IncrementalEvaluation incremental(f.dataset.test_x, f.dataset.test_y, /*seed=*/3, /*chunk_size=*/64);
  // A zero budget still runs a chunk: a whole one while the speed is unknown, then the smallest.
  ASSERT_EQ(incremental.advance(f.network, {}, /*budget_ms=*/0.0), 64u);
  int calls = 0;
  while (!incremental.done()) {
    const size_t left = f.dataset.test_size() - incremental.evaluated();
    ASSERT_EQ(incremental.advance(f.network, {}, 0.0), std::min<size_t>(16, left));
    ++calls;
  }
  EXPECT_EQ(calls, static_cast<int>((f.dataset.test_size() - 64 + 15) / 16));
  const Evaluation result = incremental.result();
  EXPECT_EQ(result.samples, full.samples);
  EXPECT_DOUBLE_EQ(result.accuracy, full.accuracy);
  EXPECT_NEAR(result.loss, full.loss, 1e-6 * full.loss);   // the same terms, summed in another order
  EXPECT_EQ(incremental.advance(f.network, {}, 0.0), 0u);  // done: nothing more to do
}

TEST(IncrementalEvaluation, MinSamplesOverridesTheBudgetAndRestartStartsOver) {
  Fixture f = make_fixture();
  IncrementalEvaluation incremental(f.dataset.test_x, f.dataset.test_y, 3, 100);
  EXPECT_EQ(incremental.result().samples, 0u);
  EXPECT_EQ(incremental.advance(f.network, {}, 0.0, /*min_samples=*/1000), 1000u);
  EXPECT_EQ(incremental.evaluated(), 1000u);
  EXPECT_FALSE(incremental.done());
  incremental.restart();
  EXPECT_EQ(incremental.evaluated(), 0u);
  EXPECT_EQ(incremental.result().samples, 0u);
  EXPECT_EQ(incremental.advance(f.network, {}, 1e9), f.dataset.test_size());  // a large budget finishes
  EXPECT_TRUE(incremental.done());
}

TEST(IncrementalEvaluation, FirstReadOutIsARandomSubsetNotThePrefix) {
  // The test split sorted by class: its first 200 samples are all of class 0, so a prefix read-out
  // would be far off. The shuffled order's first 200 samples must give an unbiased estimate.
  Fixture f = make_fixture();
  const size_t n = f.dataset.test_size();
  std::vector<uint32_t> by_class(n);
  std::iota(by_class.begin(), by_class.end(), 0u);
  std::stable_sort(by_class.begin(), by_class.end(),
                   [&](uint32_t a, uint32_t b) { return f.dataset.test_y[a] < f.dataset.test_y[b]; });
  std::vector<float> sorted_features(n * 2);
  std::vector<int32_t> sorted_labels(n);
  gather_batch(f.dataset.test_x, by_class, sorted_features.data());
  gather_labels(f.dataset.test_y, by_class, sorted_labels.data());
  const FeatureRows sorted = FeatureRows::from_floats(sorted_features, 2);

  const Evaluation full = evaluate(f.network, sorted, sorted_labels);
  const Evaluation prefix = evaluate(f.network, sorted, sorted_labels, {}, nullptr, /*max_samples=*/200);
  IncrementalEvaluation incremental(sorted, sorted_labels, 3, 200);
  incremental.advance(f.network, {}, 0.0);
  const Evaluation first = incremental.result();
  ASSERT_EQ(first.samples, 200u);
  // The standard error of an accuracy on 200 samples is at most 0.035: allow four of them.
  EXPECT_NEAR(first.accuracy, full.accuracy, 0.14);
  EXPECT_NEAR(first.loss, full.loss, 0.25 * full.loss);
  EXPECT_GT(std::abs(prefix.loss - full.loss), 2 * std::abs(first.loss - full.loss));
}

}  // namespace
}  // namespace qplay

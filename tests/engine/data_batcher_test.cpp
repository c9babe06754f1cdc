// Specification of EpochBatcher and the gather helpers (batcher.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "core/engine/data/batcher.h"

namespace qplay {
namespace {

// Every batch of one epoch, in order.
std::vector<std::vector<uint32_t>> collect_epoch(EpochBatcher& batcher, int epoch) {
  batcher.start_epoch(epoch);
  std::vector<std::vector<uint32_t>> batches;
  std::span<const uint32_t> indices;
  while (batcher.next(indices)) batches.emplace_back(indices.begin(), indices.end());
  return batches;
}

std::vector<uint32_t> flatten(const std::vector<std::vector<uint32_t>>& batches) {
  std::vector<uint32_t> all;
  for (const std::vector<uint32_t>& batch : batches) all.insert(all.end(), batch.begin(), batch.end());
  return all;
}

TEST(EpochBatcher, VisitsEverySampleExactlyOncePerEpoch) {
  for (size_t num_samples : {1u, 7u, 32u, 100u, 1001u}) {
    for (int batch_size : {1, 3, 32, 5000}) {
      EpochBatcher batcher(num_samples, batch_size, 5);
      for (int epoch = 0; epoch < 3; ++epoch) {
        std::vector<uint32_t> seen = flatten(collect_epoch(batcher, epoch));
        std::sort(seen.begin(), seen.end());
        std::vector<uint32_t> expected(num_samples);
        for (size_t i = 0; i < num_samples; ++i) expected[i] = static_cast<uint32_t>(i);
        EXPECT_EQ(seen, expected) << "n=" << num_samples << " batch=" << batch_size << " epoch=" << epoch;
      }
    }
  }
}

TEST(EpochBatcher, LastPartialBatchIsIncluded) {
  EpochBatcher batcher(10, 4, 1);
  EXPECT_EQ(batcher.batches_per_epoch(), 3u);
  std::vector<std::vector<uint32_t>> batches = collect_epoch(batcher, 0);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].size(), 4u);
  EXPECT_EQ(batches[1].size(), 4u);
  EXPECT_EQ(batches[2].size(), 2u);

  EXPECT_EQ(EpochBatcher(12, 4, 1).batches_per_epoch(), 3u);
  EXPECT_EQ(EpochBatcher(0, 4, 1).batches_per_epoch(), 0u);
}

TEST(EpochBatcher, NextReturnsFalseOnceTheEpochIsOver) {
  EpochBatcher batcher(3, 2, 1);
  std::span<const uint32_t> indices;
  EXPECT_TRUE(batcher.next(indices));  // the constructor starts epoch 0
  EXPECT_TRUE(batcher.next(indices));
  EXPECT_FALSE(batcher.next(indices));
  EXPECT_FALSE(batcher.next(indices));
  batcher.start_epoch(1);
  EXPECT_EQ(batcher.epoch(), 1);
  EXPECT_TRUE(batcher.next(indices));
}

TEST(EpochBatcher, OrderDependsOnlyOnSeedAndEpoch) {
  EpochBatcher first(500, 16, 99), second(500, 16, 99);
  // Visiting epochs in a different order (as when resuming a run) gives the same batches.
  std::vector<std::vector<uint32_t>> first_epoch3 = collect_epoch(first, 3);
  collect_epoch(second, 0);
  collect_epoch(second, 7);
  EXPECT_EQ(collect_epoch(second, 3), first_epoch3);
  EXPECT_EQ(collect_epoch(first, 0), collect_epoch(second, 0));
}

TEST(EpochBatcher, EpochsAndSeedsGiveDifferentOrders) {
  EpochBatcher batcher(500, 16, 99);
  std::vector<uint32_t> epoch0 = flatten(collect_epoch(batcher, 0));
  std::vector<uint32_t> epoch1 = flatten(collect_epoch(batcher, 1));
  EXPECT_NE(epoch0, epoch1);
  std::vector<uint32_t> identity(500);
  for (uint32_t i = 0; i < 500; ++i) identity[i] = i;
  EXPECT_NE(epoch0, identity);

  EpochBatcher other_seed(500, 16, 100);
  EXPECT_NE(flatten(collect_epoch(other_seed, 0)), epoch0);
}

TEST(EpochBatcher, GoldenOrderForSeedOne) {
  // Pins the permutation so the WebAssembly build can prove it shuffles identically.
  EpochBatcher batcher(10, 10, 1);
  std::vector<uint32_t> order = flatten(collect_epoch(batcher, 0));
  std::printf("seed 1, epoch 0 order:");
  for (uint32_t index : order) std::printf(" %u", index);
  std::printf("\n");
  EXPECT_EQ(order, (std::vector<uint32_t>{5, 9, 3, 1, 8, 2, 6, 4, 0, 7}));
}

TEST(GatherBatch, CopiesTheChosenRowsInOrder) {
  const FeatureRows x = FeatureRows::from_floats({0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32}, 3);  // [4, 3]
  const std::vector<uint32_t> indices = {3, 0, 3};
  std::vector<float> out(indices.size() * 3, -1.0f);
  gather_batch(x, indices, out.data());
  EXPECT_EQ(out, (std::vector<float>{30, 31, 32, 0, 1, 2, 30, 31, 32}));
}

TEST(GatherBatch, DecodesUint8RowsInOrder) {
  const FeatureRows x =
      FeatureRows::from_uint8_codes({0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32}, 3, 10.0f);
  const std::vector<uint32_t> indices = {1, 3, 1, 0};
  std::vector<float> out(indices.size() * 3, -1.0f);
  gather_batch(x, indices, out.data());
  std::vector<float> expected;
  for (int code : {10, 11, 12, 30, 31, 32, 10, 11, 12, 0, 1, 2})
    expected.push_back(static_cast<float>(code) / 10.0f);
  EXPECT_EQ(out, expected);
}

TEST(GatherLabels, CopiesTheChosenLabelsInOrder) {
  const std::vector<int32_t> y = {5, 6, 7, 8};
  const std::vector<uint32_t> indices = {2, 2, 0};
  std::vector<int32_t> out(indices.size(), -1);
  gather_labels(y, indices, out.data());
  EXPECT_EQ(out, (std::vector<int32_t>{7, 7, 5}));
}

}  // namespace
}  // namespace qplay

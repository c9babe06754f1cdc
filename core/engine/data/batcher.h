// Deterministic mini-batching: each epoch visits every sample exactly once, in an order that
// depends only on (seed, epoch), so a training run can be replayed (or resumed at an epoch)
// natively and in WebAssembly with the same batches. The last batch of an epoch may be smaller.
// Not for data augmentation or for loading data (see dataset.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/engine/data/feature_rows.h"

namespace qplay {

class EpochBatcher {
 public:
  // batch_size >= 1 and num_samples < 2^32 (the caller validates user-chosen sizes). Starts epoch 0.
  EpochBatcher(size_t num_samples, int batch_size, uint64_t seed);

  // Reshuffles: the order is a Fisher-Yates shuffle of 0..n-1 by Rng(seed ^ splitmix64(epoch)).
  void start_epoch(int epoch);

  // Sets `indices` to the next batch of the current epoch (valid until the next start_epoch) and
  // returns true, or returns false when the epoch is over.
  bool next(std::span<const uint32_t>& indices);

  size_t batches_per_epoch() const;  // ceil(num_samples / batch_size)
  int epoch() const { return epoch_; }

 private:
  std::vector<uint32_t> order_;  // [num_samples], this epoch's permutation
  size_t batch_size_;
  uint64_t seed_;
  int epoch_ = 0;
  size_t position_ = 0;  // index into order_ of the next batch's first sample
};

// Copies rows, decoded to float: out[b, :] = x[indices[b], :] for b < indices.size().
// x is [n, row_size]; out has room for indices.size() * x.row_size() floats.
void gather_batch(const FeatureRows& x, std::span<const uint32_t> indices, float* out);

// out[b] = y[indices[b]]; out has room for indices.size() labels.
void gather_labels(std::span<const int32_t> y, std::span<const uint32_t> indices, int32_t* out);

}  // namespace qplay

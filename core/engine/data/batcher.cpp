// EpochBatcher and the gather helpers; see batcher.h.
#include "core/engine/data/batcher.h"

#include <algorithm>
#include <cassert>
#include <numeric>

#include "core/engine/base/rng.h"

namespace qplay {

namespace {

// SplitMix64's finaliser (Steele, Lea and Flood 2014): neighbouring epochs get unrelated seeds,
// where seed ^ epoch would only flip low bits.
uint64_t splitmix64(uint64_t value) {
  value += 0x9e3779b97f4a7c15ULL;
  value = (value ^ (value >> 30)) * 0xbf58476d1ce4e5b9ULL;
  value = (value ^ (value >> 27)) * 0x94d049bb133111ebULL;
  return value ^ (value >> 31);
}

}  // namespace

EpochBatcher::EpochBatcher(size_t num_samples, int batch_size, uint64_t seed)
    : order_(num_samples), batch_size_(static_cast<size_t>(batch_size)), seed_(seed) {
  assert(batch_size >= 1);
  assert(num_samples <= UINT32_MAX);
  start_epoch(0);
}

void EpochBatcher::start_epoch(int epoch) {
  epoch_ = epoch;
  position_ = 0;
  std::iota(order_.begin(), order_.end(), 0u);
  Rng rng(seed_ ^ splitmix64(static_cast<uint64_t>(epoch)));
  rng.shuffle(order_);
}

bool EpochBatcher::next(std::span<const uint32_t>& indices) {
  if (position_ >= order_.size()) return false;
  const size_t count = std::min(batch_size_, order_.size() - position_);
  indices = std::span<const uint32_t>(order_.data() + position_, count);
  position_ += count;
  return true;
}

size_t EpochBatcher::batches_per_epoch() const { return (order_.size() + batch_size_ - 1) / batch_size_; }

void gather_batch(const FeatureRows& x, std::span<const uint32_t> indices, float* out) {
  const size_t row = x.row_size();
  for (size_t b = 0; b < indices.size(); ++b) {
    assert(indices[b] < x.rows());
    x.copy_rows(indices[b], 1, out + b * row);
  }
}

void gather_labels(std::span<const int32_t> y, std::span<const uint32_t> indices, int32_t* out) {
  for (size_t b = 0; b < indices.size(); ++b) {
    assert(indices[b] < y.size());
    out[b] = y[indices[b]];
  }
}

}  // namespace qplay

// Two-dimensional toy classification data sets (spiral, moons, circles, xor, blobs), the
// TensorFlow-Playground-sized problems on which a small MLP trains in seconds and whose decision
// boundary can be drawn. Every draw comes from qplay::Rng through deterministic_math, so one
// seed gives bit-identical data natively and in WebAssembly.
// Not for image data (fashion_mnist.h) or for batching (batcher.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/engine/base/status.h"
#include "core/engine/data/dataset.h"

namespace qplay {

enum class ToyDatasetKind {
  spiral,         // num_classes arms of an Archimedean spiral, one turn each
  moons,          // two interleaved half circles (as sklearn.datasets.make_moons)
  circles,        // a circle inside a circle of twice its radius
  xor_quadrants,  // label = whether x and y have the same sign
  blobs,          // num_classes Gaussian blobs with centres evenly spaced on a circle
};

struct ToyDatasetOptions {
  ToyDatasetKind kind = ToyDatasetKind::spiral;
  int num_samples = 600;       // train + test, 10 to 1,000,000
  double noise = 0.1;          // std-dev of Gaussian noise added to each coordinate, 0 to 2
  double test_fraction = 0.3;  // share of samples held out for testing, 0.05 to 0.95
  int num_classes = 3;         // spiral arms or blob count, 2 to 10; moons/circles/xor ignore it
  uint64_t seed = 1;           // the only source of randomness
};

// Balanced classes (counts differ by at most one), features roughly in [-1.5, 1.5] at the
// default noise, shuffled by the seed and then split: the first (1 - test_fraction) of the
// shuffled samples train, the rest test. Invalid options give an error saying what is allowed.
Result<Dataset> make_toy_dataset(const ToyDatasetOptions& options);

// "spiral", "moons", "circles", "xor", "blobs" (the names toy_dataset_name returns).
std::optional<ToyDatasetKind> parse_toy_dataset_kind(std::string_view name);
const char* toy_dataset_name(ToyDatasetKind kind);
// Whether the kind takes a number of classes (spiral arms, blobs); moons, circles and xor have two.
bool uses_num_classes(ToyDatasetKind kind);

}  // namespace qplay

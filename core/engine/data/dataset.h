// A labelled classification data set held in memory as feature rows (float32 values, or uint8
// codes for images: feature_rows.h) and int32 labels: the one shape every trainer, evaluator and
// quantization sweep in the engine consumes, whether it came from a toy generator (toy_datasets.h)
// or from IDX files (fashion_mnist.h).
// Not for loading, generating or batching: those live beside it in core/engine/data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/engine/base/status.h"
#include "core/engine/data/feature_rows.h"

namespace qplay {

struct Dataset {
  std::string name;                      // "spiral", "fashion-mnist", ...
  std::vector<int> sample_shape;         // {2} for 2-D points; {28, 28, 1} for images (NHWC, no N)
  int num_classes = 0;                   //
  std::vector<std::string> class_names;  // [num_classes], for legends and confusion matrices
  FeatureRows train_x, test_x;           // [n, sample_size()]: float32 (toy sets) or uint8 codes (images)
  std::vector<int32_t> train_y, test_y;  // [n], each in [0, num_classes)

  size_t train_size() const { return train_y.size(); }
  size_t test_size() const { return test_y.size(); }
  int sample_size() const;  // product of sample_shape: features per sample
};

// Checks the invariants above (row counts agree with label counts, rows of sample_size() features,
// labels in range, a non-empty training set, finite features) and says which one is broken and where.
Status validate_dataset(const Dataset& dataset);

// A validation split carved from the training set: `fraction` of the training samples, drawn by a
// permutation of `seed`, become the held-out rows; the rest train. The test set is untouched, so settings
// chosen on `validation` never see it.
struct ValidationSplit {
  Dataset training;  // train_* = the training rows kept; test_* = the original test set
  FeatureRows validation_x;
  std::vector<int32_t> validation_y;
};
// fraction in (0, 1) and at least one sample on each side; else an error saying how many samples there are.
Result<ValidationSplit> split_validation(const Dataset& dataset, double fraction, uint64_t seed);

}  // namespace qplay
